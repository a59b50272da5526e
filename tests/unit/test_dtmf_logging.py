"""issue 17 item 6: keys pressed are logged, but not which, outside the service's own key map.

Old code: every digit was logged in clear (``call.dtmf digit=4``), so a card number a caller typed
during a call could be rebuilt from the log; ``call.key_ignored`` published the digit too."""

from structlog.testing import capture_logs

from test_flow_recording import CALL, Harness

from ari_app.ari import Channel, ChannelDtmfReceived
from ari_app.core import acd
from ari_app.core.acd import Acd, AgentCommand, CallArrived, CallerKey, OfferAnswered, Publish, QueueRules
from ari_app.core.agents import Agent

T0 = 1_795_000_000.0


def dtmf(channel: str, digit: str) -> ChannelDtmfReceived:
    return ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=channel), digit=digit)


def logged(cap: list[dict]) -> list[tuple[str, str]]:
    return [(e["role"], e["digit"]) for e in cap if e["event"] == "call.dtmf"]


async def test_a_waiting_caller_s_own_keys_show_and_every_other_key_is_masked():
    h = Harness(recording=False)
    h.flow.caller_keys = frozenset({"1", "2"})
    await h.start()
    card = "6222021234567890"
    with capture_logs() as cap:
        for d in "15#2*":  # while waiting, 1 and 2 are commands (voicemail, keep my place)
            await h.ev(dtmf(CALL, d))
    assert logged(cap) == [("caller", "1"), ("caller", "masked"), ("caller", "masked"), ("caller", "2"),
                           ("caller", "masked")]
    assert [r.digit for r in h.reported if isinstance(r, acd.CallerKey)] == list("15#2*")  # all still read

    await h.connect()
    leg = h.flow.connected_leg
    with capture_logs() as cap:
        for d in card:  # the caller types a card number while talking: nothing of it in the log
            await h.ev(dtmf(CALL, d))
        for d in "##2002#*1":  # the agent's transfer keys: * and # show, the digits do not
            await h.ev(dtmf(leg, d))
    assert logged(cap) == [("caller", "masked")] * len(card) + [
        ("agent", "#"), ("agent", "#"), ("agent", "masked"), ("agent", "masked"), ("agent", "masked"),
        ("agent", "masked"), ("agent", "#"), ("agent", "*"), ("agent", "masked")]
    assert not any(card[i:i + 4] in str(e) for e in cap for i in range(len(card) - 3))


def test_a_key_the_queue_ignores_is_published_masked():
    a = Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20, keep_place_key="2",
                        voicemail_key="1")], [Agent(agent_id="1001", interface="PJSIP/1001", queues=("support",))])
    a.handle(AgentCommand(agent_id="1001", command="login"), T0 - 100)
    a.handle(CallArrived(call_id="c0", queue="support", entered_at=T0 - 50), T0 - 50)
    a.handle(OfferAnswered(call_id="c0", agent_id="1001"), T0 - 49)
    a.handle(CallArrived(call_id="b", queue="support", entered_at=T0), T0)
    ignored = [a.handle(CallerKey(call_id="b", digit=d), T0 + 1 + n) for n, d in enumerate("71")]
    assert ignored == [[Publish("call.key_ignored", {"call_id": "b", "digit": "masked"})],
                       [Publish("call.key_ignored", {"call_id": "b", "digit": "1"})]]  # 1: voicemail, not offered yet
