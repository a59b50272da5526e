"""The internal event bus: the core's facts (``Publish`` actions) go to every sink.

Sinks are plain callables ``(event, fields) -> None`` and must not block:
the log sink now; MQTT and metrics plug in later without touching the rules.
A failing sink is logged and never stops the others.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import structlog

__all__ = ["Bus", "Sink", "log_sink"]

Sink = Callable[[str, Mapping[str, Any]], None]

log = structlog.get_logger()

# Facts a supervisor must see: logged as warnings.
ALERTS = frozenset({"agent.busy_overrun", "agent.login_locked", "agent.unreachable", "call.offer_missed",
                    "agent.login_phone_locked",  # R-LOGIN: one phone typed too many wrong PINs (issue 17)
                    "callback.overdue",  # R-SLA24
                    "voicemail.orphan_imported",  # R-VM: a voicemail the store had no task for (issue 17)
                    "callback.number_refused",  # R-CB: a number not dialled (core/numbers.py, issue 17)
                    "kpi.target_breached"})  # R-KPI: a figure of today missed its target (events/kpi.py)


def log_sink(event: str, fields: Mapping[str, Any]) -> None:
    if event in ALERTS:
        log.warning(event, **fields)
    else:
        log.info(event, **fields)


class Bus:
    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self.sinks: list[Sink] = list(sinks or [])

    def add(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def publish(self, event: str, fields: Mapping[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink(event, fields)
            except Exception:
                log.exception("bus.sink_failed", sink=getattr(sink, "__name__", repr(sink)), bus_event=event)
