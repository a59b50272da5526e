"""R-QA: the sample of recorded calls a quality reviewer listens to.

For each agent and month: ``n`` calls drawn at random (a seeded generator,
so the same seed gives the same sample and a reviewer can reproduce it)
from that agent's recorded calls, plus every call that broke a rule in its
compliance record (R-COMPLY), recorded or not, so nothing that went wrong
escapes review.

Each agent's best and worst recorded calls (the seed: "每月挑选优秀录音以及不合格的录音针对每个
客户服务代表的服务质量进行点评": excellent and failed recordings) are named by the compliance record's
score (``score``): the checks that applied to the call (R-RING answered in time, R-GREET greeting,
R-WAIT apology at 10 s, R-XFER-CONFIRM attended transfer, R-HANGUP caller hung up first), counted
as rules broken and rules kept. Best (优秀) = a call that passed: no rule broken and at least one
kept; the most kept wins. Worst (不合格, failed) = a call that broke at least one rule; the most
broken wins, then the fewest kept. An agent with no passed recorded call has no best, one with no
failed recorded call no worst (a call no check applied to is neither). Ties go to the earliest call
(entered_at, then call id), so the same records give the same picks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from .comply import CHECKS, ComplianceRecord

__all__ = ["SampleEntry", "best_and_worst", "qa_list", "qa_sample", "score"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleEntry:
    call_id: str
    agent: str
    entered_at: float
    why: str  # "random", the broken rules (e.g. "R-RING R-HANGUP"), "best" (优秀) or "worst" (不合格)
    recording: str | None
    score: str = ""  # the compliance record's score, e.g. "kept 3 of 4; broke R-HANGUP"


def qa_sample(records: Iterable[ComplianceRecord], recordings: Mapping[str, str], *, per_agent: int,
              seed: int) -> list[SampleEntry]:
    """``recordings`` maps call id → recording name; only answered calls (with an agent) are sampled."""
    by_agent: dict[str, list[ComplianceRecord]] = defaultdict(list)
    for r in records:
        if r.agent:
            by_agent[r.agent].append(r)
    rng = random.Random(seed)
    out: list[SampleEntry] = []
    for agent in sorted(by_agent):
        calls = sorted(by_agent[agent], key=lambda r: (r.entered_at, r.call_id))
        broken = [r for r in calls if r.broken]
        recorded = [r for r in calls if r.call_id in recordings and not r.broken]
        picked = rng.sample(recorded, min(per_agent, len(recorded)))
        for r in broken:
            out.append(_entry(r, " ".join(r.broken), recordings))
        for r in sorted(picked, key=lambda r: (r.entered_at, r.call_id)):
            out.append(_entry(r, "random", recordings))
    return out


def score(record: ComplianceRecord) -> tuple[int, int]:
    """(rules broken, rules kept) of the record's checks that applied to the call (None: did not apply)."""
    checks = [record.checks.get(rule) for rule in CHECKS]
    return sum(c is False for c in checks), sum(c is True for c in checks)


def _score_text(record: ComplianceRecord) -> str:
    broken, kept = score(record)
    text = f"kept {kept} of {kept + broken}"
    return f"{text}; broke {' '.join(record.broken)}" if broken else text


def _entry(r: ComplianceRecord, why: str, recordings: Mapping[str, str]) -> SampleEntry:
    return SampleEntry(call_id=r.call_id, agent=str(r.agent), entered_at=r.entered_at, why=why,
                       recording=recordings.get(r.call_id), score=_score_text(r))


def best_and_worst(records: Iterable[ComplianceRecord], recordings: Mapping[str, str]) -> list[SampleEntry]:
    """Per agent (in ID order) its best recorded call (``why="best"``, 优秀: passed), then its worst
    (``"worst"``, 不合格: failed); either is left out when the agent has no such recorded call."""
    by_agent: dict[str, list[ComplianceRecord]] = defaultdict(list)
    for r in records:
        if r.agent and r.call_id in recordings:
            by_agent[r.agent].append(r)
    out: list[SampleEntry] = []
    for agent in sorted(by_agent):
        scored = [(score(r), r) for r in by_agent[agent]]
        passed = [((-kept, r.entered_at, r.call_id), r)
                  for (broken, kept), r in scored if not broken and kept]
        failed = [((-broken, kept, r.entered_at, r.call_id), r) for (broken, kept), r in scored if broken]
        for why, calls in (("best", passed), ("worst", failed)):
            if calls:
                out.append(_entry(min(calls, key=lambda c: c[0])[1], why, recordings))
    return out


def qa_list(records: Iterable[ComplianceRecord], recordings: Mapping[str, str], *, per_agent: int,
            seed: int) -> list[SampleEntry]:
    """The monthly QA list: per agent the sample (``qa_sample``), then its best and worst recorded calls."""
    records = list(records)
    picks = best_and_worst(records, recordings)
    return sorted(qa_sample(records, recordings, per_agent=per_agent, seed=seed) + picks, key=lambda e: e.agent)
