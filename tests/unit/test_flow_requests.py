"""The REST requests of one inbound call (flows/inbound.py) against a fake ARI: under load every request
counts (issue 7), so the caller's tags go in one variable, and teardown neither hangs up a channel
Asterisk already reported gone nor destroys a bridge the call never made. No Asterisk, no sleeps."""

from typing import Any

import pytest
from structlog.testing import capture_logs

from test_flow_recording import A1, CALL, NOW, FakeAri, Harness

from ari_app.ari import AriHTTPError, AriNotFound, Bridge, Channel, ChannelDestroyed, ChannelHangupRequest
from ari_app.core import acd
from ari_app.flows import inbound, resync
from ari_app.flows.inbound import PACKED_TAGS, InboundCall, pack_tags, unpack_tags


def hangup_request(channel_id: str) -> ChannelHangupRequest:
    return ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=channel_id))


def destroyed(channel_id: str) -> ChannelDestroyed:
    return ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=channel_id))


async def test_the_callers_tags_are_one_request_and_read_back_by_resync():
    h = Harness(recording=False)
    await h.start()
    set_vars = h.ari.named("set_var")
    assert len(set_vars) == 1 and set_vars[0][1][:2] == (CALL, PACKED_TAGS)
    tags = unpack_tags(set_vars[0][1][2])
    assert tags == {"CC_CALL_ID": CALL, "CC_ROLE": "caller", "CC_QUEUE": "support", "CC_ENTERED_AT": f"{NOW:.3f}",
                    "CC_PRIORITY": "0"}

    class Ari(FakeAri):
        async def get_application(self, name: str) -> dict[str, Any]:
            return {"channel_ids": [CALL]}

        async def list_channels(self) -> list[Channel]:
            return [Channel(id=CALL, state="Up")]

        async def get_var(self, channel_id: str, name: str) -> str | None:
            self._call("get_var", channel_id, name)
            return set_vars[0][1][2] if name == PACKED_TAGS else None

        async def list_bridges(self) -> list[Bridge]:
            return [Bridge(id=f"{CALL}~hold", channels=(CALL,))]

    ari = Ari()
    calls, untagged, stale = await resync.read_calls(ari, "callcenter")
    assert untagged == [] and stale == []
    event = resync.to_core_event(calls[CALL], NOW + 60)
    assert isinstance(event, acd.CallArrived)
    assert (event.queue, event.entered_at, event.priority) == ("support", NOW, 0)  # its place in line kept
    assert [c[1][1] for c in ari.named("get_var")] == [PACKED_TAGS]  # one read, not one per tag


def test_packed_tags_survive_any_value_and_ignore_foreign_names():
    tags = {"CC_CALL_ID": "a&b=c d", "CC_QUEUE": "销售", "CC_PRIORITY": ""}
    assert unpack_tags(pack_tags(tags)) == tags
    assert unpack_tags("CC_QUEUE=x&EVIL=1") == {"CC_QUEUE": "x"}


async def test_teardown_skips_channels_gone_and_bridges_never_made():
    h = Harness(recording=False)
    await h.start()
    await h.connect()
    h.ari.calls.clear()
    await h.ev(hangup_request(CALL))  # the caller hangs up first
    hangups = [c[1][0] for c in h.ari.named("hangup")]
    assert hangups == [A1]  # the agent leg only: the caller is hanging up already
    destroyed_bridges = sorted(c[1][0] for c in h.ari.named("destroy_bridge"))
    assert destroyed_bridges == [f"{CALL}~hold", f"{CALL}~talk"]  # no consult bridge: there was no transfer
    assert h.flow.finished


async def test_a_ring_cut_off_leg_already_destroyed_is_not_hung_up_again():
    h = Harness(recording=False)
    await h.start()
    await h.do(acd.Ring(call_id=CALL, agent_id="3001", interface="Local/3001@x", attempt=1, timeout_s=4))
    await h.ev(destroyed(A1))  # the phone gave up ringing
    h.ari.calls.clear()
    await h.ev(destroyed(CALL))
    assert h.ari.named("hangup") == []
    assert [c[1][0] for c in h.ari.named("destroy_bridge")] == [f"{CALL}~hold"]


async def test_a_leg_id_used_again_after_a_restart_is_hung_up_at_teardown():
    """Resync hangs up a ringing leg ``~a1``; its events reach the new flow, whose own first ring is ``~a1``
    again: that new channel must still be hung up when the call ends."""
    h = Harness(recording=False)
    await h.start()
    await h.ev(hangup_request(A1), destroyed(A1))  # the old leg, hung up by resync
    await h.connect()  # the new ~a1 rings, answers, is bridged
    h.ari.calls.clear()
    await h.ev(hangup_request(CALL))
    assert [c[1][0] for c in h.ari.named("hangup")] == [A1]


async def test_the_ring_cut_off_always_hangs_up():
    h = Harness(recording=False)
    await h.start()
    await h.do(acd.Ring(call_id=CALL, agent_id="3001", interface="Local/3001@x", attempt=1, timeout_s=4))
    h.flow._ended.add(A1)  # whatever the flow believes, the cut-off is sent (R-RING)
    await h.do(acd.StopRinging(call_id=CALL, agent_id="3001", attempt=1))
    assert [c[1][0] for c in h.ari.named("hangup")] == [A1]


async def test_the_divert_prompt_plays_in_the_holding_bridge_then_it_goes():
    h = Harness(recording=False)
    await h.start()
    h.ari.calls.clear()
    await h.do(acd.Divert(call_id=CALL, prompts=("closed",), destination="callcenter-voicemail,s,1", reason="closed"))
    assert [c[0] for c in h.ari.calls] == ["play"]  # the caller is still in the holding bridge
    await h.played("divert")
    assert [c[0] for c in h.ari.calls] == ["play", "destroy_bridge", "continue_in_dialplan"]


class RefusingAri(FakeAri):
    """Music on hold refused ``refusals`` times with ``error``, then started."""

    def __init__(self, refusals: int, error: Exception) -> None:
        super().__init__()
        self.refusals, self.error = refusals, error

    async def bridge_start_moh(self, bridge_id: str, moh_class: str) -> None:
        self._call("bridge_start_moh", bridge_id, moh_class)
        if self.refusals:
            self.refusals -= 1
            raise self.error


ALLOCATION_FAILED = AriHTTPError(500, "POST", f"/bridges/{CALL}~hold/moh", '{"error":"Allocation failed"}')


def flow_with(ari: FakeAri, monkeypatch) -> InboundCall:
    monkeypatch.setattr(inbound, "MUSIC_RETRY_S", 0)
    return InboundCall(CALL, ari=ari, report=lambda _: None, app="callcenter", moh_class="default",
                       clock=lambda: NOW)


async def test_music_refused_once_is_asked_again(monkeypatch):
    """Issue 7, fault 1: after a crash Asterisk refused a resynced caller's music once ("Allocation failed")
    and the whole call was dropped from the line; now the music is asked for again."""
    ari = RefusingAri(1, ALLOCATION_FAILED)
    await flow_with(ari, monkeypatch).hold()
    assert [c[0] for c in ari.calls] == ["create_bridge", "add_channel", "bridge_start_moh", "bridge_start_moh"]
    assert ari.refusals == 0


async def test_music_refused_twice_keeps_the_caller_in_the_holding_bridge_and_logs_it(monkeypatch):
    ari = RefusingAri(5, ALLOCATION_FAILED)
    with capture_logs() as logs:
        await flow_with(ari, monkeypatch).hold()  # no exception: the caller keeps the place in line
    assert [c[0] for c in ari.calls].count("bridge_start_moh") == 2
    assert ("add_channel", (f"{CALL}~hold", CALL), {"role": "participant"}) in ari.calls
    assert [(e["event"], e["log_level"]) for e in logs] == [("call.hold_music_failed", "warning")]
    assert "Allocation failed" in logs[0]["error"]


async def test_music_after_the_recording_notice_is_asked_again_too(monkeypatch):
    """R-QA: the music that follows the recording notice goes through the same second try."""
    monkeypatch.setattr(inbound, "MUSIC_RETRY_S", 0)
    h = Harness(ari=RefusingAri(1, ALLOCATION_FAILED))
    await h.start()
    with capture_logs() as logs:
        await h.played("recording-notice")
    assert [c[0] for c in h.ari.calls].count("bridge_start_moh") == 2 and h.ari.refusals == 0
    assert [e for e in logs if e["event"] == "call.hold_music_failed"] == []


async def test_music_after_the_notice_on_a_bridge_gone_is_logged_not_raised(monkeypatch):
    """The caller hung up while the notice played: the event that ended the notice must not fail."""
    monkeypatch.setattr(inbound, "MUSIC_RETRY_S", 0)
    h = Harness(ari=RefusingAri(1, AriNotFound(404, "POST", f"/bridges/{CALL}~hold/moh", "Bridge not found")))
    await h.start()
    with capture_logs() as logs:
        await h.played("recording-notice")
    assert [c[0] for c in h.ari.calls].count("bridge_start_moh") == 1
    failed = [e for e in logs if e["event"] == "call.hold_music_failed"]
    assert [(e["call_id"], e["log_level"]) for e in failed] == [(CALL, "warning")]


async def test_music_on_a_bridge_gone_is_not_retried(monkeypatch):
    ari = RefusingAri(1, AriNotFound(404, "POST", f"/bridges/{CALL}~hold/moh", "Bridge not found"))
    with pytest.raises(AriNotFound):
        await flow_with(ari, monkeypatch).hold()
    assert [c[0] for c in ari.calls].count("bridge_start_moh") == 1
