"""R-CB, R-VM-CHECK: the duty agent's callback call, agent first.

The callbacks core (``core/callbacks.py``) decides; this flow carries out one call to one agent:

1. ``dial()`` rings the agent's phone (``CallDutyAgent``). No answer → ``DutyCallEnded`` (a missed
   check: the core calls again when the agent is free).
2. On answer the agent hears how many messages wait (``callback-intro`` + the count), and the core
   is told ``DutyAnswered``; it sends ``DialCustomer`` for one task at a time.
3. For each: the agent hears when the voicemail was left and the caller number's last four digits
   (``DialCustomer.left``: "这条留言的时间是十二月七日八时四十五分，来电号码尾号幺二三四", so the reply
   "您上次(*月*日)咨询的…" can be said), then the voicemail (``recording:<name>``, a playback of its own on the
   agent's channel; ``#`` skips it), then ``callback-dialing``; the customer is dialled through the
   trunk with the outbound caller ID (only a number ``core/numbers.py`` allows: else the task ends
   wrong_number with the alert ``callback.number_refused``, never dialled), the agent hears ringing,
   and on answer both are bridged (``mixing,dtmf_events``). The outcome goes back as
   ``AttemptResult``: reached when the customer answered (the agent's wrong-number key makes it
   wrong_number), else from the hang-up cause — busy (17, 21), no answer (18, 19, the ring time-out), failed (anything else).
4. ``EndDutyCall`` → ``callback-done``, then the agent's line is hung up.

Ids: the agent's channel is the call id ``cb-<agent>-<ms>``; the customer's legs ``<id>~c<n>``, the
bridge ``<id>~br``, playbacks ``<id>~pb<n>`` — all route to this flow (``call_key``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import structlog

from .. import faults
from ..ari import (
    AriClient, AriError, ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest, PlaybackFinished,
    StasisEnd, StasisStart,
)
from ..core import callbacks as cb
from ..core import numbers
from ..core import prompts
from ..core.keys import KeyReader
from ._cleanup import destroy_bridge, hangup

__all__ = ["DutyCall", "outcome_of"]

log = structlog.get_logger()

AGENT_RING_S = 30
_BUSY_CAUSES = frozenset({17, 21})  # user busy, call rejected
_NO_ANSWER_CAUSES = frozenset({0, 16, 18, 19})  # 16: we hung up at the ring time-out; 18/19: no answer


def outcome_of(cause: int) -> cb.Outcome:
    """R-CB: the outcome of a customer leg that ended before it was answered."""
    if cause in _BUSY_CAUSES:
        return cb.Outcome.BUSY
    if cause in _NO_ANSWER_CAUSES:
        return cb.Outcome.NO_ANSWER
    return cb.Outcome.FAILED


class DutyCall:
    def __init__(self, call_id: str, *, ari: AriClient, app: str, agent_id: str, interface: str,
                 task_count: int, report: Callable[[cb.Event], None], trunk: Any, wrong_number_key: str,
                 skip_key: str, clock: Callable[[], float] = time.time,
                 dial_patterns: Iterable[str] = numbers.DEFAULT_DIAL_PATTERNS,
                 publish: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.call_id = call_id
        self.dial_patterns, self.publish = numbers.compile_patterns(dial_patterns), publish
        self.ari, self.app, self.report, self.trunk, self.clock = ari, app, report, trunk, clock
        self.agent_id, self.interface, self.task_count = agent_id, interface, task_count
        self.skip_key = skip_key
        self.keys = KeyReader(codes={"wrong_number": wrong_number_key}, takes_argument=frozenset())
        self.bridge_id = f"{call_id}~br"
        self.answered = False
        self.finished = False
        self.ended_reported = False
        self.stage = "ringing"  # ringing | intro | idle | message | dialing | customer_ringing | talking | done
        self._pending: list[cb.DialCustomer | cb.EndDutyCall] = []  # core actions waiting for the agent
        self.current: cb.DialCustomer | None = None
        self.customer: str | None = None
        self.customer_answered = False
        self.wrong_number = False
        self._legs = 0
        self._pb: str | None = None
        self._pb_purpose = ""
        self._pb_seq = 0
        self._ringtone: str | None = None
        self._bridge_made = False

    # -- the agent ----------------------------------------------------------------------------------
    async def dial(self) -> bool:
        try:
            await self.ari.originate(self.interface, app=self.app, app_args=f"callback,{self.agent_id}",
                                     channel_id=self.call_id, timeout_s=AGENT_RING_S,
                                     caller_id=f"callbacks <{self.agent_id}>")
        except AriError as e:
            log.warning("callback.agent_dial_failed", agent=self.agent_id, interface=self.interface, error=str(e),
                        rule="R-VM-CHECK")
            self._ended("dial_failed")
            return False
        log.info("callback.agent_ringing", agent=self.agent_id, interface=self.interface, tasks=self.task_count,
                 rule="R-VM-CHECK")
        return True

    async def on_event(self, ev: Any) -> None:
        match ev:
            case StasisStart(channel=ch) if ch.id == self.call_id:
                self.answered = True
                log.info("callback.agent_answered", agent=self.agent_id, rule="R-VM-CHECK")
                self.report(cb.DutyAnswered(agent_id=self.agent_id))
                await self._play("intro", prompts.callback_intro(self.task_count))  # 十二 (Mandarin numerals)
            case StasisStart(channel=ch) if ch.id == self.customer:
                await self._customer_answered()
            case PlaybackFinished(playback=pb) if pb.id == self._pb:
                self._pb = None
                await self._played(self._pb_purpose, pb.media_uri)
            case ChannelDtmfReceived(channel=ch, digit=digit) if ch.id == self.call_id:
                await self._agent_key(digit)
            case ChannelDestroyed(channel=ch, cause=cause) if ch.id == self.customer:
                await self._customer_gone(cause)
            case ChannelHangupRequest(channel=ch) | ChannelDestroyed(channel=ch) | StasisEnd(channel=ch) if (
                    ch.id == self.call_id):
                await self._agent_gone("agent_hangup" if self.answered else "no_answer")

    async def do(self, action: cb.DialCustomer | cb.EndDutyCall) -> None:
        """A core action for this agent, run when the agent is free for it."""
        self._pending.append(action)
        if self.stage == "idle":
            await self._next()

    async def _next(self) -> None:
        if not self._pending or self.stage == "done":
            return
        action = self._pending.pop(0)
        if isinstance(action, cb.EndDutyCall):
            await self._play("done", ["callback-done"])
            return
        self.current, self.wrong_number, self.customer_answered = action, False, False
        log.info("callback.task", task_id=action.task_id, agent=self.agent_id, attempt=action.attempt,
                 rule="R-CB")
        if action.recording:  # R-CB: when it was left and the number's tail (issue 18), then the message
            await self._play("intro-message", [*action.left, "callback-message"])
        else:  # a follow-up (回访) has no voicemail
            await self._play("dialing", ["callback-dialing"])

    async def _played(self, purpose: str, media_uri: str) -> None:
        if self.stage == "done" and purpose != "done":
            return
        match purpose:
            case "intro":
                self.stage = "idle"
                await self._next()
            case "intro-message":
                assert self.current is not None
                await self._play_media("message", [f"recording:{self.current.recording}"])
            case "message":
                log.info("callback.message_played", task_id=self.current.task_id if self.current else None,
                         media=media_uri, rule="R-CB")
                await self._play("dialing", ["callback-dialing"])
            case "dialing":
                await self._dial_customer()
            case "not-reached":
                self.stage = "idle"
                await self._next()
            case "done":
                await hangup(self.ari, self.call_id)

    async def _agent_key(self, digit: str) -> None:
        if self.stage == "message" and digit == self.skip_key and self._pb is not None:
            log.info("callback.message_skipped", task_id=self.current.task_id if self.current else None)
            await self._stop_playback()
            await self._play("dialing", ["callback-dialing"])
            return
        if self.stage in ("customer_ringing", "talking") and self.keys.feed(digit, self.clock()) is not None:
            self.wrong_number = True  # R-CB: the agent marks a wrong number; the customer leg ends
            log.info("callback.wrong_number_key", task_id=self.current.task_id if self.current else None,
                     rule="R-CB")
            if self.customer:
                await hangup(self.ari, self.customer)

    # -- the customer --------------------------------------------------------------------------------
    async def _dial_customer(self) -> None:
        action = self.current
        assert action is not None
        if not action.caller or self.trunk is None:
            reason = "no_number" if not action.caller else "no_trunk"
            log.warning("callback.cannot_dial", task_id=action.task_id, reason=reason, rule="R-CB")
            self._result(cb.Outcome.WRONG_NUMBER if not action.caller else cb.Outcome.FAILED)
            await self._play("not-reached", ["callback-not-reached"])
            return
        _, refused = numbers.callback_number(action.caller, self.dial_patterns)
        if refused:  # issue 17: never dialled; the task is kept (wrong_number, its voicemail heard) and flagged
            fields = {"task_id": action.task_id, "agent": self.agent_id, "reason": refused, "rule": "R-CB"}
            if self.publish is not None:
                self.publish("callback.number_refused", fields)  # an alert (events/bus.py ALERTS)
            else:
                log.warning("callback.number_refused", **fields)
            self._result(cb.Outcome.WRONG_NUMBER)
            await self._play("not-reached", ["callback-not-reached"])
            return
        self._legs += 1
        self.customer = f"{self.call_id}~c{self._legs}"
        self.stage = "customer_ringing"
        try:
            await self.ari.originate(self.trunk.endpoint(action.caller), app=self.app, app_args="callback-customer",
                                     channel_id=self.customer, timeout_s=int(self.trunk.timeout_s),
                                     caller_id=self.trunk.caller_id or None)
        except AriError as e:
            log.warning("callback.customer_dial_failed", task_id=action.task_id, error=str(e), rule="R-CB")
            self.customer = None
            self._result(cb.Outcome.FAILED)
            await self._play("not-reached", ["callback-not-reached"])
            return
        log.info("callback.dialling", task_id=action.task_id, attempt=action.attempt, leg=self.customer,
                 rule="R-CB")
        await self._ring_agent(True)
        faults.hit("cb.during_call")

    async def _customer_answered(self) -> None:
        await self._ring_agent(False)
        self.customer_answered, self.stage = True, "talking"
        try:
            if not self._bridge_made:
                await self.ari.create_bridge(self.bridge_id)
                self._bridge_made = True
            await self.ari.add_channel(self.bridge_id, [self.call_id, self.customer or ""])
        except AriError as e:
            log.warning("callback.bridge_failed", error=str(e), rule="R-CB")
            if self.customer:
                await hangup(self.ari, self.customer)
            return
        log.info("callback.connected", task_id=self.current.task_id if self.current else None,
                 agent=self.agent_id, rule="R-CB")

    async def _customer_gone(self, cause: int) -> None:
        self.customer = None
        await self._ring_agent(False)
        if self.current is None:
            return
        if self.customer_answered:
            outcome = cb.Outcome.WRONG_NUMBER if self.wrong_number else cb.Outcome.REACHED
        else:
            outcome = cb.Outcome.WRONG_NUMBER if self.wrong_number else outcome_of(cause)
        log.info("callback.customer_ended", task_id=self.current.task_id, outcome=outcome.value, cause=cause,
                 rule="R-CB")
        answered = self.customer_answered
        self._result(outcome)
        if self.stage == "done":
            return
        if answered:
            try:
                await self.ari.remove_channel(self.bridge_id, self.call_id)
            except AriError:
                pass
            self.stage = "idle"
            await self._next()
        else:
            await self._play("not-reached", ["callback-not-reached"])

    def _result(self, outcome: cb.Outcome) -> None:
        if self.current is not None:
            self.report(cb.AttemptResult(task_id=self.current.task_id, outcome=outcome))
            self.current = None

    # -- the end ------------------------------------------------------------------------------------------
    async def _agent_gone(self, reason: str) -> None:
        if self.stage == "done" and self.finished:
            return
        self.stage = "done"
        if self.customer is not None:
            leg, self.customer = self.customer, None
            await hangup(self.ari, leg)
            if self.customer_answered:  # the customer was reached; unanswered: back to open, no attempt
                self._result(cb.Outcome.WRONG_NUMBER if self.wrong_number else cb.Outcome.REACHED)
        if self._bridge_made:
            await destroy_bridge(self.ari, self.bridge_id)
        self._ended(reason)
        self.finished = True

    def _ended(self, reason: str) -> None:
        if not self.ended_reported:
            self.ended_reported = True
            log.info("callback.call_ended", agent=self.agent_id, reason=reason, rule="R-VM-CHECK")
            self.report(cb.DutyCallEnded(agent_id=self.agent_id, reason=reason))

    def lost(self) -> None:
        """ARI reconnected: resync hangs the channels up; the core hears the call ended."""
        self.stage = "done"
        self._ended("ari_reconnected")
        self.finished = True

    # -- media ----------------------------------------------------------------------------------------
    async def _play(self, purpose: str, ids: list[str]) -> None:
        await self._play_media(purpose, [prompts.media(p) for p in ids])

    async def _play_media(self, purpose: str, media: list[str]) -> None:
        if purpose != "done":
            self.stage = {"intro-message": "message-intro", "not-reached": "not-reached"}.get(purpose, purpose)
        self._pb_seq += 1
        self._pb, self._pb_purpose = f"{self.call_id}~pb{self._pb_seq}", purpose
        try:
            await self.ari.play(self.call_id, media, playback_id=self._pb)
        except AriError as e:
            log.warning("callback.playback_failed", purpose=purpose, error=str(e))
            self._pb = None
            await self._played(purpose, "")  # "done" hangs up the agent's line

    async def _stop_playback(self) -> None:
        pb, self._pb = self._pb, None
        if pb is not None:
            try:
                await self.ari.stop_playback(pb)
            except AriError:
                pass

    async def _ring_agent(self, on: bool) -> None:
        """The agent hears ringing while the customer's phone rings."""
        try:
            if on and self._ringtone is None:
                self._ringtone = f"{self.call_id}~ring{self._legs}"
                await self.ari.play(self.call_id, prompts.RINGBACK, playback_id=self._ringtone)
            elif not on and self._ringtone is not None:
                tone, self._ringtone = self._ringtone, None
                await self.ari.stop_playback(tone)
        except AriError:
            self._ringtone = None
