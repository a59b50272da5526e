"""R-KPI targets live (既定标准): today's figures judged while the service runs.

Every ``[targets] live_every_s`` — and a few seconds after a call ends, a missed offer or a busy
overrun (``sink``), but never sooner than ``LIVE_MIN_GAP_S`` (30 s) after the last check — the service reads today's figures from the store (the report's own
``figures_between``, on the store's thread) and judges them with ``core.targets.breaches``
(``live_only``: the figures a running day can miss — ratios, the average handle time, missed offers
and busy overruns; a daily minimum like outbound per day is judged by the daily report, once the day
is over). A target entering breach publishes ``kpi.target_breached``, one leaving it
``kpi.target_recovered`` (fields: ``queue`` or ``agent``, ``figure``, ``op``, ``target_value``,
``actual``, ``day``, ``rule`` = R-KPI) on the bus: the log, and MQTT's ``<prefix>/events/<event>``.
``status()`` feeds the Prometheus gauges ``callcenter_target_breach`` / ``callcenter_target``
(per queue) and ``callcenter_agent_target_breach`` / ``callcenter_agent_target`` (per agent).

A new day starts with nothing judged: a breach of yesterday recovers at the first check of today.

Why the floor: one check re-reads all of today's records, agent log and outbound and recomputes the figures,
on the store's single thread (outbox writes wait behind it) and in Python beside the event loop. A busy
hour ends a call every few seconds; checking after each would keep that thread busy for a figure that is
a day's. So a burst of call ends gives one check per ``LIVE_MIN_GAP_S``, and ``live_every_s`` is at
least that (config refuses less).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Mapping

import structlog

from ..core.figures import Figures
from ..core.targets import LIVE_EVERY_S, LIVE_MIN_GAP_S, TARGETABLE, Breach, TargetSet, breaches
from ..store.base import StoreError

__all__ = ["LiveTargets", "TargetStatus", "WAKE_EVENTS"]

log = structlog.get_logger()

# Facts that can move a live figure: a check follows them (after settle_s, at most once per min_gap_s,
# itself at least LIVE_MIN_GAP_S).
WAKE_EVENTS = frozenset({"call.completed", "call.abandoned", "call.diverted", "call.answered",
                         "call.offer_missed", "agent.busy_overrun"})

FiguresToday = Callable[[], Awaitable[tuple[str, Mapping[str, Figures], Mapping[str, Figures]]]]


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetStatus:
    kind: str  # queue | agent
    name: str
    figure: str
    target: float
    breached: bool


class LiveTargets:
    """``figures()`` → (day, per queue, per agent) of today so far; ``publish(event, fields)``: the bus."""

    def __init__(self, targets: TargetSet, *, figures: FiguresToday,
                 publish: Callable[[str, Mapping[str, Any]], None],
                 agents: Iterable[str] = (), team_of: Mapping[str, str] | None = None,
                 every_s: float = LIVE_EVERY_S, settle_s: float = 2.0, min_gap_s: float = LIVE_MIN_GAP_S, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 ready: Callable[[], bool] = lambda: True) -> None:
        """``ready()``: False while the store refuses writes; no check then (the store's thread is the
        writes' to retry, and today's figures would miss the writes held).

        ``min_gap_s`` and ``every_s`` are floored at ``LIVE_MIN_GAP_S``: no two checks closer than that."""
        self.targets, self.figures, self.publish, self.ready = targets, figures, publish, ready
        self.team_of = dict(team_of or {})
        self.min_gap_s = max(min_gap_s, LIVE_MIN_GAP_S)
        self.every_s, self.settle_s = max(every_s, self.min_gap_s), settle_s
        self.clock, self.sleep = clock, sleep
        self.breached: dict[tuple[str, str, str], Breach] = {}  # (kind, name, figure) → the breach now
        self.checks = 0
        self._poke = asyncio.Event()
        self._last = float("-inf")
        self._watched = self._watch(agents)

    def _watch(self, agents: Iterable[str]) -> dict[tuple[str, str, str], float]:
        """Every live target of every configured queue and agent: (kind, name, figure) → target value."""
        out: dict[tuple[str, str, str], float] = {}
        for queue, wanted in self.targets.queues.items():
            for figure, t in wanted.items():
                if TARGETABLE[figure].live and "queue" in TARGETABLE[figure].scopes:
                    out[("queue", queue, figure)] = t.value
        for agent in agents:
            for figure, t in self.targets.for_agent(self.team_of.get(agent)).items():
                if TARGETABLE[figure].live and "agent" in TARGETABLE[figure].scopes:
                    out[("agent", agent, figure)] = t.value
        return out

    # -- the bus sink: sync, no I/O ------------------------------------------------------------------------
    __name__ = "kpi_targets"

    def __call__(self, event: str, fields: Mapping[str, Any]) -> None:
        if event in WAKE_EVENTS:
            self._poke.set()

    # -- judging ----------------------------------------------------------------------------------------------
    def update(self, day: str, by_queue: Mapping[str, Figures], by_agent: Mapping[str, Figures]) -> None:
        """Judge one set of today's figures; publish what entered or left breach."""
        self.checks += 1
        now = {(b.kind, b.name, b.figure): b
               for b in breaches(by_queue, by_agent, self.targets, team_of=self.team_of, live_only=True)}
        for key, b in now.items():
            if key not in self.breached:
                self.publish("kpi.target_breached", _fields(b, day))
        for key, b in self.breached.items():
            if key not in now:
                f = by_queue.get(b.name) if b.kind == "queue" else by_agent.get(b.name)
                value = getattr(f, b.figure, None) if f is not None else None
                self.publish("kpi.target_recovered", _fields(b, day, actual=value))
        self.breached = now

    def status(self) -> list[TargetStatus]:
        """For the gauges: every live target watched (0 until breached), and any breach besides."""
        keys = dict(self._watched)
        for key, b in self.breached.items():
            keys.setdefault(key, b.target.value)
        return [TargetStatus(kind=k[0], name=k[1], figure=k[2], target=v, breached=k in self.breached)
                for k, v in sorted(keys.items())]

    async def check(self) -> None:
        if not self.ready():
            return
        self._last = self.clock()  # the check's start: a failing read is held to the floor too
        day, by_queue, by_agent = await self.figures()
        self.update(day, by_queue, by_agent)

    async def run(self) -> None:
        """Check at once, then every ``every_s`` or soon after a fact that moves a figure; never raises."""
        while True:
            self._poke.clear()
            try:
                await self.check()
            except (StoreError, OSError) as e:  # the store away: the next check tries again
                log.warning("kpi.check_failed", error=str(e) or type(e).__name__)
            except Exception:  # a bug: logged, and the next check tries again
                log.exception("kpi.check_failed")
            try:
                async with asyncio.timeout(self.every_s):
                    await self._poke.wait()
            except TimeoutError:
                continue
            await self.sleep(max(self.settle_s, self._last + self.min_gap_s - self.clock()))


def _fields(b: Breach, day: str, *, actual: Any = "same") -> dict[str, Any]:
    value = b.actual if actual == "same" else actual
    return {b.kind: b.name, "figure": b.figure, "op": b.target.direction.op, "target_value": b.target.value,
            "actual": None if value is None else round(float(value), 4), "day": day, "rule": "R-KPI"}


def live_targets(cfg: Any, store: Any, store_call: Callable[..., Awaitable[Any]],
                 publish: Callable[[str, Mapping[str, Any]], None], *,
                 now: Callable[[], float] = time.time, ready: Callable[[], bool] = lambda: True,
                 ) -> LiveTargets | None:
    """The service's ``LiveTargets``, or None with no live target or ``[targets] live_every_s = 0``.

    ``store_call``: how a store read runs (``StoreThread.call``: on the store's thread, never the loop)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ..report import figures_between, period
    from ..report.targets import team_of

    t = cfg.targets
    if not t.set or t.live_every_s <= 0:
        return None
    tz = cfg.reports.timezone

    async def today() -> tuple[str, Mapping[str, Figures], Mapping[str, Figures]]:
        at = now()
        day = datetime.fromtimestamp(at, ZoneInfo(tz)).date().isoformat()
        start, _ = period(day, tz)
        by_queue, by_agent, _total = await store_call(figures_between, store, cfg, start, at)
        return day, by_queue, by_agent

    live = LiveTargets(t.set, figures=today, publish=publish, agents=list(cfg.agents), team_of=team_of(cfg),
                       every_s=t.live_every_s, ready=ready)
    return live if live.status() else None  # only daily minimums: nothing to judge live
