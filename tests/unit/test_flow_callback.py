"""R-CB, R-VM-CHECK: the duty agent's callback call (flows/callback.py) against a fake ARI; no Asterisk."""

from typing import Any

import pytest

from ari_app.ari import (
    AriBadRequest, AriHTTPError, AriNotFound, Bridge, Channel, ChannelDestroyed, ChannelDtmfReceived,
    ChannelHangupRequest, Playback, PlaybackFinished, StasisEnd, StasisStart,
)
from ari_app.config import TrunkConfig
from ari_app.core import callbacks as cb
from ari_app.core import numbers, prompts
from ari_app.flows.callback import AGENT_RING_S, DutyCall, outcome_of

CALL = "cb-1001-1741000000000"
AGENT = "1001"
CUST = "13800135678"
C1, C2, BR = f"{CALL}~c1", f"{CALL}~c2", f"{CALL}~br"
TRUNK = TrunkConfig(dial="PJSIP/{number}@trunk", caller_id="4008001234", timeout_s=25.0, prefix="0")


def snd(p: str) -> str:
    return f"sound:callcenter/{p}"


class FakeAri:
    """Records every call as (method, args, kwargs); ``fail[method]`` is raised by that method (once)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}

    def _call(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))
        if name in self.fail:
            raise self.fail.pop(name)

    async def originate(self, endpoint: str, **kw: Any) -> Channel:
        self._call("originate", endpoint, **kw)
        return Channel(id=kw.get("channel_id") or "x")

    async def play(self, channel_id: str, media: Any, playback_id: str | None = None) -> Playback:
        self._call("play", channel_id, media, playback_id=playback_id)
        return Playback(id=playback_id or "pb")

    async def stop_playback(self, playback_id: str) -> None:
        self._call("stop_playback", playback_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self._call("hangup", channel_id)

    async def create_bridge(self, bridge_id: str | None = None, **kw: Any) -> Bridge:
        self._call("create_bridge", bridge_id, **kw)
        return Bridge(id=bridge_id or "br")

    async def add_channel(self, bridge_id: str, channel_ids: Any, **kw: Any) -> None:
        self._call("add_channel", bridge_id, channel_ids, **kw)

    async def remove_channel(self, bridge_id: str, channel_ids: Any) -> None:
        self._call("remove_channel", bridge_id, channel_ids)

    async def destroy_bridge(self, bridge_id: str) -> None:
        self._call("destroy_bridge", bridge_id)

    def since(self, n: int) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        return self.calls[n:]


def play(media: list[str] | str, n: int) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("play", (CALL, media), {"playback_id": f"{CALL}~pb{n}"})


def ring(leg: int = 1) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("play", (CALL, prompts.RINGBACK), {"playback_id": f"{CALL}~ring{leg}"})  # China's cadence


def dial_customer(leg: str = C1, number: str = CUST) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("originate", (f"PJSIP/0{number}@trunk",), {"app": "callcenter", "app_args": "callback-customer",
                                                      "channel_id": leg, "timeout_s": 25,
                                                      "caller_id": "4008001234"})


def finished(pb: str) -> PlaybackFinished:
    return PlaybackFinished(type="PlaybackFinished", playback=Playback(id=pb, media_uri="x"))


def pbf(n: int) -> PlaybackFinished:
    return finished(f"{CALL}~pb{n}")


def start(ch: str) -> StasisStart:
    return StasisStart(type="StasisStart", channel=Channel(id=ch), args=("callback",))


def destroyed(ch: str, cause: int = 16) -> ChannelDestroyed:
    return ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=ch), cause=cause)


def dtmf(digit: str, ch: str = CALL) -> ChannelDtmfReceived:
    return ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=ch), digit=digit)


def task(task_id: str = "t1", caller: str = CUST, recording: str = "callcenter/t1", attempt: int = 1
         ) -> cb.DialCustomer:
    return cb.DialCustomer(task_id=task_id, agent_id=AGENT, caller=caller, recording=recording,
                           attempt=attempt)


class Harness:
    def __init__(self, *, task_count: int = 2, trunk: Any = TRUNK) -> None:
        self.ari = FakeAri()
        self.reports: list[cb.Event] = []
        self.now = 1000.0
        self.call = DutyCall(CALL, ari=self.ari, app="callcenter", agent_id=AGENT, interface="PJSIP/1001",
                             task_count=task_count, report=self.reports.append, trunk=trunk,
                             wrong_number_key="*3", skip_key="#", clock=lambda: self.now)

    async def ev(self, *events: Any) -> None:
        for e in events:
            await self.call.on_event(e)

    async def answered(self) -> None:
        """The agent answered and heard the intro (pb1): idle."""
        assert await self.call.dial()
        await self.ev(start(CALL), pbf(1))
        assert self.call.stage == "idle"
        self.reports.clear()
        self.ari.calls.clear()

    async def ringing(self, t: cb.DialCustomer | None = None, first_pb: int = 2) -> None:
        """A task with a voicemail: message intro, the message, dialling prompt; the customer rings."""
        await self.call.do(t or task())
        await self.ev(pbf(first_pb), pbf(first_pb + 1), pbf(first_pb + 2))
        assert self.call.stage == "customer_ringing"

    def results(self) -> list[cb.Event]:
        return [r for r in self.reports if isinstance(r, cb.AttemptResult)]

    def ended(self) -> list[cb.Event]:
        return [r for r in self.reports if isinstance(r, cb.DutyCallEnded)]


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- outcomes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cause,outcome", [
    (17, cb.Outcome.BUSY), (21, cb.Outcome.BUSY),
    (0, cb.Outcome.NO_ANSWER), (16, cb.Outcome.NO_ANSWER),
    (18, cb.Outcome.NO_ANSWER), (19, cb.Outcome.NO_ANSWER),
    (1, cb.Outcome.FAILED), (3, cb.Outcome.FAILED), (20, cb.Outcome.FAILED), (27, cb.Outcome.FAILED),
    (34, cb.Outcome.FAILED), (38, cb.Outcome.FAILED), (127, cb.Outcome.FAILED),
])
def test_outcome_of_cause(cause, outcome):
    assert outcome_of(cause) is outcome


# -- the agent -----------------------------------------------------------------------------------------------
async def test_dial_rings_the_agent(h):
    assert await h.call.dial() is True
    assert h.ari.calls == [("originate", ("PJSIP/1001",), {
        "app": "callcenter", "app_args": "callback,1001", "channel_id": CALL, "timeout_s": AGENT_RING_S,
        "caller_id": "callbacks <1001>"})]
    assert h.reports == []


async def test_dial_failure_reports_the_end_once(h):
    h.ari.fail["originate"] = AriBadRequest(400, "POST", "/channels", "Allocation failed")
    assert await h.call.dial() is False
    await h.ev(destroyed(CALL))
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="dial_failed")]


async def test_agent_not_answering_ends_the_call(h):
    await h.call.dial()
    await h.ev(ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=CALL)),
               destroyed(CALL, 19))
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="no_answer")]
    assert h.call.finished and not h.call.answered
    assert len(h.ari.calls) == 1  # nothing to hang up, no bridge


@pytest.mark.parametrize("count,media", [(1, ["count-1"]), (2, ["digit-2"]), (12, ["num-10", "digit-2"]),  # 十二
                                         (12345, prompts.number(prompts.MAX_NUMBER))])  # clamped by the core
async def test_answer_reports_and_plays_the_intro_with_the_count(count, media):
    h = Harness(task_count=count)
    await h.call.dial()
    await h.ev(start(CALL))
    assert h.reports == [cb.DutyAnswered(agent_id=AGENT)]
    assert h.ari.since(1) == [play([snd("callback-intro"), *map(snd, media)], 1)]
    assert h.call.stage == "intro"
    await h.ev(pbf(1))
    assert h.call.stage == "idle" and len(h.ari.calls) == 2


async def test_an_action_sent_during_the_intro_waits_for_it(h):
    await h.call.dial()
    await h.ev(start(CALL))
    await h.call.do(task())
    assert len(h.ari.calls) == 2  # only the intro so far
    await h.ev(pbf(1))
    assert h.ari.calls[-1] == play([snd("callback-message")], 2)


# -- one task ------------------------------------------------------------------------------------------------
async def test_message_then_dialling_then_bridge_then_reached(h):
    await h.answered()
    await h.call.do(task())
    assert h.ari.calls == [play([snd("callback-message")], 2)]
    await h.ev(pbf(2))
    assert h.ari.since(1) == [play(["recording:callcenter/t1"], 3)]
    assert h.call.stage == "message"
    await h.ev(pbf(3))
    assert h.ari.since(2) == [play([snd("callback-dialing")], 4)]
    await h.ev(pbf(4))
    assert h.ari.since(3) == [dial_customer(), ring(1)]
    assert h.call.stage == "customer_ringing" and h.call.customer == C1

    await h.ev(start(C1))
    assert h.ari.since(5) == [("stop_playback", (f"{CALL}~ring1",), {}), ("create_bridge", (BR,), {}),
                              ("add_channel", (BR, [CALL, C1]), {})]
    assert h.call.stage == "talking"
    await h.ev(finished(f"{CALL}~ring1"))  # the stopped ring tone: ignored
    assert len(h.ari.calls) == 8
    assert h.results() == []

    await h.ev(ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=C1)), destroyed(C1, 16))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.REACHED)]
    assert h.ari.since(8) == [("remove_channel", (BR, CALL), {})]
    assert h.call.stage == "idle" and h.call.current is None
    assert h.ended() == []


async def test_skip_key_during_the_message_goes_to_dialling(h):
    await h.answered()
    await h.call.do(task())
    await h.ev(dtmf("#"))  # during the "callback-message" prompt: not the message yet, ignored
    assert h.ari.calls == [play([snd("callback-message")], 2)]
    await h.ev(pbf(2), dtmf("#"))
    assert h.ari.since(1) == [play(["recording:callcenter/t1"], 3), ("stop_playback", (f"{CALL}~pb3",), {}),
                              play([snd("callback-dialing")], 4)]
    await h.ev(pbf(3))  # the stopped message reports its end: ignored
    assert len(h.ari.calls) == 4
    await h.ev(pbf(4))
    assert h.ari.since(4) == [dial_customer(), ring(1)]


async def test_other_keys_during_the_message_do_nothing(h):
    await h.answered()
    await h.call.do(task())
    await h.ev(pbf(2), dtmf("1"), dtmf("*"), dtmf("3"))
    assert h.ari.calls == [play([snd("callback-message")], 2), play(["recording:callcenter/t1"], 3)]


async def test_a_followup_without_a_recording_dials_after_the_dialling_prompt(h):
    await h.answered()
    await h.call.do(task(recording=""))
    assert h.ari.calls == [play([snd("callback-dialing")], 2)]
    await h.ev(pbf(2))
    assert h.ari.since(1) == [dial_customer(), ring(1)]


@pytest.mark.parametrize("cause,outcome", [(17, cb.Outcome.BUSY), (21, cb.Outcome.BUSY),
                                           (19, cb.Outcome.NO_ANSWER), (16, cb.Outcome.NO_ANSWER),
                                           (34, cb.Outcome.FAILED)])
async def test_customer_not_reached(h, cause, outcome):
    await h.answered()
    await h.ringing()
    n = len(h.ari.calls)
    await h.ev(destroyed(C1, cause))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=outcome)]
    assert h.ari.since(n) == [("stop_playback", (f"{CALL}~ring1",), {}),
                              play([snd("callback-not-reached")], 5)]
    assert h.call.stage == "not-reached"
    await h.ev(pbf(5))
    assert h.call.stage == "idle" and len(h.ari.calls) == n + 2


async def test_the_next_task_waits_for_the_not_reached_prompt_and_uses_a_new_leg(h):
    await h.answered()
    await h.ringing()
    await h.call.do(task("t2", caller="13900001111", recording="callcenter/t2", attempt=2))
    await h.ev(destroyed(C1, 17))
    assert h.call.stage == "not-reached"
    n = len(h.ari.calls)
    await h.ev(pbf(5))
    assert h.ari.since(n) == [play([snd("callback-message")], 6)]
    await h.ev(pbf(6), pbf(7), pbf(8))
    assert h.ari.since(n + 1) == [play(["recording:callcenter/t2"], 7), play([snd("callback-dialing")], 8),
                                  dial_customer(C2, "13900001111"), ring(2)]
    await h.ev(destroyed(C1, 16))  # a late event of the first leg: not this task's
    await h.ev(destroyed(C2, 18))
    assert h.results() == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.BUSY),
                           cb.AttemptResult(task_id="t2", outcome=cb.Outcome.NO_ANSWER)]


async def test_the_second_answered_task_reuses_the_bridge(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1), destroyed(C1))
    n = len(h.ari.calls)
    await h.ringing(task("t2", recording=""), first_pb=5)
    await h.ev(start(C2))
    assert [c for c in h.ari.since(n) if c[0] in ("create_bridge", "add_channel")] == [
        ("add_channel", (BR, [CALL, C2]), {})]
    await h.ev(destroyed(C2))
    assert h.results() == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.REACHED),
                           cb.AttemptResult(task_id="t2", outcome=cb.Outcome.REACHED)]


async def test_wrong_number_key_while_talking(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1))
    n = len(h.ari.calls)
    await h.ev(dtmf("*"))
    assert len(h.ari.calls) == n
    await h.ev(dtmf("3"))
    assert h.ari.since(n) == [("hangup", (C1,), {})]
    await h.ev(destroyed(C1, 16))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.WRONG_NUMBER)]
    assert h.ari.calls[-1] == ("remove_channel", (BR, CALL), {})


async def test_wrong_number_key_while_ringing(h):
    await h.answered()
    await h.ringing()
    await h.ev(dtmf("*"), dtmf("3"))
    assert h.ari.calls[-1] == ("hangup", (C1,), {})
    await h.ev(destroyed(C1, 16))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.WRONG_NUMBER)]
    assert h.ari.calls[-1] == play([snd("callback-not-reached")], 5)


async def test_wrong_number_key_too_slow_is_not_read(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1), dtmf("*"))
    h.now += 10  # past the key reader's time-out
    n = len(h.ari.calls)
    await h.ev(dtmf("3"))
    assert len(h.ari.calls) == n
    await h.ev(destroyed(C1))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.REACHED)]


async def test_wrong_number_key_is_per_task(h):
    await h.answered()
    await h.ringing()
    await h.ev(dtmf("*"), dtmf("3"), destroyed(C1), pbf(5))
    await h.ringing(task("t2", recording=""), first_pb=6)
    await h.ev(start(C2), destroyed(C2))
    assert h.results()[-1] == cb.AttemptResult(task_id="t2", outcome=cb.Outcome.REACHED)


async def test_no_number_is_a_wrong_number_and_no_trunk_a_failure():
    h = Harness()
    await h.answered()
    await h.call.do(task(caller="", recording=""))
    await h.ev(pbf(2))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.WRONG_NUMBER)]
    assert h.ari.calls == [play([snd("callback-dialing")], 2), play([snd("callback-not-reached")], 3)]

    h = Harness(trunk=None)
    await h.answered()
    await h.call.do(task(recording=""))
    await h.ev(pbf(2))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.FAILED)]
    assert h.ari.calls == [play([snd("callback-dialing")], 2), play([snd("callback-not-reached")], 3)]


async def test_customer_originate_failure_is_a_failure(h):
    await h.answered()
    h.ari.fail["originate"] = AriHTTPError(500, "POST", "/channels", "boom")
    await h.call.do(task(recording=""))
    await h.ev(pbf(2))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.FAILED)]
    assert h.ari.since(1) == [dial_customer(), play([snd("callback-not-reached")], 3)]  # no ring tone
    assert h.call.customer is None


async def test_bridge_failure_hangs_the_customer_up(h):
    await h.answered()
    await h.ringing()
    h.ari.fail["add_channel"] = AriNotFound(404, "POST", f"/bridges/{BR}/addChannel", "Channel not found")
    n = len(h.ari.calls)
    await h.ev(start(C1))
    assert h.ari.since(n) == [("stop_playback", (f"{CALL}~ring1",), {}), ("create_bridge", (BR,), {}),
                              ("add_channel", (BR, [CALL, C1]), {}), ("hangup", (C1,), {})]


# -- the agent hangs up --------------------------------------------------------------------------------------
async def test_agent_hangup_while_the_customer_rings_returns_the_task(h):
    await h.answered()
    await h.ringing()
    n = len(h.ari.calls)
    await h.ev(ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=CALL)))
    assert h.ari.since(n) == [("hangup", (C1,), {})]
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]  # no AttemptResult
    await h.ev(destroyed(C1, 16), StasisEnd(type="StasisEnd", channel=Channel(id=CALL)), destroyed(CALL))
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]
    assert len(h.ari.calls) == n + 1 and h.call.finished


async def test_agent_hangup_while_talking_is_reached(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1))
    n = len(h.ari.calls)
    await h.ev(destroyed(CALL))
    assert h.ari.since(n) == [("hangup", (C1,), {}), ("destroy_bridge", (BR,), {})]
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.REACHED),
                         cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]
    await h.ev(destroyed(C1), StasisEnd(type="StasisEnd", channel=Channel(id=CALL)))
    assert len(h.reports) == 2 and len(h.ari.calls) == n + 2


async def test_agent_hangup_after_marking_a_wrong_number_while_talking(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1), dtmf("*"), dtmf("3"), destroyed(CALL))
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.WRONG_NUMBER),
                         cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]


async def test_agent_hangup_during_the_message_reports_no_attempt(h):
    await h.answered()
    await h.call.do(task())
    await h.ev(pbf(2), destroyed(CALL), pbf(3))
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]
    assert h.ari.calls == [play([snd("callback-message")], 2), play(["recording:callcenter/t1"], 3)]


async def test_agent_hangup_after_a_reached_task_destroys_the_bridge(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1), destroyed(C1))
    n = len(h.ari.calls)
    await h.ev(destroyed(CALL))
    assert h.ari.since(n) == [("destroy_bridge", (BR,), {})]
    assert h.ended() == [cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]


# -- the end -------------------------------------------------------------------------------------------------
async def test_end_duty_call_plays_done_then_hangs_up(h):
    await h.answered()
    await h.call.do(cb.EndDutyCall(team="support", agent_id=AGENT))
    assert h.ari.calls == [play([snd("callback-done")], 2)]
    await h.ev(pbf(2))
    assert h.ari.since(1) == [("hangup", (CALL,), {})]
    assert h.reports == []
    await h.ev(ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=CALL)), destroyed(CALL),
               StasisEnd(type="StasisEnd", channel=Channel(id=CALL)))
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="agent_hangup")]
    assert len(h.ari.calls) == 2


async def test_end_duty_call_waits_for_the_customer_call(h):
    await h.answered()
    await h.ringing()
    await h.ev(start(C1))
    await h.call.do(cb.EndDutyCall(team="support", agent_id=AGENT))
    assert h.ari.calls[-1] == ("add_channel", (BR, [CALL, C1]), {})
    await h.ev(destroyed(C1))
    assert h.ari.calls[-2:] == [("remove_channel", (BR, CALL), {}), play([snd("callback-done")], 5)]
    await h.ev(pbf(5))
    assert h.ari.calls[-1] == ("hangup", (CALL,), {})
    assert h.results() == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.REACHED)]


async def test_end_duty_call_hangs_up_even_if_the_done_prompt_fails(h):
    await h.answered()
    h.ari.fail["play"] = AriHTTPError(500, "POST", f"/channels/{CALL}/play", "boom")
    await h.call.do(cb.EndDutyCall(team="support", agent_id=AGENT))
    assert h.ari.calls[-1] == ("hangup", (CALL,), {})


async def test_lost_reports_the_end_once(h):
    await h.answered()
    await h.ringing()
    h.call.lost()
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="ari_reconnected")]
    assert h.call.finished and h.call.stage == "done"
    await h.ev(destroyed(CALL))  # (resync drops the flow from the router; its later events never reach it)
    assert h.reports == [cb.DutyCallEnded(agent_id=AGENT, reason="ari_reconnected")]


# -- issue 17 item 4: every dialled number is checked (core/numbers.py) ---------------------------------------
@pytest.mark.parametrize("caller", ["90012345678@from-agents/n", "13800135678&PJSIP/1002", "1380013567,8",
                                    "00441234567890", "4008001234", "95588", "1380013567\u00b2"])
async def test_a_refused_number_is_never_dialled_and_is_flagged(caller):
    """A voicemail or keep-my-place caller ID went into the trunk's dial string as it came
    ('Local/90012345678@from-agents/n@…' lands in from-agents); now: not dialled, the task ends
    wrong_number after the agent heard its message, and the alert names the task, not the number."""
    h = Harness()
    published: list[tuple[str, dict[str, Any]]] = []
    h.call.publish = lambda event, fields: published.append((event, fields))
    await h.answered()
    await h.call.do(task(caller=caller, recording=""))
    await h.ev(pbf(2))
    assert [c for c in h.ari.calls if c[0] == "originate"] == []
    assert h.reports == [cb.AttemptResult(task_id="t1", outcome=cb.Outcome.WRONG_NUMBER)]
    assert [e for e, _ in published] == ["callback.number_refused"]
    fields = published[0][1]
    assert fields["task_id"] == "t1" and fields["agent"] == AGENT and fields["reason"]
    assert caller not in repr(fields) and "1380013567" not in repr(fields)


async def test_an_allowed_number_is_dialled_in_its_national_form():
    h = Harness()
    await h.answered()
    await h.call.do(task(caller="+86 138-0013-5678", recording=""))
    await h.ev(pbf(2))
    assert h.ari.calls[1] == dial_customer(number=CUST)


async def test_the_config_patterns_decide():
    h = Harness()
    h.call.dial_patterns = numbers.compile_patterns([r"4008\d{6}"])
    await h.answered()
    await h.call.do(task(caller="4008001234", recording=""))
    await h.ev(pbf(2))
    assert h.ari.calls[1] == dial_customer(number="4008001234")
