"""Issue 18 items 4 and 5 through ARI (flows/incall.py) against a fake ARI: R-WAIT's apology to the caller on
hold plays on the caller's channel and is cut short by resuming; talk detection (TALK_DETECT) is set on the
caller's leg, the caller's speech is reported, and the silent script's prompt playing is stopped.
No Asterisk, no sleeps."""

from ari_app.ari import AriError, Channel, ChannelTalkingStarted
from ari_app.core import acd
from ari_app.core.incall import DetectTalk, HoldAction, HoldApology, PlayToCall, StopSilent

from test_flow_recording import A1, CALL, Harness

APOLOGY = "sound:callcenter/wait-apology"


def talking(channel_id: str) -> ChannelTalkingStarted:
    return ChannelTalkingStarted(type="ChannelTalkingStarted", channel=Channel(id=channel_id))


async def connected() -> Harness:
    h = Harness(recording=False)
    await h.start()
    await h.connect()
    h.ari.calls.clear()
    return h


async def test_r_wait_on_hold_the_apology_plays_on_the_callers_channel_in_the_holding_bridge():
    h = await connected()
    await h.do(HoldAction(call_id=CALL, hold=True))
    assert (CALL, f"{CALL}~hold") in [(c[1][1], c[1][0]) for c in h.ari.named("add_channel")]
    await h.do(HoldApology(call_id=CALL))
    [play] = h.ari.named("play")
    assert play[1][:2] == (CALL, [APOLOGY])  # the caller's channel: the bridge's music resumes after it
    await h.played("hold-apology")
    assert h.ari.named("stop_playback") == []  # over: resuming later stops nothing


async def test_resuming_while_the_hold_apology_plays_stops_it_then_apologises_for_the_wait():
    h = await connected()
    await h.do(HoldAction(call_id=CALL, hold=True), HoldApology(call_id=CALL))
    apology = h.playback("hold-apology")
    await h.do(HoldAction(call_id=CALL, hold=False, prompts=("hold-sorry",)))
    assert [c[1][0] for c in h.ari.named("stop_playback")] == [apology]
    assert [c[1][1] for c in h.ari.named("play")][-1] == ["sound:callcenter/hold-sorry"]
    assert [c[0] for c in h.ari.named("stop_playback", "play")][-2:] == ["stop_playback", "play"]


async def test_talk_detection_is_set_once_on_the_callers_leg():
    h = await connected()
    await h.do(DetectTalk(call_id=CALL))
    await h.do(PlayToCall(call_id=CALL, prompt="silent-hello", step=1))
    sets = [c[1] for c in h.ari.named("set_var")]
    assert sets == [(CALL, "TALK_DETECT(set)", "2500")]
    [bridge_play] = h.ari.named("bridge_play")
    assert bridge_play[1] == (f"{CALL}~talk", ["sound:callcenter/silent-hello"])


async def test_a_script_started_by_the_key_turns_talk_detection_on_too():
    h = await connected()
    await h.do(PlayToCall(call_id=CALL, prompt="silent-hello", step=1))
    assert [c[1][:2] for c in h.ari.named("set_var")] == [(CALL, "TALK_DETECT(set)")]


async def test_the_caller_talking_is_reported_and_the_agent_talking_is_not():
    h = await connected()
    h.reported.clear()
    await h.ev(talking(A1))
    assert h.reported == []
    await h.ev(talking(CALL))
    assert h.reported == [acd.CallerSpoke(call_id=CALL)]


async def test_stop_silent_stops_the_prompt_playing_in_the_talk_bridge_and_nobody_is_hung_up():
    h = await connected()
    await h.do(PlayToCall(call_id=CALL, prompt="silent-hello", step=1))
    prompt = h.playback("silent")
    await h.do(StopSilent(call_id=CALL))
    assert [c[1][0] for c in h.ari.named("stop_playback")] == [prompt]
    h.reported.clear()
    await h.played("silent", state="done")  # Asterisk ends the stopped playback
    assert h.reported == [acd.SilentPromptDone(call_id=CALL, step=1)]  # the core ignores it: no script
    assert h.ari.named("hangup") == [] and not h.flow.finished
    await h.do(StopSilent(call_id=CALL))  # nothing playing any more: no request
    assert len(h.ari.named("stop_playback")) == 1


async def test_when_asterisk_refuses_talk_detection_no_script_starts_by_itself():
    # review of issue 18: silence cannot be told from a talking caller, so the core is told (never a hang-up)
    h = await connected()
    h.reported.clear()
    h.ari.fail["set_var"] = AriError(500, "POST", "/channels/x/variable", "refused")
    await h.do(DetectTalk(call_id=CALL))
    assert h.reported == [acd.CallerSpoke(call_id=CALL, cause="talk_detect_failed")]


async def test_a_silent_script_prompt_that_cannot_play_ends_the_script_without_a_hang_up():
    # review of issue 18: no SilentPromptDone would ever come, the script would hang for the rest of the call
    h = await connected()
    await h.do(DetectTalk(call_id=CALL))
    h.reported.clear()
    h.ari.fail["bridge_play"] = AriError(404, "POST", "/bridges/x/play", "Bridge not found")
    await h.do(PlayToCall(call_id=CALL, prompt="silent-hello", step=1))
    assert h.reported == [acd.CallerSpoke(call_id=CALL, cause="prompt_failed")]
    assert h.ari.named("hangup") == [] and not h.flow.finished
