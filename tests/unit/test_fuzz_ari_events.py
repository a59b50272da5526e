"""Fuzzing the ARI event path: websocket frame -> JSON -> ``parse_event`` -> router key -> dispatcher.

Documented outcomes: ``parse_event`` returns a typed event (its fields of their declared types, an
unknown type as ``UnknownEvent`` keeping the raw object) or raises ``MalformedEvent`` naming the event
type and the field; the stream turns every frame into exactly one of: an event handed on, or an
``ari.event_malformed`` warning, and keeps reading. Settings: the ``ci`` profile (tests/unit/conftest.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import types
import typing
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from ari_app import ari
from ari_app.app import Service
from ari_app.ari import (
    AriConfig,
    Bridge,
    Channel,
    Event,
    EventStream,
    MalformedEvent,
    OrderedDispatcher,
    Playback,
    UnknownEvent,
    parse_event,
)

# --------------------------------------------------------------------------- one valid sample per known type

CH = {
    "id": "1700000000.1",
    "name": "PJSIP/1001-0000000a",
    "state": "Up",
    "caller": {"name": "Alice", "number": "13800000000"},
    "connected": {"name": "", "number": ""},
    "dialplan": {
        "context": "callcenter-queue",
        "exten": "support",
        "priority": 1,
        "app_name": "Stasis",
        "app_data": "callcenter",
    },
    "creationtime": "2024-05-01T08:00:00.000+0800",
    "language": "zh",
    "channelvars": {"CC_ROLE": "caller"},
}
CH2 = {**CH, "id": "1700000000.2", "name": "Local/support@callcenter-queue-00000001;2"}
BR = {
    "id": "1700000000.1~talk",
    "technology": "simple_bridge",
    "bridge_type": "mixing",
    "bridge_class": "stasis",
    "channels": ["1700000000.1"],
    "name": "talk",
    "creator": "Stasis",
}
PB = {
    "id": "1700000000.1~pb1",
    "media_uri": "sound:hello",
    "target_uri": "channel:1700000000.1",
    "state": "done",
}
REC = {"name": "vm-1", "format": "wav", "target_uri": "channel:1700000000.1", "state": "done"}

SAMPLES: dict[str, dict[str, Any]] = {
    "StasisStart": {"channel": CH, "args": ["feature", "*11"], "replace_channel": CH2},
    "StasisEnd": {"channel": CH},
    "ChannelStateChange": {"channel": CH},
    "ChannelDtmfReceived": {"channel": CH, "digit": "5", "duration_ms": 120},
    "ChannelHangupRequest": {"channel": CH, "cause": 16, "soft": True},
    "ChannelDestroyed": {"channel": CH, "cause": 16, "cause_txt": "Normal Clearing"},
    "ChannelTalkingStarted": {"channel": CH},
    "ChannelTalkingFinished": {"channel": CH, "duration": 2500},
    "ChannelHold": {"channel": CH, "musicclass": "default"},
    "ChannelUnhold": {"channel": CH},
    "ChannelVarset": {"channel": CH, "variable": "CC_ROLE", "value": "caller"},
    "ChannelTransfer": {
        "state": "channel_answered",
        "channel": CH,
        "refer_to": {"requested_destination": {"exten": "2002"}, "bridge": BR, "destination_channel": CH2},
        "referred_by": {"source_channel": CH, "connected_channel": CH2, "bridge": BR},
    },
    "Dial": {
        "peer": CH2,
        "caller": CH,
        "forwarded": CH2,
        "dialstatus": "ANSWER",
        "dialstring": "PJSIP/1001",
        "forward": "",
    },
    "ChannelEnteredBridge": {"bridge": BR, "channel": CH},
    "ChannelLeftBridge": {"bridge": BR, "channel": CH},
    "BridgeCreated": {"bridge": BR},
    "BridgeDestroyed": {"bridge": BR},
    "PlaybackStarted": {"playback": PB},
    "PlaybackContinuing": {"playback": PB},
    "PlaybackFinished": {"playback": PB},
    "RecordingStarted": {"recording": REC},
    "RecordingFinished": {"recording": REC},
    "RecordingFailed": {"recording": REC},
    "DeviceStateChanged": {"device_state": {"name": "PJSIP/1001", "state": "NOT_INUSE"}},
    "EndpointStateChange": {
        "endpoint": {"technology": "PJSIP", "resource": "1001", "state": "online", "channel_ids": []}
    },
    "ApplicationReplaced": {},
}
KNOWN = frozenset(SAMPLES)


def frame_of(etype: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": etype,
        "timestamp": "2024-05-01T08:00:00.000+0800",
        "application": "callcenter",
        "asterisk_id": "00:11:22:33:44:55",
        **body,
    }


def test_every_sample_parses_to_its_own_class():
    """The fuzz below starts from these; each must be a valid event of its type to begin with."""
    for etype, body in SAMPLES.items():
        ev = parse_event(frame_of(etype, body))
        assert type(ev) is getattr(ari, etype) and ev.type == etype
        assert_well_typed(ev)


# --------------------------------------------------------------------------- strategies

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats()
    | st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -0.0])
    | st.text(max_size=20)
    | st.sampled_from(["", "1", "#", "channel:", "bridge:x", "~", "12abc"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON tree: (path of keys/indexes, ...) down to each dict entry and list item."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out.extend(_paths(v, prefix + (i,)))
    return out


def _mutate(tree: Any, path: tuple, op: str, value: Any) -> None:
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):  # "add": a stray key next to the real ones
        parent[last]["x-" + str(len(parent[last]))] = value
    else:
        parent[last] = value


@st.composite
def broken_known_events(draw) -> tuple[str, dict[str, Any]]:
    """A valid frame of a known type, then 1-4 random edits anywhere but ``type``: a field deleted,
    or replaced (at any depth) by any JSON value of any shape, or a stray key added."""
    etype = draw(st.sampled_from(sorted(KNOWN)))
    obj = json.loads(json.dumps(frame_of(etype, SAMPLES[etype])))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(obj) if p != ("type",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _mutate(obj, path, draw(st.sampled_from(["delete", "replace", "replace", "add"])), draw(json_values))
    return etype, obj


# --------------------------------------------------------------------------- checks


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is tuple:  # tuple[str, ...]
        return isinstance(value, tuple) and all(_conforms(x, args[0]) for x in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (Channel, Bridge, Playback):
        return isinstance(value, hint) and _well_typed(value)
    return isinstance(value, hint)


def _well_typed(obj: Any) -> bool:
    hints = typing.get_type_hints(type(obj))
    return all(_conforms(getattr(obj, f.name), hints[f.name]) for f in dataclasses.fields(obj))


def assert_well_typed(ev: Event) -> None:
    """Every field has its declared type (a flow may call str methods on a str field), and the
    routing properties work: what the dispatcher keys on."""
    hints = typing.get_type_hints(type(ev))
    for f in dataclasses.fields(ev):
        value = getattr(ev, f.name)
        assert _conforms(value, hints[f.name]), (
            f"{type(ev).__name__}.{f.name} = {value!r} is not {hints[f.name]}"
        )
    ids = ev.channel_ids
    assert isinstance(ids, tuple) and all(isinstance(i, str) and i for i in ids)
    assert ev.bridge_id is None or (isinstance(ev.bridge_id, str) and ev.bridge_id)
    key = Service._key(ev)
    assert key is None or isinstance(key, str)


def parse_outcome(obj: Any) -> Event | MalformedEvent:
    """``parse_event``'s documented outcomes, and only those: any other exception fails the test."""
    try:
        return parse_event(obj)
    except MalformedEvent as exc:
        return exc


# --------------------------------------------------------------------------- parse_event


@given(broken_known_events())
@example(("ChannelDestroyed", {"type": "ChannelDestroyed", "channel": {"id": "c"}, "cause": math.inf}))
@example(
    (
        "ChannelDestroyed",
        {"type": "ChannelDestroyed", "channel": {"id": "c", "dialplan": {"priority": -math.inf}}},
    )
)
@example(("StasisStart", {"type": "StasisStart", "channel": {"id": "c", "name": 7}}))
@example(("BridgeCreated", {"type": "BridgeCreated", "bridge": {"id": "b", "channels": "abc"}}))
def test_known_type_with_missing_or_wrongly_typed_fields(case):
    etype, obj = case
    out = parse_outcome(obj)
    if isinstance(out, MalformedEvent):
        # names the event type and what was wrong, on one line
        assert str(out).startswith(f"{etype} event: ") and "\n" not in str(out), str(out)
        assert "field '" in str(out), str(out)
    else:
        assert type(out) is getattr(ari, etype) and out.type == etype
        assert_well_typed(out)


@given(json_values)
@example([])
@example({"type": ""})
@example({"type": None})
@example({"type": ["StasisStart"]})
def test_any_json_value_is_an_event_or_malformed(obj):
    out = parse_outcome(obj)
    if not isinstance(obj, dict):
        assert isinstance(out, MalformedEvent) and "not a JSON object" in str(out)
    elif not isinstance(obj.get("type"), str) or not obj["type"]:
        assert isinstance(out, MalformedEvent) and str(out) == "event without 'type'"
    elif obj["type"] not in KNOWN:
        assert isinstance(out, UnknownEvent) and out.raw is obj
    if isinstance(out, Event):
        assert_well_typed(out)


@given(
    st.text(min_size=1).filter(lambda t: t not in KNOWN),
    st.dictionaries(st.text(max_size=10), json_values, max_size=5),
)
@example("stasisstart", {"channel": CH})  # types are case-sensitive
@example("StasisStart ", {"channel": CH})
def test_unknown_types_are_kept_raw(etype, body):
    obj = {**body, "type": etype}
    out = parse_outcome(obj)
    assert isinstance(out, UnknownEvent), out
    assert out.type == etype and out.raw is obj
    assert out.channel_ids == () and out.bridge_id is None


# --------------------------------------------------------------------------- the stream and the dispatcher


def _truncate(data: tuple[dict[str, Any], int]) -> str:
    text = json.dumps(data[0])
    return text[: data[1] % max(len(text), 1)]


frames = st.one_of(
    st.binary(max_size=64),  # random bytes, mostly not UTF-8
    st.text(max_size=64),  # random text
    st.tuples(broken_known_events().map(lambda c: c[1]), st.integers(0, 10_000)).map(_truncate),  # cut JSON
    json_values.map(json.dumps),  # valid JSON of any shape (NaN and Infinity included)
    broken_known_events().map(lambda c: json.dumps(c[1])),  # known types, fields broken
    broken_known_events().map(lambda c: json.dumps(c[1]).encode()),  # the same as a binary frame
    st.sampled_from(sorted(KNOWN)).map(lambda t: json.dumps(frame_of(t, SAMPLES[t]))),  # valid
)


class _FakeSocket:
    def __init__(self, messages: list[str | bytes]) -> None:
        self.messages = messages

    async def __aiter__(self):
        for m in self.messages:
            yield m

    async def close(self) -> None:
        pass


class _Stop(Exception):
    pass


async def _run_stream(messages: list[str | bytes]) -> list[tuple[str, Event]]:
    """One connection that sends ``messages`` then closes; events go through the service's router key
    into an ``OrderedDispatcher``. Returns what the handler got, in order."""
    handled: list[tuple[str, Event]] = []

    async def handler(key: str, ev: Event) -> None:
        handled.append((key, ev))

    async def connect(url: str) -> _FakeSocket:
        return _FakeSocket(messages)

    async def stop(delay: float) -> None:
        raise _Stop  # the reconnect back-off: one connection is enough

    dispatcher: OrderedDispatcher[Event] = OrderedDispatcher(handler, key=Service._key)
    stream = EventStream(
        AriConfig(url="http://127.0.0.1:1/ari", username="u", password="p", app="test"),
        on_event=dispatcher.dispatch,
        connect=connect,
        sleep=stop,
    )
    try:
        await stream.run()
    except _Stop:
        pass
    await dispatcher.join()
    return handled


def _expected(message: str | bytes) -> Event | None:
    """What one frame should become: an event, or None (malformed)."""
    try:
        obj = json.loads(message)
    except (ValueError, RecursionError):
        return None
    out = parse_outcome(obj)
    return None if isinstance(out, MalformedEvent) else out


@settings(max_examples=settings.default.max_examples // 2)  # a whole stream per example
@given(st.lists(frames, min_size=1, max_size=8))
@example(
    [
        b"\xff\xfe{",
        "{",
        "[" * 100_000,
        '{"type": "ChannelDestroyed", "channel": {"id": "c"}, "cause": Infinity}',
    ]
)
def test_every_frame_is_one_event_or_one_malformed_line_and_the_stream_goes_on(messages):
    sentinel = json.dumps(frame_of("StasisEnd", {"channel": {"id": "sentinel"}}))
    with capture_logs() as logs:
        handled = asyncio.run(_run_stream([*messages, sentinel]))
    expected = [_expected(m) for m in messages]
    malformed = [e for e in logs if e["event"] == "ari.event_malformed"]
    assert len(malformed) == expected.count(None)
    for line in malformed:
        assert line["log_level"] == "warning" and isinstance(line["error"], str) and line["error"]
        # issue 17: the frame's size and type, never its content
        assert "excerpt" not in line and isinstance(line["size"], int) and line["size"] >= 0
        assert line["event_type"] is None or len(line["event_type"]) <= 67
    # the connection survived every bad frame: the last one still arrives, and only the peer closed it
    assert [e["reason"] for e in logs if e["event"] == "ari.disconnected"] == ["closed by peer"]
    assert not [e for e in logs if e["event"] == "ari.handler_failed"]
    want = [ev for ev in expected if ev is not None]
    # an unknown type is delivered all the same, and said once per type
    shown = [
        ev.type if len(ev.type) <= 64 else ev.type[:64] + "..." for ev in want if isinstance(ev, UnknownEvent)
    ]
    assert [e["event_type"] for e in logs if e["event"] == "ari.event_unknown"] == list(dict.fromkeys(shown))
    assert len(handled) == len(want) + 1 and handled[-1][0] == "sentinel"
    for key, ev in handled:
        assert_well_typed(ev)
        assert key == (Service._key(ev) or ari.GLOBAL_KEY)
    # each call's events in frame order (different calls may interleave)
    for key in {k for k, _ in handled}:
        got = [type(ev) for k, ev in handled[:-1] if k == key]
        assert got == [type(ev) for ev in want if (Service._key(ev) or ari.GLOBAL_KEY) == key]
