"""The MQTT sink of the event bus: the call center's live state on a broker (issue 6).

Topic tree under ``prefix`` (``[mqtt] prefix``, default ``callcenter``):

* ``<prefix>/agents/<agent_id>/state`` (retained, QoS 0): the agent's state, pause reason and
  since when; published on every ``agent.*`` event and whenever the agent's state changed.
* ``<prefix>/queues/<name>/stats`` (retained, QoS 0): callers waiting, agents logged in and
  available, calls answered and abandoned today; on ``call.*`` events, at most once per
  ``stats_every_s`` per queue.
* ``<prefix>/events/<event>`` (QoS 1, not retained): the alerts (``bus.ALERTS``:
  ``agent.busy_overrun``, ``call.offer_missed``, ``callback.overdue``, ``kpi.target_breached``, …)
  and ``kpi.target_recovered`` (R-KPI targets, events/kpi.py: a breach and its end).

Every payload is a JSON object with ``"schema": 1``, ``"event"`` (the bus event, or
``"snapshot"`` for the full state sent at every connect), ``"time"`` (ISO 8601, UTC) and ``"ts"``
(epoch seconds). An event's fields pass a whitelist (``PUBLIC_FIELDS``): a caller's number never
reaches the broker (R-PRIVACY).

Two halves, one owner:

* ``MqttSink.__call__(event, fields)`` is the bus sink: synchronous, no I/O, it only turns the
  event into messages in a bounded ``Outbox`` (the oldest dropped first and counted, retained
  messages for one topic coalesced). A broker that is down never slows a call.
* ``MqttSink.run()`` is the task that owns the connection: a fresh ``aiomqtt.Client`` per attempt
  (they are not reusable), the outbox drained in order, exponential back-off between attempts,
  ``mqtt.connected`` / ``mqtt.disconnected`` logged once per transition.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Protocol

import aiomqtt
import structlog

from .bus import ALERTS

__all__ = ["AcdView", "Backoff", "Message", "MqttSink", "Outbox", "PUBLIC_FIELDS", "SCHEMA", "View", "scrub"]

log = structlog.get_logger()

SCHEMA = 1
DROP_LOG_EVERY_S = 10.0  # mqtt.dropped: at most one line per this many seconds
PUBLISH_TIMEOUT_S = 5.0  # a connect or a QoS 1 publish not acknowledged by then: the connection is lost

# R-PRIVACY: the only event fields that reach the broker. A whitelist, not a deny list, so a field
# added later (a number under a new name) stays out until someone decides it is public.
PUBLIC_FIELDS = frozenset({
    "agent", "agents", "alert", "attempt", "attempts", "busy", "by", "call_id", "created_at", "deadline",
    "final", "handled", "held_s", "hold_s", "hung_up_first", "late_s", "left", "limit_s", "lock_s", "lost",
    "mode", "online", "outcome", "paused_s", "priority", "purpose", "queue", "reason", "resynced", "ring_s",
    "rule", "source", "state", "talk_s", "task_id", "tasks", "team", "transfer_id", "wait_s",
    "within_ring_target",
    "actual", "day", "figure", "op", "target_value",  # R-KPI targets (events/kpi.py; "target" may be a number)
})
# Events sent to <prefix>/events/<event> besides the alerts: the end of an alert's condition.
EVENTS = ALERTS | {"kpi.target_recovered"}
# Never public whatever the whitelist says (a second lock on the same door; tests check both).
_NUMBER_WORDS = ("caller", "number", "callerid", "cid", "phone", "ani", "dnis", "customer", "contact")

_Scalar = (str, int, float, bool, type(None))


def scrub(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The public part of an event's fields: whitelisted keys with scalar values (or lists of them)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in PUBLIC_FIELDS or _numberish(key):
            continue
        if isinstance(value, _Scalar):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, _Scalar) for v in value):
            out[key] = list(value)
    return out


def _numberish(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in _NUMBER_WORDS)


def iso(ts: float) -> str:
    """Epoch seconds → ``2025-03-04T08:15:00.123Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _level(name: str) -> str:
    """One topic level: no separators or wildcards from a name."""
    return "".join("_" if c in "/+#\0" else c for c in str(name)) or "_"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class Outbox:
    """A bounded FIFO of messages waiting for the broker.

    Full: the oldest message is dropped (``dropped`` counts them). A retained message replaces one
    for the same topic still waiting (only the latest state matters), keeping its place in line.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"outbox size must be >= 1, got {size}")
        self.size = size
        self.dropped = 0
        self._q: OrderedDict[Any, Message] = OrderedDict()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._q)

    def _key(self, msg: Message) -> Any:
        if msg.retain:
            return ("retained", msg.topic)
        self._seq += 1
        return ("event", self._seq)

    def put(self, msg: Message) -> None:
        key = self._key(msg)
        if key in self._q:
            self._q[key] = msg  # coalesced: the newer state in the older one's place
            return
        self._q[key] = msg
        self._trim()

    def push_front(self, msg: Message) -> None:
        """Put back a message whose publish failed, first in line (unless a newer state replaced it)."""
        key = self._key(msg)
        if key in self._q:
            return
        self._q[key] = msg
        self._q.move_to_end(key, last=False)
        self._trim()

    def pop(self) -> Message | None:
        if not self._q:
            return None
        return self._q.popitem(last=False)[1]

    def peek_all(self) -> list[Message]:
        return list(self._q.values())

    def _trim(self) -> None:
        while len(self._q) > self.size:
            self._q.popitem(last=False)
            self.dropped += 1


class Backoff:
    """Exponential back-off: ``min_s``, doubled on each failure up to ``max_s``; ``reset()`` on success."""

    def __init__(self, min_s: float, max_s: float, factor: float = 2.0) -> None:
        self.min_s, self.max_s, self.factor = min_s, max(max_s, min_s), factor
        self._next = min_s

    def next(self) -> float:
        delay = self._next
        self._next = min(self.max_s, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.min_s


class View(Protocol):
    """What the sink reads of the core: the agents' and queues' current state."""

    def agent_ids(self) -> Iterable[str]: ...
    def agent(self, agent_id: str) -> Mapping[str, Any] | None: ...  # state, reason, since, queues
    def queue_names(self) -> Iterable[str]: ...
    def queue(self, name: str) -> Mapping[str, Any] | None: ...  # waiting, agents_logged_in, …


class AcdView:
    """A ``View`` of ``core.acd.Acd`` (read only; called from the core's own task, so no locks)."""

    def __init__(self, acd: Any, clock: Callable[[], float] = time.time) -> None:
        self.acd, self.clock = acd, clock

    def agent_ids(self) -> list[str]:
        return list(self.acd.agents)

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        a = self.acd.agents.get(agent_id)
        if a is None:
            return None
        state = str(a.state)
        return {"state": state, "reason": a.reason if state == "paused" else "", "since": a.since,
                "queues": list(a.queues)}

    def queue_names(self) -> list[str]:
        return list(self.acd.queues)

    def queue(self, name: str) -> dict[str, Any] | None:
        if name not in self.acd.queues:
            return None
        now = self.clock()
        waits = [now - c.entered_at for c in self.acd.waiting_in(name)]
        agents = [a for a in self.acd.agents.values() if name in a.queues and a.logged_in]
        return {"waiting": len(waits), "longest_wait_s": round(max(waits, default=0.0), 3),
                "agents_logged_in": len(agents),
                "agents_available": sum(1 for a in agents if str(a.state) == "available"),
                "agents_on_call": sum(1 for a in agents if str(a.state) in ("ringing", "on_call", "wrap_up")),
                "agents_paused": sum(1 for a in agents if str(a.state) == "paused")}


ClientFactory = Callable[[], Any]  # a fresh aiomqtt.Client (an async context manager with publish/messages)
CallLater = Callable[[float, Callable[[], None]], Any]


class MqttSink:
    """The bus sink (``sink(event, fields)``) and the task that publishes (``await sink.run()``)."""

    def __init__(self, settings: Any, view: View, *, clock: Callable[[], float] = time.time,
                 client_factory: ClientFactory | None = None, call_later: CallLater | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.settings, self.view, self.clock = settings, view, clock
        self.prefix = settings.prefix.rstrip("/")
        self.outbox = Outbox(settings.buffer_size)
        self.connected: bool | None = None  # None: no attempt yet
        self.sent = 0
        self._factory = client_factory or self._aiomqtt_client
        self._call_later = call_later or (lambda delay, fn: asyncio.get_running_loop().call_later(delay, fn))
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._agents: dict[str, tuple[Any, ...]] = {}  # last state put in the outbox, per agent
        self._stats_next: dict[str, float] = {}  # queue -> earliest next stats message
        self._stats_due: dict[str, str] = {}  # queue -> the event that awaits a deferred stats message
        self._day = ""
        self._counts: dict[str, dict[str, int]] = {}  # queue -> answered/abandoned today
        self._drops_reported = 0
        self._drops_logged_at = float("-inf")

    __name__ = "mqtt_sink"  # for bus.sink_failed

    # -- the sink: sync, no I/O -------------------------------------------------------------------
    def __call__(self, event: str, fields: Mapping[str, Any]) -> None:
        now = self.clock()
        public = scrub(fields)
        agent = public.get("agent")
        if isinstance(agent, str) and agent:
            self._agent_state(agent, event, now, force=event.startswith("agent."))
        if event.startswith("agent.") and isinstance(agent, str):
            for q in self._agent_queues(agent):
                self._stats(q, event, now)
        queue = public.get("queue")
        if event.startswith("call.") and isinstance(queue, str) and queue:
            self._count(queue, event, now)
            self._stats(queue, event, now)
        if event in EVENTS:
            topic = f"{self.prefix}/events/{_level(event)}"
            self._put(Message(topic, self._payload(event, now, public), qos=1))

    def agent_changed(self, agent_id: str) -> None:
        """The core changed the agent (also without an event: wrap-up over, phone reachable again)."""
        try:
            now = self.clock()
            if self._agent_state(agent_id, "agent.changed", now, force=False):
                for q in self._agent_queues(agent_id):
                    self._stats(q, "agent.changed", now)
        except Exception:  # called from the core's task: a bug here must not stop the calls
            log.exception("mqtt.sink_failed", agent=agent_id)

    def snapshot(self, event: str = "snapshot") -> None:
        """Every agent's state and every queue's stats (at each connect: the broker may have lost them)."""
        now = self.clock()
        for agent_id in self.view.agent_ids():
            self._agent_state(agent_id, event, now, force=True)
        for q in self.view.queue_names():
            self._stats_now(q, event, now)

    def _agent_queues(self, agent_id: str) -> list[str]:
        snap = self.view.agent(agent_id)
        return list(snap.get("queues") or ()) if snap else []

    def _agent_state(self, agent_id: str, event: str, now: float, *, force: bool) -> bool:
        snap = self.view.agent(agent_id)
        if snap is None:
            return False
        key = (snap.get("state"), snap.get("reason"), snap.get("since"))
        if not force and self._agents.get(agent_id) == key:
            return False
        self._agents[agent_id] = key
        since = snap.get("since")
        since_time = iso(since) if isinstance(since, (int, float)) and since else None
        body = {"agent": agent_id, "state": snap.get("state"), "reason": snap.get("reason") or "",
                "since": since, "since_time": since_time,
                "queues": list(snap.get("queues") or ())}
        self._put(Message(f"{self.prefix}/agents/{_level(agent_id)}/state", self._payload(event, now, body),
                          retain=True))
        return True

    def _count(self, queue: str, event: str, now: float) -> None:
        self._roll_day(now)
        if event in ("call.answered", "call.abandoned"):
            counts = self._counts.setdefault(queue, {"answered": 0, "abandoned": 0})
            counts[event.removeprefix("call.")] += 1

    def _roll_day(self, now: float) -> str:
        day = datetime.fromtimestamp(now).date().isoformat()  # the service host's local day
        if day != self._day:
            self._day, self._counts = day, {}
        return day

    def _stats(self, queue: str, event: str, now: float) -> None:
        """At most one stats message per queue per ``stats_every_s``; a later change is sent when due."""
        if queue in self._stats_due:
            self._stats_due[queue] = event  # already scheduled
            return
        due = self._stats_next.get(queue, float("-inf"))
        if now >= due:
            self._stats_now(queue, event, now)
            return
        self._stats_due[queue] = event
        self._call_later(due - now, lambda: self._deferred_stats(queue))

    def _deferred_stats(self, queue: str) -> None:
        event = self._stats_due.pop(queue, None)
        if event is not None:
            try:
                self._stats_now(queue, event, self.clock())
            except Exception:
                log.exception("mqtt.sink_failed", queue=queue)

    def _stats_now(self, queue: str, event: str, now: float) -> None:
        stats = self.view.queue(queue)
        if stats is None:
            return
        self._stats_next[queue] = now + self.settings.stats_every_s
        day = self._roll_day(now)
        counts = self._counts.get(queue, {})
        body = {"queue": queue, **stats, "answered_today": counts.get("answered", 0),
                "abandoned_today": counts.get("abandoned", 0), "day": day}
        self._put(Message(f"{self.prefix}/queues/{_level(queue)}/stats", self._payload(event, now, body),
                          retain=True))

    def _payload(self, event: str, now: float, body: Mapping[str, Any]) -> bytes:
        doc = {"schema": SCHEMA, "event": event, "time": iso(now), "ts": round(now, 3), **body}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str).encode()

    def _put(self, msg: Message) -> None:
        self.outbox.put(msg)
        self._report_drops(self.clock())
        self._wake.set()

    def _report_drops(self, now: float, *, force: bool = False) -> None:
        new = self.outbox.dropped - self._drops_reported
        if new <= 0 or (not force and now - self._drops_logged_at < DROP_LOG_EVERY_S):
            return
        self._drops_reported, self._drops_logged_at = self.outbox.dropped, now
        log.warning("mqtt.dropped", dropped=new, total=self.outbox.dropped, buffer_size=self.outbox.size,
                    connected=bool(self.connected))

    # -- the owner task -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Publish until cancelled; never raises for the broker's sake."""
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s)
        while True:
            try:
                client = self._factory()
                async with client:
                    self._up()
                    backoff.reset()
                    self.snapshot()
                    await self._pump(client)
            except (aiomqtt.MqttError, OSError) as e:  # refused, unreachable, timed out, connection lost
                self._down(e)
            except Exception as e:  # a bug here must not stop the service: log it, try again later
                log.exception("mqtt.failed")
                self._down(e)
            await self._sleep(backoff.next())

    def _up(self) -> None:
        if self.connected is not True:
            s = self.settings
            log.info("mqtt.connected", host=s.host, port=s.port, prefix=self.prefix,
                     buffered=len(self.outbox))
        self.connected = True
        self._report_drops(self.clock(), force=True)

    def _down(self, error: BaseException) -> None:
        if self.connected is not False:
            s = self.settings
            cause = error.__cause__  # "Disconnected during message iteration" from "the connection was lost"
            reason = str(cause or error) or type(cause or error).__name__
            log.warning("mqtt.disconnected", host=s.host, port=s.port, reason=reason,
                        error=type(error).__name__)
        self.connected = False

    async def _pump(self, client: Any) -> None:
        watch = asyncio.ensure_future(self._watch(client))
        try:
            while True:
                msg = self.outbox.pop()
                if msg is None:
                    self._wake.clear()
                    wake = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait({wake, watch}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        wake.cancel()
                    if watch.done():
                        watch.result()  # the connection's error
                        raise ConnectionError("the broker closed the connection")
                    continue
                try:
                    await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain,
                                         timeout=PUBLISH_TIMEOUT_S)
                except BaseException:  # not sent: first in line for the next connection
                    self.outbox.push_front(msg)
                    raise
                self.sent += 1
        finally:
            watch.cancel()
            watch.add_done_callback(_retrieve)

    @staticmethod
    async def _watch(client: Any) -> None:
        """Ends (with the client's error) when the connection does; we subscribe to nothing."""
        async for _ in client.messages:
            pass

    def _aiomqtt_client(self) -> Any:
        s = self.settings
        return aiomqtt.Client(
            s.host, s.port, username=s.username or None, password=s.password or None,
            identifier=s.client_id or None, keepalive=s.keepalive, timeout=PUBLISH_TIMEOUT_S,
            tls_params=aiomqtt.TLSParameters(ca_certs=s.ca_file or None) if s.tls else None,
            logger=_PAHO_LOG)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # seen: no "exception was never retrieved"


# paho's and aiomqtt's own log lines only repeat what mqtt.connected / mqtt.disconnected say.
_PAHO_LOG = logging.getLogger("ari_app.mqtt.client")
_PAHO_LOG.setLevel(logging.CRITICAL)
