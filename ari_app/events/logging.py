"""structlog set-up: one JSON object per line on stdout, facts with dotted names.

Per-call context (``call_id``, ``queue``, ``agent``) comes from contextvars
bound around each event (``structlog.contextvars.bound_contextvars``).
R-PRIVACY: caller numbers are masked (``138****5678``) by a processor, so a
number logged under any of the known keys never reaches the log in clear.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

__all__ = ["MASKED_KEYS", "configure", "mask_number", "mask_numbers"]

# Keys whose values are phone numbers of customers.
MASKED_KEYS = frozenset({"caller", "caller_number", "callerid", "number", "customer_number", "connected_number"})


def mask_number(number: str | None) -> str | None:
    """``13812345678`` → ``138****5678``; short numbers keep at most their last 2 digits."""
    if not number:
        return number
    n = str(number)
    if len(n) >= 7:
        return f"{n[:3]}****{n[-4:]}"
    if len(n) > 2:
        return "*" * (len(n) - 2) + n[-2:]
    return "*" * len(n)


def mask_numbers(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in MASKED_KEYS & event_dict.keys():
        value = event_dict[key]
        if isinstance(value, str):
            event_dict[key] = mask_number(value)
    return event_dict


_dict_tracebacks = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))


def configure(level: str = "info", *, stream=None, json: bool = True) -> None:
    """Configure structlog and route stdlib logging (httpx, websockets) into the same stream: JSON lines,
    or with ``json=False`` structlog's console renderer (``ari-app run --log-format console``)."""
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_numbers,
    ]
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, _dict_tracebacks if json else structlog.dev.set_exc_info,
                    renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _dict_tracebacks if json else structlog.dev.set_exc_info, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
