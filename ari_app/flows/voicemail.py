"""R-VM: a caller leaves a voicemail, recorded through ARI; it becomes a callback task.

The dialplan sends a caller here with ``Stasis(callcenter,voicemail,<queue>)`` from
``[callcenter-voicemail]``: the queue's voicemail offer after ``max_wait_s`` (R-WAITLIMIT), the
closed and no-agent destinations, and a direct voicemail extension all end there.

The caller hears the prompt, then a beep, and speaks; ``#``, ``silence_s`` of silence or
``max_record_s`` ends the recording. After ``#`` the caller may press the re-record key (or ``1``
to send at once; waiting or hanging up sends too).

Nothing is lost and nothing is left over (R-VM), in this order:

1. the *intake* row (task id, caller, queue, recording name) is written before the recording starts;
2. Asterisk records to ``callcenter/<task id>`` (a stored recording, readable through ARI's
   ``/recordings/stored`` wherever Asterisk runs);
3. when the recording is finished the desk commits the task and drops the intake in one
   transaction (``Repository.commit_task``), then hands it to the callbacks core for assignment.

A crash between any two steps is repaired by the desk's reconcile at the next start
(``flows/desk.py``): an intake with its stored recording becomes a task, one without is dropped, and a
recording with neither task nor intake is deleted.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import structlog

from .. import faults
from ..ari import (
    AriClient, AriError, Channel, ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest, PlaybackFinished,
    RecordingFailed, RecordingFinished, StasisEnd,
)
from ..core import prompts
from ..store.base import VoicemailIntake
from ._cleanup import hangup
from .feature import FlowTimer

__all__ = ["VoicemailCall", "VoicemailDesk"]

log = structlog.get_logger()

REVIEW_WAIT_S = 6.0  # after the review prompt: no key within this sends the message
SEND_KEY = "1"


class VoicemailDesk(Protocol):
    """What the flow needs from the callbacks desk (flows/desk.py)."""

    def new_intake(self, caller: str, queue: str) -> VoicemailIntake: ...
    def intake_started(self, intake: VoicemailIntake) -> None: ...
    async def voicemail_recorded(self, intake: VoicemailIntake, *, keep: bool = True) -> bool: ...
    def voicemail_abandoned(self, intake: VoicemailIntake) -> None: ...


class VoicemailCall:
    def __init__(self, channel_id: str, *, ari: AriClient, desk: VoicemailDesk, rerecord_key: str,
                 max_record_s: float, silence_s: float, schedule: Callable[[float, FlowTimer], None]) -> None:
        self.call_id = channel_id
        self.ari, self.desk, self.schedule = ari, desk, schedule
        self.rerecord_key, self.max_record_s, self.silence_s = rerecord_key, max_record_s, silence_s
        self.stage = "start"  # prompt | recording | review | thanks | done
        self.intake: VoicemailIntake | None = None
        self.caller_gone = False
        self.silent = False  # the last take held no speech
        self.finished = False
        self._pb: str | None = None
        self._pb_seq = 0
        self._timer = 0
        self.takes = 0

    async def start(self, ch: Channel, queue: str) -> None:
        self.intake = self.desk.new_intake(ch.caller_number, queue)
        log.info("voicemail.started", queue=queue, task_id=self.intake.task_id, rule="R-VM")
        try:
            await self.ari.answer(self.call_id)
        except AriError as e:
            log.warning("voicemail.answer_failed", error=str(e))
            self.finished = True
            return
        await self._prompt("prompt", ("voicemail-prompt",))

    # -- events ------------------------------------------------------------------------------
    async def on_event(self, ev: Any) -> None:
        match ev:
            case PlaybackFinished(playback=pb) if pb.id == self._pb:
                self._pb = None
                await self._played()
            case RecordingFinished() | RecordingFailed() if self.stage == "recording" and self.intake and (
                    ev.recording.get("name") == self.intake.recording):
                await self._recorded(ev)
            case ChannelDtmfReceived(digit=digit) if self.stage == "review":
                if digit == self.rerecord_key:
                    await self._stop_prompt()
                    await self._record()
                elif digit == SEND_KEY:
                    await self._stop_prompt()
                    await self._send()
            case FlowTimer(token=token) if token == self._timer and self.stage == "review":
                await self._send()
            case ChannelHangupRequest() | ChannelDestroyed() | StasisEnd():
                await self._caller_left()

    async def _played(self) -> None:
        if self.stage == "prompt":
            await self._record()
        elif self.stage == "review":
            self._arm(REVIEW_WAIT_S)
        elif self.stage == "thanks":
            self.stage = "done"
            await hangup(self.ari, self.call_id)

    async def _caller_left(self) -> None:
        if self.caller_gone:
            return
        self.caller_gone = True
        if self.stage in ("start", "prompt"):  # nothing recorded: no task
            self.stage, self.finished = "done", True
            log.info("voicemail.abandoned", stage="prompt", rule="R-VM")
        elif self.stage == "review":
            await self._send()
        elif self.stage == "recording":
            pass  # Asterisk stores what was said and sends RecordingFinished
        else:
            self.finished = True

    # -- recording -----------------------------------------------------------------------------
    async def _record(self) -> None:
        assert self.intake is not None
        self.stage = "recording"
        self.takes += 1
        if self.takes == 1:
            self.desk.intake_started(self.intake)  # the intake row exists before any audio
        try:
            await self.ari.record(self.call_id, self.intake.recording, "wav", max_duration_s=int(self.max_record_s),
                                  max_silence_s=int(self.silence_s), if_exists="overwrite", beep=True,
                                  terminate_on="#")
        except AriError as e:
            log.warning("voicemail.record_failed", task_id=self.intake.task_id, error=str(e))
            await self._send()  # whatever was stored (maybe nothing) is settled by the desk
            return
        log.info("voicemail.recording", task_id=self.intake.task_id, take=self.takes, rule="R-VM")
        faults.hit("vm.recording_started")

    async def _recorded(self, ev: RecordingFinished | RecordingFailed) -> None:
        rec = ev.recording
        log.info("voicemail.recorded", task_id=self.intake.task_id if self.intake else None,
                 state=rec.get("state"), duration=rec.get("duration"), cause=rec.get("cause"), rule="R-VM")
        faults.hit("vm.recording_finished")
        self.silent = rec.get("talking_duration") == 0 and bool(rec.get("duration"))  # this take: only silence
        if self.caller_gone or isinstance(ev, RecordingFailed):
            await self._send()
        else:
            await self._prompt("review", ("voicemail-review",))

    async def _send(self) -> None:
        if self.stage in ("thanks", "done", "sending"):
            return
        self.stage = "sending"
        assert self.intake is not None
        ok = await self.desk.voicemail_recorded(self.intake, keep=not self.silent)
        if self.caller_gone:
            self.stage, self.finished = "done", True
            return
        if ok:
            await self._prompt("thanks", ("voicemail-thanks",))
        else:
            self.stage = "done"
            await hangup(self.ari, self.call_id)

    # -- helpers ---------------------------------------------------------------------------------
    async def _prompt(self, stage: str, ids: tuple[str, ...]) -> None:
        self.stage = stage
        self._pb_seq += 1
        self._pb = f"{self.call_id}~vmpb{self._pb_seq}"
        try:
            await self.ari.play(self.call_id, [prompts.media(p) for p in ids], playback_id=self._pb)
        except AriError as e:
            log.warning("voicemail.prompt_failed", stage=stage, error=str(e))
            self._pb = None
            await self._played()

    async def _stop_prompt(self) -> None:
        if self._pb is not None:
            pb, self._pb = self._pb, None
            try:
                await self.ari.stop_playback(pb)
            except AriError:
                pass
        self._timer += 1  # a pending review time-out no longer counts

    def _arm(self, delay: float) -> None:
        self._timer += 1
        self.schedule(delay, FlowTimer(self.call_id, self._timer))

    def lost(self) -> None:
        """ARI reconnected: the channel is hung up by resync; the desk's reconcile settles the intake."""
        if self.intake is not None and self.stage not in ("done", "thanks"):
            self.desk.voicemail_abandoned(self.intake)  # no longer ours: reconcile may take it
        self.finished = True
