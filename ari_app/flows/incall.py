"""Hold and the silent-caller script carried out through ARI (R-HOLD, R-WAIT on hold, R-SILENT).

A mixin of ``InboundCall`` (the call's own flow, so it runs in order with the call's events):

* hold: the caller moves into the call's holding bridge with music; the agent stays in the talk
  bridge and hears a reminder beep when the core says so; resume: the caller hears
  "对不起，让您久等了" and is back in the talk bridge;
* R-WAIT on hold: after ``hold_apology_s`` the caller hears "对不起，请稍等！" on its own channel, which
  sits in the holding bridge: Asterisk plays a channel's playback in place of the bridge's music while
  it lasts, and the music is heard again after it (as for the queue's announcements to a waiting
  caller). Resuming while it plays stops it, so "对不起，让您久等了" follows at once;
* silent caller: the script's prompts play into the talk bridge (both parties hear them); each
  end of a prompt is reported so the core can time the 5 s waits; at the end the call is hung
  up by the system, which does not count as the agent hanging up first (R-HANGUP);
* talk detection: ``TALK_DETECT`` on the caller's channel (from the bridge when the queue starts the
  script by itself, else when the agent's key starts it) makes Asterisk send ChannelTalkingStarted
  when the caller speaks; ``InboundCall`` reports it as ``CallerSpoke``, and the core's ``StopSilent``
  stops the prompt playing (the hang-up is cancelled in the core).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..ari import AriError
from ..core import acd, prompts
from ..core.incall import DetectTalk, EndSilent, HoldAction, HoldApology, PlayToCall, RemindAgent, StopSilent

if TYPE_CHECKING:
    from .inbound import InboundCall

__all__ = ["InCallFlow", "REMINDER_MEDIA", "TALK_DETECT", "TALK_DETECT_SETTINGS"]

log = structlog.get_logger()

REMINDER_MEDIA = "sound:beep"  # Asterisk's own beep: the agent's hold reminder
TALK_DETECT = "TALK_DETECT(set)"
# TALK_DETECT(set)=<silence ms>: talking ends after this much silence (Asterisk's default, 2500 ms); talking
# starts when the DSP hears sound above dsp.conf's silencethreshold
TALK_DETECT_SETTINGS = "2500"


class InCallFlow:
    _silent_step: int = 0
    _silent_pb: str | None = None  # the script's prompt playing in the talk bridge
    _hold_apology_pb: str | None = None  # R-WAIT: "对不起，请稍等！" playing to the caller on hold
    _talk_detect: bool = False  # TALK_DETECT is set on the caller's channel

    async def do_incall(self: "InboundCall", action: acd.Action) -> None:
        match action:
            case HoldAction(hold=True):
                try:
                    await self.hold()
                except AriError as e:
                    log.warning("call.hold_failed", error=str(e))
            case HoldAction(hold=False):
                await self._stop_playback(self._hold_apology_pb)
                if not action.prompts or not await self._play(self.call_id, action.prompts, "unhold"):
                    await self.resume_caller()
            case HoldApology():  # R-WAIT: to the caller's channel in the holding bridge; the music after it
                self._hold_apology_pb = await self._play(self.call_id, action.prompts, "hold-apology")
            case RemindAgent():
                if self.connected_leg:
                    await self._play_media(self.connected_leg, [REMINDER_MEDIA], "hold-reminder")
            case DetectTalk():
                await self._detect_talk()
            case PlayToCall():
                self._silent_step = action.step
                await self._detect_talk()  # the caller's speech stops a script the agent's key started, too
                self._silent_pb = await self._play_bridge(action.prompt, "silent")
                if self._silent_pb is None:  # not said: never wait for its end, never hang up over it
                    self.report(acd.CallerSpoke(call_id=self.call_id, cause="prompt_failed"))
            case StopSilent():
                log.info("call.silent_stopped", step=self._silent_step, rule="R-SILENT")
                await self._stop_playback(self._silent_pb)
            case EndSilent():
                await self._party_left("system")

    async def resume_caller(self: "InboundCall") -> None:
        try:
            await self.ari.add_channel(self.talk_bridge, self.call_id)
        except AriError as e:
            log.warning("call.unhold_failed", error=str(e))
        await self.quiet_hold()

    async def _detect_talk(self: "InboundCall") -> None:
        """``TALK_DETECT`` on the caller's channel, once per call (R-SILENT)."""
        if self._talk_detect:
            return
        self._talk_detect = True
        try:
            await self.ari.set_var(self.call_id, TALK_DETECT, TALK_DETECT_SETTINGS)
            log.info("call.talk_detect", channel=self.call_id, rule="R-SILENT")
        except AriError as e:  # silence cannot be told from talking: no script by itself, a running one stops
            log.warning("call.talk_detect_failed", error=str(e))
            self.report(acd.CallerSpoke(call_id=self.call_id, cause="talk_detect_failed"))

    async def _stop_playback(self: "InboundCall", playback_id: str | None) -> None:
        if playback_id is None or playback_id not in self.playbacks:
            return  # over already
        try:
            await self.ari.stop_playback(playback_id)
        except AriError:
            pass  # it ended meanwhile

    async def _play_bridge(self: "InboundCall", prompt_id: str, purpose: str) -> str | None:
        self._pb_seq += 1
        playback_id = f"{self.call_id}~pb{self._pb_seq}"
        self.playbacks[playback_id] = purpose
        try:
            await self.ari.bridge_play(self.talk_bridge, [prompts.media(prompt_id)], playback_id=playback_id)
        except AriError as e:
            self.playbacks.pop(playback_id, None)
            log.warning("call.playback_failed", purpose=purpose, error=str(e))
            return None
        return playback_id

    async def incall_playback_done(self: "InboundCall", purpose: str) -> None:
        if purpose == "unhold":
            await self.resume_caller()
        elif purpose == "silent":
            self._silent_pb = None
            self.report(acd.SilentPromptDone(call_id=self.call_id, step=self._silent_step))
        elif purpose == "hold-apology":
            self._hold_apology_pb = None
