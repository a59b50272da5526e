"""R-COMPLY: each finished call's compliance record, computed from its timeline.

The checks are the telephone etiquette of the seed's chapter 2, each named
by its rule. A check is ``True`` (kept), ``False`` (broken) or ``None``
(did not apply to this call: no apology is due to a caller answered at 5 s).

* ``R-RING``  — the call was answered within ``ring_target_s`` of the
  answering agent's phone starting to ring;
* ``R-GREET`` — the greeting and agent-ID announcement played to their end
  before the bridge;
* ``R-WAIT``  — a caller who waited ``apology_s`` heard the apology, within
  ``tolerance_s`` of it falling due;
* ``R-XFER-CONFIRM`` — every completed transfer to an agent was attended: the
  target answered (consultation) before the caller was handed over;
* ``R-HANGUP`` — the caller hung up first, not the agent.

This record is what the QA sample (``core.qa``) and the reports are built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .timeline import Fact, TimelineEntry

__all__ = ["CHECKS", "ComplianceRecord", "ComplianceRules", "evaluate"]

CHECKS: tuple[str, ...] = ("R-RING", "R-GREET", "R-WAIT", "R-XFER-CONFIRM", "R-HANGUP")


@dataclass(frozen=True, kw_only=True, slots=True)
class ComplianceRules:
    ring_target_s: float = 15.0
    apology_s: float = 10.0
    greeting: bool = True  # the queue plays the greeting (R-GREET); False: the check does not apply
    tolerance_s: float = 2.0  # an apology this late still counts as given when due


@dataclass(frozen=True, kw_only=True, slots=True)
class ComplianceRecord:
    call_id: str
    queue: str
    agent: str | None
    entered_at: float
    ended_at: float
    checks: Mapping[str, bool | None] = field(default_factory=dict)
    hung_up_by: str | None = None

    @property
    def broken(self) -> tuple[str, ...]:
        return tuple(rule for rule in CHECKS if self.checks.get(rule) is False)

    @property
    def passed(self) -> bool:
        return not self.broken


def evaluate(call_id: str, entries: Sequence[TimelineEntry], rules: ComplianceRules,
             ) -> ComplianceRecord | None:
    """The record of a call whose timeline ends (hang-up or divert); None if it never entered a queue
    or has not ended."""
    entered = next((e for e in entries if e.fact == Fact.ENTERED_QUEUE), None) or next(
        (e for e in entries if e.fact == Fact.RESYNCED), None)
    end = next((e for e in reversed(entries) if e.fact in (Fact.HANGUP, Fact.DIVERTED)), None)
    if entered is None or end is None:
        return None
    entered_at = float(entered.detail.get("entered_at", entered.at))
    answered = next((e for e in entries if e.fact == Fact.ANSWERED), None)
    bridged = next((e for e in entries if e.fact == Fact.BRIDGED), None)
    checks: dict[str, bool | None] = {}

    # R-RING: the answering offer rang no longer than the target
    if answered is None:
        checks["R-RING"] = None
    else:
        ring_s = float(answered.detail.get("ring_s", 0.0))
        checks["R-RING"] = ring_s <= rules.ring_target_s

    # R-GREET: played to its end before the bridge
    if bridged is None or not rules.greeting:
        checks["R-GREET"] = None
    else:
        greeted = bridged.detail.get("greeted")
        checks["R-GREET"] = None if greeted is None else bool(greeted)

    # R-WAIT: a caller still waiting at apology_s heard the apology then
    waited_until = answered.at if answered is not None else end.at
    due = entered_at + rules.apology_s
    if waited_until < due:
        checks["R-WAIT"] = None
    else:
        apologies = [e for e in entries if e.fact == Fact.PROMPT_PLAYED and e.detail.get("prompt") == "apology"]
        checks["R-WAIT"] = any(due - 0.5 <= e.at <= due + rules.tolerance_s for e in apologies)

    # R-XFER-CONFIRM: every completed transfer to an agent passed through consultation
    completed = [e for e in entries if e.fact == Fact.TRANSFER and e.detail.get("state") == "completed"]
    if not completed:
        checks["R-XFER-CONFIRM"] = None
    else:
        ok = True
        requested_kind = None
        consulted = False
        for e in entries:
            if e.fact != Fact.TRANSFER:
                continue
            state = e.detail.get("state")
            if state == "requested":
                requested_kind, consulted = e.detail.get("kind"), False
            elif state == "consulting":
                consulted = True
            elif state == "completed" and requested_kind != "queue" and not consulted:
                ok = False
        checks["R-XFER-CONFIRM"] = ok

    # R-HANGUP: the caller hangs up first
    by = str(end.detail.get("by", "")) if end.fact == Fact.HANGUP else ""
    checks["R-HANGUP"] = None if answered is None or by not in ("caller", "agent") else by == "caller"

    agent = answered.agent if answered is not None else None
    return ComplianceRecord(call_id=call_id, queue=str(entered.detail.get("queue", "")), agent=agent,
                            entered_at=entered_at, ended_at=end.at, checks=checks, hung_up_by=by or None)
