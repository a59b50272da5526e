"""R-QA: the sample of recorded calls a quality reviewer listens to.

For each agent and month: ``n`` calls drawn at random (a seeded generator,
so the same seed gives the same sample and a reviewer can reproduce it)
from that agent's recorded calls, plus every call that broke a rule in its
compliance record (R-COMPLY), recorded or not, so nothing that went wrong
escapes review.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from .comply import ComplianceRecord

__all__ = ["SampleEntry", "qa_sample"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleEntry:
    call_id: str
    agent: str
    entered_at: float
    why: str  # "random" or the broken rules, e.g. "R-RING R-HANGUP"
    recording: str | None


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
            out.append(SampleEntry(call_id=r.call_id, agent=agent, entered_at=r.entered_at,
                                   why=" ".join(r.broken), recording=recordings.get(r.call_id)))
        for r in sorted(picked, key=lambda r: (r.entered_at, r.call_id)):
            out.append(SampleEntry(call_id=r.call_id, agent=agent, entered_at=r.entered_at, why="random",
                                   recording=recordings[r.call_id]))
    return out
