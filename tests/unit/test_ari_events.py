"""parse_event on event JSON shaped like Asterisk 22 sends it (rest-api/events.json)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ari_app.ari import (
    ApplicationReplaced,
    Bridge,
    BridgeDestroyed,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelTalkingFinished,
    ChannelTransfer,
    ChannelVarset,
    DeviceStateChanged,
    Dial,
    EndpointStateChange,
    MalformedEvent,
    PlaybackFinished,
    RecordingFinished,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    parse_event,
)

BASE = {"timestamp": "2026-11-26T15:12:13.697+0000", "asterisk_id": "02:fc:00:00:00:01", "application": "cc"}


def channel(cid: str = "1795706209.4", **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "name": "PJSIP/trunk-00000004",
        "state": "Ring",
        "protocol_id": "abc@10.0.0.1",
        "caller": {"name": "Alice", "number": "+4930123"},
        "connected": {"name": "", "number": "600"},
        "accountcode": "",
        "dialplan": {"context": "callcenter-queue", "exten": "support", "priority": 5,
                     "app_name": "Stasis", "app_data": "callcenter,queue,support,0"},
        "creationtime": "2026-11-26T15:12:13.696+0000",
        "language": "en",
        **extra,
    }


def bridge(bid: str = "br-1", channels: list[str] | None = None) -> dict[str, Any]:
    return {"id": bid, "technology": "simple_bridge", "bridge_type": "mixing", "bridge_class": "stasis",
            "creator": "Stasis", "name": "call-1", "channels": channels or [],
            "creationtime": "2026-11-26T15:12:14.005+0000", "video_mode": "talker"}


def ev(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, **BASE, **fields}


def test_stasis_start_full() -> None:
    raw = ev("StasisStart", args=["queue", "support", "0"],
             channel=channel(channelvars={"CC_QUEUE": "support"}), replace_channel=channel("old.1"))
    e = parse_event(raw)
    assert isinstance(e, StasisStart)
    assert e.type == "StasisStart" and e.timestamp == BASE["timestamp"]
    assert e.application == "cc" and e.asterisk_id == "02:fc:00:00:00:01"
    assert e.args == ("queue", "support", "0")
    assert e.channel == Channel(
        id="1795706209.4", name="PJSIP/trunk-00000004", state="Ring", caller_number="+4930123",
        caller_name="Alice", connected_number="600", context="callcenter-queue", exten="support",
        priority=5, app_name="Stasis", app_data="callcenter,queue,support,0",
        creationtime="2026-11-26T15:12:13.696+0000", language="en", channelvars={"CC_QUEUE": "support"},
    )
    assert e.replace_channel is not None and e.replace_channel.id == "old.1"
    assert e.channel_ids == ("1795706209.4", "old.1")
    assert e.bridge_id is None


def test_minimal_channel_tolerates_missing_optional_fields() -> None:
    e = parse_event({"type": "StasisEnd", "channel": {"id": "c1"}})
    assert isinstance(e, StasisEnd)
    assert e.channel == Channel(id="c1")
    assert e.timestamp == "" and e.asterisk_id is None and e.channel_ids == ("c1",)


def test_channel_events_fields() -> None:
    dtmf = parse_event(ev("ChannelDtmfReceived", digit="#", duration_ms=120, channel=channel()))
    assert isinstance(dtmf, ChannelDtmfReceived) and (dtmf.digit, dtmf.duration_ms) == ("#", 120)

    hup = parse_event(ev("ChannelHangupRequest", cause=32, soft=True, channel=channel()))
    assert isinstance(hup, ChannelHangupRequest) and (hup.cause, hup.soft) == (32, True)
    hard = parse_event(ev("ChannelHangupRequest", channel=channel()))
    assert isinstance(hard, ChannelHangupRequest) and (hard.cause, hard.soft) == (None, False)

    gone = parse_event(ev("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel()))
    assert isinstance(gone, ChannelDestroyed) and (gone.cause, gone.cause_txt) == (16, "Normal Clearing")

    talk = parse_event(ev("ChannelTalkingFinished", duration=2500, channel=channel()))
    assert isinstance(talk, ChannelTalkingFinished) and talk.duration_ms == 2500


def test_varset_with_and_without_channel() -> None:
    e = parse_event(ev("ChannelVarset", variable="STASISSTATUS", value="", channel=channel("c9")))
    assert isinstance(e, ChannelVarset) and e.channel_ids == ("c9",) and e.value == ""
    glob = parse_event(ev("ChannelVarset", variable="CC_MODE", value="night"))
    assert isinstance(glob, ChannelVarset) and glob.channel is None and glob.channel_ids == ()


def test_bridge_events_reference_bridge_and_channel() -> None:
    entered = parse_event(ev("ChannelEnteredBridge", bridge=bridge(channels=["c1"]), channel=channel("c1")))
    assert isinstance(entered, ChannelEnteredBridge)
    assert entered.bridge == Bridge(id="br-1", technology="simple_bridge", bridge_type="mixing",
                                    bridge_class="stasis", channels=("c1",), name="call-1", creator="Stasis")
    assert entered.bridge_id == "br-1" and entered.channel_ids == ("c1",)

    left = parse_event(ev("ChannelLeftBridge", bridge=bridge(), channel=channel("c1")))
    assert isinstance(left, ChannelLeftBridge) and (left.bridge_id, left.channel_ids) == ("br-1", ("c1",))

    destroyed = parse_event(ev("BridgeDestroyed", bridge=bridge("br-2")))
    assert isinstance(destroyed, BridgeDestroyed) and destroyed.bridge_id == "br-2"
    assert destroyed.channel_ids == ()


def test_dial_without_caller() -> None:
    e = parse_event(ev("Dial", dialstatus="ANSWER", forward="", dialstring="1001", peer=channel("agent.1")))
    assert isinstance(e, Dial)
    assert e.caller is None and e.forwarded is None and e.dialstatus == "ANSWER"
    assert e.channel_ids == ("agent.1",)
    with_caller = parse_event(ev("Dial", dialstatus="", peer=channel("p"), caller=channel("c")))
    assert with_caller.channel_ids == ("p", "c")


def test_playback_and_recording_reference_their_target() -> None:
    playback = {"id": "pb-1", "media_uri": "sound:beep", "target_uri": "channel:c1", "language": "en",
                "state": "done"}
    pb = parse_event(ev("PlaybackFinished", playback=playback))
    assert isinstance(pb, PlaybackFinished) and pb.playback.state == "done"
    assert (pb.channel_ids, pb.bridge_id) == (("c1",), None)

    on_bridge = parse_event(ev("PlaybackFinished", playback={"id": "pb-2", "target_uri": "bridge:br-1"}))
    assert (on_bridge.channel_ids, on_bridge.bridge_id) == ((), "br-1")

    rec = parse_event(ev("RecordingFinished", recording={
        "name": "vm/1", "format": "wav", "target_uri": "channel:c1", "state": "done", "duration": 7}))
    assert isinstance(rec, RecordingFinished) and rec.recording["duration"] == 7
    assert rec.channel_ids == ("c1",)


def test_device_endpoint_and_application_events() -> None:
    ds = parse_event(ev("DeviceStateChanged", device_state={"name": "PJSIP/1001", "state": "INUSE"}))
    assert isinstance(ds, DeviceStateChanged) and (ds.device_name, ds.state) == ("PJSIP/1001", "INUSE")
    assert ds.channel_ids == () and ds.bridge_id is None

    ep = parse_event(ev("EndpointStateChange", endpoint={
        "technology": "PJSIP", "resource": "1001", "state": "online", "channel_ids": []}))
    assert isinstance(ep, EndpointStateChange) and ep.endpoint["state"] == "online"

    assert isinstance(parse_event(ev("ApplicationReplaced")), ApplicationReplaced)


def test_channel_transfer_keeps_nested_dicts_and_collects_ids() -> None:
    raw = ev("ChannelTransfer", state="channel_answered",
             refer_to={"requested_destination": {"protocol_id": "x@y", "destination": "1002"},
                       "destination_channel": channel("dest"), "connected_channel": channel("held"),
                       "bridge": bridge("br-1")},
             referred_by={"source_channel": channel("agent"), "connected_channel": channel("caller"),
                          "bridge": bridge("br-2")})
    e = parse_event(raw)
    assert isinstance(e, ChannelTransfer)
    assert e.refer_to["requested_destination"]["destination"] == "1002"
    assert e.channel_ids == ("agent", "caller", "dest", "held")
    assert e.bridge_id == "br-2"
    blind = parse_event(ev("ChannelTransfer", refer_to={"requested_destination": {"destination": "600"}},
                           referred_by={"source_channel": channel("agent")}))
    assert blind.channel_ids == ("agent",) and blind.bridge_id is None


def test_unknown_event_keeps_raw() -> None:
    raw = ev("ChannelCallerId", caller_presentation=0, channel=channel())
    e = parse_event(raw)
    assert isinstance(e, UnknownEvent)
    assert e.type == "ChannelCallerId" and e.raw == raw
    assert e.channel_ids == () and e.bridge_id is None


def test_parsing_does_not_mutate_input() -> None:
    raw = ev("StasisStart", args=["a"], channel=channel())
    before = copy.deepcopy(raw)
    parse_event(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "not a JSON object: list"),
        ("StasisStart", "not a JSON object: str"),
        ({"channel": {"id": "c"}}, "without 'type'"),
        ({"type": ""}, "without 'type'"),
        ({"type": "StasisStart", "args": []}, "StasisStart event: missing required field 'channel'"),
        ({"type": "StasisEnd", "channel": {"name": "x"}},
         "StasisEnd event: missing required field 'channel.id'"),
        ({"type": "ChannelDtmfReceived", "channel": {"id": "c"}},
         "ChannelDtmfReceived event: missing required field 'digit'"),
        ({"type": "ChannelLeftBridge", "channel": {"id": "c"}},
         "ChannelLeftBridge event: missing required field 'bridge'"),
        ({"type": "ChannelLeftBridge", "bridge": {"id": "b"}},
         "ChannelLeftBridge event: missing required field 'channel'"),
        ({"type": "Dial", "dialstatus": "", "peer": {}}, "Dial event: missing required field 'peer.id'"),
        ({"type": "PlaybackStarted", "playback": "pb"},
         "PlaybackStarted event: missing required field 'playback'"),
        ({"type": "DeviceStateChanged", "device_state": {"state": "INUSE"}},
         "DeviceStateChanged event: missing required field 'device_state.name'"),
        ({"type": "StasisStart", "args": "x", "channel": {"id": "c"}}, "StasisStart event: field 'args'"),
        ({"type": "ChannelDestroyed", "cause": "sixteen", "channel": {"id": "c"}},
         "ChannelDestroyed event: field 'cause' is not an integer"),
        # found by fuzzing (test_fuzz_ari_events.py): json.loads reads Infinity, int() of it overflowed
        ({"type": "ChannelDestroyed", "cause": float("inf"), "channel": {"id": "c"}},
         "ChannelDestroyed event: field 'cause' is not an integer"),
        ({"type": "StasisEnd", "channel": {"id": "c", "dialplan": {"priority": float("-inf")}}},
         "StasisEnd event: bad field 'channel'"),
        # found by fuzzing: wrongly typed fields went into the typed event as they came
        ({"type": "StasisStart", "channel": {"id": "c", "name": 7}},
         "StasisStart event: bad field 'channel': Channel: field 'name' is not a string (int)"),
        ({"type": "StasisEnd", "channel": {"id": "c", "caller": {"number": ["138"]}}},
         "StasisEnd event: bad field 'channel': Channel: field 'caller.number' is not a string (list)"),
        ({"type": "BridgeCreated", "bridge": {"id": "b", "channels": "abc"}},
         "BridgeCreated event: bad field 'bridge': Bridge: field 'channels' is not a list of channel IDs"),
        ({"type": "PlaybackFinished", "playback": {"id": "p", "target_uri": {"channel": "c"}}},
         "PlaybackFinished event: bad field 'playback': Playback: field 'target_uri' is not a string (dict)"),
    ],
)
def test_malformed_events(obj: Any, message: str) -> None:
    with pytest.raises(MalformedEvent, match=re.escape(message)) as info:
        parse_event(obj)
    assert isinstance(info.value, ValueError)


def test_optional_text_fields_become_text_or_none() -> None:
    """Found by fuzzing: asterisk_id, musicclass, ChannelTransfer.state were kept whatever their type."""
    ev = parse_event({"type": "ChannelHold", "channel": {"id": "c"}, "asterisk_id": [], "musicclass": 5})
    assert ev.asterisk_id == "[]" and ev.musicclass == "5"
    ev = parse_event({"type": "ChannelUnhold", "channel": {"id": "c"}, "asterisk_id": None})
    assert ev.asterisk_id is None
    ev = parse_event({"type": "ChannelTransfer", "state": {}, "refer_to": {}, "referred_by": {}})
    assert ev.state == "{}"


def test_models_require_id() -> None:
    for cls in (Channel, Bridge):
        with pytest.raises(ValueError, match=f"{cls.__name__}: missing required field 'id'"):
            cls.from_json({"name": "x"})
    with pytest.raises(ValueError, match="expected a JSON object"):
        Channel.from_json(None)
