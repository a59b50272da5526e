"""The inbound queue call, carried out through ARI.

R-RING (ring an agent's phone, stop ringing), R-HANGUP (who hung up first),
R-WAIT and R-WAITLIMIT (announcements to the waiting caller, the voicemail
key), R-GREET (greeting and agent ID before the bridge), R-HOURS and
R-WAITLIMIT's no-agent case (the caller diverted to a dialplan destination).
When the call ends the core starts the agent's wrap-up (R-WRAP).
R-QA (``[recording]``): the caller hears the recording notice as the call enters
the queue, before the hold music; from the first bridge with an agent the
caller's channel is recorded, one file across transfers (``flows.recording``).

One ``InboundCall`` per queue call. It receives, in order, the ARI events
of all the call's legs (caller, agent legs) and the core's actions for the
call, from one dispatcher key, so nothing about one call ever races.
It never decides: it reports facts to the core's inbox and performs what
the core returns.

Naming: the call id is the caller channel's id; every other object of the
call is named ``<call id>~<role>`` (``~a2`` = agent leg of attempt 2,
``~hold``, ``~talk``, ``~rec`` the recording's snoop), so any event can be routed by ``call_key()`` and a
restarted service finds a call's parts again (resync).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import parse_qsl, urlencode

import structlog

from ..ari import (
    AriClient, AriConflict, AriError, AriHTTPError, AriNotFound, Channel, ChannelDestroyed, ChannelDtmfReceived,
    ChannelHangupRequest, ChannelHold, ChannelTalkingStarted, ChannelTransfer, ChannelUnhold, Dial,
    PlaybackFinished, StasisEnd, StasisStart,
)
from ..core import acd, prompts
from ..core.keys import KeyReader
from ..core.transfer import TransferCommand, TransferResult, TransferUpdate, XferEvent
from ._cleanup import destroy_bridge, hangup
from .incall import InCallFlow
from .recording import CallRecorder
from .transfer import TransferFlow

__all__ = ["PACKED_TAGS", "TAGS", "CallCommand", "InboundCall", "LEG_SEP", "call_key", "pack_tags", "unpack_tags"]

log = structlog.get_logger()

LEG_SEP = "~"
MUSIC_RETRY_S = 0.2  # a second try at music on hold that Asterisk refused for a moment
# Channel variables the service tags each call's channels with (resync reads them).
TAGS = ("CC_CALL_ID", "CC_ROLE", "CC_QUEUE", "CC_ENTERED_AT", "CC_PRIORITY", "CC_AGENT", "CC_ANSWERED_AT")
# The caller's tags, all in this one variable (one REST request, not five): ``pack_tags``.
PACKED_TAGS = "CC_TAGS"


def pack_tags(tags: dict[str, str]) -> str:
    """``{"CC_CALL_ID": "c1", "CC_ROLE": "caller"}`` → ``CC_CALL_ID=c1&CC_ROLE=caller`` (values URL-quoted)."""
    return urlencode(tags)


def unpack_tags(text: str) -> dict[str, str]:
    """The inverse of ``pack_tags``; only names of ``TAGS``, anything else in the text is ignored."""
    return {k: v for k, v in parse_qsl(text, keep_blank_values=True) if k in TAGS}

# Hangup causes that mean the phone could not be reached at all (R-RING: agent.unreachable, not a miss).
UNREACHABLE_CAUSES = frozenset({1, 3, 17, 20, 27, 34, 38, 66})


def call_key(obj_id: str) -> str:
    return obj_id.partition(LEG_SEP)[0]


@dataclass(frozen=True, slots=True)
class CallCommand:
    """A core action for one call, queued behind that call's ARI events."""
    call_id: str
    action: acd.Action


@dataclass(slots=True)
class _Leg:
    agent_id: str
    attempt: int
    cancelled: bool = False  # we hung it up (ring target passed, caller left)
    answered: bool = False


class InboundCall(TransferFlow, InCallFlow):
    def __init__(self, call_id: str, *, ari: AriClient, report: Callable[[acd.Event], None], app: str,
                 moh_class: str, clock: Callable[[], float] = time.time, keys: KeyReader | None = None,
                 recorder: CallRecorder | None = None, notice: bool = False,
                 caller_keys: frozenset[str] = frozenset()) -> None:
        self.call_id = call_id
        self.caller_keys = caller_keys  # the caller's keys while waiting (voicemail, keep my place): logged
        self.recorder = recorder  # R-QA: None = calls are not recorded
        self.notice = notice  # R-QA: the recording notice as the call enters the queue
        self._over = False
        self.keys = keys  # the agent's in-call keys (transfer)
        self._abandoned = False  # the caller hung up during a transfer
        self._on_hold = False  # as the agent's hold key last left it
        self.ari, self.report, self.app, self.moh_class, self.clock = ari, report, app, moh_class, clock
        self.caller_number = ""
        self.legs: dict[str, _Leg] = {}
        self.hold_bridge = f"{call_id}{LEG_SEP}hold"
        self.talk_bridge = f"{call_id}{LEG_SEP}talk"
        self.connected_leg: str | None = None
        self.ended_by: str | None = None
        self.finished = False  # every channel and bridge of the call is gone
        self.playbacks: dict[str, str] = {}  # playback id -> purpose
        self._pb_seq = 0
        self._greeting: acd.Connect | None = None  # R-GREET in progress: bridge when both prompts are done
        self._greeted: bool | None = None  # the greeting played to its end
        self._divert: acd.Divert | None = None
        # Requests saved at teardown (load, issue 7): bridges this call may have made, and its
        # channels known to be hanging up or gone already.
        self._bridges: set[str] = set()
        self._ended: set[str] = set()

    # -- start -----------------------------------------------------------------
    async def start(self, caller: Channel, queue: str, priority: int, entered_at: float | None = None) -> None:
        """A caller entered Stasis from the queue extension: answer, hold with music, queue it."""
        self.caller_number = caller.caller_number
        entered = entered_at if entered_at is not None else self.clock()
        log.info("call.entered", queue=queue, caller=caller.caller_number, priority=priority)
        try:
            await self.ari.answer(self.call_id)
            await self.ari.set_var(self.call_id, PACKED_TAGS, pack_tags({
                "CC_CALL_ID": self.call_id, "CC_ROLE": "caller", "CC_QUEUE": queue, "CC_ENTERED_AT": f"{entered:.3f}",
                "CC_PRIORITY": str(priority)}))
            await self.hold(music=not self.notice)  # R-QA: the notice first, then the music
        except AriError as e:
            log.warning("call.setup_failed", error=str(e))
            await self._teardown()
            return
        if self.notice and not await self._play(self.call_id, ("recording-notice",), "recording-notice"):
            await self._hold_music()
        self.report(acd.CallArrived(call_id=self.call_id, queue=queue, priority=priority, entered_at=entered,
                                    resynced=entered_at is not None))

    @property
    def finished(self) -> bool:
        """Every channel and bridge of the call is gone, and its recording (R-QA) is closed."""
        return self._over and not (self.recorder is not None and self.recorder.open)

    @finished.setter
    def finished(self, value: bool) -> None:
        self._over = value

    async def hold(self, music: bool = True) -> None:
        """Caller into the call's holding bridge, with music on hold (``music=False``: not yet).

        A call's bridges live as long as the call: a bridge id destroyed and created again at
        once can be refused by Asterisk ("already exists", then "not found"), so the holding
        bridge is only made quiet while the caller talks (``quiet_hold``)."""
        await self.ensure_bridge(self.hold_bridge, "holding")
        await self.ari.add_channel(self.hold_bridge, self.call_id, role="participant")
        if music:
            await self._start_music()

    async def _start_music(self) -> None:
        """Music on hold in the holding bridge. Asterisk can refuse it for a moment ("Allocation failed":
        after a crash the bridge's old music channel is still registered while it goes away); the caller
        keeps the place in line either way, so a second refusal is logged, not raised (issue 7, fault 1)."""
        for attempt in (1, 2):
            try:
                await self.ari.bridge_start_moh(self.hold_bridge, self.moh_class)
                return
            except AriNotFound:
                raise  # the bridge or the caller is gone: the caller's hang-up ends the call
            except AriHTTPError as e:
                if attempt == 2:
                    log.warning("call.hold_music_failed", call_id=self.call_id, error=str(e))
                    return
                await asyncio.sleep(MUSIC_RETRY_S)

    async def _hold_music(self) -> None:
        """After the recording notice: the music, if the caller still waits in the holding bridge (asked for
        twice, as ``_start_music`` does). Nothing may raise into the event that ended the notice, so a bridge
        that is gone (the caller hung up; the hang-up ends the call) or an Asterisk away is logged too."""
        if (self.connected_leg is not None or self._greeting is not None or self._divert is not None
                or self.ended_by is not None or self._abandoned or self.xfer_id is not None):
            return
        try:
            await self._start_music()
        except AriError as e:
            log.warning("call.hold_music_failed", call_id=self.call_id, error=str(e))

    async def ensure_bridge(self, bridge_id: str, type: str = "mixing,dtmf_events") -> None:
        self._bridges.add(bridge_id)
        try:
            await self.ari.create_bridge(bridge_id, type=type, name=bridge_id)
        except AriConflict:
            pass  # the call made it before (it lives as long as the call), or resync found it

    async def quiet_hold(self) -> None:
        """Nobody waits in the holding bridge now: stop its music."""
        try:
            await self.ari.bridge_stop_moh(self.hold_bridge)
        except AriError:
            pass

    async def resume_recording(self, snoop: str | None, connected: bool) -> None:
        """Resync (R-QA): the call's recording goes on (never a second file); with recording turned off
        its snoop is hung up; a connected call that was not being recorded starts now."""
        if snoop is not None:
            if self.recorder is not None:
                self.recorder.adopt()
            else:
                await self._hangup(snoop)
        elif connected and self.recorder is not None:
            await self.recorder.start()

    def adopt_bridges(self, bridge_ids: Iterable[str]) -> None:
        """Resync: the call's bridges found in Asterisk (destroyed at its teardown)."""
        self._bridges.update(bridge_ids)

    def adopt_connected(self, agent_leg: str, agent_id: str) -> None:
        """Resync: the caller is already talking to ``agent_id`` on ``agent_leg``."""
        self.legs[agent_leg] = _Leg(agent_id=agent_id, attempt=0, answered=True)
        self.connected_leg = agent_leg

    # -- ARI events ----------------------------------------------------------------
    async def on_event(self, ev: object) -> None:
        if self.recorder is not None and await self.recorder.on_event(ev):
            return  # the recording's snoop channel and its recording (R-QA)
        if isinstance(ev, (ChannelHangupRequest, ChannelDestroyed)):
            self._ended.add(ev.channel.id)  # no DELETE for it at teardown
        match ev:
            case StasisStart(channel=ch) if ch.id == self.target_leg and self.target_leg is not None:
                self.target_answered = True
                self.report(TransferUpdate(call_id=self.call_id, event=XferEvent.TARGET_ANSWERED))
            case Dial(peer=ch, dialstatus=status) if ch.id == self.target_leg and self.target_leg is not None:
                self.xfer_dial_status(status)  # BUSY etc.: the leg is then destroyed with cause 0
            case ChannelTransfer(referred_by=by, refer_to=to, state=None):  # with a state: our progress echoed
                source = (by.get("source_channel") or {}).get("id")
                if source == self.connected_leg and self.xfer_id is None:
                    destination = str((to.get("requested_destination") or {}).get("destination") or "")
                    log.info("transfer.refer", destination=destination, channel=source)
                    await self.on_refer(destination)
            case StasisStart(channel=ch) if ch.id in self.legs:
                self._ended.discard(ch.id)  # alive: a late event of an earlier channel of that id is history
                leg = self.legs[ch.id]
                if leg.cancelled:
                    await self._hangup(ch.id)
                else:
                    leg.answered = True
                    self.report(acd.OfferAnswered(call_id=self.call_id, agent_id=leg.agent_id))
            case ChannelHangupRequest(channel=ch) | ChannelDestroyed(channel=ch) | StasisEnd(channel=ch):
                await self._gone(ch, getattr(ev, "cause", 0) or 0, getattr(ev, "cause_txt", "") or "")
            case ChannelDtmfReceived(channel=ch, digit=digit):
                role = "caller" if ch.id == self.call_id else "agent"
                agent = self.legs[ch.id].agent_id if ch.id in self.legs else None
                log.info("call.dtmf", digit=self._shown_key(role, digit), role=role, agent=agent, channel=ch.id)
                if role == "caller" and self.connected_leg is None and self._greeting is None:
                    self.report(acd.CallerKey(call_id=self.call_id, digit=digit))
                elif ch.id == self.connected_leg and self.keys is not None:
                    self._agent_key(digit)
            case ChannelHold(channel=ch) | ChannelUnhold(channel=ch) if ch.id == self.connected_leg:
                self._on_hold = isinstance(ev, ChannelHold)  # the phone's own hold key (re-INVITE)
                self.report(acd.HoldRequest(call_id=self.call_id, on=self._on_hold, source="phone"))
            case ChannelTalkingStarted(channel=ch) if ch.id == self.call_id:
                self.report(acd.CallerSpoke(call_id=self.call_id))
            case PlaybackFinished(playback=pb) if pb.id in self.playbacks:
                await self._playback_done(pb.id, self.playbacks.pop(pb.id), pb.state)

    def _shown_key(self, role: str, digit: str) -> str:
        """R-PRIVACY (issue 17): a key is logged only when it is one of the service's own keys — the caller's
        while waiting, the agent's ``*`` and ``#`` — else ``masked``: a card number typed during a call
        must not be rebuilt from the log."""
        if role == "caller":
            waiting = self.connected_leg is None and self._greeting is None
            return digit if waiting and digit in self.caller_keys else "masked"
        return digit if digit in ("*", "#") else "masked"

    def _agent_key(self, digit: str) -> None:
        command = self.keys.feed(digit, self.clock()) if self.keys else None
        if command is None:
            return
        name, arg = command
        log.info("call.agent_key", command=name, arg=arg)
        if name == "transfer":
            self.request_transfer(arg, "dtmf")
        elif name in ("transfer_complete", "transfer_cancel"):
            self.report(TransferCommand(call_id=self.call_id, command=name.removeprefix("transfer_")))
        elif name == "hold":  # R-HOLD: the key toggles
            self._on_hold = not self._on_hold
            self.report(acd.HoldRequest(call_id=self.call_id, on=self._on_hold, source="key"))
        elif name == "silent":  # R-SILENT
            self.report(acd.SilentRequest(call_id=self.call_id, source="key"))

    async def _gone(self, ch: Channel, cause: int, cause_txt: str) -> None:
        if self._abandoned:  # the caller left during a transfer: agent and target hang up together
            if ch.id in (self.connected_leg, self.target_leg):
                await self._teardown()
            return
        role = self.xfer_role(ch.id)
        if role is not None:
            if role == "caller":
                self._abandoned = True
                if not self.target_answered:
                    await self._teardown()  # nobody is left to transfer to
            self.xfer_gone(role, cause_txt or f"cause {cause}")
            return
        if ch.id == self.call_id:
            if self._divert is not None:
                self.finished = True  # the caller left Stasis for the dialplan (or hung up while diverted)
                return
            await self._party_left("caller")
            return
        leg = self.legs.get(ch.id)
        if leg is None:
            return
        if ch.id == self.connected_leg:
            await self._party_left("agent")
        elif not leg.cancelled and not leg.answered:
            leg.cancelled = True
            unreachable = cause in UNREACHABLE_CAUSES
            self.report(acd.OfferFailed(call_id=self.call_id, agent_id=leg.agent_id,
                                        reason=cause_txt or f"cause {cause}", unreachable=unreachable))
        elif leg.answered and self.connected_leg is None and not leg.cancelled:
            # answered but hung up before we bridged: the offer failed
            leg.cancelled = True
            self.report(acd.OfferFailed(call_id=self.call_id, agent_id=leg.agent_id, reason="agent_left"))

    async def _party_left(self, who: str) -> None:
        """R-HANGUP: the first side to hang up is recorded; the other side is hung up."""
        if self.ended_by is not None:
            return
        self.ended_by = who
        self.report(acd.CallEnded(call_id=self.call_id, by=who))
        await self._teardown()

    # -- core actions ----------------------------------------------------------------
    async def do(self, action: acd.Action) -> None:
        if isinstance(action, TransferResult):
            if not action.ok:
                log.info("transfer.refused", reason=action.message)
                await self._progress("channel_declined")
            return
        if self._abandoned:
            return
        if self.ended_by is not None:
            return
        await self.do_transfer(action)
        await self.do_incall(action)
        match action:
            case acd.Ring():  # an agent is free now: ahead of other calls' set-up and clean-up requests
                with AriClient.urgent():
                    await self._ring(action)
            case acd.StopRinging():  # R-RING: the ring cut-off is due now
                for leg_id, leg in self.legs.items():
                    if leg.agent_id == action.agent_id and leg.attempt == action.attempt and not leg.cancelled:
                        leg.cancelled = True
                        with AriClient.urgent():
                            await hangup(self.ari, leg_id)  # always: a ring cut-off is never skipped
            case acd.Connect():
                await self._greet(action)
            case acd.Announce():  # R-WAIT, R-WAITLIMIT: due now
                with AriClient.urgent():
                    await self._play(self.call_id, action.prompts, "announce:" + action.purpose)
            case acd.Divert():
                await self._start_divert(action)
            case acd.KeepPlace():  # R-CB: confirm, then the caller hangs up; the place stays in line
                if not await self._play(self.call_id, ("keep-place-ok",), "keep-place"):
                    await self._hangup(self.call_id)

    async def _ring(self, ring: acd.Ring) -> None:
        leg_id = f"{self.call_id}{LEG_SEP}a{ring.attempt}"
        self.legs[leg_id] = _Leg(agent_id=ring.agent_id, attempt=ring.attempt)
        variables = {"CC_CALL_ID": self.call_id, "CC_ROLE": "agent", "CC_AGENT": ring.agent_id}
        if ring.interface.startswith("PJSIP/"):
            # the phone's own transfer key (REFER) comes to us as ChannelTransfer; set on the leg
            # that receives the REFER, the agent's (on the caller's it does nothing)
            variables["PJSIP_TRANSFER_HANDLING()"] = "ari-only"
        self._ended.discard(leg_id)  # the id of a leg hung up before a restart (resync) is used again
        try:
            await self.ari.originate(
                ring.interface, app=self.app, app_args=f"agent,{self.call_id}", channel_id=leg_id,
                timeout_s=math.ceil(ring.timeout_s), caller_id=self.caller_number or None, variables=variables,
            )
        except AriError as e:
            self.legs[leg_id].cancelled = True
            log.info("agent.originate_failed", agent=ring.agent_id, error=str(e))
            self.report(acd.OfferFailed(call_id=self.call_id, agent_id=ring.agent_id, reason="originate_failed",
                                        unreachable=True))

    # -- prompts -------------------------------------------------------------------------
    async def _play(self, channel_id: str, prompt_ids: tuple[str, ...] | list[str], purpose: str) -> str | None:
        """Play prompts on one channel; ``PlaybackFinished`` comes back to ``_playback_done``."""
        return await self._play_media(channel_id, [prompts.media(p) for p in prompt_ids], purpose)

    async def _play_media(self, channel_id: str, media: list[str], purpose: str) -> str | None:
        self._pb_seq += 1
        playback_id = f"{self.call_id}{LEG_SEP}pb{self._pb_seq}"
        self.playbacks[playback_id] = purpose
        try:
            await self.ari.play(channel_id, media, playback_id=playback_id)
        except AriError as e:
            self.playbacks.pop(playback_id, None)
            log.warning("call.playback_failed", purpose=purpose, error=str(e))
            return None
        log.info("call.prompt", purpose=purpose, media=media, channel=channel_id)
        return playback_id

    async def _playback_done(self, playback_id: str, purpose: str, state: str) -> None:
        log.info("call.prompt_done", purpose=purpose, state=state)
        if purpose == "recording-notice":  # R-QA
            log.info("call.recording_notice", state=state, rule="R-QA")
            await self._hold_music()
            return
        if purpose == "greet":
            self._greeted = state == "done"  # R-GREET, for the compliance record (R-COMPLY)
        if purpose in ("greet", "whisper") and self._greeting is not None:
            if not any(p in ("greet", "whisper") for p in self.playbacks.values()):
                action, self._greeting = self._greeting, None
                await self._connect(action.agent_id)
        elif purpose == "divert" and self._divert is not None:
            await self._finish_divert()
        elif purpose == "keep-place":
            await self._hangup(self.call_id)
        elif purpose == "xfer-name":
            await self._xfer_join_target()
        else:
            await self.incall_playback_done(purpose)

    async def _greet(self, action: acd.Connect) -> None:
        """R-GREET: the caller hears the greeting and agent ID, the agent the queue name; then bridge."""
        leg_id = self._answered_leg(action.agent_id)
        if leg_id is None:
            return
        self._greeting = action
        self._greeted = False if action.greeting else None
        started = False
        if action.greeting and await self._play(self.call_id, action.greeting, "greet"):
            started = True
        if action.whisper and await self._play(leg_id, action.whisper, "whisper"):
            started = True
        if not started:
            self._greeting = None
            await self._connect(action.agent_id)

    async def _start_divert(self, action: acd.Divert) -> None:
        """The caller leaves the queue for a dialplan destination, after a prompt."""
        self._divert = action
        if self.recorder is not None:
            await self.recorder.stop()  # R-QA: the caller leaves us; the recording ends here
        for leg_id, leg in self.legs.items():
            if not leg.cancelled:
                leg.cancelled = True
                await self._hangup(leg_id)
        # The prompt plays where the caller waits (like every announcement); the holding bridge goes after
        # it. Destroyed first, a play sent while Asterisk still takes the caller out of the bridge can be
        # accepted and never start (seen once requests got fast).
        if not action.prompts or not await self._play(self.call_id, action.prompts, "divert"):
            await self._finish_divert()

    async def _finish_divert(self) -> None:
        action = self._divert
        assert action is not None
        await self._destroy_bridge(self.hold_bridge)
        context, exten, priority = action.destination.split(",")
        try:
            await self.ari.continue_in_dialplan(self.call_id, context=context, extension=exten,
                                                priority=int(priority))
        except AriError as e:
            log.warning("call.divert_failed", destination=action.destination, error=str(e))
            await self._hangup(self.call_id)
        log.info("call.left_queue", destination=action.destination, reason=action.reason)
        self.finished = True

    def _answered_leg(self, agent_id: str) -> str | None:
        return next((i for i, leg in self.legs.items() if leg.agent_id == agent_id and leg.answered
                     and not leg.cancelled), None)

    async def _connect(self, agent_id: str) -> None:
        leg_id = self._answered_leg(agent_id)
        if leg_id is None:
            return
        try:
            await self.ari.set_var(leg_id, "CC_ANSWERED_AT", f"{self.clock():.3f}")
            await self.ensure_bridge(self.talk_bridge)  # mixing,dtmf_events
            await self.ari.add_channel(self.talk_bridge, self.call_id)
            await self.ari.add_channel(self.talk_bridge, leg_id, absorb_dtmf=True)
            self.connected_leg = leg_id
            await self.quiet_hold()
            log.info("call.bridged", agent=agent_id, bridge=self.talk_bridge)
        except AriError as e:
            log.warning("call.bridge_failed", agent=agent_id, error=str(e))
            await self._party_left("system")
            return
        if self.recorder is not None:
            await self.recorder.start()  # R-QA: once per call; a later bridge finds it running
        self.report(acd.CallBridged(call_id=self.call_id, agent_id=agent_id, greeted=self._greeted))

    # -- teardown ------------------------------------------------------------------
    async def _teardown(self) -> None:
        for leg_id, leg in self.legs.items():
            leg.cancelled = True
            await self._hangup(leg_id)
        if self.target_leg:
            await self._hangup(self.target_leg)
        await self._hangup(self.call_id)
        if self.recorder is not None and self.recorder.state in ("snooping", "recording"):
            await self._hangup(self.recorder.snoop_id)  # it ends with the caller anyway; the file is closed
        await self._destroy_bridge(self.talk_bridge)
        await self._destroy_bridge(self.hold_bridge)
        await self._destroy_bridge(self.consult_bridge)
        self.finished = True

    async def _hangup(self, channel_id: str) -> None:
        if channel_id not in self._ended:
            await hangup(self.ari, channel_id)

    async def _destroy_bridge(self, bridge_id: str) -> None:
        if bridge_id in self._bridges:  # never made (e.g. no transfer, no consult bridge): nothing to destroy
            self._bridges.discard(bridge_id)
            await destroy_bridge(self.ari, bridge_id)
