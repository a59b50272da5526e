"""Attended transfers carried out through ARI (R-XFER-CONSENT, R-XFER-CONFIRM, R-XFER-NAME).

A mixin of ``InboundCall``: the call's own flow runs its transfer, so the transfer's events
(caller, agent, target legs) are handled in order with the rest of the call. The core decides
(``core.transfer``, ``core.acd``); this module moves channels between bridges:

* hold: the caller into the call's holding bridge (music) after the transfer prompt, which says where
  the caller is going (R-XFER-CONSENT, ``core.announce.transfer_hold``): "正在为您转接到<where>，请稍候",
  <where> the target agent's name or the target queue's name prompt; without one "正在为您转接，请稍候";
* dial: the target leg ``<call>~t<n>`` rings (the agent's phone REFER gets ``channel_progress``); the
  agent hears ringback (``core.prompts.RINGBACK``, China's cadence) meanwhile, not silence, until the
  target answers or the transfer ends;
* consult: agent and target in the private bridge ``<call>~consult`` (REFER: ``channel_answered``);
* end: completed → the caller hears who took the call (R-XFER-NAME, ``core.announce.transfer_connected``):
  "为您接通的是<name>，工号幺零二四，不好意思让您久等了" (the ID alone when the agent has no name prompt,
  "不好意思让您久等了" alone for an extension), then talks with the target; cancelled / target failed → back with the agent, "对不起，让您久等了"
  (REFER: ``channel_unavailable``); requeued / to a queue → on hold, back in line at the head;
  abandoned → agent and target stay together if they were consulting.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog

from ..ari import AriError
from ..core import acd
from ..core.prompts import RINGBACK  # China's ringback tone (core/prompts.py owns it)
from ..core.transfer import (
    Consult, DialTarget, EndTransfer, HoldForTransfer, TransferRequest, TransferUpdate, XferEvent,
)

if TYPE_CHECKING:
    from .inbound import InboundCall

__all__ = ["TransferFlow"]

log = structlog.get_logger()



class TransferFlow:
    """The transfer half of ``InboundCall`` (see its attributes: legs, bridges, ari, report)."""

    xfer_id: str | None = None  # the transfer in progress
    xfer_refer: bool = False  # started by the agent phone's REFER: report transfer progress
    target_leg: str | None = None
    target_answered: bool = False
    _target_seq: int = 0
    _leaving_leg: str | None = None  # the agent leg we hang up on completion (not "agent hung up first")
    _after_name: str | None = None  # the target leg to bridge once the caller heard its name
    _ringback: str | None = None  # the agent's ringback playback while the target rings
    _target_dialstatus: str = ""  # why the ringing target failed, from Asterisk's Dial event ("busy")

    @property
    def consult_bridge(self: "InboundCall") -> str:
        return f"{self.call_id}~consult{self._target_seq}"  # one per transfer: ids are never reused

    # -- requests from the agent's keys and phone ---------------------------------------------
    def request_transfer(self: "InboundCall", target: str, source: str) -> None:
        self.report(TransferRequest(call_id=self.call_id, target=target, source=source))

    async def on_refer(self: "InboundCall", destination: str) -> None:
        """The agent's phone sent a blind REFER: run the same attended flow."""
        if not destination:
            await self._progress("channel_declined")
            return
        self.xfer_refer = True
        self.request_transfer(destination, "refer")

    # -- the core's actions ----------------------------------------------------------------------
    async def do_transfer(self: "InboundCall", action: acd.Action) -> None:
        match action:
            case HoldForTransfer():
                await self._xfer_hold(action)
            case DialTarget():
                await self._xfer_dial(action)
            case Consult():
                await self._xfer_consult()
            case EndTransfer():
                await self._xfer_end(action)

    async def _xfer_hold(self: "InboundCall", action: HoldForTransfer) -> None:
        """R-XFER-CONSENT: never a blind drop: the caller is told and held with music."""
        self.xfer_id, self.target_leg, self.target_answered = action.transfer_id, None, False
        try:
            await self.hold()
        except AriError as e:
            log.warning("transfer.hold_failed", error=str(e))
        await self._play(self.call_id, action.prompts, "xfer-hold")
        self.report(TransferUpdate(call_id=self.call_id, event=XferEvent.CALLER_HELD))

    async def _xfer_dial(self: "InboundCall", action: DialTarget) -> None:
        self._target_seq += 1
        leg = f"{self.call_id}~t{self._target_seq}"
        self.target_leg, self._target_dialstatus = leg, ""
        self._ended.discard(leg)  # a target leg of that id hung up before a restart (resync)
        variables = {"CC_CALL_ID": self.call_id, "CC_ROLE": "target"}
        if action.interface.startswith("PJSIP/"):
            variables["PJSIP_TRANSFER_HANDLING()"] = "ari-only"
        try:
            await self.ari.originate(action.interface, app=self.app, app_args=f"target,{self.call_id}",
                                     channel_id=leg, timeout_s=math.ceil(action.timeout_s),
                                     caller_id=self.caller_number or None, variables=variables)
        except AriError as e:
            log.info("transfer.dial_failed", interface=action.interface, error=str(e))
            self.target_leg = None
            self.report(TransferUpdate(call_id=self.call_id, event=XferEvent.TARGET_FAILED, reason="dial_failed"))
            return
        await self._progress("channel_progress")
        if self.connected_leg and self.target_leg == leg:  # still ringing: the agent hears it ring
            self._ringback = await self._play_media(self.connected_leg, [RINGBACK], "xfer-ringback")

    async def _stop_ringback(self: "InboundCall") -> None:
        playback, self._ringback = self._ringback, None
        if playback is None:
            return
        try:
            await self.ari.stop_playback(playback)
        except AriError as e:  # already over (the agent hung up): nothing to stop
            log.info("transfer.ringback_stop_failed", error=str(e))

    async def _xfer_consult(self: "InboundCall") -> None:
        agent_leg = self.connected_leg
        await self._stop_ringback()
        try:
            await self.ensure_bridge(self.consult_bridge)  # mixing,dtmf_events
            if agent_leg:
                await self.ari.add_channel(self.consult_bridge, agent_leg, absorb_dtmf=True)
            if self.target_leg:
                await self.ari.add_channel(self.consult_bridge, self.target_leg, absorb_dtmf=True)
        except AriError as e:
            log.warning("transfer.consult_failed", error=str(e))
        await self._progress("channel_answered")

    async def _xfer_end(self: "InboundCall", action: EndTransfer) -> None:
        outcome, target, agent_leg = action.outcome, self.target_leg, self.connected_leg
        self.xfer_id = None
        await self._stop_ringback()
        log.info("transfer.carried_out", outcome=outcome, target_leg=target)
        if outcome == "completed":
            # R-XFER-NAME: the caller hears who takes over, then talks with the target
            if agent_leg:
                self._leaving_leg = agent_leg
                self.legs.pop(agent_leg, None)
                await self._hangup(agent_leg)
            if target:
                self.legs[target] = _new_leg("target")
                self.connected_leg = target
            self._after_name = target
            if not action.prompts or not await self._play(self.call_id, action.prompts, "xfer-name"):
                await self._xfer_join_target()
            return
        if target:
            await self._hangup(target)
        self.target_leg = None
        if outcome in ("cancelled", "target_failed"):
            await self._progress("channel_unavailable")
            try:
                if agent_leg:
                    await self.ari.add_channel(self.talk_bridge, agent_leg, absorb_dtmf=True)
                await self.ari.add_channel(self.talk_bridge, self.call_id)
            except AriError as e:
                log.warning("transfer.return_failed", error=str(e))
            await self._destroy_bridge(self.consult_bridge)
            await self.quiet_hold()
            await self._play(self.call_id, action.prompts, "xfer-back")
        elif outcome in ("requeued", "to_queue"):
            # back in line at the head: the caller stays in the holding bridge, with music
            if agent_leg:
                self._leaving_leg = agent_leg
                self.legs.pop(agent_leg, None)
                await self._hangup(agent_leg)
            self.connected_leg = None
            await self._destroy_bridge(self.consult_bridge)
        # abandoned: the caller is gone; _gone() keeps agent and target together if they talk

    async def _xfer_join_target(self: "InboundCall") -> None:
        target = self._after_name
        try:
            if target:
                await self.ari.add_channel(self.talk_bridge, target, absorb_dtmf=True)
            await self.ari.add_channel(self.talk_bridge, self.call_id)
        except AriError as e:
            log.warning("transfer.join_failed", error=str(e))
        await self._destroy_bridge(self.consult_bridge)
        await self.quiet_hold()
        log.info("call.bridged", agent="target", bridge=self.talk_bridge)

    async def _progress(self: "InboundCall", state: str) -> None:
        """Tell the agent phone that sent a REFER how its transfer goes (NOTIFY sipfrags)."""
        if not self.xfer_refer or not self.connected_leg:
            return
        try:
            await self.ari.request("POST", f"/channels/{quote(self.connected_leg, safe='')}/transfer_progress",
                                   params={"states": state})
        except AriError as e:
            log.info("transfer.progress_failed", state=state, error=str(e))
        if state in ("channel_answered", "channel_unavailable", "channel_declined"):
            self.xfer_refer = False

    # -- hang-ups during a transfer, named by role ---------------------------------------------------
    def xfer_role(self: "InboundCall", channel_id: str) -> str | None:
        if self.xfer_id is None:
            return None
        if channel_id == self.call_id:
            return "caller"
        if channel_id == self.target_leg:
            return "target"
        if channel_id == self.connected_leg:
            return "agent"
        return None

    def xfer_dial_status(self: "InboundCall", status: str) -> None:
        """The target leg's Dial result: a busy Local or SIP target's own leg ends with cause 0 ("Unknown"),
        so ``BUSY`` / ``CHANUNAVAIL`` / ``CONGESTION`` here is the reason its transfer failed."""
        if status in _DIAL_FAILURES:
            self._target_dialstatus = _DIAL_FAILURES[status]

    def xfer_gone(self: "InboundCall", role: str, cause_txt: str) -> None:
        event = {"caller": XferEvent.CALLER_HANGUP, "agent": XferEvent.AGENT_HANGUP}.get(role)
        if role == "target":
            event = XferEvent.TARGET_HANGUP if self.target_answered else XferEvent.TARGET_FAILED
            if not self.target_answered and self._target_dialstatus:
                cause_txt = self._target_dialstatus  # R-XFER-CONFIRM: say why (busy), not "Unknown"
            self.target_leg, self._target_dialstatus = None, ""
        self.report(TransferUpdate(call_id=self.call_id, event=event, reason=cause_txt))  # type: ignore[arg-type]


_DIAL_FAILURES = {"BUSY": "busy", "CHANUNAVAIL": "unavailable", "CONGESTION": "congestion"}


def _new_leg(agent_id: str):
    from .inbound import _Leg

    return _Leg(agent_id=agent_id, attempt=0, answered=True)

