"""R-HOLD and R-SILENT in the ACD core, with a fake clock."""

from ari_app.core.acd import (
    Acd, AgentCommand, CallArrived, CallBridged, CallEnded, CallerSpoke, CommandResult, HoldRequest,
    OfferAnswered, Publish, QueueRules, SilentPromptDone, SilentRequest,
)
from ari_app.core.agents import Agent
from ari_app.core.incall import EndSilent, HoldAction, HoldApology, PlayToCall, RemindAgent

T0 = 1_800_000_000.0


def connected(**rules):
    acd = Acd([QueueRules(name="support", hold_remind_s=60, silent_wait_s=5, **rules)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    acd.handle(AgentCommand(agent_id="1001", command="login"), T0 - 10)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 1)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 2)
    return acd


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def published(actions, name):
    return [a.fields for a in actions if isinstance(a, Publish) and a.event == name]


def test_r_hold_reminds_the_agent_every_minute_and_apologises_on_resume():
    acd = connected(hold_apology_s=0)  # the 10 s apology (R-WAIT) is tested in test_incall_rules.py
    out = acd.handle(HoldRequest(call_id="c1", on=True, request_id="r1"), T0 + 10)
    assert HoldAction(call_id="c1", hold=True) in out and of(out, CommandResult)[0].ok
    assert acd.get_timer() == T0 + 70
    assert of(acd.handle_timer(T0 + 70 - 0.001), RemindAgent) == []
    [r] = of(acd.handle_timer(T0 + 70), RemindAgent)
    assert r.held_s == 60
    assert of(acd.handle_timer(T0 + 129), RemindAgent) == []
    assert len(of(acd.handle_timer(T0 + 130), RemindAgent)) == 1  # repeated
    out = acd.handle(HoldRequest(call_id="c1", on=False), T0 + 140)
    assert HoldAction(call_id="c1", hold=False, prompts=("hold-sorry",)) in out
    assert published(out, "call.unhold")[0]["held_s"] == 130
    assert acd.get_timer() is None
    done = published(acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 200), "call.completed")[0]
    assert done["hold_s"] == 130


def test_hold_twice_is_harmless_and_refused_when_not_connected():
    acd = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    out = acd.handle(HoldRequest(call_id="c1", on=True), T0 + 11)
    assert of(out, HoldAction) == [] and of(out, CommandResult)[0].ok
    [r] = of(acd.handle(HoldRequest(call_id="nope", on=True, request_id="x"), T0), CommandResult)
    assert not r.ok


def test_r_silent_script_prompt_wait_prompt_wait_hang_up():
    acd = connected()
    out = acd.handle(SilentRequest(call_id="c1"), T0 + 10)
    assert of(out, PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-hello", step=1)]
    assert acd.get_timer() is None  # the wait starts when the prompt has played
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 13)
    assert of(acd.handle_timer(T0 + 18 - 0.001), PlayToCall) == []
    assert of(acd.handle_timer(T0 + 18), PlayToCall) == [PlayToCall(call_id="c1", prompt="silent-bye", step=2)]
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 21)
    out = acd.handle_timer(T0 + 26)
    assert of(out, EndSilent) == [EndSilent(call_id="c1")]
    assert published(out, "call.silent")[0]["rule"] == "R-SILENT"


def test_r_silent_stops_when_the_caller_speaks():
    acd = connected()
    acd.handle(SilentRequest(call_id="c1"), T0 + 10)
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 13)
    out = acd.handle(CallerSpoke(call_id="c1"), T0 + 14)
    assert published(out, "call.silent_stopped")
    assert of(acd.handle_timer(T0 + 30), EndSilent) == []


# -- mutation testing (issue 7): hold time adds up, the running hold counts, the silent wait is cleared -----
def test_r_hold_time_of_two_holds_adds_up_in_the_completed_call():
    acd = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    acd.handle(HoldRequest(call_id="c1", on=False), T0 + 30)  # 20 s
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 40)
    out = acd.handle(HoldRequest(call_id="c1", on=False), T0 + 47)  # 7 s
    assert published(out, "call.unhold")[0]["held_s"] == 7
    done = published(acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 100), "call.completed")[0]
    assert done["hold_s"] == 27


def test_r_hold_still_on_when_the_call_ends_counts_up_to_the_end():
    acd = connected()
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 10)
    acd.handle(HoldRequest(call_id="c1", on=False), T0 + 15)  # 5 s
    acd.handle(HoldRequest(call_id="c1", on=True), T0 + 20)
    done = published(acd.handle(CallEnded(call_id="c1", by="caller"), T0 + 32), "call.completed")[0]
    assert done["hold_s"] == 17  # 5 s before, 12 s of the hold the caller hung up in


def test_r_silent_no_timer_while_the_second_prompt_plays():
    acd = connected()
    acd.handle(SilentRequest(call_id="c1"), T0 + 10)
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 13)
    assert acd.get_timer() == T0 + 18
    acd.handle_timer(T0 + 18)
    assert acd.get_timer() is None  # the next wait starts when "silent-bye" has played
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 21)
    assert acd.get_timer() == T0 + 26


def test_r_hold_and_r_silent_action_by_action_with_their_timeline():
    acd = connected()
    acd.drain_facts()
    assert acd.handle(HoldRequest(call_id="c1", on=True, source="api", request_id="h1"), T0 + 10) == [
        Publish("call.hold", {"call_id": "c1", "agent": "1001", "source": "api", "rule": "R-HOLD"}),
        HoldAction(call_id="c1", hold=True),
        CommandResult(request_id="h1", agent_id="1001", ok=True)]
    assert acd.get_timer() == T0 + 20  # R-WAIT: 10 s on hold
    assert acd.handle_timer(T0 + 20) == [
        Publish("call.hold_apology", {"call_id": "c1", "agent": "1001", "held_s": 10, "rule": "R-WAIT"}),
        HoldApology(call_id="c1", prompts=("wait-apology",))]
    assert acd.handle_timer(T0 + 70) == [
        Publish("call.hold_reminder", {"call_id": "c1", "agent": "1001", "held_s": 60, "rule": "R-HOLD"}),
        RemindAgent(call_id="c1", held_s=60)]
    assert acd.get_timer() == T0 + 130  # the next reminder, counted from the start of the hold
    assert acd.handle(SilentRequest(call_id="c1"), T0 + 71) == []  # not while the caller hears music
    assert acd.handle(HoldRequest(call_id="c1", on=False, source="phone", request_id="h2"), T0 + 75.5) == [
        Publish("call.unhold", {"call_id": "c1", "agent": "1001", "source": "phone", "rule": "R-HOLD",
                                "held_s": 65.5}),
        HoldAction(call_id="c1", hold=False, prompts=("hold-sorry",)),
        CommandResult(request_id="h2", agent_id="1001", ok=True)]
    assert acd.handle(HoldRequest(call_id="zz", on=True, request_id="h3"), T0 + 80) == [
        CommandResult(request_id="h3", agent_id="", ok=False, message="the call is not connected to an agent")]
    assert acd.handle(SilentRequest(call_id="c1", source="api"), T0 + 90) == [
        Publish("call.silent_script", {"call_id": "c1", "agent": "1001", "source": "api", "rule": "R-SILENT"}),
        PlayToCall(call_id="c1", prompt="silent-hello", step=1)]
    assert acd.handle(SilentRequest(call_id="c1"), T0 + 91) == []  # already running
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 92)  # not the prompt playing: ignored
    assert acd.get_timer() is None
    acd.handle(SilentPromptDone(call_id="c1", step=1), T0 + 93)
    acd.handle_timer(T0 + 98)
    acd.handle(SilentPromptDone(call_id="c1", step=2), T0 + 100)
    assert acd.handle_timer(T0 + 105) == [
        Publish("call.silent", {"call_id": "c1", "queue": "support", "agent": "1001", "rule": "R-SILENT"}),
        EndSilent(call_id="c1")]
    assert [(e.at, e.fact.value, e.agent, e.detail) for _, e in acd.drain_facts()] == [
        (T0 + 10, "hold", "1001", {"source": "api"}),
        (T0 + 20, "prompt_played", None, {"prompt": "wait-apology", "rule": "R-WAIT", "held_s": 10}),
        (T0 + 75.5, "unhold", "1001", {"held_s": 65.5}),
        (T0 + 90, "prompt_played", None, {"prompt": "silent-hello", "rule": "R-SILENT"}),
        (T0 + 98, "prompt_played", None, {"prompt": "silent-bye", "rule": "R-SILENT"})]


def test_r_hold_refused_during_a_transfer():
    from ari_app.core.acd import TransferRequest

    acd = connected()
    acd.handle(TransferRequest(call_id="c1", target="12345"), T0 + 10)
    assert acd.handle(HoldRequest(call_id="c1", on=True, request_id="h4"), T0 + 11) == [
        CommandResult(request_id="h4", agent_id="1001", ok=False, message="a transfer is in progress")]
