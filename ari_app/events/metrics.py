"""Prometheus metrics (R-KPI live figures): a Bus sink plus gauges read at scrape time.

Counters and histograms move as the core publishes its facts (``call.answered``,
``call.abandoned``, …; see ``Metrics.sink``); the gauges (agents per state, calls
waiting, callbacks open and overdue, the ARI connection) are read from the service
when Prometheus scrapes, so they cannot drift from the truth. Every ``Metrics`` has
its own ``CollectorRegistry``: two services (or two tests) never share numbers.

The sink runs inside ``Bus.publish`` on the event loop: it only updates numbers in
memory and never blocks. Times are seconds, as Prometheus names them
(``callcenter_queue_wait_seconds``). R-PRIVACY: no label ever holds a caller number;
labels are queue names, agent IDs, pause reasons, teams and outcomes.

The short-abandon rule is SPEC.md's "The figures": a caller who hangs up within
``short_abandon_s`` of entering the queue is counted in
``callcenter_calls_short_abandoned_total`` and not in ``callcenter_calls_abandoned_total``.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..core.agents import AgentState

__all__ = ["LoopLag", "Metrics", "WAIT_BUCKETS"]

log = structlog.get_logger()

# Seconds. 20 s is SPEC's default service-level threshold, 5 s the short abandon, 10 s the wait apology.
WAIT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
RING_BUCKETS = (1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)  # 15 s: the ring target (R-RING)
TALK_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

AGENT_STATES = tuple(s.value for s in AgentState)


def _seconds(fields: Mapping[str, Any], key: str) -> float | None:
    """A duration field as a float, or None when missing or not a finite number >= 0."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _label(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    return "" if value is None else str(value)


class Metrics:
    """The service's metrics. ``agents``, ``waiting``, ``callbacks`` and ``ari`` are read at scrape time:

    * ``agents()``: agent snapshots (``api.agent_snapshot``: ``state`` and ``queues``),
    * ``waiting()``: queue → calls waiting now (every configured queue, zeros included),
    * ``callbacks()``: the callbacks desk (``flows.desk.CallbackDesk``) or None,
    * ``ari()``: (websocket connections opened so far, connected now),
    * ``store()``: the store's outbox (``store.outbox.WriteOutbox``: held, dropped and landed writes),
    * ``targets()``: the live R-KPI targets (``events.kpi.LiveTargets.status``: ``TargetStatus`` rows).
    """

    def __init__(self, *, short_abandon_s: float | Mapping[str, float] = 5.0,
                 agents: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
                 waiting: Callable[[], Mapping[str, int]] | None = None,
                 callbacks: Callable[[], Any] | None = None,
                 ari: Callable[[], tuple[int, bool]] | None = None,
                 store: Callable[[], Any] | None = None,
                 targets: Callable[[], Iterable[Any]] | None = None) -> None:
        # one threshold, or one per queue (``queues.<name>.short_abandon_s``, the figures' own, R-KPI)
        self.short_abandon_s = short_abandon_s
        self.registry = CollectorRegistry()
        r = self.registry
        self.wait = Histogram("callcenter_queue_wait_seconds",
                              "Time from entering the queue to being answered or hanging up (outcome)",
                              ["queue", "outcome"], buckets=WAIT_BUCKETS, registry=r)
        self.ring = Histogram("callcenter_ring_seconds",
                              "Time an answered offer rang the agent's phone (R-RING)", ["queue"],
                              buckets=RING_BUCKETS, registry=r)
        self.talk = Histogram("callcenter_talk_seconds", "Talk time of completed calls, bridge to hang-up",
                              ["queue"], buckets=TALK_BUCKETS, registry=r)
        self.queued = Counter("callcenter_calls_queued", "Calls that joined a queue's line", ["queue"],
                              registry=r)
        self.answered = Counter("callcenter_calls_answered", "Calls answered by an agent", ["queue"],
                                registry=r)
        self.abandoned = Counter("callcenter_calls_abandoned",
                                 "Callers who hung up while waiting, after the short-abandon threshold",
                                 ["queue"], registry=r)
        self.short_abandoned = Counter("callcenter_calls_short_abandoned",
                                       "Callers who hung up within short_abandon_s of entering the queue",
                                       ["queue"], registry=r)
        self.diverted = Counter("callcenter_calls_diverted",
                                "Callers sent out of the queue (closed, no_agent, queue_full, voicemail)",
                                ["queue", "reason"], registry=r)
        self.lost = Counter("callcenter_calls_lost",
                            "Calls that ended while the service was not connected to Asterisk", ["queue"],
                            registry=r)
        self.missed = Counter("callcenter_offers_missed",
                              "Offers not answered within the ring target (R-RING)", ["queue", "agent"],
                              registry=r)
        self.overruns = Counter("callcenter_agent_busy_overruns",
                                "Pause-limit alerts (R-BUSY), one per alert, repeats included",
                                ["agent", "reason"], registry=r)
        self.callbacks_created = Counter("callcenter_callbacks_created",
                                         "Callback tasks created (R-VM, R-CB)", ["team", "kind"], registry=r)
        self.callback_attempts = Counter("callcenter_callback_attempts",
                                         "Callback dial attempts by outcome (R-CB)", ["team", "outcome"],
                                         registry=r)
        self.callbacks_overdue_total = Counter("callcenter_callbacks_went_overdue",
                                               "Callback tasks that passed their deadline (R-SLA24)",
                                               ["team"], registry=r)
        self.loop_lag = Histogram("callcenter_event_loop_lag_seconds",
                                  "How late the event loop woke a timer (the service's responsiveness)",
                                  buckets=LAG_BUCKETS, registry=r)
        self.loop_lag_last = Gauge("callcenter_event_loop_lag_last_seconds",
                                   "The last event-loop lag measured", registry=r)
        self._live = _Live(agents=agents, waiting=waiting, callbacks=callbacks, ari=ari, store=store,
                           targets=targets)
        r.register(self._live)
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "call.queued": self._queued,
            "call.answered": self._answered,
            "call.abandoned": self._abandoned,
            "call.completed": self._completed,
            "call.diverted": self._diverted,
            "call.offer_missed": self._offer_missed,
            "agent.busy_overrun": self._busy_overrun,
            "callback.created": self._callback_created,
            "callback.attempt": self._callback_attempt,
            "callback.overdue": self._callback_overdue,
        }

    # -- the Bus sink --------------------------------------------------------------------------------------
    def __repr__(self) -> str:  # how bus.sink_failed names this sink
        return "metrics"

    def __call__(self, event: str, fields: Mapping[str, Any]) -> None:
        self.sink(event, fields)

    def sink(self, event: str, fields: Mapping[str, Any]) -> None:
        handler = self._handlers.get(event)
        if handler is not None:
            handler(fields)

    def _queued(self, f: Mapping[str, Any]) -> None:
        if not f.get("resynced"):  # a call found again after a reconnect joined the line before
            self.queued.labels(_label(f, "queue")).inc()

    def _answered(self, f: Mapping[str, Any]) -> None:
        queue = _label(f, "queue")
        self.answered.labels(queue).inc()
        if (wait := _seconds(f, "wait_s")) is not None:
            self.wait.labels(queue, "answered").observe(wait)
        if (ring := _seconds(f, "ring_s")) is not None:
            self.ring.labels(queue).observe(ring)

    def _abandoned(self, f: Mapping[str, Any]) -> None:
        queue = _label(f, "queue")
        if f.get("lost"):  # ended while we were away: when and by whom is unknown
            self.lost.labels(queue).inc()
            return
        wait = _seconds(f, "wait_s")
        if wait is not None:
            self.wait.labels(queue, "abandoned").observe(wait)
        threshold = (self.short_abandon_s if isinstance(self.short_abandon_s, (int, float))
                     else self.short_abandon_s.get(queue, 5.0))
        if wait is not None and wait < threshold:
            self.short_abandoned.labels(queue).inc()
        else:
            self.abandoned.labels(queue).inc()

    def _completed(self, f: Mapping[str, Any]) -> None:
        queue = _label(f, "queue")
        if f.get("lost"):
            self.lost.labels(queue).inc()
            return
        if (talk := _seconds(f, "talk_s")) is not None:
            self.talk.labels(queue).observe(talk)

    def _diverted(self, f: Mapping[str, Any]) -> None:
        self.diverted.labels(_label(f, "queue"), _label(f, "reason")).inc()

    def _offer_missed(self, f: Mapping[str, Any]) -> None:
        self.missed.labels(_label(f, "queue"), _label(f, "agent")).inc()

    def _busy_overrun(self, f: Mapping[str, Any]) -> None:
        self.overruns.labels(_label(f, "agent"), _label(f, "reason")).inc()

    def _callback_created(self, f: Mapping[str, Any]) -> None:
        self.callbacks_created.labels(_label(f, "team"), _label(f, "kind") or "voicemail").inc()

    def _callback_attempt(self, f: Mapping[str, Any]) -> None:
        self.callback_attempts.labels(_label(f, "team"), _label(f, "outcome")).inc()

    def _callback_overdue(self, f: Mapping[str, Any]) -> None:
        self.callbacks_overdue_total.labels(_label(f, "team")).inc()

    # -- event-loop lag ------------------------------------------------------------------------------------
    def record_loop_lag(self, lag_s: float) -> None:
        lag_s = max(0.0, lag_s)
        self.loop_lag.observe(lag_s)
        self.loop_lag_last.set(lag_s)

    def loop_lag_watch(self, interval_s: float = 1.0, *, clock: Callable[[], float] | None = None,
                       sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> "LoopLag":
        return LoopLag(self.record_loop_lag, interval_s, clock=clock, sleep=sleep)

    # -- exposition ----------------------------------------------------------------------------------------
    def render(self) -> bytes:
        """The text exposition format (``prometheus_client.CONTENT_TYPE_LATEST``)."""
        return generate_latest(self.registry)


class LoopLag:
    """Sleeps ``interval_s`` again and again and records how much later than asked it woke.

    ``clock`` defaults to the running loop's ``time()`` (monotonic); tests inject a clock and a sleep.
    """

    def __init__(self, record: Callable[[float], None], interval_s: float, *,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.record, self.interval_s, self.clock, self.sleep = record, interval_s, clock, sleep

    async def run(self) -> None:
        clock = self.clock or asyncio.get_running_loop().time
        while True:
            start = clock()
            await self.sleep(self.interval_s)
            self.record(clock() - start - self.interval_s)


class _Live:
    """The gauges read at scrape time. A source that fails is logged and left out of that scrape."""

    def __init__(self, *, agents: Callable[[], Iterable[Mapping[str, Any]]] | None,
                 waiting: Callable[[], Mapping[str, int]] | None, callbacks: Callable[[], Any] | None,
                 ari: Callable[[], tuple[int, bool]] | None, store: Callable[[], Any] | None = None,
                 targets: Callable[[], Iterable[Any]] | None = None) -> None:
        self.agents, self.waiting, self.callbacks, self.ari = agents, waiting, callbacks, ari
        self.store, self.targets = store, targets

    def collect(self) -> Iterable[Metric]:
        for name, part in (("agents", self._agents), ("waiting", self._waiting),
                           ("callbacks", self._callbacks), ("ari", self._ari), ("store", self._store),
                           ("targets", self._targets)):
            try:
                yield from list(part())
            except Exception as e:  # a scrape must not fail because one source did
                log.warning("metrics.collect_failed", source=name, error=repr(e))

    def _agents(self) -> Iterable[Metric]:
        if self.agents is None:
            return
        total: Tally[str] = Tally()
        per_queue: Tally[tuple[str, str]] = Tally()
        queues: set[str] = set()
        for a in self.agents():
            state = str(a.get("state", ""))
            total[state] += 1
            for q in a.get("queues") or ():
                queues.add(str(q))
                per_queue[(str(q), state)] += 1
        g = GaugeMetricFamily("callcenter_agents", "Agents per state now", labels=["state"])
        for state in (*AGENT_STATES, *sorted(set(total) - set(AGENT_STATES))):
            g.add_metric([state], total[state])
        yield g
        gq = GaugeMetricFamily("callcenter_queue_agents", "Agents of each queue per state now (an agent of "
                               "two queues counts in both)", labels=["queue", "state"])
        for q in sorted(queues):
            for state in AGENT_STATES:
                gq.add_metric([q, state], per_queue[(q, state)])
        yield gq

    def _waiting(self) -> Iterable[Metric]:
        if self.waiting is None:
            return
        g = GaugeMetricFamily("callcenter_queue_calls_waiting", "Callers waiting in each queue now",
                              labels=["queue"])
        for queue, n in sorted(self.waiting().items()):
            g.add_metric([queue], n)
        yield g

    def _callbacks(self) -> Iterable[Metric]:
        desk = self.callbacks() if self.callbacks is not None else None
        if desk is None:
            return
        teams = list(getattr(getattr(desk, "roster", None), "teams", ()) or ())
        open_: Tally[str] = Tally({t: 0 for t in teams})
        overdue: Tally[str] = Tally({t: 0 for t in teams})
        for task in desk.task_list(open_only=True):
            open_[task["team"]] += 1
            overdue[task["team"]] += 1 if task["overdue"] else 0
        g = GaugeMetricFamily("callcenter_callbacks_open", "Callback tasks open or in progress now (R-CB)",
                              labels=["team"])
        go = GaugeMetricFamily("callcenter_callbacks_overdue", "Open callback tasks past their deadline now "
                               "(R-SLA24)", labels=["team"])
        for team in sorted(open_):
            g.add_metric([team], open_[team])
            go.add_metric([team], overdue[team])
        yield g
        yield go

    def _ari(self) -> Iterable[Metric]:
        if self.ari is None:
            return
        connections, connected = self.ari()
        c = CounterMetricFamily("callcenter_ari_reconnects", "ARI websocket connections after the first "
                                "(each one a resync)")
        c.add_metric([], max(0, connections - 1))
        yield c
        g = GaugeMetricFamily("callcenter_ari_connected", "1 while the ARI websocket is up and resynced")
        g.add_metric([], 1 if connected else 0)
        yield g

    def _store(self) -> Iterable[Metric]:
        """Issue 7: writes the store refused, held for a retry, and those lost to the outbox's bound."""
        box = self.store() if self.store is not None else None
        if box is None:
            return
        up = GaugeMetricFamily("callcenter_store_available", "0 while the store refuses writes (they are held)")
        up.add_metric([], 0 if box.down else 1)
        yield up
        held = GaugeMetricFamily("callcenter_store_writes_held", "Rows waiting for the store to come back")
        held.add_metric([], box.rows)
        yield held
        dropped = CounterMetricFamily("callcenter_store_rows_dropped", "Rows lost: the store was away and the "
                                      "outbox full (or a write failed for a bug)")
        dropped.add_metric([], box.dropped_rows)
        yield dropped

    def _targets(self) -> Iterable[Metric]:
        """R-KPI 既定标准 (events/kpi.py): 1 while today's figure misses its target, and the target itself."""
        if self.targets is None:
            return
        rows = list(self.targets())
        for kind, prefix, what in (("queue", "callcenter_", "queue"), ("agent", "callcenter_agent_", "agent")):
            breach = GaugeMetricFamily(f"{prefix}target_breach", f"1 while today's figure of the {what} misses "
                                       "its target ([targets], R-KPI), else 0", labels=["figure", kind])
            value = GaugeMetricFamily(f"{prefix}target", f"The {what}'s target ([targets]): a ratio 0..1, "
                                      "seconds or a count per day", labels=["figure", kind])
            for r in rows:
                if r.kind == kind:
                    breach.add_metric([r.figure, r.name], 1 if r.breached else 0)
                    value.add_metric([r.figure, r.name], r.target)
            yield breach
            yield value
