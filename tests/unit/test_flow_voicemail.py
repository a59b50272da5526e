"""R-VM: the voicemail flow (flows/voicemail.py) with a fake ARI and a fake desk; no Asterisk, no sleeps."""

from typing import Any

import pytest

from ari_app.ari import (
    AriNotFound, AriUnavailable, Channel, ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest,
    Playback, PlaybackFinished, RecordingFailed, RecordingFinished, StasisEnd,
)
from ari_app.flows.feature import FlowTimer
from ari_app.flows.voicemail import REVIEW_WAIT_S, VoicemailCall
from ari_app.store.base import VoicemailIntake

CH = "1741000000.17"
REC = "callcenter/vm-1"
CALLER = "13800135678"
PROMPT, REVIEW, THANKS = "sound:callcenter/voicemail-prompt", "sound:callcenter/voicemail-review", \
    "sound:callcenter/voicemail-thanks"


class FakeAri:
    """Records every call as (method, args, kwargs); ``fail[method]`` is raised by that method."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}

    def _call(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))
        if name in self.fail:
            raise self.fail[name]

    async def answer(self, channel_id: str) -> None:
        self._call("answer", channel_id)

    async def play(self, channel_id: str, media: Any, playback_id: str | None = None) -> Playback:
        self._call("play", channel_id, media, playback_id=playback_id)
        return Playback(id=playback_id or "pb")

    async def stop_playback(self, playback_id: str) -> None:
        self._call("stop_playback", playback_id)

    async def record(self, channel_id: str, name: str, format: str = "wav", **kw: Any) -> dict[str, Any]:
        self._call("record", channel_id, name, format, **kw)
        return {"name": name, "format": format, "state": "queued"}

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self._call("hangup", channel_id)

    def named(self, *names: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        return [c for c in self.calls if c[0] in names]


class FakeDesk:
    def __init__(self, ok: bool = True) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.ok = ok
        self.intake = VoicemailIntake(task_id="vm-1", caller=CALLER, queue="support", recording=REC,
                                      started_at=1000.0, team="support")

    def new_intake(self, caller: str, queue: str) -> VoicemailIntake:
        self.log.append(("new_intake", caller, queue))
        return self.intake

    def intake_started(self, intake: VoicemailIntake) -> None:
        self.log.append(("intake_started", intake.task_id))

    async def voicemail_recorded(self, intake: VoicemailIntake, *, keep: bool = True) -> bool:
        self.log.append(("recorded", intake.task_id, keep))
        return self.ok

    def voicemail_abandoned(self, intake: VoicemailIntake) -> None:
        self.log.append(("abandoned", intake.task_id))


RECORD = ("record", (CH, REC, "wav"), {"max_duration_s": 120, "max_silence_s": 4, "if_exists": "overwrite",
                                      "beep": True, "terminate_on": "#"})


def play(media: str, n: int) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("play", (CH, [media]), {"playback_id": f"{CH}~vmpb{n}"})


def finished(n: int) -> PlaybackFinished:
    return PlaybackFinished(type="PlaybackFinished", playback=Playback(id=f"{CH}~vmpb{n}"))


def recorded(name: str = REC, *, duration: int = 7, talking: int = 5, failed: bool = False) -> Any:
    rec = {"name": name, "format": "wav", "state": "failed" if failed else "done", "duration": duration,
           "talking_duration": talking, "target_uri": f"channel:{CH}"}
    if failed:
        return RecordingFailed(type="RecordingFailed", recording=rec)
    return RecordingFinished(type="RecordingFinished", recording=rec)


def dtmf(digit: str) -> ChannelDtmfReceived:
    return ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=CH), digit=digit)


def hangup_request() -> ChannelHangupRequest:
    return ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=CH), cause=16)


def destroyed() -> ChannelDestroyed:
    return ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=CH), cause=16)


class Harness:
    def __init__(self, ok: bool = True) -> None:
        self.ari, self.desk = FakeAri(), FakeDesk(ok)
        self.timers: list[tuple[float, FlowTimer]] = []
        self.flow = VoicemailCall(CH, ari=self.ari, desk=self.desk, rerecord_key="2", max_record_s=120.0,
                                  silence_s=4.0, schedule=lambda delay, t: self.timers.append((delay, t)))

    async def start(self) -> None:
        await self.flow.start(Channel(id=CH, caller_number=CALLER), "support")

    async def to_review(self, **rec: Any) -> None:
        """Prompt played, first take recorded, the review prompt (vmpb2) playing."""
        await self.start()
        await self.flow.on_event(finished(1))
        await self.flow.on_event(recorded(**rec))

    async def ev(self, *events: Any) -> None:
        for e in events:
            await self.flow.on_event(e)


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- the whole call ------------------------------------------------------------------------------------------
async def test_prompt_record_review_send_key_thanks_hangup(h):
    await h.start()
    assert h.ari.calls == [("answer", (CH,), {}), play(PROMPT, 1)]
    assert h.desk.log == [("new_intake", CALLER, "support")]  # nothing stored before the recording starts
    assert h.flow.stage == "prompt"

    await h.ev(finished(1))
    assert h.ari.calls[2:] == [RECORD]
    assert h.desk.log[1:] == [("intake_started", "vm-1")]
    assert h.flow.stage == "recording"

    await h.ev(recorded())
    assert h.ari.calls[3:] == [play(REVIEW, 2)]
    await h.ev(finished(2))
    assert h.timers == [(REVIEW_WAIT_S, FlowTimer(CH, 1))]

    await h.ev(dtmf("1"))
    assert h.desk.log[2:] == [("recorded", "vm-1", True)]
    assert h.ari.calls[4:] == [play(THANKS, 3)]  # nothing to stop: the review prompt had ended
    await h.ev(finished(3))
    assert h.ari.calls[5:] == [("hangup", (CH,), {})]
    assert h.flow.stage == "done" and not h.flow.finished

    await h.ev(hangup_request(), destroyed())
    assert h.flow.finished
    assert h.desk.log == [("new_intake", CALLER, "support"), ("intake_started", "vm-1"),
                          ("recorded", "vm-1", True)]
    assert len(h.ari.calls) == 6


async def test_send_key_during_the_review_prompt_stops_it(h):
    await h.to_review()
    await h.ev(dtmf("1"))
    assert h.ari.calls[3:] == [play(REVIEW, 2), ("stop_playback", (f"{CH}~vmpb2",), {}), play(THANKS, 3)]
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    await h.ev(finished(2))  # the stopped review prompt reports its end: ignored
    assert h.ari.calls[-1] == play(THANKS, 3) and h.timers == []


async def test_rerecord_key_records_again_then_the_time_out_sends(h):
    await h.to_review()
    await h.ev(dtmf("2"))
    assert h.ari.calls[3:] == [play(REVIEW, 2), ("stop_playback", (f"{CH}~vmpb2",), {}), RECORD]
    assert h.flow.stage == "recording" and h.flow.takes == 2
    assert [e for e in h.desk.log if e[0] == "intake_started"] == [("intake_started", "vm-1")]  # once only

    await h.ev(recorded())
    assert h.ari.calls[-1] == play(REVIEW, 3)
    await h.ev(finished(3))
    [(delay, timer)] = h.timers
    assert delay == REVIEW_WAIT_S
    await h.ev(timer)
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    assert h.ari.calls[-1] == play(THANKS, 4)
    await h.ev(timer)  # a second delivery sends nothing more
    assert [e for e in h.desk.log if e[0] == "recorded"] == [("recorded", "vm-1", True)]


async def test_a_review_time_out_from_before_a_rerecord_does_not_send(h):
    await h.to_review()
    await h.ev(finished(2))
    [(_, stale)] = h.timers
    await h.ev(dtmf("2"))  # re-record while the time-out is pending
    await h.ev(stale)
    assert h.flow.stage == "recording"
    assert not [e for e in h.desk.log if e[0] == "recorded"]
    await h.ev(recorded(), finished(3))
    assert h.timers[-1] == (REVIEW_WAIT_S, FlowTimer(CH, stale.token + 2))
    await h.ev(stale)  # still stale in the second review
    assert not [e for e in h.desk.log if e[0] == "recorded"]


async def test_other_keys_in_review_do_nothing_and_keys_outside_review_are_ignored(h):
    await h.start()
    await h.ev(dtmf("1"))  # during the prompt
    await h.ev(finished(1))
    await h.ev(dtmf("1"), dtmf("2"))  # while recording: '#' ends it in Asterisk, the flow ignores keys
    assert h.flow.stage == "recording" and h.ari.calls[-1] == RECORD
    await h.ev(recorded())
    n = len(h.ari.calls)
    await h.ev(dtmf("5"), dtmf("#"), dtmf("*"))
    assert len(h.ari.calls) == n and h.flow.stage == "review"


# -- hanging up ----------------------------------------------------------------------------------------------
async def test_hangup_during_the_prompt_leaves_no_task(h):
    await h.start()
    await h.ev(hangup_request())
    assert h.flow.finished and h.flow.stage == "done"
    await h.ev(finished(1), StasisEnd(type="StasisEnd", channel=Channel(id=CH)), destroyed())
    assert h.ari.calls == [("answer", (CH,), {}), play(PROMPT, 1)]  # no recording, no hang-up of ours
    assert h.desk.log == [("new_intake", CALLER, "support")]  # no intake row, no task


async def test_hangup_during_review_sends(h):
    await h.to_review()
    await h.ev(hangup_request())
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    assert h.flow.finished and h.flow.stage == "done"
    await h.ev(finished(2), destroyed(), dtmf("1"))
    assert [e for e in h.desk.log if e[0] == "recorded"] == [("recorded", "vm-1", True)]
    assert h.ari.calls[-1] == play(REVIEW, 2)  # no thanks, no hang-up


async def test_hangup_while_waiting_after_review_sends(h):
    await h.to_review()
    await h.ev(finished(2), destroyed())
    assert h.desk.log[-1] == ("recorded", "vm-1", True) and h.flow.finished
    await h.ev(h.timers[0][1])
    assert [e for e in h.desk.log if e[0] == "recorded"] == [("recorded", "vm-1", True)]


async def test_hangup_while_recording_waits_for_the_recording_then_sends(h):
    await h.start()
    await h.ev(finished(1), hangup_request())
    assert h.flow.stage == "recording" and not h.flow.finished
    assert not [e for e in h.desk.log if e[0] == "recorded"]
    await h.ev(recorded())
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    assert h.flow.finished
    assert h.ari.calls[-1] == RECORD  # no review prompt to a caller who is gone


async def test_hangup_during_thanks_finishes(h):
    await h.to_review()
    await h.ev(dtmf("1"), hangup_request())
    assert h.flow.finished
    assert [e for e in h.desk.log if e[0] == "recorded"] == [("recorded", "vm-1", True)]


# -- silence, failures ---------------------------------------------------------------------------------------
async def test_silence_only_is_discarded(h):
    await h.to_review(duration=4, talking=0)
    assert h.flow.silent
    await h.ev(dtmf("1"))
    assert h.desk.log[-1] == ("recorded", "vm-1", False)


async def test_silence_only_then_hangup_while_recording_is_discarded(h):
    await h.start()
    await h.ev(finished(1), destroyed(), recorded(duration=4, talking=0))
    assert h.desk.log[-1] == ("recorded", "vm-1", False) and h.flow.finished


async def test_speech_after_silence_is_kept_when_rerecorded_the_other_way(h):
    await h.to_review(duration=4, talking=3)
    await h.ev(dtmf("2"), recorded(duration=4, talking=0), dtmf("1"))
    assert h.desk.log[-1] == ("recorded", "vm-1", False)  # the last take held no speech


async def test_rerecord_with_speech_after_a_silent_take_is_kept(h):
    await h.to_review(duration=4, talking=0)
    await h.ev(dtmf("2"), recorded(duration=6, talking=4), dtmf("1"))
    assert h.desk.log[-1] == ("recorded", "vm-1", True)


async def test_desk_refusal_hangs_up_without_thanks():
    h = Harness(ok=False)
    await h.to_review()
    await h.ev(dtmf("1"))
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    assert h.ari.calls[-2:] == [("stop_playback", (f"{CH}~vmpb2",), {}), ("hangup", (CH,), {})]
    assert h.flow.stage == "done"


async def test_recording_failed_sends_without_review(h):
    await h.start()
    await h.ev(finished(1), recorded(failed=True))
    assert h.desk.log[-1] == ("recorded", "vm-1", True)
    assert h.ari.calls[-1] == play(THANKS, 2)


async def test_record_request_failing_sends_at_once(h):
    h.ari.fail["record"] = AriUnavailable("POST", "/channels/x/record", "refused")
    await h.start()
    await h.ev(finished(1))
    assert h.desk.log[1:] == [("intake_started", "vm-1"), ("recorded", "vm-1", True)]
    assert h.ari.calls[-2:] == [RECORD, play(THANKS, 2)]


async def test_answer_failing_ends_the_flow_before_anything(h):
    h.ari.fail["answer"] = AriNotFound(404, "POST", f"/channels/{CH}/answer", "Channel not found")
    await h.start()
    assert h.flow.finished
    assert h.ari.calls == [("answer", (CH,), {})]
    assert h.desk.log == [("new_intake", CALLER, "support")]


async def test_a_prompt_that_cannot_play_moves_on(h):
    h.ari.fail["play"] = AriNotFound(404, "POST", f"/channels/{CH}/play", "Channel not found")
    await h.start()
    assert h.ari.calls[-2:] == [play(PROMPT, 1), RECORD]  # straight to the recording
    await h.ev(recorded())
    await h.ev(h.timers[0][1])  # the review prompt failed too: the time-out is armed at once
    assert h.desk.log[-1] == ("recorded", "vm-1", True)


async def test_recording_events_of_another_recording_are_ignored(h):
    await h.start()
    other = "callcenter/vm-other"
    await h.ev(finished(1), recorded(name=other), recorded(name=other, failed=True))
    assert h.flow.stage == "recording" and h.ari.calls[-1] == RECORD
    await h.ev(recorded())
    assert h.flow.stage == "review"


async def test_lost_finishes_the_flow(h):
    await h.start()
    await h.ev(finished(1))
    h.flow.lost()
    assert h.flow.finished


async def test_lost_while_recording_lets_the_desk_settle_the_intake(h):
    await h.start()
    await h.ev(finished(1))
    h.flow.lost()
    assert h.desk.log[-1] == ("abandoned", "vm-1")
