"""Resync after every (re)connect: rebuild the view of live calls from Asterisk.

Asterisk keeps no events while the websocket is down, so the service reads
its Stasis app's channels and bridges and the channel variables it tagged
each call with (``flows.inbound.TAGS``) and decides, per call:

* caller bridged with an answered agent leg → restored as connected;
* caller alone (waiting, or its agent leg was still ringing) → ringing legs
  are hung up and the caller goes back into its holding bridge, keeping the
  time it entered the queue (so its place in line is kept);
* a caller that was never tagged (entered Stasis while we were away) → a
  new call, from the Stasis arguments in its dialplan;
* agent legs whose caller is gone (orphans) and bridges of no live call →
  hung up / destroyed;
* a call's recording snoop (``<call id>~rec``, R-QA) belongs to its call:
  adopted with it (the recording goes on), hung up with an orphan.

Everything it decides is logged (``call.resynced``, ``call.orphan_hungup``).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import structlog

from ..ari import AriClient, AriNotFound, Channel
from ..core import acd, numbers
from ._cleanup import destroy_bridge, hangup
from .inbound import LEG_SEP, PACKED_TAGS, TAGS, call_key, unpack_tags
from .recording import snoop_id

__all__ = ["CallSnapshot", "destroy_bridge", "hangup", "read_calls"]

log = structlog.get_logger()


@dataclass(kw_only=True, slots=True)
class CallSnapshot:
    call_id: str
    caller: Channel | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the caller's tags
    agent_legs: dict[str, dict[str, str]] = field(default_factory=dict)  # leg id -> its tags
    leg_states: dict[str, str] = field(default_factory=dict)
    bridges: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bridge id -> channel ids
    recording: str | None = None  # the snoop channel recording the call (R-QA)

    def connected_leg(self) -> str | None:
        talk = self.bridges.get(f"{self.call_id}{LEG_SEP}talk", ())
        if self.caller is None or self.caller.id not in talk:
            return None
        return next((leg for leg in self.agent_legs if leg in talk and self.leg_states.get(leg) == "Up"), None)


def stasis_args(ch: Channel) -> list[str]:
    """``Stasis(callcenter,queue,support,0)`` → ``['queue', 'support', '0']``."""
    return ch.app_data.split(",")[1:] if ch.app_name == "Stasis" and ch.app_data else []


async def read_calls(ari: AriClient, app: str) -> tuple[dict[str, CallSnapshot], list[Channel], list[str]]:
    """Returns (calls by id, untagged channels in our app, bridge ids of no live call)."""
    application = await ari.get_application(app)
    ours = set(application.get("channel_ids", []))
    channels = [c for c in await ari.list_channels() if c.id in ours]
    calls: dict[str, CallSnapshot] = {}
    untagged: list[Channel] = []
    # every channel's tags at once: the client's own pool bounds how many requests are in flight (issue 7)
    tagged = await asyncio.gather(*(_tags(ari, ch) for ch in channels))
    for ch, tags in zip(channels, tagged):
        if tags is None:  # R-QA: the call's recording, no tags of its own
            calls.setdefault(call_key(ch.id), CallSnapshot(call_id=call_key(ch.id))).recording = ch.id
            continue
        call_id = tags.get("CC_CALL_ID")
        if not call_id:
            untagged.append(ch)
            continue
        snap = calls.setdefault(call_id, CallSnapshot(call_id=call_id))
        if tags.get("CC_ROLE") == "caller":
            snap.caller, snap.tags = ch, tags
        else:
            snap.agent_legs[ch.id] = tags
            snap.leg_states[ch.id] = ch.state
    stale: list[str] = []
    for bridge in await ari.list_bridges():
        key = call_key(bridge.id)
        if LEG_SEP not in bridge.id:
            continue  # not one of ours
        if key in calls:
            calls[key].bridges[bridge.id] = tuple(bridge.channels)
        else:
            stale.append(bridge.id)
    return calls, untagged, stale


async def _tags(ari: AriClient, ch: Channel) -> dict[str, str] | None:
    """The channel's tags (None: the snoop of a call's recording). A caller's tags are packed in one variable;
    agent and target legs have one variable per tag, and a channel without a call id has no others to read."""
    if ch.id == snoop_id(call_key(ch.id)):
        return None
    packed = await _get(ari, ch.id, PACKED_TAGS)
    if packed:
        return {k: v for k, v in unpack_tags(packed).items() if v}
    tags: dict[str, str] = {}
    for name in TAGS:
        value = await _get(ari, ch.id, name)
        if value:
            tags[name] = value
        elif name == "CC_CALL_ID":
            break
    return tags


async def _get(ari: AriClient, channel_id: str, name: str) -> str | None:
    try:
        return await ari.get_var(channel_id, name)
    except AriNotFound:
        return None


def to_core_event(snap: CallSnapshot, now: float) -> acd.CallArrived | acd.CallRestored | None:
    if snap.caller is None:
        return None
    queue = snap.tags.get("CC_QUEUE", "")
    priority = _int(snap.tags.get("CC_PRIORITY"), 0)
    entered = _float(snap.tags.get("CC_ENTERED_AT"), now)
    leg = snap.connected_leg()
    if leg is not None:
        return acd.CallRestored(call_id=snap.call_id, queue=queue, priority=priority, entered_at=entered,
                                agent_id=snap.agent_legs[leg].get("CC_AGENT", ""),
                                answered_at=_float(snap.agent_legs[leg].get("CC_ANSWERED_AT"), now))
    return acd.CallArrived(call_id=snap.call_id, queue=queue, priority=priority, entered_at=entered, resynced=True)


def _int(s: str | None, default: int) -> int:
    """ASCII digits only (issue 17: the same rule as a new call's CC_PRIORITY)."""
    value = numbers.ascii_int(s)
    return default if value is None else value


def _float(s: str | None, default: float) -> float:
    """A finite number (a tag of "nan" or "inf" would break the queue's order)."""
    try:
        value = float(s) if s is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default
