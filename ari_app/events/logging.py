"""structlog set-up: one JSON object per line on stdout, facts with dotted names.

Per-call context (``call_id``, ``queue``, ``agent``) comes from contextvars
bound around each event (``structlog.contextvars.bound_contextvars``).
R-PRIVACY: caller numbers are masked (``*******5678``) by a processor, so a
number logged under any of the known keys never reaches the log in clear; at most
4 digits of a number ever show (fewer for short ones, see ``mask_number``).
Audit lines (events named ``audit.*``) are written whatever ``log_level`` says.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

__all__ = ["AUDIT_PREFIX", "MASKED_KEYS", "configure", "mask_number", "mask_numbers"]

# Keys whose values are phone numbers of customers.
MASKED_KEYS = frozenset({"caller", "caller_number", "callerid", "number", "customer_number", "connected_number"})


AUDIT_PREFIX = "audit."  # events always written, whatever the level (R-PRIVACY: the audit cannot be switched off)


def mask_number(number: str | None) -> str | None:
    """``13812345678`` → ``*******5678``: only the last ``min(4, len // 2 - 1)`` characters show, so at most
    4 digits of any number and always more hidden than shown (``1234567`` → ``*****67``, ``1001`` → ``***1``,
    3 or fewer: all hidden)."""
    if not number:
        return number
    n = str(number)
    shown = max(0, min(4, len(n) // 2 - 1))
    return "*" * (len(n) - shown) + (n[-shown:] if shown else "")


_DIGIT_RUN = re.compile(r"[0-9]{5,}")


def mask_digit_runs(text: str) -> str:
    """Every run of 5 or more digits in a free text masked as ``mask_number`` does: for names and messages
    that may hold a caller's number (a fallback voicemail's name ``<queue>_<epoch>_<digits>_<id>``, an
    ARI error naming that path)."""
    return _DIGIT_RUN.sub(lambda m: mask_number(m[0]) or "", text)


def mask_numbers(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in MASKED_KEYS & event_dict.keys():
        value = event_dict[key]
        if isinstance(value, str):
            event_dict[key] = mask_number(value)
    return event_dict


_dict_tracebacks = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "msg": logging.INFO, "warning": logging.WARNING,
           "warn": logging.WARNING, "error": logging.ERROR, "exception": logging.ERROR,
           "critical": logging.CRITICAL, "fatal": logging.CRITICAL}


def _level_filter(min_level: int) -> Any:
    """Drop a line below ``min_level`` unless it is an audit line (``audit.*``)."""
    def keep(_logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if _LEVELS.get(method, logging.INFO) < min_level and not str(event_dict.get("event", "")).startswith(
                AUDIT_PREFIX):
            raise structlog.DropEvent
        return event_dict
    return keep


def configure(level: str = "info", *, stream=None, json: bool = True) -> None:
    """Configure structlog and route stdlib logging (httpx, websockets) into the same stream: JSON lines,
    or with ``json=False`` structlog's console renderer (``ari-app run --log-format console``).

    ``level`` filters every line but the audit (``audit.*``, logged at info): those are always written."""
    stream = stream or sys.stdout
    min_level = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_numbers,
    ]
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[_level_filter(min_level), *shared, _dict_tracebacks if json else structlog.dev.set_exc_info,
                    renderer],
        # info reaches the processors even at a higher level: _level_filter lets the audit lines through
        wrapper_class=structlog.make_filtering_bound_logger(min(min_level, logging.INFO)),
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
