"""Typed ARI websocket events (rest-api/events.json) and `parse_event`.

Every event knows which channels and bridge it references (`channel_ids`,
`bridge_id`) so a router can key it without knowing each event type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from ._exceptions import MalformedEvent
from ._models import Bridge, Channel, Playback

__all__ = [
    "ApplicationReplaced",
    "BridgeCreated",
    "BridgeDestroyed",
    "BridgeEvent",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelEnteredBridge",
    "ChannelEvent",
    "ChannelHangupRequest",
    "ChannelHold",
    "ChannelLeftBridge",
    "ChannelStateChange",
    "ChannelTalkingFinished",
    "ChannelTalkingStarted",
    "ChannelTransfer",
    "ChannelUnhold",
    "ChannelVarset",
    "DeviceStateChanged",
    "Dial",
    "EndpointStateChange",
    "Event",
    "PlaybackContinuing",
    "PlaybackEvent",
    "PlaybackFinished",
    "PlaybackStarted",
    "RecordingEvent",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingStarted",
    "StasisEnd",
    "StasisStart",
    "UnknownEvent",
    "parse_event",
]

_M = TypeVar("_M", Channel, Bridge, Playback)


def _target(uri: str | None, kind: str) -> str | None:
    """'channel:abc' -> 'abc' when kind == 'channel' (playback/recording targets)."""
    prefix = kind + ":"
    return uri[len(prefix) :] if isinstance(uri, str) and uri.startswith(prefix) else None


def _nested_id(d: dict[str, Any], *path: str) -> str | None:
    node: Any = d
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, str) and node else None


def _ids(*ids: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in ids if i))  # dedupe, keep order


# --------------------------------------------------------------------------- base classes


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    type: str
    timestamp: str = ""
    application: str = ""
    asterisk_id: str | None = None

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return ()

    @property
    def bridge_id(self) -> str | None:
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelEvent(Event):
    """An event about one channel (always present)."""

    channel: Channel

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True, kw_only=True, slots=True)
class UnknownEvent(Event):
    raw: dict[str, Any]


# --------------------------------------------------------------------------- channel events


@dataclass(frozen=True, kw_only=True, slots=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _ids(self.channel.id, self.replace_channel and self.replace_channel.id)


@dataclass(frozen=True, kw_only=True, slots=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelTalkingStarted(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelTalkingFinished(ChannelEvent):
    duration_ms: int = 0  # "duration" in the spec: talking time in milliseconds


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelHold(ChannelEvent):
    musicclass: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelUnhold(ChannelEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelVarset(Event):
    channel: Channel | None  # None for a global variable
    variable: str
    value: str

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,) if self.channel else ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelTransfer(Event):
    """SIP REFER handed to ARI (PJSIP_TRANSFER_HANDLING()=ari-only). Nested parts kept raw:
    refer_to = {requested_destination, destination_channel?, connected_channel?, bridge?},
    referred_by = {source_channel, connected_channel?, bridge?}."""

    state: str | None
    refer_to: dict[str, Any]
    referred_by: dict[str, Any]
    channel: Channel | None = None  # not in the 22 spec; parsed if Asterisk sends it

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _ids(
            self.channel and self.channel.id,
            _nested_id(self.referred_by, "source_channel", "id"),
            _nested_id(self.referred_by, "connected_channel", "id"),
            _nested_id(self.refer_to, "destination_channel", "id"),
            _nested_id(self.refer_to, "connected_channel", "id"),
        )

    @property
    def bridge_id(self) -> str | None:
        return _nested_id(self.referred_by, "bridge", "id") or _nested_id(self.refer_to, "bridge", "id")


@dataclass(frozen=True, kw_only=True, slots=True)
class Dial(Event):
    peer: Channel
    caller: Channel | None = None
    forwarded: Channel | None = None
    dialstatus: str = ""
    dialstring: str = ""
    forward: str = ""

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _ids(self.peer.id, self.caller and self.caller.id, self.forwarded and self.forwarded.id)


# --------------------------------------------------------------------------- bridge events


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeEvent(Event):
    bridge: Bridge

    @property
    def bridge_id(self) -> str | None:
        return self.bridge.id


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelEnteredBridge(BridgeEvent):
    channel: Channel | None = None  # optional in the spec

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,) if self.channel else ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ChannelLeftBridge(BridgeEvent):
    channel: Channel

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return (self.channel.id,)


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeCreated(BridgeEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeDestroyed(BridgeEvent):
    pass


# --------------------------------------------------------------------------- media events


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybackEvent(Event):
    playback: Playback

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _ids(_target(self.playback.target_uri, "channel"))

    @property
    def bridge_id(self) -> str | None:
        return _target(self.playback.target_uri, "bridge")


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybackContinuing(PlaybackEvent):
    """A media list moves on to its next item: a new PlaybackStarted follows for each item,
    PlaybackFinished comes once, after the last."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordingEvent(Event):
    recording: dict[str, Any]  # LiveRecording: name, format, target_uri, state, duration?, cause?

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return _ids(_target(self.recording.get("target_uri"), "channel"))

    @property
    def bridge_id(self) -> str | None:
        return _target(self.recording.get("target_uri"), "bridge")


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordingFailed(RecordingEvent):
    pass


# --------------------------------------------------------------------------- device / app events


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceStateChanged(Event):
    device_name: str
    state: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EndpointStateChange(Event):
    endpoint: dict[str, Any]  # technology, resource, state, channel_ids


@dataclass(frozen=True, kw_only=True, slots=True)
class ApplicationReplaced(Event):
    """Another websocket registered our app name: this connection gets no more events."""


# --------------------------------------------------------------------------- parsing


class _Reader:
    """Field access for one event object; every failure names the event type and field."""

    def __init__(self, etype: str, obj: dict[str, Any]) -> None:
        self.etype, self.obj = etype, obj

    def fail(self, what: str) -> MalformedEvent:
        return MalformedEvent(f"{self.etype} event: {what}")

    def missing(self, key: str) -> MalformedEvent:
        return self.fail(f"missing required field '{key}'")

    def model(self, cls: type[_M], key: str) -> _M:
        d = self.obj.get(key)
        if not isinstance(d, dict):
            raise self.missing(key)
        if not d.get("id"):
            raise self.missing(f"{key}.id")
        try:
            return cls.from_json(d)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(Infinity)
            raise self.fail(f"bad field '{key}': {exc}") from exc

    def channel(self, key: str = "channel") -> Channel:
        return self.model(Channel, key)

    def opt_channel(self, key: str) -> Channel | None:
        return None if self.obj.get(key) is None else self.model(Channel, key)

    def mapping(self, key: str) -> dict[str, Any]:
        d = self.obj.get(key)
        if not isinstance(d, dict):
            raise self.missing(key)
        return d

    def text(self, key: str, default: str | None = None) -> str:
        v = self.obj.get(key, default)
        if v is None:
            raise self.missing(key)
        return str(v)

    def opt_text(self, key: str) -> str | None:
        v = self.obj.get(key)
        return None if v is None else str(v)

    def number(self, key: str, default: int = 0) -> int:
        try:
            return int(self.obj.get(key, default))
        except (TypeError, ValueError, OverflowError) as exc:  # json.loads takes Infinity and NaN
            raise self.fail(f"field '{key}' is not an integer") from exc


def parse_event(obj: Any) -> Event:
    """Build a typed event from one decoded websocket message. Raises MalformedEvent."""
    if not isinstance(obj, dict):
        raise MalformedEvent(f"event is not a JSON object: {type(obj).__name__}")
    etype = obj.get("type")
    if not isinstance(etype, str) or not etype:
        raise MalformedEvent("event without 'type'")
    r = _Reader(etype, obj)
    base: dict[str, Any] = {
        "type": etype,
        "timestamp": str(obj.get("timestamp", "")),
        "application": str(obj.get("application", "")),
        "asterisk_id": r.opt_text("asterisk_id"),
    }
    match etype:
        case "StasisStart":
            args = obj.get("args") or []
            if not isinstance(args, list):
                raise r.fail("field 'args' is not a list")
            return StasisStart(
                **base,
                channel=r.channel(),
                args=tuple(str(a) for a in args),
                replace_channel=r.opt_channel("replace_channel"),
            )
        case "StasisEnd":
            return StasisEnd(**base, channel=r.channel())
        case "ChannelStateChange":
            return ChannelStateChange(**base, channel=r.channel())
        case "ChannelDtmfReceived":
            return ChannelDtmfReceived(
                **base, channel=r.channel(), digit=r.text("digit"), duration_ms=r.number("duration_ms")
            )
        case "ChannelHangupRequest":
            cause = obj.get("cause")
            return ChannelHangupRequest(
                **base,
                channel=r.channel(),
                cause=None if cause is None else r.number("cause"),
                soft=bool(obj.get("soft", False)),
            )
        case "ChannelDestroyed":
            return ChannelDestroyed(
                **base, channel=r.channel(), cause=r.number("cause"), cause_txt=r.text("cause_txt", "")
            )
        case "ChannelTalkingStarted":
            return ChannelTalkingStarted(**base, channel=r.channel())
        case "ChannelTalkingFinished":
            return ChannelTalkingFinished(**base, channel=r.channel(), duration_ms=r.number("duration"))
        case "ChannelHold":
            return ChannelHold(**base, channel=r.channel(), musicclass=r.opt_text("musicclass"))
        case "ChannelUnhold":
            return ChannelUnhold(**base, channel=r.channel())
        case "ChannelVarset":
            return ChannelVarset(
                **base,
                channel=r.opt_channel("channel"),
                variable=r.text("variable"),
                value=r.text("value", ""),
            )
        case "ChannelTransfer":
            return ChannelTransfer(
                **base,
                state=r.opt_text("state"),
                refer_to=r.mapping("refer_to"),
                referred_by=r.mapping("referred_by"),
                channel=r.opt_channel("channel"),
            )
        case "Dial":
            return Dial(
                **base,
                peer=r.channel("peer"),
                caller=r.opt_channel("caller"),
                forwarded=r.opt_channel("forwarded"),
                dialstatus=r.text("dialstatus", ""),
                dialstring=r.text("dialstring", ""),
                forward=r.text("forward", ""),
            )
        case "ChannelEnteredBridge":
            return ChannelEnteredBridge(
                **base, bridge=r.model(Bridge, "bridge"), channel=r.opt_channel("channel")
            )
        case "ChannelLeftBridge":
            return ChannelLeftBridge(**base, bridge=r.model(Bridge, "bridge"), channel=r.channel())
        case "BridgeCreated":
            return BridgeCreated(**base, bridge=r.model(Bridge, "bridge"))
        case "BridgeDestroyed":
            return BridgeDestroyed(**base, bridge=r.model(Bridge, "bridge"))
        case "PlaybackStarted":
            return PlaybackStarted(**base, playback=r.model(Playback, "playback"))
        case "PlaybackContinuing":
            return PlaybackContinuing(**base, playback=r.model(Playback, "playback"))
        case "PlaybackFinished":
            return PlaybackFinished(**base, playback=r.model(Playback, "playback"))
        case "RecordingStarted":
            return RecordingStarted(**base, recording=r.mapping("recording"))
        case "RecordingFinished":
            return RecordingFinished(**base, recording=r.mapping("recording"))
        case "RecordingFailed":
            return RecordingFailed(**base, recording=r.mapping("recording"))
        case "DeviceStateChanged":
            ds = r.mapping("device_state")
            if "name" not in ds:
                raise r.missing("device_state.name")
            return DeviceStateChanged(**base, device_name=str(ds["name"]), state=str(ds.get("state", "")))
        case "EndpointStateChange":
            return EndpointStateChange(**base, endpoint=r.mapping("endpoint"))
        case "ApplicationReplaced":
            return ApplicationReplaced(**base)
        case _:
            return UnknownEvent(**base, raw=obj)
