"""R-KPI targets (既定标准): which figures may have a target, and which figures miss theirs.

SPEC.md "The figures (R-KPI), exactly", Targets: "Each figure may have a target per queue or team
(e.g. answer rate ≥ 90 %, outbound per day ≥ N per agent). Reports flag every breach with the queue
or agent …, and a live breach is an alert on MQTT and a Prometheus gauge."

Whether a figure's target is a minimum or a maximum is a property of the figure (``TARGETABLE``, the
one table of it); the config only gives the values. A target is met *at* its value: an answer rate
of exactly 90 % meets ``>= 90 %``.

A figure is judged only when there is something to judge:

* a ratio or an average needs at least ``min_calls`` in its denominator (offered calls for the
  answer rate, service level and abandon rate; answered offers for ring compliance; answered calls
  for the average handle time); no offered calls → no answer-rate breach;
* occupancy needs logged-in time (less pauses) > 0;
* a per-day count (outbound per day, missed offers, busy overruns) is the count ÷ the days the agent
  or queue was active (logged in, dialled out, or had calls); a day off is not a day below target.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

from .figures import Figures

__all__ = ["Breach", "Direction", "FigureTarget", "LIVE_EVERY_S", "LIVE_MIN_GAP_S", "MIN_CALLS", "TARGETABLE",
           "Target", "TargetSet", "active", "actual", "breaches", "parse_target"]

EPSILON = 1e-9  # 9/10 is 0.9: float noise never makes a figure at its target a breach

# The defaults, held here once; config_targets and events.kpi read them from here.
MIN_CALLS = 1  # a ratio or average is judged over at least this many calls
LIVE_EVERY_S = 60.0  # how often the running service judges today's figures
# The live check's floor: no two checks closer than this, however often calls end and whatever live_every_s
# says. One check re-reads all of today's records on the store's single thread (outbox writes wait behind
# it); a target is a day's figure, so a breach seen 30 s later costs nothing.
LIVE_MIN_GAP_S = 30.0


class Direction(StrEnum):
    MIN = "min"  # the figure must be >= the target
    MAX = "max"  # the figure must be <= the target

    @property
    def op(self) -> str:
        return ">=" if self is Direction.MIN else "<="


@dataclass(frozen=True, kw_only=True, slots=True)
class FigureTarget:
    """How one figure is judged against a target."""
    direction: Direction
    unit: str  # ratio (0..1) | seconds | count
    scopes: tuple[str, ...]  # "queue", "agent": the rows the figure means something for
    base: str = ""  # the Figures field counted for min_calls ("" = none)
    per_day: bool = False  # a count judged per active day
    live: bool = True  # judged while the day runs (a daily minimum can only be judged when it is over)


# The figures that may have a target: the direction is the figure's, never the config's.
TARGETABLE: dict[str, FigureTarget] = {
    "answer_rate": FigureTarget(direction=Direction.MIN, unit="ratio", scopes=("queue",), base="offered"),
    "service_level": FigureTarget(direction=Direction.MIN, unit="ratio", scopes=("queue",), base="offered"),
    "abandon_rate": FigureTarget(direction=Direction.MAX, unit="ratio", scopes=("queue",), base="offered"),
    "ring_compliance": FigureTarget(direction=Direction.MIN, unit="ratio", scopes=("queue", "agent"),
                                    base="offers_answered"),
    "aht_s": FigureTarget(direction=Direction.MAX, unit="seconds", scopes=("queue", "agent"), base="answered"),
    "occupancy": FigureTarget(direction=Direction.MIN, unit="ratio", scopes=("agent",)),
    "outbound": FigureTarget(direction=Direction.MIN, unit="count", scopes=("agent",), per_day=True, live=False),
    "outbound_connected": FigureTarget(direction=Direction.MIN, unit="count", scopes=("agent",), per_day=True,
                                       live=False),
    "missed_offers": FigureTarget(direction=Direction.MAX, unit="count", scopes=("queue", "agent"),
                                  per_day=True),
    "busy_overruns": FigureTarget(direction=Direction.MAX, unit="count", scopes=("agent",), per_day=True),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    figure: str
    direction: Direction
    value: float

    def met(self, value: float) -> bool:
        if self.direction is Direction.MIN:
            return value >= self.value - EPSILON
        return value <= self.value + EPSILON

    def text(self) -> str:
        """``>= 90.0%``, ``<= 300 s``, ``>= 20/day``."""
        return f"{self.direction.op} {show(self.figure, self.value)}"


def show(figure: str, value: float) -> str:
    unit = TARGETABLE[figure].unit
    if unit == "ratio":
        return f"{100 * value:.1f}%"
    if unit == "seconds":
        return f"{round(value, 1):g} s"
    return f"{round(value, 2):g}/day"


_TEXT = re.compile(r"^\s*(>=|<=|≥|≤)?\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(%?)\s*\Z")


def parse_target(figure: str, raw: Any) -> Target:
    """A target from the config: a number (``0.9``), a text (``">= 90%"``, ``"<= 300"``) or a table
    (``{min = 0.9}`` / ``{max = 300}``). Raises ValueError saying what is wrong (the caller names the key)."""
    spec = TARGETABLE.get(figure)
    if spec is None:
        raise ValueError(f"unknown figure {figure!r}; figures with targets: {', '.join(TARGETABLE)}")
    want = spec.direction
    given: Direction | None = None
    percent = False
    if isinstance(raw, dict):
        keys = set(raw)
        if len(keys) != 1 or not keys <= {"min", "max"}:
            raise ValueError(f"must be {{{want.value} = <value>}}, got keys {sorted(keys)}")
        given = Direction(keys.pop())
        value = raw[given.value]
    elif isinstance(raw, str):
        m = _TEXT.match(raw)
        if m is None:
            raise ValueError(f"expected e.g. \"{want.op} {_example(figure)}\", got {raw!r}")
        if m[1]:
            given = Direction.MIN if m[1] in (">=", "≥") else Direction.MAX
        value, percent = float(m[2]), bool(m[3])
    else:
        value = raw
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number, got {value!r}")
    if given is not None and given is not want:
        raise ValueError(f"{figure} takes a {want.value}imum ({want.op}): it is a breach "
                         f"{'below' if want is Direction.MIN else 'above'} the target, got {given.value}")
    value = float(value)
    if percent:
        if spec.unit != "ratio":
            raise ValueError(f"{figure} is not a ratio: no %, got {raw!r}")
        value /= 100
    if spec.unit == "ratio" and not 0 <= value <= 1:
        raise ValueError(f"{figure} is a ratio: 0..1 (or 0%..100%), got {raw!r}")
    if value < 0:
        raise ValueError(f"must be >= 0, got {raw!r}")
    return Target(figure=figure, direction=want, value=value)


def _example(figure: str) -> str:
    return {"ratio": "90%", "seconds": "300", "count": "20"}[TARGETABLE[figure].unit]


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetSet:
    """The configured targets: per queue, for every agent, and per team (a team's override the default)."""
    queues: Mapping[str, Mapping[str, Target]] = field(default_factory=dict)
    agents: Mapping[str, Target] = field(default_factory=dict)  # every agent
    teams: Mapping[str, Mapping[str, Target]] = field(default_factory=dict)
    min_calls: int = MIN_CALLS

    def __bool__(self) -> bool:
        return bool(self.queues or self.agents or self.teams)

    def for_queue(self, queue: str) -> Mapping[str, Target]:
        return self.queues.get(queue, {})

    def for_agent(self, team: str | None) -> dict[str, Target]:
        return {**self.agents, **(self.teams.get(team, {}) if team else {})}


@dataclass(frozen=True, kw_only=True, slots=True)
class Breach:
    kind: str  # queue | agent
    name: str  # the queue's name or the agent's ID
    figure: str
    target: Target
    actual: float  # per day for per-day counts
    days: int = 1  # the active days a per-day count was averaged over

    def text(self) -> str:
        return f"{show(self.figure, self.actual)} (target {self.target.text()})"


def active(f: Figures) -> bool:
    """The row did something that day: calls entered or offered, time logged in, an outbound call."""
    return bool(f.entered or f.logged_in_s > 0 or f.outbound or f.offers_answered or f.missed_offers
                or f.busy_overruns)


def actual(figure: str, f: Figures, *, min_calls: int = MIN_CALLS, days: int = 1) -> float | None:
    """The figure's value to judge, or None when there is nothing to judge (see the module's docstring)."""
    spec = TARGETABLE[figure]
    if spec.per_day:
        return None if days <= 0 else getattr(f, figure) / days
    if spec.base and getattr(f, spec.base) < max(1, min_calls):
        return None
    value = getattr(f, figure)
    return None if value is None else float(value)


def breaches(by_queue: Mapping[str, Figures], by_agent: Mapping[str, Figures], targets: TargetSet, *,
             team_of: Mapping[str, str] | None = None, days: Mapping[tuple[str, str], int] | None = None,
             live_only: bool = False) -> list[Breach]:
    """Every target missed by a queue or an agent over one period's figures.

    ``days``: (kind, name) → the active days of the period (default: 1 if ``active``, else 0);
    ``live_only``: only the figures judged while the day runs. An agent or queue with no figures
    did nothing in the period and is not judged."""
    out: list[Breach] = []
    team_of = team_of or {}

    def judge(kind: str, name: str, f: Figures, wanted: Mapping[str, Target]) -> None:
        n = (days or {}).get((kind, name), 1 if active(f) else 0)
        for figure, spec in TARGETABLE.items():  # in the report's order
            target = wanted.get(figure)
            if target is None:
                continue
            if kind not in spec.scopes or (live_only and not spec.live):
                continue
            value = actual(figure, f, min_calls=targets.min_calls, days=n)
            if value is not None and not target.met(value):
                out.append(Breach(kind=kind, name=name, figure=figure, target=target, actual=value,
                                  days=n if spec.per_day else 1))

    for queue, f in sorted(by_queue.items()):
        judge("queue", queue, f, targets.for_queue(queue))
    for agent, f in sorted(by_agent.items()):
        judge("agent", agent, f, targets.for_agent(team_of.get(agent)))
    return out
