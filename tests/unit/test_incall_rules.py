"""Issue 18 items 4 and 5 in the ACD core, with a fake clock: R-WAIT's apology to a caller on hold, and
R-SILENT's hotline variant and its start by talk detection (stopped by the caller's speech)."""

import pytest

from ari_app.core.acd import (
    Acd, AgentCommand, CallArrived, CallBridged, CallEnded, CallerSpoke, HoldRequest, OfferAnswered, Publish,
    QueueRules, SilentPromptDone, SilentRequest,
)
from ari_app.core.agents import Agent
from ari_app.core.incall import (
    HOLD_APOLOGY_S, SILENT_SCRIPTS, DetectTalk, EndSilent, HoldApology, PlayToCall, StopSilent,
)

T0 = 1_800_000_000.0
BRIDGED = T0 + 2


def connected(**rules):
    """Call c1 bridged with agent 1001 at ``BRIDGED``; returns the ACD and what the bridge returned."""
    acd = Acd([QueueRules(name="support", hold_remind_s=60, silent_wait_s=5, **rules)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    return acd, acd.handle(CallBridged(call_id="c1", agent_id="1001"), BRIDGED)


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


# -- R-WAIT on hold ---------------------------------------------------------------------------------------
# Seed: "用户等待超过10秒，应说：'对不起，请稍等！'" (an in-call phrase of the agent: the caller on hold too).
def test_r_wait_on_hold_the_apology_plays_at_exactly_10_s_once_then_the_music():
    acd, _ = connected()
    assert QueueRules(name="q").hold_apology_s == HOLD_APOLOGY_S == 10
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    assert acd.get_timer() == T0 + 20  # before the first reminder (60 s)
    assert of(acd.handle_timer(T0 + 20 - 0.001), HoldApology) == []
    out = acd.handle_timer(T0 + 20)
    assert of(out, HoldApology) == [HoldApology(call_id="c1", prompts=("wait-apology",))]
    assert published(out, "call.hold_apology") == [{"call_id": "c1", "agent": "1001", "held_s": 10,
                                                    "rule": "R-WAIT"}]
    assert acd.get_timer() == T0 + 70  # only the reminder is left: the apology is said once
    for t in (T0 + 30, T0 + 45, T0 + 69):
        assert of(acd.handle_timer(t), HoldApology) == []
    # leaving hold keeps "对不起，让您久等了！"
    out = acd.handle(HoldRequest(call_id="c1", on=False), T0 + 75)
    assert of(out, HoldApology) == [] and "hold-sorry" in [p for a in out for p in getattr(a, "prompts", ())]


def test_r_wait_on_hold_resumed_before_10_s_no_apology():
    acd, _ = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    acd.handle(HoldRequest(call_id="c1", on=False), T0 + 19.9)
    assert acd.get_timer() is None
    assert of(acd.handle_timer(T0 + 25), HoldApology) == []


def test_r_wait_each_hold_period_has_its_own_apology_at_10_s():
    acd, _ = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    assert of(acd.handle_timer(T0 + 20), HoldApology)
    acd.handle(HoldRequest(call_id="c1", on=False), T0 + 25)
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 40)  # a second hold: a new wait
    assert acd.get_timer() == T0 + 50
    assert of(acd.handle_timer(T0 + 49.9), HoldApology) == []
    out = acd.handle_timer(T0 + 50)
    assert published(out, "call.hold_apology")[0]["held_s"] == 10


def test_r_wait_on_hold_per_queue_length_and_0_is_off():
    acd, _ = connected(hold_apology_s=4)
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    assert acd.get_timer() == T0 + 14
    acd, _ = connected(hold_apology_s=0)
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    assert acd.get_timer() == T0 + 70  # the reminder only
    assert of(acd.handle_timer(T0 + 69), HoldApology) == []


def test_r_wait_on_hold_is_in_the_timeline_apart_from_the_queue_apology():
    acd, _ = connected()
    acd.drain_facts()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    acd.handle_timer(T0 + 20)
    facts = [(e.at, e.fact.value, e.detail) for _, e in acd.drain_facts()]
    # "wait-apology", not the queue's "apology" kind: R-COMPLY's queue check is not fooled by it
    assert (T0 + 20, "prompt_played", {"prompt": "wait-apology", "rule": "R-WAIT", "held_s": 10}) in facts


def test_r_wait_on_hold_the_call_ending_first_leaves_no_timer():
    acd, _ = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 15)
    assert of(acd.handle_timer(T0 + 20), HoldApology) == []


# -- R-SILENT: the hotline variant ------------------------------------------------------------------------
# Seed (hotline): "遇到无声电话时：'您好！请问有什么可以帮助您？'稍停5秒还是无声，'您好，请问有什么可以帮助您？'
# 稍停5秒，对方无反映，则说：'对不起，您的电话没有声音，请您换一部电话再次打来，好吗？再见！'再稍停5秒，挂机。"
def test_r_silent_hotline_asks_twice_5_s_apart_then_the_farewell_5_s_hang_up():
    acd, _ = connected(silent_script="hotline")
    out = acd.handle(SilentRequest(call_id="c1"), T0 + 10)
    assert of(out, PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-hello", step=1)]
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 13)
    assert of(acd.handle_timer(T0 + 17.999), PlayToCall) == []
    assert of(acd.handle_timer(T0 + 18), PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-hello", step=2)]
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 21)
    assert of(acd.handle_timer(T0 + 26), PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-no-sound", step=3)]
    acd.handle(SilentPromptDone(call_id="c1", step=3), T0 + 31)
    assert of(acd.handle_timer(T0 + 35.999), EndSilent) == []
    out = acd.handle_timer(T0 + 36)
    assert of(out, EndSilent) == [EndSilent(call_id="c1")] and published(out, "call.silent")


def test_r_silent_standard_is_the_default_and_never_says_the_hotline_farewell():
    assert QueueRules(name="q").silent_script == "standard"
    assert SILENT_SCRIPTS["standard"] == ("silent-hello", "silent-bye")
    acd, _ = connected()
    prompts = [a.prompt for a in of(acd.handle(SilentRequest(call_id="c1"), T0 + 10), PlayToCall)]
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 12)
    prompts += [a.prompt for a in of(acd.handle_timer(T0 + 17), PlayToCall)]
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 19)
    assert of(acd.handle_timer(T0 + 24), EndSilent) and prompts == ["silent-hello", "silent-bye"]


# -- R-SILENT by talk detection ---------------------------------------------------------------------------
def test_r_silent_talk_detection_no_speech_for_n_s_after_the_bridge_starts_the_script():
    acd, bridged = connected(silent_detect_s=6)
    assert of(bridged, DetectTalk) == [DetectTalk(call_id="c1")]  # on the caller's leg from the bridge
    assert acd.get_timer() == BRIDGED + 6
    assert of(acd.handle_timer(BRIDGED + 5.999), PlayToCall) == []
    out = acd.handle_timer(BRIDGED + 6)
    assert of(out, PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-hello", step=1)]
    assert published(out, "call.silent_script") == [{"call_id": "c1", "agent": "1001", "source": "talk_detect",
                                                     "rule": "R-SILENT"}]
    # no speech: the script runs to its end and the call is hung up
    acd.handle(SilentPromptDone(call_id="c1", step=1), BRIDGED + 9)
    acd.handle_timer(BRIDGED + 14)
    acd.handle(SilentPromptDone(call_id="c1", step=2), BRIDGED + 17)
    assert of(acd.handle_timer(BRIDGED + 22), EndSilent) == [EndSilent(call_id="c1")]


def test_r_silent_talk_detection_speech_before_n_s_never_starts_the_script():
    acd, _ = connected(silent_detect_s=6)
    assert acd.handle(CallerSpoke(call_id="c1"), BRIDGED + 5) == []
    assert acd.get_timer() is None
    for t in (BRIDGED + 6, BRIDGED + 60):
        assert of(acd.handle_timer(t), PlayToCall) == []


@pytest.mark.parametrize("step_at", ["first prompt", "first wait", "second prompt", "second wait"])
def test_r_silent_the_caller_speaking_mid_script_stops_it_and_nobody_is_hung_up(step_at):
    acd, _ = connected(silent_detect_s=6)
    acd.handle_timer(BRIDGED + 6)
    now = BRIDGED + 6
    if step_at != "first prompt":
        acd.handle(SilentPromptDone(call_id="c1", step=1), now := now + 3)
    if step_at in ("second prompt", "second wait"):
        acd.handle_timer(now := now + 5)
    if step_at == "second wait":
        acd.handle(SilentPromptDone(call_id="c1", step=2), now := now + 3)
    out = acd.handle(CallerSpoke(call_id="c1"), now + 1)
    assert of(out, StopSilent) == [StopSilent(call_id="c1")]  # the prompt playing stops
    assert published(out, "call.silent_stopped")[0]["rule"] == "R-SILENT"
    acd.handle(SilentPromptDone(call_id="c1", step=2), now + 2)  # a late end of the stopped prompt
    assert acd.get_timer() is None
    later = acd.handle_timer(now + 60)
    assert of(later, EndSilent) == [] and of(later, PlayToCall) == []


def test_r_silent_talk_detection_off_by_default_and_with_0():
    assert QueueRules(name="q").silent_detect_s == 0
    acd, bridged = connected()
    assert of(bridged, DetectTalk) == [] and acd.get_timer() is None
    acd, bridged = connected(silent_detect_s=0)
    assert of(bridged, DetectTalk) == [] and of(acd.handle_timer(BRIDGED + 600), PlayToCall) == []


def test_r_silent_talk_detection_after_the_agents_key_or_during_hold_starts_nothing_more():
    acd, _ = connected(silent_detect_s=6)
    out = acd.handle(SilentRequest(call_id="c1", source="key"), BRIDGED + 1)
    assert published(out, "call.silent_script")[0]["source"] == "key"
    assert acd.get_timer() is None  # the watch is over: the script runs already
    acd, _ = connected(silent_detect_s=6)
    acd.handle(HoldRequest(call_id="c1", on=True), BRIDGED + 1)  # the agent talked with the caller
    assert of(acd.handle_timer(BRIDGED + 6), PlayToCall) == []  # never a script into the music on hold


def test_r_silent_talk_detection_hotline_started_by_itself():
    acd, _ = connected(silent_detect_s=3, silent_script="hotline")
    out = acd.handle_timer(BRIDGED + 3)
    assert published(out, "call.silent_script")[0]["source"] == "talk_detect"
    acd.handle(SilentPromptDone(call_id="c1", step=1), BRIDGED + 6)
    assert of(acd.handle_timer(BRIDGED + 11), PlayToCall)[0].prompt == "silent-hello"
