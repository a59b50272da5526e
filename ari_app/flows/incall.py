"""Hold and the silent-caller script carried out through ARI (R-HOLD, R-SILENT).

A mixin of ``InboundCall`` (the call's own flow, so it runs in order with the call's events):

* hold: the caller moves into the call's holding bridge with music; the agent stays in the talk
  bridge and hears a reminder beep when the core says so; resume: the caller hears
  "对不起，让您久等了" and is back in the talk bridge;
* silent caller: the script's prompts play into the talk bridge (both parties hear them); each
  end of a prompt is reported so the core can time the 5 s waits; at the end the call is hung
  up by the system, which does not count as the agent hanging up first (R-HANGUP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..ari import AriError
from ..core import acd, prompts
from ..core.incall import EndSilent, HoldAction, PlayToCall, RemindAgent

if TYPE_CHECKING:
    from .inbound import InboundCall

__all__ = ["InCallFlow", "REMINDER_MEDIA"]

log = structlog.get_logger()

REMINDER_MEDIA = "sound:beep"  # Asterisk's own beep: the agent's hold reminder


class InCallFlow:
    _silent_step: int = 0

    async def do_incall(self: "InboundCall", action: acd.Action) -> None:
        match action:
            case HoldAction(hold=True):
                try:
                    await self.hold()
                except AriError as e:
                    log.warning("call.hold_failed", error=str(e))
            case HoldAction(hold=False):
                if not action.prompts or not await self._play(self.call_id, action.prompts, "unhold"):
                    await self.resume_caller()
            case RemindAgent():
                if self.connected_leg:
                    await self._play_media(self.connected_leg, [REMINDER_MEDIA], "hold-reminder")
            case PlayToCall():
                self._silent_step = action.step
                await self._play_bridge(action.prompt, "silent")
            case EndSilent():
                await self._party_left("system")

    async def resume_caller(self: "InboundCall") -> None:
        try:
            await self.ari.add_channel(self.talk_bridge, self.call_id)
        except AriError as e:
            log.warning("call.unhold_failed", error=str(e))
        await self.quiet_hold()

    async def _play_bridge(self: "InboundCall", prompt_id: str, purpose: str) -> None:
        self._pb_seq += 1
        playback_id = f"{self.call_id}~pb{self._pb_seq}"
        self.playbacks[playback_id] = purpose
        try:
            await self.ari.bridge_play(self.talk_bridge, [prompts.media(prompt_id)], playback_id=playback_id)
        except AriError as e:
            self.playbacks.pop(playback_id, None)
            log.warning("call.playback_failed", purpose=purpose, error=str(e))

    async def incall_playback_done(self: "InboundCall", purpose: str) -> None:
        if purpose == "unhold":
            await self.resume_caller()
        elif purpose == "silent":
            self.report(acd.SilentPromptDone(call_id=self.call_id, step=self._silent_step))
