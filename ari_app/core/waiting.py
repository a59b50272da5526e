"""R-WAIT and R-WAITLIMIT: what a waiting caller hears, and when.

* at ``apology_s`` (10 s) of waiting: "对不起，请稍等！" once — not if the call
  was answered before;
* then every ``announce_every_s`` (30 s): position in queue and estimated wait;
* at ``max_wait_s`` (120 s): the offer to leave a voicemail by pressing
  ``voicemail_key``; the caller may keep waiting.

Pure: the ACD keeps one ``WaitSchedule`` per waiting call and asks it for
its next deadline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["WaitRules", "WaitSchedule", "estimate_wait"]


@dataclass(frozen=True, kw_only=True)
class WaitRules:
    apology_s: float = 10.0
    announce_every_s: float = 30.0
    max_wait_s: float = 120.0


@dataclass(kw_only=True, slots=True)
class WaitSchedule:
    entered_at: float
    rules: WaitRules
    apology_done: bool = False
    announcements: int = 0
    voicemail_offered: bool = False

    def next_at(self) -> float | None:
        due = [self._announce_at()]
        if not self.voicemail_offered:
            due.append(self.entered_at + self.rules.max_wait_s)
        return min(due)

    def _announce_at(self) -> float:
        start = self.entered_at + self.rules.apology_s
        if not self.apology_done:
            return start
        return start + (self.announcements + 1) * self.rules.announce_every_s

    def due(self, now: float) -> list[str]:
        """What is due at ``now``: any of ``apology``, ``position``, ``voicemail_offer`` (marks them done)."""
        out: list[str] = []
        if not self.voicemail_offered and now >= self.entered_at + self.rules.max_wait_s:
            self.voicemail_offered = True
            out.append("voicemail_offer")
        if now >= self._announce_at():
            if not self.apology_done:
                self.apology_done = True
                out.append("apology")
            else:
                # skip announcements missed while e.g. ringing an agent; one at a time
                start = self.entered_at + self.rules.apology_s
                self.announcements = max(self.announcements + 1,
                                         int((now - start) // self.rules.announce_every_s))
                out.append("position")
        return out


def estimate_wait(position: int, agents_serving: int, handle_s: float) -> float:
    """Estimated wait for the caller at ``position`` (1 = next): whole rounds of the serving agents."""
    return math.ceil(position / max(1, agents_serving)) * handle_s
