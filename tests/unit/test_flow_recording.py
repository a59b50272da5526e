"""R-QA: the recording notice and the call's one recording (flows/inbound.py, flows/recording.py) against
a fake ARI; R-PRIVACY: retention (core/retention.py, flows/recording.retention_once).
No Asterisk, no sleeps."""

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from structlog.testing import capture_logs

from ari_app.ari import (
    AriBadRequest, AriConflict, AriNotFound, AriUnavailable, Bridge, Channel, ChannelDestroyed,
    ChannelHangupRequest, Playback, PlaybackFinished, RecordingFailed, RecordingFinished, StasisEnd,
    StasisStart,
)
from ari_app.config import ConfigError, RecordingConfig, parse
from ari_app.core import acd
from ari_app.core.retention import expired, name_pattern_error, next_run_delay, recording_name
from ari_app.core.transfer import Consult, DialTarget, EndTransfer, HoldForTransfer
from ari_app.flows import resync
from ari_app.flows.inbound import InboundCall
from ari_app.flows.recording import CallRecorder, local_day, retention_once
from ari_app.store.base import StoreError

CALL = "1741000000.17"
SNOOP = f"{CALL}~rec"
A1, T1 = f"{CALL}~a1", f"{CALL}~t1"
NOW = 1741000000.0  # the fake clock
NAME = f"qa/{local_day(NOW).isoformat()}/{CALL}"
NOTICE = "sound:callcenter/recording-notice"


class FakeAri:
    """Records every call as (method, args, kwargs); ``fail[method]`` is raised by that method (once)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}
        self.stored: list[str] = []

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if method in self.fail:
            raise self.fail.pop(method)

    def __getattr__(self, name: str) -> Any:  # answer, set_var, add_channel, bridge_start_moh, …
        async def method(*args: Any, **kwargs: Any) -> None:
            self._call(name, *args, **kwargs)
        return method

    async def create_bridge(self, bridge_id: str | None = None, **kw: Any) -> Bridge:
        self._call("create_bridge", bridge_id, **kw)
        return Bridge(id=bridge_id or "br")

    async def play(self, channel_id: str, media: Any, playback_id: str | None = None) -> Playback:
        self._call("play", channel_id, media, playback_id=playback_id)
        return Playback(id=playback_id or "pb")

    async def originate(self, endpoint: str, **kw: Any) -> Channel:
        self._call("originate", endpoint, **kw)
        return Channel(id=kw.get("channel_id") or "x")

    async def snoop(self, channel_id: str, **kw: Any) -> Channel:
        self._call("snoop", channel_id, **kw)
        return Channel(id=kw.get("snoop_id") or "snoop")

    async def record(self, channel_id: str, name: str, format: str = "wav", **kw: Any) -> dict[str, Any]:
        self._call("record", channel_id, name, format, **kw)
        return {"name": name, "format": format, "state": "queued"}

    async def stored_recordings(self) -> list[str]:
        self._call("stored_recordings")
        return list(self.stored)

    async def delete_stored_recording(self, name: str) -> None:
        self._call("delete_stored_recording", name)
        self.stored.remove(name)

    def named(self, *names: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        return [c for c in self.calls if c[0] in names]


class Harness:
    def __init__(self, *, recording: bool = True, notice: bool = True, ari: FakeAri | None = None) -> None:
        self.ari = ari if ari is not None else FakeAri()
        self.reported: list[Any] = []
        self.saved: list[tuple[str, str, float]] = []
        self.save_error: Exception | None = None
        recorder = CallRecorder(CALL, ari=self.ari, app="callcenter", pattern="qa/{date}/{call_id}",
                                save=self._save, clock=lambda: NOW) if recording else None
        self.flow = InboundCall(CALL, ari=self.ari, report=self.reported.append, app="callcenter",
                                moh_class="default", clock=lambda: NOW, recorder=recorder,
                                notice=recording and notice)
        self._pb = 0

    def _save(self, call_id: str, name: str, started_at: float) -> None:
        if self.save_error:
            raise self.save_error
        self.saved.append((call_id, name, started_at))

    async def start(self) -> None:
        await self.flow.start(Channel(id=CALL, caller_number="13800135678"), "support", 0)

    async def ev(self, *events: Any) -> None:
        for e in events:
            await self.flow.on_event(e)

    async def do(self, *actions: Any) -> None:
        for a in actions:
            await self.flow.do(a)

    def playback(self, purpose: str) -> str:
        return next(pb for pb, p in self.flow.playbacks.items() if p == purpose)

    async def played(self, purpose: str, state: str = "done") -> None:
        await self.ev(PlaybackFinished(type="PlaybackFinished", playback=Playback(id=self.playback(purpose),
                                                                                 state=state)))

    async def connect(self, agent: str = "3001", attempt: int = 1) -> None:
        """The core rings ``agent``, the agent answers, the core connects (no greeting): bridged."""
        await self.do(acd.Ring(call_id=CALL, agent_id=agent, interface=f"Local/{agent}@x", attempt=attempt,
                               timeout_s=4))
        await self.ev(stasis(f"{CALL}~a{attempt}", "agent", CALL))
        await self.do(acd.Connect(call_id=CALL, agent_id=agent))


def stasis(channel_id: str, *args: str) -> StasisStart:
    return StasisStart(type="StasisStart", channel=Channel(id=channel_id), args=args)


def rec_event(kind: type, state: str = "done") -> Any:
    return kind(type=kind.__name__, recording={"name": NAME, "format": "wav", "state": state, "duration": 42,
                                               "target_uri": f"channel:{SNOOP}"})


def gone(kind: type, channel_id: str) -> Any:
    return kind(type=kind.__name__, channel=Channel(id=channel_id))


SNOOP_CALL = ("snoop", (CALL,), {"app": "callcenter", "spy": "both", "snoop_id": SNOOP,
                                 "app_args": "qa-record"})
RECORD_CALL = ("record", (SNOOP, NAME, "wav"), {"max_duration_s": 0, "max_silence_s": 0, "if_exists": "fail",
                                                 "beep": False, "terminate_on": "none"})


# -- the notice ----------------------------------------------------------------------------------------------
async def test_the_notice_plays_before_the_hold_music():
    h = Harness()
    await h.start()
    names = [c[0] for c in h.ari.calls]
    assert "bridge_start_moh" not in names
    assert names[-2:] == ["add_channel", "play"]  # in the holding bridge, the notice playing
    assert h.ari.calls[-1][1] == (CALL, [NOTICE])
    assert isinstance(h.reported[-1], acd.CallArrived)  # in line meanwhile: its place counts from now
    with capture_logs() as logs:
        await h.played("recording-notice")
    assert h.ari.calls[-1] == ("bridge_start_moh", (f"{CALL}~hold", "default"), {})
    assert [e for e in logs if e["event"] == "call.recording_notice"][0]["rule"] == "R-QA"


async def test_announcements_after_the_notice_queue_behind_it():
    h = Harness()
    await h.start()
    await h.do(acd.Announce(call_id=CALL, prompts=("wait-apology",), purpose="apology"))
    plays = [c[1][1] for c in h.ari.named("play")]
    assert plays == [[NOTICE], ["sound:callcenter/wait-apology"]]


async def test_no_notice_no_recording_when_disabled():
    h = Harness(recording=False)
    await h.start()
    assert h.ari.named("play") == []
    assert h.ari.calls[-1] == ("bridge_start_moh", (f"{CALL}~hold", "default"), {})
    await h.connect()
    assert h.ari.named("snoop", "record") == [] and h.saved == []


async def test_recording_without_the_notice():
    h = Harness(notice=False)
    await h.start()
    assert h.ari.named("play") == [] and h.ari.named("bridge_start_moh")
    await h.connect()
    assert h.ari.named("snoop") == [SNOOP_CALL]


async def test_a_notice_that_cannot_play_starts_the_music_at_once():
    h = Harness()
    h.ari.fail["play"] = AriNotFound(404, "POST", "/channels/x/play", "Channel not found")
    await h.start()
    assert h.ari.calls[-1] == ("bridge_start_moh", (f"{CALL}~hold", "default"), {})


async def test_the_notice_ending_after_the_caller_was_bridged_starts_no_music():
    h = Harness()
    await h.start()
    await h.connect()
    await h.played("recording-notice")
    assert h.ari.named("bridge_start_moh") == []


# -- one recording per call ---------------------------------------------------------------------------------
async def test_snoop_and_record_start_once_at_the_first_bridge_and_survive_a_transfer():
    h = Harness()
    await h.start()
    await h.played("recording-notice")
    await h.connect()
    assert h.ari.named("snoop") == [SNOOP_CALL]
    assert isinstance(h.reported[-1], acd.CallBridged)  # bridged first, then the snoop
    assert h.ari.named("record") == []  # only once the snoop is in Stasis
    with capture_logs() as logs:
        await h.ev(stasis(SNOOP, "qa-record"))
    assert h.ari.named("record") == [RECORD_CALL]
    assert h.saved == [(CALL, NAME, NOW)]
    started = [e for e in logs if e["event"] == "call.recording_started"]
    assert started == [{"event": "call.recording_started", "recording": NAME, "format": "wav", "rule": "R-QA",
                        "log_level": "info"}]
    # an attended transfer to 3002, completed: the caller moves bridges, the recording stays
    await h.do(HoldForTransfer(call_id=CALL, transfer_id=f"{CALL}~x1"),
               DialTarget(call_id=CALL, transfer_id=f"{CALL}~x1", interface="Local/3002@x", timeout_s=4))
    await h.ev(stasis(T1, "target", CALL))
    await h.do(Consult(call_id=CALL, transfer_id=f"{CALL}~x1"),
               EndTransfer(call_id=CALL, transfer_id=f"{CALL}~x1", outcome="completed",
                           prompts=("xfer-sorry-wait",)))
    await h.played("xfer-name")
    assert h.flow.connected_leg == T1
    assert ("add_channel", (f"{CALL}~talk", T1), {"absorb_dtmf": True}) in h.ari.calls
    # the caller goes back into the queue and another agent is connected: still the one recording
    await h.do(acd.Connect(call_id=CALL, agent_id="target"))
    await h.connect(agent="3006", attempt=2)
    assert h.ari.named("snoop") == [SNOOP_CALL] and h.ari.named("record") == [RECORD_CALL]
    assert h.saved == [(CALL, NAME, NOW)]
    assert not [c for c in h.ari.named("hangup") if c[1][0] == SNOOP]  # never stopped while the call goes on


async def test_the_call_is_finished_only_once_its_recording_is_closed():
    h = Harness()
    await h.start()
    await h.connect()
    await h.ev(stasis(SNOOP, "qa-record"))
    await h.ev(gone(ChannelHangupRequest, CALL))  # the caller hangs up
    assert isinstance(h.reported[-1], acd.CallEnded) and h.reported[-1].by == "caller"
    assert ("hangup", (SNOOP,), {}) in h.ari.calls  # it ends with the caller anyway
    assert not h.flow.finished  # RecordingFinished still to come: the service keeps routing to the call
    await h.ev(gone(StasisEnd, CALL), gone(ChannelHangupRequest, SNOOP))
    assert not h.flow.finished
    with capture_logs() as logs:
        await h.ev(rec_event(RecordingFinished))
    assert h.flow.finished
    done = [e for e in logs if e["event"] == "call.recording_finished"]
    assert len(done) == 1
    assert (done[0]["recording"], done[0]["state"], done[0]["duration"]) == (NAME, "done", 42)
    with capture_logs() as logs:
        await h.ev(gone(StasisEnd, SNOOP), gone(ChannelDestroyed, SNOOP))  # late: nothing more
    assert logs == []


async def test_a_snoop_that_ends_without_recording_finished_closes_the_recording():
    h = Harness()
    await h.start()
    await h.connect()
    await h.ev(stasis(SNOOP, "qa-record"))
    await h.ev(gone(ChannelHangupRequest, CALL))
    with capture_logs() as logs:
        await h.ev(gone(ChannelDestroyed, SNOOP))
    assert h.flow.finished
    assert [e["state"] for e in logs if e["event"] == "call.recording_finished"] == ["ended"]


async def test_a_failed_recording_is_logged_and_closed():
    h = Harness()
    await h.start()
    await h.connect()
    await h.ev(stasis(SNOOP, "qa-record"))
    with capture_logs() as logs:
        await h.ev(rec_event(RecordingFailed, state="failed"))
    assert [e["failed"] for e in logs if e["event"] == "call.recording_finished"] == [True]
    assert h.flow.recorder.state == "done" and h.flow.connected_leg == A1  # the call goes on


@pytest.mark.parametrize("method", ["snoop", "record"])
async def test_a_failure_to_record_is_logged_and_the_call_goes_on(method):
    h = Harness()
    h.ari.fail[method] = AriConflict(409, "POST", "/channels/x/" + method, "Recording already exists")
    await h.start()
    with capture_logs() as logs:
        await h.connect()
        if method == "record":  # the snoop is there, in Stasis
            await h.ev(stasis(SNOOP, "qa-record"))
    failed = [e for e in logs if e["event"] == "call.recording_failed"]
    assert len(failed) == 1 and failed[0]["stage"] == method and failed[0]["rule"] == "R-QA"
    assert failed[0]["log_level"] == "warning"
    assert isinstance(h.reported[-1], acd.CallBridged) and h.flow.connected_leg == A1
    assert h.saved == []
    assert [c[1][0] for c in h.ari.named("hangup")] == ([SNOOP] if method == "record" else [])
    # no second try at the next bridge: one file per call, or none
    await h.connect(agent="3006", attempt=2)
    assert len(h.ari.named(method)) == 1
    # and the call ends as it would without recording
    await h.ev(gone(ChannelHangupRequest, CALL))
    assert h.flow.finished


async def test_a_store_failure_is_logged_and_the_recording_goes_on():
    h = Harness()
    h.save_error = StoreError("database is locked")
    await h.start()
    await h.connect()
    with capture_logs() as logs:
        await h.ev(stasis(SNOOP, "qa-record"))
    assert [e["what"] for e in logs if e["event"] == "store.write_failed"] == ["recordings"]
    assert h.flow.recorder.state == "recording"


async def test_the_caller_gone_before_the_snoop_arrived():
    h = Harness()
    await h.start()
    await h.connect()
    await h.ev(gone(ChannelHangupRequest, CALL))
    assert h.flow.finished  # nothing is being recorded: nothing to wait for
    with capture_logs() as logs:
        await h.ev(gone(StasisEnd, SNOOP))
    assert [e["stage"] for e in logs if e["event"] == "call.recording_failed"] == ["snoop"]


async def test_a_diverted_caller_stops_the_recording_at_once():
    h = Harness()
    await h.start()
    await h.connect()
    await h.ev(stasis(SNOOP, "qa-record"))
    await h.do(EndTransfer(call_id=CALL, transfer_id="x", outcome="requeued"))
    with capture_logs() as logs:
        await h.do(acd.Divert(call_id=CALL, prompts=(), destination="callcenter-voicemail,s,1",
                              reason="voicemail"))
    assert ("hangup", (SNOOP,), {}) in h.ari.calls
    assert [e["state"] for e in logs if e["event"] == "call.recording_finished"] == ["stopped"]
    assert h.flow.finished  # the caller may enter Stasis again (voicemail): never routed to this flow


# -- resync: the snoop belongs to its call ---------------------------------------------------------------
class ResyncAri(FakeAri):
    def __init__(self, channels: list[Channel], tags: dict[str, dict[str, str]],
                 bridges: list[Bridge]) -> None:
        super().__init__()
        self.channels, self.tags, self.bridges = channels, tags, bridges

    async def get_application(self, name: str) -> dict[str, Any]:
        return {"channel_ids": [c.id for c in self.channels]}

    async def list_channels(self) -> list[Channel]:
        return self.channels

    async def get_var(self, channel_id: str, name: str) -> str | None:
        self._call("get_var", channel_id, name)
        return self.tags.get(channel_id, {}).get(name)

    async def list_bridges(self) -> list[Bridge]:
        return self.bridges


async def test_resync_reads_the_snoop_as_the_calls_recording():
    ari = ResyncAri([Channel(id=CALL, state="Up"), Channel(id=A1, state="Up"), Channel(id=SNOOP, state="Up"),
                     Channel(id="other~rec", state="Up")],
                    {CALL: {"CC_CALL_ID": CALL, "CC_ROLE": "caller", "CC_QUEUE": "xfer"},
                     A1: {"CC_CALL_ID": CALL, "CC_ROLE": "agent", "CC_AGENT": "3001"}},
                    [Bridge(id=f"{CALL}~talk", channels=(CALL, A1))])
    calls, untagged, stale = await resync.read_calls(ari, "callcenter")
    assert untagged == [] and stale == []  # the snoop is never an untagged orphan
    assert calls[CALL].recording == SNOOP and list(calls[CALL].agent_legs) == [A1]
    assert calls[CALL].connected_leg() == A1
    assert calls["other"].caller is None and calls["other"].recording == "other~rec"  # hung up as an orphan
    assert not [c for c in ari.calls if c[0] == "get_var" and c[1][0] == SNOOP]


async def test_resync_adopts_the_running_recording():
    h = Harness()
    await h.flow.resume_recording(SNOOP, connected=True)
    assert h.flow.recorder.open and h.ari.calls == []
    await h.connect(agent="3006", attempt=2)  # a later bridge: still the one recording
    assert h.ari.named("snoop") == []
    with capture_logs() as logs:
        await h.ev(rec_event(RecordingFinished))
    assert [e["recording"] for e in logs if e["event"] == "call.recording_finished"] == [NAME]


async def test_resync_of_a_connected_call_not_recorded_starts_it_and_a_disabled_one_drops_the_snoop():
    h = Harness()
    await h.flow.resume_recording(None, connected=True)
    assert h.ari.named("snoop") == [SNOOP_CALL]
    waiting = Harness()
    await waiting.flow.resume_recording(None, connected=False)
    assert waiting.ari.calls == []  # it starts at its bridge
    off = Harness(recording=False)
    await off.flow.resume_recording(SNOOP, connected=True)
    assert off.ari.calls == [("hangup", (SNOOP,), {})]


async def test_the_service_routes_the_snoop_to_its_call(tmp_path):
    from ari_app.app import Service
    from ari_app.store import Store

    cfg = parse({**GOOD, "recording": {}})
    svc = Service(cfg, store=Store(tmp_path / "state.db"), ari=FakeAri(), clock=lambda: NOW)
    await svc._on_item(CALL, stasis(CALL, "queue", "support", "0"))
    flow = svc.calls[CALL]
    assert flow.notice and flow.recorder is not None
    assert svc._key(stasis(SNOOP, "qa-record")) == CALL
    flow.recorder.state = "snooping"
    await svc._on_item(CALL, stasis(SNOOP, "qa-record"))
    assert ("hangup", (SNOOP,), {}) not in svc.ari.calls  # not an orphan
    assert flow.recorder.open and svc.store.recordings(0, NOW + 1) == {CALL: NAME}
    await svc._on_item(CALL, gone(ChannelHangupRequest, CALL))
    assert CALL in svc.calls  # its recording is still to be closed
    await svc._on_item(CALL, rec_event(RecordingFinished))
    assert CALL not in svc.calls
    await svc._on_item("gone.1", stasis("gone.1~rec", "qa-record"))  # a snoop whose call is gone: an orphan
    assert ("hangup", ("gone.1~rec",), {}) in svc.ari.calls


# -- config --------------------------------------------------------------------------------------------------
GOOD = {"ari": {"password": "x"}, "queues": {"support": {}}}


def test_config_recording_absent_defaults_and_disabled():
    assert parse(GOOD).recording is None
    assert parse({**GOOD, "recording": {}}).recording == RecordingConfig()
    rc = RecordingConfig()
    assert (rc.enabled, rc.notice, rc.format, rc.retention_days, rc.name) == (True, True, "wav", 90,
                                                                              "qa/{date}/{call_id}")
    off = parse({**GOOD, "recording": {"enabled": False, "retention_days": 30}}).recording
    assert off is not None and not off.enabled and off.retention_days == 30


def test_config_recording_errors_are_precise():
    with pytest.raises(ConfigError) as e:
        parse({**GOOD, "recording": {"enabled": "yes", "notice": 1, "format": "mp3", "retention_days": 0,
                                     "name": "callcenter/{date}/{call_id}", "keep": 3}})
    assert e.value.errors == [
        "recording.name: callcenter/ holds the voicemails (R-VM); use another directory, e.g. qa/, "
        "got 'callcenter/{date}/{call_id}'",
        "recording.enabled: must be true or false, got 'yes'",
        "recording.notice: must be true or false, got 1",
        "recording.format: must be one of wav, gsm, ulaw, alaw, got 'mp3'",
        "recording.retention_days: must be a number of days 1..36500, got 0",
        "recording.keep: unknown key",
    ]
    with pytest.raises(ConfigError, match=r"^<config>: invalid configuration:\n  recording: must be a table"):
        parse({**GOOD, "recording": True})


@pytest.mark.parametrize("pattern, problem", [
    ("qa/{date}/{call_id}", None),
    ("recordings/{call_id}-{date}", None),
    ("qa/{call_id}", "must contain {date} exactly once"),
    ("qa/{date}/{date}/{call_id}", "must contain {date} exactly once"),
    ("qa/{date}", "must contain {call_id} exactly once"),
    ("qa/{date}/{agent}/{call_id}", "only {date}, {call_id}, letters, digits and _ . - / are allowed"),
    ("/qa/{date}/{call_id}", "must be a relative path without empty, '.' or '..' parts"),
    ("qa/../{date}/{call_id}", "must be a relative path without empty, '.' or '..' parts"),
    ("qa//{date}/{call_id}", "must be a relative path without empty, '.' or '..' parts"),
    ("callcenter-fallback/{date}/{call_id}", "callcenter-fallback/ holds the voicemails (R-VM); use another "
                                             "directory, e.g. qa/"),
])
def test_name_patterns(pattern, problem):
    assert name_pattern_error(pattern) == problem


# -- retention (R-PRIVACY) --------------------------------------------------------------------------------
PATTERN = "qa/{date}/{call_id}"
TODAY = date(2025, 6, 30)


def test_recording_names():
    assert recording_name(PATTERN, CALL, date(2025, 3, 4)) == f"qa/2025-03-04/{CALL}"
    assert recording_name("r/{call_id}_{date}", "c1", date(2025, 3, 4)) == "r/c1_2025-03-04"


def test_retention_selects_only_the_patterns_recordings_older_than_the_period():
    names = [
        "qa/2025-05-31/1.1",  # 30 days old: kept (the last day)
        "qa/2025-05-30/1.2",  # 31 days: deleted
        "qa/2024-12-31/1.3",  # deleted
        "qa/2025-06-30/1.4",  # today
        "qa/2025-07-01/1.5",  # the future (a clock set back): kept
        "qa/2025-02-30/1.6",  # no such day: not ours to judge
        "qa/2025-01-01/sub/1.7",  # another shape
        "qa/2025-01-01",
        "callcenter/vm-1", "callcenter-fallback/support_1_2_3", "other/2025-01-01/1.8",
    ]
    assert expired(names, PATTERN, today=TODAY, retention_days=30) == [
        "qa/2024-12-31/1.3", "qa/2025-05-30/1.2"]
    assert expired(names, PATTERN, today=TODAY, retention_days=365) == []
    assert expired(names, PATTERN, today=TODAY + timedelta(days=1), retention_days=30) == [
        "qa/2024-12-31/1.3", "qa/2025-05-30/1.2", "qa/2025-05-31/1.1"]
    assert expired(["rec/1.1-2025-01-01", "rec/x"], "rec/{call_id}-{date}", today=TODAY,
                   retention_days=1) == ["rec/1.1-2025-01-01"]


def test_retention_names_of_other_shapes_before_expired_ones_do_not_stop_the_search():
    # mutation testing (issue 7): a foreign name or an impossible day is skipped, the rest still judged
    names = ["callcenter/vm-1", "qa/2024-12-31/1.3", "qa/2025-02-30/1.6", "qa/2025-01-02/1.4"]
    assert expired(names, PATTERN, today=TODAY, retention_days=30) == ["qa/2024-12-31/1.3", "qa/2025-01-02/1.4"]


def test_name_patterns_with_a_dot_part_or_in_the_voicemail_directory_are_refused():
    # mutation testing (issue 7)
    assert "'.'" in name_pattern_error("qa/./{date}/{call_id}")
    assert "holds the voicemails" in name_pattern_error("callcenter/{date}-{call_id}")
    assert name_pattern_error("callcenter-{date}-{call_id}") is None  # a name, not the directory


def test_next_run_is_the_next_time_of_day():
    tz = timezone(timedelta(hours=8))
    at = time(0, 15)
    assert next_run_delay(datetime(2025, 6, 30, 0, 0, tzinfo=tz), at) == 15 * 60
    assert next_run_delay(datetime(2025, 6, 30, 0, 15, tzinfo=tz), at) == 24 * 3600
    assert next_run_delay(datetime(2025, 6, 30, 23, 0, tzinfo=tz), at) == 75 * 60


async def test_retention_deletes_through_ari_and_survives_a_failed_delete():
    ari = FakeAri()
    ari.stored = ["qa/2025-01-01/1.1", "qa/2025-01-02/1.2", "qa/2025-06-29/1.3", "callcenter/vm-1"]
    ari.fail["delete_stored_recording"] = AriUnavailable("DELETE", "/recordings/stored/x", "timeout")
    with capture_logs() as logs:
        deleted = await retention_once(ari, PATTERN, 90, TODAY)
    assert deleted == ["qa/2025-01-02/1.2"]
    assert [c[1][0] for c in ari.named("delete_stored_recording")] == [
        "qa/2025-01-01/1.1", "qa/2025-01-02/1.2"]
    assert [e["recording"] for e in logs if e["event"] == "recording.delete_failed"] == ["qa/2025-01-01/1.1"]
    summary = [e for e in logs if e["event"] == "recording.retention"]
    assert summary[0]["deleted"] == 1 and summary[0]["rule"] == "R-PRIVACY"
    ari.fail["delete_stored_recording"] = AriNotFound(404, "DELETE", "/recordings/stored/x", "not found")
    assert await retention_once(ari, PATTERN, 90, TODAY) == []  # gone meanwhile: fine
    ari.fail["stored_recordings"] = AriBadRequest(400, "GET", "/recordings/stored", "bad")
    with pytest.raises(AriBadRequest):
        await retention_once(ari, PATTERN, 90, TODAY)  # the loop logs it and tries again later
