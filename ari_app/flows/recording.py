"""R-QA: one recording per call, across transfers; R-PRIVACY: recordings erased after their retention.

``CallRecorder`` belongs to one ``InboundCall``. When the caller is first bridged with an agent
it asks Asterisk for a snoop channel on the *caller's* channel (``spy=both``: what the caller
says and hears), named ``<call id>~rec`` so its events route to the call (``inbound.call_key``),
and once the snoop is in Stasis records it to ``qa/<YYYY-MM-DD>/<call id>`` (``[recording]
name``). The snoop hangs on the caller's channel, not on a bridge: agents come and go
(transfers, a requeue) and the one file goes on; it ends when the caller's channel ends, and
Asterisk closes the file (``RecordingFinished``). The recording's row in the store
(``save_recording``) is written when it starts. A failure to record is logged
(``call.recording_failed``) and the call goes on without.

After a restart resync finds the snoop by its name and the call's recorder adopts it
(``adopt``), so a call is never recorded twice.

``retention_loop``: at start-up and every day at ``RETENTION_AT`` the stored recordings the
name pattern made that are older than ``retention_days`` are deleted through ARI
(``core.retention.expired``; ``/recordings/stored/qa%2F…``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any, Callable

import structlog

from ..ari import (
    AriClient, AriError, AriNotFound, ChannelDestroyed, RecordingFailed, RecordingFinished, RecordingStarted,
    StasisEnd, StasisStart,
)
from ..core.retention import expired, next_run_delay, recording_name
from ..store.base import StoreError
from ._cleanup import hangup

__all__ = ["CallRecorder", "SNOOP_ARGS", "SNOOP_ROLE", "retention_loop", "retention_once", "snoop_id"]

log = structlog.get_logger()

SNOOP_ROLE = "rec"  # <call id>~rec: the snoop channel on the caller
SNOOP_ARGS = "qa-record"  # its StasisStart args
RETENTION_AT = dt_time(0, 15)  # the daily run, local time (the names' days are local days too)
RETENTION_RETRY_S = 300.0  # Asterisk could not be asked: try again this much later


def snoop_id(call_id: str) -> str:
    return f"{call_id}~{SNOOP_ROLE}"


def local_day(ts: float) -> date:
    return datetime.fromtimestamp(ts).date()


class CallRecorder:
    """States: idle → snooping (snoop asked for) → recording → done; or failed. Never restarts."""

    def __init__(self, call_id: str, *, ari: AriClient, app: str, pattern: str, format: str = "wav",
                 save: Callable[[str, str, float], None], clock: Callable[[], float] = time.time) -> None:
        self.call_id, self.ari, self.app, self.pattern, self.format = call_id, ari, app, pattern, format
        self.save, self.clock = save, clock
        self.snoop_id = snoop_id(call_id)
        self.state = "idle"
        self.name = ""
        self.started_at = 0.0

    @property
    def open(self) -> bool:
        """A recording is running: its end (``RecordingFinished``) is still to come."""
        return self.state == "recording"

    # -- the call's side ---------------------------------------------------------------------------
    async def start(self) -> None:
        """The caller is bridged with an agent: record, unless this call is (or was) recorded already."""
        if self.state != "idle":
            return
        self.state = "snooping"
        try:
            await self.ari.snoop(self.call_id, app=self.app, spy="both", snoop_id=self.snoop_id,
                                 app_args=SNOOP_ARGS)
        except AriError as e:
            self._failed("snoop", str(e))

    def adopt(self) -> None:
        """Resync: the call's snoop channel is there, recording since before the restart."""
        self.state = "recording"

    async def stop(self) -> None:
        """The call leaves the service (diverted to the dialplan): end the recording here, close the file."""
        if self.state in ("snooping", "recording"):
            await hangup(self.ari, self.snoop_id)
            if self.state == "recording":
                self._finished({"name": self.name, "state": "stopped"})
            else:
                self.state = "failed"

    async def on_event(self, ev: Any) -> bool:
        """True when ``ev`` was the recording's (its snoop channel's or its recording's)."""
        if self.snoop_id not in getattr(ev, "channel_ids", ()):
            return False
        match ev:
            case StasisStart():
                if self.state == "snooping":
                    await self._record()
                else:
                    await hangup(self.ari, self.snoop_id)  # the call gave up on it meanwhile
            case RecordingStarted():
                log.debug("call.recording_live", recording=ev.recording.get("name"), rule="R-QA")
            case RecordingFinished() | RecordingFailed() if self.state == "recording":
                self._finished(ev.recording, failed=isinstance(ev, RecordingFailed))
            case StasisEnd() | ChannelDestroyed():
                if self.state == "snooping":
                    self._failed("snoop", "the snoop channel ended before it was recorded")
                elif self.state == "recording" and isinstance(ev, ChannelDestroyed):
                    self._finished({"name": self.name, "state": "ended"})  # no RecordingFinished came
        return True

    # -- recording ----------------------------------------------------------------------------------
    async def _record(self) -> None:
        self.started_at = self.clock()
        self.name = recording_name(self.pattern, self.call_id, local_day(self.started_at))
        try:
            await self.ari.record(self.snoop_id, self.name, self.format, max_duration_s=0, max_silence_s=0,
                                  if_exists="fail", beep=False, terminate_on="none")
        except AriError as e:
            self._failed("record", str(e))
            await hangup(self.ari, self.snoop_id)
            return
        self.state = "recording"
        log.info("call.recording_started", recording=self.name, format=self.format, rule="R-QA")
        try:
            self.save(self.call_id, self.name, self.started_at)
        except StoreError as e:
            log.error("store.write_failed", what="recordings", recording=self.name, error=str(e), rule="R-QA")

    def _finished(self, rec: dict[str, Any], failed: bool = False) -> None:
        self.state = "done"
        duration = rec.get("duration")
        if duration is None and self.started_at:
            duration = round(self.clock() - self.started_at, 1)
        log.info("call.recording_finished", recording=rec.get("name") or self.name, state=rec.get("state"),
                 duration=duration, cause=rec.get("cause"), failed=failed, rule="R-QA")

    def _failed(self, stage: str, error: str) -> None:
        self.state = "failed"
        log.warning("call.recording_failed", stage=stage, error=error, rule="R-QA")


# -- R-PRIVACY: retention ---------------------------------------------------------------------------------
async def retention_once(ari: AriClient, pattern: str, retention_days: int, today: date) -> list[str]:
    """Delete the expired recordings; returns their names. ``AriError`` of the listing propagates."""
    names = await ari.stored_recordings()
    deleted = []
    for name in expired(names, pattern, today=today, retention_days=retention_days):
        try:
            await ari.delete_stored_recording(name)
        except AriNotFound:
            continue  # gone meanwhile
        except AriError as e:
            log.warning("recording.delete_failed", recording=name, error=str(e), rule="R-PRIVACY")
            continue
        deleted.append(name)
        log.info("recording.expired", recording=name, retention_days=retention_days, rule="R-PRIVACY")
    log.info("recording.retention", deleted=len(deleted), stored=len(names), retention_days=retention_days,
             rule="R-PRIVACY")
    return deleted


async def retention_loop(ari: AriClient, pattern: str, retention_days: int,
                         clock: Callable[[], float] = time.time) -> None:
    """At start-up, then daily at ``RETENTION_AT`` (local time); Asterisk away: again a little later."""
    while True:
        try:
            await retention_once(ari, pattern, retention_days, local_day(clock()))
        except AriError as e:
            log.warning("recording.retention_failed", error=str(e), retry_s=RETENTION_RETRY_S,
                        rule="R-PRIVACY")
            await asyncio.sleep(RETENTION_RETRY_S)
            continue
        now = datetime.fromtimestamp(clock()).astimezone()
        await asyncio.sleep(next_run_delay(now, RETENTION_AT))
