"""Transfers through the ACD core, every outcome (R-XFER-CONSENT, R-XFER-CONFIRM, R-XFER-NAME)."""

from ari_app.core.acd import Acd, AgentCommand, CallArrived, CallBridged, OfferAnswered, Publish, QueueRules, Ring
from ari_app.core.agents import Agent, AgentState
from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.core.transfer import (
    Consult, DialTarget, EndTransfer, HoldForTransfer, TransferCommand, TransferRequest, TransferResult,
    TransferUpdate, XferEvent,
)

T0 = 1_800_000_000.0
E = XferEvent


def connected():
    """Call c1 in queue support talking to agent 1001; 1002 free; queue sales has agent 1003."""
    acd = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20),
               QueueRules(name="sales", ring_target_s=15, originate_timeout_s=20)],
              [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",)),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("other",)),
               Agent(agent_id="1003", interface="PJSIP/1003", queues=("sales",))])
    for a in ("1001", "1002", "1003"):
        acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 100)
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    acd.handle(OfferAnswered(call_id="c1", agent_id="1001"), T0 + 2)
    acd.handle(CallBridged(call_id="c1", agent_id="1001"), T0 + 3)
    return acd


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def events(actions):
    return [a.event for a in actions if isinstance(a, Publish)]


def start(acd, target="1002", at=T0 + 10):
    out = acd.handle(TransferRequest(call_id="c1", target=target, source="api", request_id="r1"), at)
    [res] = of(out, TransferResult)
    assert res.ok, res.message
    assert of(out, HoldForTransfer)
    return acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), at + 1)


def consulting(acd):
    [dial] = of(start(acd), DialTarget)
    assert (dial.interface, dial.timeout_s) == ("PJSIP/1002", 20)
    assert acd.agents["1002"].state == AgentState.RINGING
    out = acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 14)
    assert of(out, Consult) and acd.agents["1002"].state == AgentState.ON_CALL
    return out


def outcome(actions):
    [end] = of(actions, EndTransfer)
    return end


def test_complete_after_the_target_answered_hands_the_caller_over_with_its_agent_id():
    acd = connected()
    consulting(acd)
    out = acd.handle(TransferCommand(call_id="c1", command="complete", request_id="r2"), T0 + 20)
    end = outcome(out)
    assert end.outcome == "completed"
    # seed: 被转接电话接听后需告知被转接电话人的姓名 (1002 has no name configured: its ID alone)
    assert end.prompts == ("xfer-connected-to", "agent-id-prefix", "digit-1", "digit-0", "digit-0", "digit-2",
                           "xfer-sorry-wait")
    assert acd.calls["c1"].agent_id == "1002" and acd.agents["1001"].state == AgentState.AVAILABLE
    assert "transfer.completed" in events(out)


def test_complete_is_refused_while_the_target_rings():
    acd = connected()
    start(acd)
    [res] = of(acd.handle(TransferCommand(call_id="c1", command="complete", request_id="r2"), T0 + 12),
               TransferResult)
    assert (res.ok, res.message) == (False, "cannot complete while target_ringing")


def test_cancel_returns_the_caller_to_the_agent_with_an_apology():
    acd = connected()
    consulting(acd)
    end = outcome(acd.handle(TransferCommand(call_id="c1", command="cancel"), T0 + 20))
    assert (end.outcome, end.prompts) == ("cancelled", ("hold-sorry",))
    assert acd.calls["c1"].agent_id == "1001" and acd.agents["1002"].state == AgentState.AVAILABLE


def test_target_not_answering_within_the_ring_target_fails_back_to_the_agent():
    acd = connected()
    start(acd)
    assert acd.get_timer() == T0 + 11 + 15
    assert of(acd.handle_timer(T0 + 26 - 0.001), EndTransfer) == []
    end = outcome(acd.handle_timer(T0 + 26))
    assert end.outcome == "target_failed" and acd.agents["1002"].state == AgentState.AVAILABLE


def test_busy_target_fails_at_once():
    acd = connected()
    acd.handle(AgentCommand(agent_id="1002", command="pause", reason="break"), T0 + 5)
    out = start(acd)
    assert of(out, DialTarget) == [] and outcome(out).outcome == "target_failed"
    busy = [a.fields for a in out if isinstance(a, Publish) and a.event == "transfer.target_failed"][0]
    assert busy["reason"] == "target paused"


def test_target_hanging_up_fails_back_to_the_agent():
    acd = connected()
    consulting(acd)
    end = outcome(acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_HANGUP), T0 + 16))
    assert end.outcome == "target_failed" and acd.calls["c1"].agent_id == "1001"


def test_agent_hanging_up_before_the_target_answered_requeues_the_caller_at_the_head():
    acd = connected()
    acd.handle(AgentCommand(agent_id="1003", command="pause", reason="break"), T0)
    acd.handle(CallArrived(call_id="other", queue="support", entered_at=T0 - 50, priority=9), T0)
    start(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 12)
    assert outcome(out).outcome == "requeued"
    assert acd.position("c1") == 1 and acd.position("other") == 2  # the head, before higher priority
    assert acd.agents["1002"].state == AgentState.AVAILABLE
    [ring] = of(out, Ring)
    assert ring.call_id == "c1" and ring.agent_id == "1001"  # never the ringing target


def test_agent_hanging_up_after_the_target_answered_completes():
    acd = connected()
    consulting(acd)
    end = outcome(acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 16))
    assert end.outcome == "completed" and acd.calls["c1"].agent_id == "1002"


def test_caller_hanging_up_during_consultation_abandons():
    acd = connected()
    consulting(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HANGUP), T0 + 16)
    assert outcome(out).outcome == "abandoned"
    assert "call.completed" in events(out) and "c1" not in acd.calls


def test_transfer_to_a_queue_enters_it_at_the_head_without_consultation():
    acd = connected()
    out = start(acd, target="sales")
    assert of(out, DialTarget) == [] and outcome(out).outcome == "to_queue"
    [ring] = of(out, Ring)
    assert ring.agent_id == "1003" and acd.calls["c1"].queue == "sales"


def test_refusals():
    acd = connected()
    for target, message in (("1001", "cannot transfer a call to its own agent"),
                            ("nobody", "unknown transfer target 'nobody'")):
        [res] = of(acd.handle(TransferRequest(call_id="c1", target=target), T0 + 5), TransferResult)
        assert (res.ok, res.message) == (False, message)
    start(acd)
    [res] = of(acd.handle(TransferRequest(call_id="c1", target="1003"), T0 + 12), TransferResult)
    assert not res.ok and "already target_ringing" in res.message


def test_late_events_after_the_end_are_harmless():
    acd = connected()
    consulting(acd)
    acd.handle(TransferCommand(call_id="c1", command="complete"), T0 + 20)
    assert acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 21) == []


def test_a_phone_refer_completes_as_soon_as_the_target_answered():
    acd = connected()
    acd.handle(TransferRequest(call_id="c1", target="1002", source="refer"), T0 + 10)
    acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 11)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 14)
    assert of(out, Consult) and outcome(out).outcome == "completed"
    assert events(out)[:2] == ["transfer.consulting", "transfer.completed"]


# -- mutation testing (issue 7): every action and timeline fact of an attended transfer, and the targets ---------
def test_attended_transfer_action_by_action_with_its_timeline():
    acd = connected()
    acd.drain_facts()
    ids = {"call_id": "c1", "transfer_id": "c1~x1", "agent": "1001", "target": "1002"}
    out = acd.handle(TransferRequest(call_id="c1", target=" 1002 ", source="api", request_id="r1"), T0 + 10)
    assert out == [Publish("transfer.requested", {**ids, "kind": "agent", "source": "api", "rule": "R-XFER-CONSENT"}),
                   TransferResult(request_id="r1", call_id="c1", ok=True, transfer_id="c1~x1", state="requested"),
                   HoldForTransfer(call_id="c1", transfer_id="c1~x1")]
    out = acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 11)
    assert out == [Publish("transfer.target_ringing", {**ids, "state": "target_ringing", "rule": "R-XFER-CONFIRM"}),
                   DialTarget(call_id="c1", transfer_id="c1~x1", interface="PJSIP/1002", timeout_s=20)]
    out = acd.handle(TransferUpdate(call_id="c1", event=E.TARGET_ANSWERED), T0 + 14)
    assert out == [Publish("transfer.consulting", {**ids, "state": "consulting", "rule": "R-XFER-CONFIRM"}),
                   Consult(call_id="c1", transfer_id="c1~x1")]
    out = acd.handle(TransferCommand(call_id="c1", command="complete", request_id="r2"), T0 + 20)
    assert out[0] == Publish("transfer.completed", {**ids, "state": "completed", "rule": "R-XFER-CONFIRM"})
    assert out[2] == TransferResult(request_id="r2", call_id="c1", ok=True, transfer_id="c1~x1", state="completed")
    assert acd.drain_facts() == [
        ("c1", TimelineEntry(at=T0 + 10, fact=Fact.TRANSFER, agent="1001",
                             detail={"state": "requested", "target": "1002", "kind": "agent"})),
        ("c1", TimelineEntry(at=T0 + 11, fact=Fact.TRANSFER, agent="1001",
                             detail={"state": "target_ringing", "reason": ""})),
        ("c1", TimelineEntry(at=T0 + 14, fact=Fact.TRANSFER, agent="1001",
                             detail={"state": "consulting", "reason": ""})),
        ("c1", TimelineEntry(at=T0 + 20, fact=Fact.TRANSFER, agent="1001",
                             detail={"state": "completed", "reason": "", "target_agent": "1002"}))]
    # a second transfer of the same call gets the next number
    out = acd.handle(TransferRequest(call_id="c1", target="1001", request_id="r3"), T0 + 30)
    assert of(out, TransferResult)[0].transfer_id == "c1~x2"


def test_transfer_targets_queue_prefix_and_extension_lengths():
    acd = connected()
    out = acd.handle(TransferRequest(call_id="c1", target="queue:sales", source="dtmf"), T0 + 10)
    assert of(out, Publish)[0].fields["kind"] == "queue" and of(out, Publish)[0].fields["target"] == "sales"
    for ext, ok in (("1", False), ("12", True), ("123456789012345", True), ("1234567890123456", False)):
        acd = connected()
        [res] = of(acd.handle(TransferRequest(call_id="c1", target=ext), T0 + 10), TransferResult)
        assert res.ok is ok, ext
        if ok:
            [dial] = of(acd.handle(TransferUpdate(call_id="c1", event=E.CALLER_HELD), T0 + 11), DialTarget)
            assert dial.interface == f"PJSIP/{ext}"


def test_transfer_refused_action_by_action():
    acd = connected()
    out = acd.handle(TransferRequest(call_id="nope", target="1002", source="dtmf", request_id="r9"), T0 + 10)
    assert out == [Publish("transfer.refused", {"call_id": "nope", "target": "1002", "source": "dtmf",
                                                "reason": "the call is not connected to an agent"}),
                   TransferResult(request_id="r9", call_id="nope", ok=False,
                                  message="the call is not connected to an agent")]


def test_transfer_failure_paths_action_by_action():
    ids = {"call_id": "c1", "transfer_id": "c1~x1", "agent": "1001", "target": "1002", "rule": "R-XFER-CONFIRM"}
    acd = connected()
    assert acd.handle(TransferCommand(call_id="c1", command="complete", request_id="k0"), T0 + 9) == [
        TransferResult(request_id="k0", call_id="c1", ok=False, message="no transfer in progress", state="none")]
    start(acd)
    for command in ("complete", "explode"):
        assert acd.handle(TransferCommand(call_id="c1", command=command, request_id="k1"), T0 + 12) == [
            TransferResult(request_id="k1", call_id="c1", ok=False, message=f"cannot {command} while target_ringing",
                           state="target_ringing")]
    assert acd.get_timer() == T0 + 26  # dialled at T0 + 11, ring target 15 s
    assert acd.handle_timer(T0 + 26) == [
        Publish("transfer.target_failed", {**ids, "state": "target_failed", "reason": "ring_target"}),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="target_failed", prompts=("hold-sorry",))]
    assert (acd.agents["1002"].state, acd.agents["1001"].state) == (AgentState.AVAILABLE, AgentState.ON_CALL)
    # the agent hangs up before the target answered: the caller is back at the head of the line
    acd = connected()
    start(acd)
    out = acd.handle(TransferUpdate(call_id="c1", event=E.AGENT_HANGUP), T0 + 12)
    assert out[:2] == [Publish("transfer.requeued", {**ids, "state": "requeued"}),
                       EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="requeued")]
    assert acd.agents["1002"].state == AgentState.AVAILABLE and acd.agents["1002"].call_id is None
    assert acd.calls["c1"].head and acd.calls["c1"].answered_at is None
    # cancelled while consulting: the target is freed, the caller back with the agent
    acd = connected()
    consulting(acd)
    assert acd.handle(TransferCommand(call_id="c1", command="cancel", request_id="k2"), T0 + 20) == [
        Publish("transfer.cancelled", {**ids, "state": "cancelled"}),
        EndTransfer(call_id="c1", transfer_id="c1~x1", outcome="cancelled", prompts=("hold-sorry",)),
        TransferResult(request_id="k2", call_id="c1", ok=True, transfer_id="c1~x1", state="cancelled")]
    assert (acd.agents["1002"].state, acd.agents["1001"].state) == (AgentState.AVAILABLE, AgentState.ON_CALL)
