"""What happened to each benchmark call, from ARI events and AMI events.

``Tracker.on_ari`` takes every ARI event the driver's app sees (it is subscribed to every
channel) and keeps, per caller, the Asterisk timestamps that matter: entering the system
(``ChannelDialplan`` to Stasis or Queue), each agent leg created (``ChannelCreated``), answered
(``ChannelStateChange`` Up) and gone (``ChannelHangupRequest``, ``ChannelDestroyed``), the wait
apology (``PlaybackStarted`` of ``wait-apology``). An agent leg belongs to its caller by the
channel id (the service's ``<call id>~a<n>``, the bare loop's ``<caller>~b<n>``) or, for
app_queue, by the ``Dial`` event (caller → peer). No clock here: every time is Asterisk's, so
the driver's own delays do not count.

Agents are Local channels (``Local/<id>@bench-agent``) or, in the sipp phase, the SIPp
endpoints (``PJSIP/80nn``). The driver originates its Local callers and registers them
(``add``); the SIPp caller's channels (``PJSIP/benchcaller-…``) are Asterisk's own, so while
``adopt`` names a phase each new one becomes a caller of that phase, its own two halves in one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .stats import ari_time

__all__ = ["Caller", "Leg", "Tracker", "max_concurrent", "redispatch_gaps"]

AGENT_NAME = re.compile(
    r"^(?:Local/(?P<local>[^@]+)@(?P<context>bench-agent|bench-never)-[0-9a-f]+;1"
    r"|PJSIP/(?P<sip>80[0-9]{2})-[0-9a-f]+)$"
)
SIP_CALLER = "PJSIP/benchcaller-"  # the SIPp caller's channels (bench/asterisk/pjsip_bench.conf)


@dataclass(slots=True)
class Leg:
    id: str
    caller: str
    agent: str
    never: bool  # an agent that never answers (bench-never): the ring cut-off probe
    created: float
    up: float | None = None
    hangup: float | None = None  # the first ChannelHangupRequest (someone asked it to hang up)
    destroyed: float | None = None


@dataclass(slots=True)
class Caller:
    id: str  # the Local;2 half, inside the system under test (the service's call id); SIP: the channel
    own: str  # the Local;1 half, the driver's; SIP: the same channel
    phase: str
    probe: bool = False  # a ring cut-off probe caller: nobody answers, not a failure
    failed: str | None = None
    entered: float | None = None
    legs: list[str] = field(default_factory=list)
    served: float | None = None  # the first agent leg answered
    ended: float | None = None  # Local;2 destroyed
    gone: float | None = None  # Local;1 destroyed: the call is over for the driver
    apology: float | None = None
    ami_join: float | None = None  # app_queue: QueueCallerJoin
    ami_called: float | None = None  # app_queue: the first AgentCalled


class Tracker:
    def __init__(self) -> None:
        self.callers: dict[str, Caller] = {}
        self.by_own: dict[str, Caller] = {}
        self.legs: dict[str, Leg] = {}
        self.created: dict[str, tuple[float, str]] = {}  # channel id -> (time, name), for Dial peers
        self.adopt: str | None = None  # a phase: new SIP_CALLER channels are its callers

    def add(self, caller: Caller) -> None:
        self.callers[caller.id] = caller
        self.by_own[caller.own] = caller

    def active(self, phase: str | None = None) -> list[Caller]:
        return [c for c in self.callers.values() if c.gone is None and (phase is None or c.phase == phase)]

    def _leg(self, leg_id: str, name: str, caller: Caller, created: float) -> None:
        m = AGENT_NAME.match(name)
        if m is None or leg_id in self.legs:
            return
        agent = m["local"] or m["sip"]
        self.legs[leg_id] = Leg(leg_id, caller.id, agent, m["context"] == "bench-never", created)
        caller.legs.append(leg_id)

    def on_ari(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        ch = ev.get("channel") or {}
        cid = ch.get("id", "")
        if kind == "ChannelCreated":
            ts = ari_time(ev["timestamp"])
            name = ch.get("name", "")
            if not name.endswith(";2"):
                self.created[cid] = (ts, name)
            if self.adopt is not None and name.startswith(SIP_CALLER) and cid not in self.callers:
                self.add(Caller(id=cid, own=cid, phase=self.adopt))
            caller = self.callers.get(cid.partition("~")[0]) if "~" in cid else None
            if caller is not None:
                self._leg(cid, name, caller, ts)
        elif kind == "ChannelDialplan":
            caller = self.callers.get(cid)
            if (
                caller is not None
                and caller.entered is None
                and ev.get("dialplan_app") in ("Stasis", "Queue")
            ):
                caller.entered = ari_time(ev["timestamp"])
        elif kind == "Dial":
            src, peer = ev.get("caller") or {}, ev.get("peer") or {}
            caller = self.callers.get(src.get("id", ""))
            if caller is not None and not ev.get("dialstatus") and peer.get("id"):
                ts, name = self.created.get(peer["id"], (ari_time(ev["timestamp"]), peer.get("name", "")))
                self._leg(peer["id"], name, caller, ts)
        elif kind == "ChannelStateChange":
            leg = self.legs.get(cid)
            if leg is not None and ch.get("state") == "Up" and leg.up is None:
                leg.up = ari_time(ev["timestamp"])
                caller = self.callers[leg.caller]
                if caller.served is None:
                    caller.served = leg.up
        elif kind == "ChannelHangupRequest":
            leg = self.legs.get(cid)
            if leg is not None and leg.hangup is None:
                leg.hangup = ari_time(ev["timestamp"])
        elif kind == "ChannelDestroyed":
            ts = ari_time(ev["timestamp"])
            self.created.pop(cid, None)
            if cid in self.legs:
                self.legs[cid].destroyed = ts
                return
            if cid in self.callers:
                self.callers[cid].ended = ts
            if cid in self.by_own:  # a SIP caller is both
                caller = self.by_own[cid]
                caller.gone = ts
                if caller.served is None and caller.failed is None and not caller.probe:
                    caller.failed = "hung up before an agent answered"
        elif kind == "PlaybackStarted":
            pb = ev.get("playback") or {}
            target = str(pb.get("target_uri", ""))
            if "wait-apology" in str(pb.get("media_uri", "")) and target.startswith("channel:"):
                caller = self.callers.get(target.removeprefix("channel:"))
                if caller is not None and caller.apology is None:
                    caller.apology = ari_time(ev["timestamp"])

    def on_ami(self, ev: dict[str, str]) -> None:
        """app_queue's own view (``timestampevents = yes``): QueueCallerJoin, AgentCalled."""
        kind = ev.get("Event")
        caller = self.callers.get(ev.get("Uniqueid", ""))
        if caller is None or "Timestamp" not in ev:
            return
        ts = float(ev["Timestamp"])
        if kind == "QueueCallerJoin" and caller.ami_join is None:
            caller.ami_join = ts
        elif kind == "AgentCalled" and caller.ami_called is None:
            caller.ami_called = ts

    # -- figures ---------------------------------------------------------------------------------
    def first_leg(self, caller: Caller) -> Leg | None:
        return self.legs[caller.legs[0]] if caller.legs else None


def max_concurrent(intervals: list[tuple[float, float]]) -> int:
    """The most intervals [start, end) open at one time (end == start of another: not overlapping)."""
    points = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda p: (p[0], p[1])
    )
    best = cur = 0
    for _, step in points:
        cur += step
        best = max(best, cur)
    return best


def redispatch_gaps(legs: list[Leg], entered: dict[str, float]) -> list[float]:
    """Agent freed → the same agent's next leg, when that next caller was already waiting.

    Per agent, consecutive legs (by creation) L1, L2: if L2's caller entered before L1 was
    destroyed, L2.created − L1.destroyed is how long a waiting caller waited for a free agent."""
    by_agent: dict[str, list[Leg]] = {}
    for leg in legs:
        by_agent.setdefault(leg.agent, []).append(leg)
    gaps = []
    for agent_legs in by_agent.values():
        agent_legs.sort(key=lambda leg: leg.created)
        for prev, nxt in zip(agent_legs, agent_legs[1:]):
            came = entered.get(nxt.caller)
            if prev.destroyed is not None and came is not None and came < prev.destroyed <= nxt.created:
                gaps.append(nxt.created - prev.destroyed)
    return gaps
