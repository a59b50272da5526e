"""The per-call timeline: facts with times, appended by every flow.

Compliance (R-COMPLY) and the figures (R-KPI) are computed from it, so a
fact is recorded once, with the wall-clock time it happened, and never
edited. Times are epoch seconds passed in by the shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Fact", "Timeline", "TimelineEntry"]


class Fact(StrEnum):
    ENTERED_QUEUE = "entered_queue"
    OFFERED = "offered"  # an agent's phone is rung
    OFFER_FAILED = "offer_failed"  # ring target passed, or the phone could not be rung
    ANSWERED = "answered"  # the agent answered
    BRIDGED = "bridged"  # caller and agent talk
    PROMPT_PLAYED = "prompt_played"
    DIVERTED = "diverted"  # left the queue for a dialplan destination (closed, no agent, voicemail)
    HOLD = "hold"
    UNHOLD = "unhold"
    TRANSFER = "transfer"  # detail: state (R-XFER-*)
    KEPT_PLACE = "kept_place"  # R-CB: the caller hung up to be called back at their turn
    PLACE_REACHED = "place_reached"  # R-CB: that turn came; detail: the agent who calls back
    RESYNCED = "resynced"  # the service rebuilt this call after a reconnect or restart
    HANGUP = "hangup"  # detail: by = caller | agent | system


@dataclass(frozen=True, kw_only=True, slots=True)
class TimelineEntry:
    at: float
    fact: Fact
    agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class Timeline:
    call_id: str
    entries: list[TimelineEntry] = field(default_factory=list)

    def add(self, fact: Fact, at: float, agent: str | None = None, **detail: Any) -> TimelineEntry:
        entry = TimelineEntry(at=at, fact=fact, agent=agent, detail=detail)
        self.entries.append(entry)
        return entry

    def first(self, fact: Fact) -> TimelineEntry | None:
        return next((e for e in self.entries if e.fact == fact), None)

    def last(self, fact: Fact) -> TimelineEntry | None:
        return next((e for e in reversed(self.entries) if e.fact == fact), None)
