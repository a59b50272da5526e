"""R-VM, R-VM-CHECK: the callbacks desk (flows/desk.py): a real SQLite store, the real core, a fake ARI."""

import asyncio
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ari_app.ari import (
    AriConflict, AriNotFound, AriUnavailable, Bridge, Channel, ChannelDestroyed, Playback, PlaybackFinished,
    StasisStart,
)
from ari_app.config import KeyMap
from ari_app.core import callbacks as cb
from ari_app.core.roster import Roster, Shift, Team
from ari_app.api import _input as api_input
from ari_app.flows import desk as desk_mod
from ari_app.flows.desk import CallbackDesk
from ari_app.flows.voicemail import VoicemailCall
from ari_app.store import Store, VoicemailIntake

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=SH).timestamp()  # Monday 10:00
EPOCH = 1740963600  # the fallback's own time stamp (earlier that morning)
UID = "1740963600.42"
FB = f"callcenter-fallback/support_{EPOCH}_13800135678_{UID}"
FB_TASK = "fb-1740963600-42"
FB_REC = f"callcenter/{FB_TASK}"


class FakeAri:
    """Stored and live recordings as sets; every call recorded as (method, *args); ``fail[m]`` raised once."""

    def __init__(self, stored: set[str] | None = None, live: set[str] | None = None) -> None:
        self.stored, self.live = set(stored or ()), set(live or ())
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, Exception] = {}

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail.pop(name)

    async def stored_recordings(self) -> list[str]:
        self._call("stored_recordings")
        return sorted(self.stored)

    async def stored_recording_exists(self, name: str) -> bool:
        self._call("stored_recording_exists", name)
        return name in self.stored

    async def live_recording_exists(self, name: str) -> bool:
        self._call("live_recording_exists", name)
        return name in self.live

    async def copy_stored_recording(self, name: str, destination: str) -> None:
        self._call("copy_stored_recording", name, destination)
        if name not in self.stored:
            raise AriNotFound(404, "POST", f"/recordings/stored/{name}/copy", "Recording not found")
        if destination in self.stored:
            raise AriConflict(409, "POST", f"/recordings/stored/{name}/copy",
                              "A recording with the same name already exists on the system")
        self.stored.add(destination)

    async def delete_stored_recording(self, name: str) -> None:
        self._call("delete_stored_recording", name)
        if name not in self.stored:
            raise AriNotFound(404, "DELETE", f"/recordings/stored/{name}", "Recording not found")
        self.stored.discard(name)

    # what the flows use
    async def originate(self, endpoint: str, **kw: Any) -> Channel:
        self._call("originate", endpoint, kw)
        return Channel(id=kw["channel_id"])

    async def answer(self, channel_id: str) -> None:
        self._call("answer", channel_id)

    async def play(self, channel_id: str, media: Any, playback_id: str | None = None) -> Playback:
        self._call("play", channel_id, media, playback_id)
        return Playback(id=playback_id or "pb")

    async def stop_playback(self, playback_id: str) -> None:
        self._call("stop_playback", playback_id)

    async def record(self, channel_id: str, name: str, format: str = "wav", **kw: Any) -> dict[str, Any]:
        self._call("record", channel_id, name)
        self.live.add(name)
        return {"name": name}

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self._call("hangup", channel_id)

    async def create_bridge(self, bridge_id: str | None = None, **kw: Any) -> Bridge:
        self._call("create_bridge", bridge_id)
        return Bridge(id=bridge_id or "br")

    async def destroy_bridge(self, bridge_id: str) -> None:
        self._call("destroy_bridge", bridge_id)

    def writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] in ("copy_stored_recording", "delete_stored_recording")]


class World:
    def __init__(self, tmp_path: Any) -> None:
        self.store = Store(tmp_path / "s.db")
        self.ari = FakeAri()
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.registered: list[tuple[str, Any]] = []
        self.held: list[str] = []
        self.released: list[str] = []
        self.hold_ok = True
        self.busy: set[str] = set()
        self.interfaces = {"1001": "PJSIP/1001", "1002": "PJSIP/1002"}

    def make(self) -> CallbackDesk:
        always = Shift(name="always", start=time(0, 0), end=time(23, 59), weekdays=frozenset(range(7)))
        roster = Roster([Team(name="support", agents=("1001", "1002"), shifts=(always,))])

        async def hold(agent: str) -> bool:
            self.held.append(agent)
            return self.hold_ok

        rules = cb.CallbackRules(check_offsets=cb.stagger(["support"]), queue_teams={"billing": "support"})
        d = CallbackDesk(rules=rules, roster=roster, store=self.store,
                         ari=self.ari, app="callcenter",  # type: ignore[arg-type]
                         publish=lambda name, fields: self.published.append((name, fields)),
                         dispatch=lambda item: None,
                         register=lambda call_id, flow: self.registered.append((call_id, flow)),
                         agent_interface=self.interfaces.get, hold_agent=hold,
                         release_agent=self.released.append, agent_busy=lambda agent: agent in self.busy,
                         trunk=None, keys=KeyMap(), clock=lambda: NOW)
        assert drain(d) == [cb.RosterChanged()]
        return d


def drain(desk: CallbackDesk) -> list[Any]:
    out = []
    while not desk.inbox.empty():
        out.append(desk.inbox.get_nowait())
    return out


def intake(task_id: str = "vm-1", queue: str = "support", team: str | None = "support") -> VoicemailIntake:
    return VoicemailIntake(task_id=task_id, caller="13800135678", queue=queue,
                           recording=f"callcenter/{task_id}", started_at=NOW - 60, team=team)


def left(task_id: str = "vm-1", created_at: float = NOW - 60, queue: str = "support",
         caller: str = "13800135678") -> cb.VoicemailLeft:
    return cb.VoicemailLeft(task_id=task_id, caller=caller, queue=queue, recording=f"callcenter/{task_id}",
                            created_at=created_at, team="support", kind="voicemail", not_before=None)


def summary(task: cb.CallbackTask) -> tuple[Any, ...]:
    return (task.task_id, task.caller, task.queue, task.team, task.recording, task.created_at, task.deadline,
            task.state, task.kind)


@pytest.fixture
def w(tmp_path):
    world = World(tmp_path)
    yield world
    world.store.close()


# -- reconcile: intakes --------------------------------------------------------------------------------------
async def test_intake_with_its_recording_becomes_a_task(w):
    w.store.add_intake(intake())
    w.ari.stored = {"callcenter/vm-1"}
    d = w.make()
    assert await d._reconcile_once() is False
    assert w.store.intakes() == []
    assert [summary(t) for t in w.store.tasks()] == [
        ("vm-1", "13800135678", "support", "support", "callcenter/vm-1", NOW - 60, NOW - 60 + 86400,
         cb.TaskState.OPEN, "voicemail")]
    assert drain(d) == [left()]
    assert w.ari.calls == [("stored_recordings",), ("live_recording_exists", "callcenter/vm-1"),
                           ("stored_recordings",)]
    assert w.ari.stored == {"callcenter/vm-1"}


async def test_intake_without_a_team_takes_the_queue_s_team(w):
    w.store.add_intake(intake("vm-2", queue="billing", team=None))
    w.ari.stored = {"callcenter/vm-2"}
    d = w.make()
    await d._reconcile_once()
    assert [(t.task_id, t.queue, t.team) for t in w.store.tasks()] == [("vm-2", "billing", "support")]
    assert drain(d) == [cb.VoicemailLeft(task_id="vm-2", caller="13800135678", queue="billing",
                                         recording="callcenter/vm-2", created_at=NOW - 60, team="support")]


async def test_committed_task_reaches_the_core_and_is_assigned_and_saved(w):
    w.store.add_intake(intake())
    w.ari.stored = {"callcenter/vm-1"}
    d = w.make()
    runner = asyncio.create_task(d.run())
    try:
        await d.reconcile()
        for _ in range(20):
            await asyncio.sleep(0)
        assert d.core.tasks["vm-1"].assigned == "1001"  # the day's duty agent
        assert w.store.task("vm-1").assigned == "1001"  # persisted after the step
        assert [f["task_id"] for name, f in w.published if name == "callback.created"] == ["vm-1"]
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_intake_without_a_recording_is_dropped(w):
    w.store.add_intake(intake())
    d = w.make()
    assert await d._reconcile_once() is False
    assert w.store.intakes() == [] and w.store.tasks() == []
    assert drain(d) == []
    assert w.ari.writes() == []


async def test_intake_still_being_recorded_is_left_and_looked_at_again(w):
    w.store.add_intake(intake())
    w.ari.live = {"callcenter/vm-1"}
    w.ari.stored = {"callcenter/vm-1"}  # Asterisk may have written part of it already
    d = w.make()
    assert await d._reconcile_once() is True
    assert w.store.intakes() == [intake()] and w.store.tasks() == []
    assert drain(d) == [] and w.ari.writes() == []  # not an orphan: its intake is known


async def test_a_live_intake_is_retried_after_the_delay(w, monkeypatch):
    assert desk_mod.RECONCILE_RETRY_S == 3.0
    monkeypatch.setattr(desk_mod, "RECONCILE_RETRY_S", 0.0)
    w.store.add_intake(intake())
    w.ari.live = {"callcenter/vm-1"}
    d = w.make()
    await d.reconcile()
    assert w.store.intakes() == [intake()]
    w.ari.live.clear()  # the caller hung up; Asterisk stored it
    w.ari.stored = {"callcenter/vm-1"}
    for _ in range(20):
        await asyncio.sleep(0)
        if w.store.tasks():
            break
    assert [t.task_id for t in w.store.tasks()] == ["vm-1"] and w.store.intakes() == []
    assert drain(d) == [left()]
    assert [c for c in w.ari.calls if c[0] == "live_recording_exists"] == [
        ("live_recording_exists", "callcenter/vm-1")] * 2


async def test_an_intake_our_flow_is_recording_is_not_touched(w):
    w.store.add_intake(intake())
    w.ari.stored = {"callcenter/vm-1"}
    d = w.make()
    d.recording_now.add("vm-1")
    assert await d._reconcile_once() is False
    assert w.store.intakes() == [intake()] and w.store.tasks() == []
    assert ("live_recording_exists", "callcenter/vm-1") not in w.ari.calls
    assert w.ari.writes() == [] and drain(d) == []


async def test_reconcile_failing_on_ari_is_retried(w, monkeypatch):
    monkeypatch.setattr(desk_mod, "RECONCILE_RETRY_S", 0.0)
    w.store.add_intake(intake())
    w.ari.stored = {"callcenter/vm-1"}
    w.ari.fail["stored_recordings"] = AriUnavailable("GET", "/recordings/stored", "refused")
    d = w.make()
    await d.reconcile()
    assert w.store.tasks() == []
    for _ in range(20):
        await asyncio.sleep(0)
        if w.store.tasks():
            break
    assert [t.task_id for t in w.store.tasks()] == ["vm-1"]


# -- reconcile: orphans --------------------------------------------------------------------------------------
async def test_orphan_recording_becomes_a_task_and_is_never_deleted(w):
    """Issue 17: a recording the store cannot account for (a fresh store, a restored backup, another instance)
    is kept and becomes an open task, caller unknown, with an alert; the known ones are left alone."""
    w.store.add_intake(intake("vm-live"))
    w.ari.live = {"callcenter/vm-live"}
    t = cb.CallbackTask(task_id="vm-old", caller="1", queue="support", team="support",
                        recording="callcenter/vm-old", created_at=NOW - 600, deadline=NOW + 86000)
    w.store.commit_task(t)
    lost = f"vm-{int((NOW - 7200) * 1000)}-abc123"  # another store's voicemail, left two hours ago
    w.ari.stored = {f"callcenter/{lost}", "callcenter/vm-old", "callcenter/vm-live", "elsewhere/y"}
    d = w.make()
    assert await d._reconcile_once() is True  # vm-live: looked at again
    assert w.ari.writes() == []  # nothing deleted
    assert w.ari.stored == {f"callcenter/{lost}", "callcenter/vm-old", "callcenter/vm-live", "elsewhere/y"}
    task = w.store.task(lost)
    assert task is not None and summary(task) == (
        lost, "", "support", "support", f"callcenter/{lost}", NOW - 7200, NOW - 7200 + 86400,
        cb.TaskState.OPEN, "voicemail")
    assert task.note.startswith("orphan voicemail")
    assert drain(d) == [cb.VoicemailLeft(task_id=lost, caller="", queue="support", recording=f"callcenter/{lost}",
                                         created_at=NOW - 7200, team="support", note=desk_mod.ORPHAN_NOTE)]
    assert w.published == [("voicemail.orphan_imported", {"task_id": lost, "recording": f"callcenter/{lost}",
                                                          "team": "support", "created_at": NOW - 7200,
                                                          "rule": "R-VM"})]
    from ari_app.events.bus import ALERTS
    assert "voicemail.orphan_imported" in ALERTS
    w.published.clear()
    assert await d._reconcile_once() is True  # the next reconnect: now known, nothing new
    assert w.published == [] and w.ari.writes() == [] and drain(d) == []


async def test_orphan_with_an_odd_name_gets_a_safe_task_id_and_its_own_time(w):
    w.ari.stored = {"callcenter/x y", "callcenter/x", "callcenter/.x", "callcenter/x\n"}
    d = w.make()
    await d._reconcile_once()
    tasks = {t.task_id: t for t in w.store.tasks()}
    odd = sorted(i for i in tasks if i != "x")
    assert len(odd) == 3 and all(i.startswith("orphan-") and api_input.TASK_ID.match(i) for i in odd)
    assert sorted(tasks[i].recording for i in odd) == ["callcenter/.x", "callcenter/x\n", "callcenter/x y"]
    assert tasks["x"].recording == "callcenter/x"
    assert {t.created_at for t in tasks.values()} == {NOW} and w.ari.writes() == []


async def test_orphan_still_being_recorded_is_looked_at_again(w):
    """Another instance on the same PBX is recording it now: neither touched nor imported yet."""
    w.ari.stored = w.ari.live = {"callcenter/vm-other"}
    d = w.make()
    assert await d._reconcile_once() is True
    assert w.store.tasks() == [] and w.ari.writes() == [] and drain(d) == []


# -- reconcile: the dialplan's fallback voicemails -----------------------------------------------------------
def fb_task_summary() -> tuple[Any, ...]:
    return (FB_TASK, "13800135678", "support", "support", FB_REC, float(EPOCH), EPOCH + 86400.0,
            cb.TaskState.OPEN, "voicemail")


async def test_fallback_is_copied_committed_and_deleted(w):
    w.ari.stored = {FB}
    d = w.make()
    assert await d._reconcile_once() is False
    assert w.ari.writes() == [("copy_stored_recording", FB, FB_REC), ("delete_stored_recording", FB)]
    assert w.ari.stored == {FB_REC}
    assert [summary(t) for t in w.store.tasks()] == [fb_task_summary()]
    assert w.store.intakes() == []
    assert drain(d) == [left(FB_TASK, created_at=float(EPOCH))]


async def test_a_fallback_that_fails_or_cannot_be_read_is_logged_without_the_callers_digits(w):
    """A fallback voicemail's name holds the caller's digits; an ARI error names the path, and an unreadable
    name was logged whole (issue 17, outside review): both are masked now (R-PRIVACY)."""
    from structlog.testing import capture_logs

    odd = "callcenter-fallback/support-13912345678"
    w.ari.stored = {FB, odd}
    w.ari.fail["copy_stored_recording"] = AriNotFound(404, "POST", f"/recordings/stored/{FB}/copy", "gone")
    d = w.make()
    with capture_logs() as logs:
        await d.reconcile()
    d._stop_background()
    lines = [e for e in logs if e["event"] in ("voicemail.reconcile_failed", "voicemail.fallback_unreadable")]
    assert sorted(e["event"] for e in lines) == ["voicemail.fallback_unreadable", "voicemail.reconcile_failed"]
    text = repr(lines)
    assert "13800135678" not in text and "13912345678" not in text
    assert text.count("*******5678") == 2  # each number masked where it was


async def test_fallback_without_caller_digits(w):
    name = f"callcenter-fallback/billing_{EPOCH}__1740963600.7"
    w.ari.stored = {name}
    d = w.make()
    await d._reconcile_once()
    assert w.ari.writes() == [("copy_stored_recording", name, "callcenter/fb-1740963600-7"),
                              ("delete_stored_recording", name)]
    [t] = w.store.tasks()
    assert (t.task_id, t.caller, t.queue, t.team) == ("fb-1740963600-7", "", "billing", "support")


async def test_fallback_after_a_crash_past_the_copy_is_not_copied_again(w):
    w.ari.stored = {FB, FB_REC}
    d = w.make()
    await d._reconcile_once()
    assert w.ari.writes() == [("delete_stored_recording", FB)]
    assert [summary(t) for t in w.store.tasks()] == [fb_task_summary()]
    assert drain(d) == [left(FB_TASK, created_at=float(EPOCH))]
    assert w.ari.stored == {FB_REC}


async def test_fallback_copy_conflict_counts_as_copied(w):
    w.ari.stored = {FB}
    w.ari.fail["copy_stored_recording"] = AriConflict(409, "POST", "/recordings/stored/x/copy", "exists")
    d = w.make()
    await d._reconcile_once()
    assert w.ari.writes() == [("copy_stored_recording", FB, FB_REC), ("delete_stored_recording", FB)]
    assert [summary(t) for t in w.store.tasks()] == [fb_task_summary()]


async def test_fallback_already_imported_is_only_deleted(w):
    w.ari.stored = {FB, FB_REC}
    d = w.make()
    await d._reconcile_once()
    drain(d)
    before = [summary(t) for t in w.store.tasks()]
    w.ari.calls.clear()
    w.ari.stored.add(FB)  # the delete was lost in a crash: the fallback is back in the listing
    d2 = w.make()
    assert await d2._reconcile_once() is False
    assert w.ari.writes() == [("delete_stored_recording", FB)]
    assert [summary(t) for t in w.store.tasks()] == before
    assert drain(d2) == []
    assert w.ari.stored == {FB_REC}


async def test_the_same_fallback_twice_makes_one_task(w):
    w.ari.stored = {FB}
    d = w.make()
    await d._reconcile_once()
    w.ari.stored.add(FB)
    await d._reconcile_once()
    assert [t.task_id for t in w.store.tasks()] == [FB_TASK]
    copies = [c for c in w.ari.calls if c[0] == "copy_stored_recording"]
    assert copies == [("copy_stored_recording", FB, FB_REC)]


async def test_unreadable_fallback_is_left_alone(w):
    odd = "callcenter-fallback/not-a-fallback-name"
    w.ari.stored = {odd}
    d = w.make()
    await d._reconcile_once()
    assert w.ari.writes() == [] and w.store.tasks() == [] and w.ari.stored == {odd}


async def test_fallback_of_a_queue_without_a_team_is_kept_for_later(w):
    name = f"callcenter-fallback/nowhere_{EPOCH}_138_{UID}"
    w.ari.stored = {name}
    d = w.make()
    await d._reconcile_once()
    assert w.store.tasks() == []
    assert ("delete_stored_recording", name) not in w.ari.calls  # the audio is not lost


# -- the voicemail flow's calls ------------------------------------------------------------------------------
async def test_silent_voicemail_is_deleted_and_its_intake_dropped(w):
    d = w.make()
    i = intake()
    d.intake_started(i)
    assert w.store.intakes() == [i] and d.recording_now == {"vm-1"}
    w.ari.stored = {"callcenter/vm-1"}
    assert await d.voicemail_recorded(i, keep=False) is False
    assert w.ari.calls == [("delete_stored_recording", "callcenter/vm-1")]
    assert w.ari.stored == set()
    assert w.store.intakes() == [] and w.store.tasks() == []
    assert d.recording_now == set() and drain(d) == []


async def test_silent_voicemail_not_stored_still_drops_the_intake(w):
    d = w.make()
    d.intake_started(intake())
    assert await d.voicemail_recorded(intake(), keep=False) is False
    assert w.store.intakes() == [] and d.recording_now == set()


async def test_voicemail_recorded_commits_the_task(w):
    d = w.make()
    d.intake_started(intake())
    w.ari.stored = {"callcenter/vm-1"}
    assert await d.voicemail_recorded(intake()) is True
    assert w.ari.calls == [("stored_recording_exists", "callcenter/vm-1")]
    assert w.store.intakes() == [] and [t.task_id for t in w.store.tasks()] == ["vm-1"]
    assert drain(d) == [left()] and d.recording_now == set()


async def test_voicemail_recorded_with_nothing_stored_drops_the_intake(w):
    d = w.make()
    d.intake_started(intake())
    assert await d.voicemail_recorded(intake()) is False
    assert w.store.intakes() == [] and w.store.tasks() == [] and drain(d) == []


async def test_voicemail_recorded_when_asterisk_is_away_leaves_the_intake_for_reconcile(w):
    d = w.make()
    d.intake_started(intake())
    w.ari.fail["stored_recording_exists"] = AriUnavailable("GET", "/recordings/stored/x", "refused")
    assert await d.voicemail_recorded(intake()) is False
    assert w.store.intakes() == [intake()] and w.store.tasks() == [] and drain(d) == []
    assert d.recording_now == set()
    w.ari.stored = {"callcenter/vm-1"}
    await d._reconcile_once()
    assert [t.task_id for t in w.store.tasks()] == ["vm-1"]


async def test_new_intake_names_the_task_and_its_recording(w):
    d = w.make()
    i = d.new_intake("13800135678", "billing")
    assert i.task_id.startswith(f"vm-{int(NOW * 1000)}-") and i.recording == f"callcenter/{i.task_id}"
    assert (i.caller, i.queue, i.team, i.started_at) == ("13800135678", "billing", "support", NOW)
    assert w.store.intakes() == []  # written only when the recording starts


async def test_a_voicemail_cut_off_by_a_reconnect_is_settled_by_the_next_reconcile(w):
    d = w.make()
    ch = "1741000000.9"
    flow = VoicemailCall(ch, ari=w.ari, desk=d,  # type: ignore[arg-type]
                         rerecord_key="2", max_record_s=120, silence_s=4,
                         schedule=lambda delay, t: None)
    await flow.start(Channel(id=ch, caller_number="13800135678"), "support")
    await flow.on_event(PlaybackFinished(type="PlaybackFinished", playback=Playback(id=f"{ch}~vmpb1")))
    [i] = w.store.intakes()
    flow.lost()
    d.lost_calls()
    w.ari.live.clear()
    w.ari.stored = {i.recording}  # the caller was hung up by resync; Asterisk stored the message
    await d._reconcile_once()
    assert w.store.intakes() == [] and [t.task_id for t in w.store.tasks()] == [i.task_id]


# -- the duty agent's call -----------------------------------------------------------------------------------
CHECK = cb.CallDutyAgent(team="support", agent_id="1001", task_ids=("vm-1", "vm-2"), reason="check")
CALL_ID = f"cb-1001-{int(NOW * 1000)}"


async def test_agent_that_cannot_be_held_is_busy(w):
    w.hold_ok = False
    d = w.make()
    await d._call_agent(CHECK)
    assert drain(d) == [cb.DutyCallEnded(agent_id="1001", reason="busy")]
    assert w.held == ["1001"] and w.ari.calls == [] and w.registered == [] and d.duty_calls == {}


async def test_agent_without_a_phone_is_busy_without_being_held(w):
    del w.interfaces["1001"]
    d = w.make()
    await d._call_agent(CHECK)
    assert drain(d) == [cb.DutyCallEnded(agent_id="1001", reason="busy")]
    assert w.held == [] and w.ari.calls == []


async def test_agent_already_on_a_callback_call_is_busy(w):
    d = w.make()
    await d._call_agent(CHECK)
    n = len(w.ari.calls)
    await d._call_agent(CHECK)
    assert drain(d) == [cb.DutyCallEnded(agent_id="1001", reason="busy")]
    assert w.held == ["1001"] and len(w.ari.calls) == n


async def test_calling_the_agent_registers_then_dials(w):
    d = w.make()
    await d._call_agent(CHECK)
    assert w.held == ["1001"]
    [(call_id, call)] = w.registered
    assert call_id == CALL_ID and d.duty_calls == {"1001": call}
    assert (call.task_count, call.interface, call.skip_key) == (2, "PJSIP/1001", "#")
    assert w.ari.calls == [("originate", "PJSIP/1001", {"app": "callcenter", "app_args": "callback,1001",
                                                        "channel_id": CALL_ID, "timeout_s": 30,
                                                        "caller_id": "callbacks <1001>"})]
    assert drain(d) == []


async def test_answered_call_ending_with_the_agent_free_posts_presence(w):
    d = w.make()
    await d._call_agent(CHECK)
    call = d.duty_calls["1001"]
    await call.on_event(StasisStart(type="StasisStart", channel=Channel(id=CALL_ID),
                                    args=("callback", "1001")))
    await call.on_event(ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=CALL_ID), cause=16))
    assert drain(d) == [cb.DutyAnswered(agent_id="1001"),
                        cb.DutyCallEnded(agent_id="1001", reason="agent_hangup"),
                        cb.AgentPresence(agent_id="1001", busy=False)]
    assert w.released == ["1001"] and d.duty_calls == {}


async def test_answered_call_ending_with_the_agent_busy_posts_no_presence(w):
    w.busy.add("1001")
    d = w.make()
    await d._call_agent(CHECK)
    call = d.duty_calls["1001"]
    await call.on_event(StasisStart(type="StasisStart", channel=Channel(id=CALL_ID)))
    await call.on_event(ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=CALL_ID)))
    assert drain(d) == [cb.DutyAnswered(agent_id="1001"),
                        cb.DutyCallEnded(agent_id="1001", reason="agent_hangup")]
    assert w.released == ["1001"]


async def test_unanswered_call_is_released_without_presence(w):
    d = w.make()
    await d._call_agent(CHECK)
    await d.duty_calls["1001"].on_event(ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=CALL_ID),
                                                        cause=19))
    assert drain(d) == [cb.DutyCallEnded(agent_id="1001", reason="no_answer")]
    assert w.released == ["1001"] and d.duty_calls == {}


async def test_failed_dial_is_released_at_once(w):
    w.ari.fail["originate"] = AriUnavailable("POST", "/channels", "refused")
    d = w.make()
    await d._call_agent(CHECK)
    assert drain(d) == [cb.DutyCallEnded(agent_id="1001", reason="dial_failed")]
    assert w.released == ["1001"] and d.duty_calls == {}


async def test_dial_customer_for_a_call_that_is_gone_ends_it(w):
    d = w.make()
    await d._act(cb.DialCustomer(task_id="vm-1", agent_id="1002", caller="1", recording="r", attempt=1))
    assert drain(d) == [cb.DutyCallEnded(agent_id="1002", reason="call_gone")]
    await d._act(cb.EndDutyCall(team="support", agent_id="1002"))
    assert drain(d) == []


async def test_a_voicemail_whose_task_the_store_refuses_is_held_kept_from_reconcile_and_lands_later(w, tmp_path):
    """Issue 7: the database is locked as the voicemail ends. The task is held in the outbox (not lost, not
    an error for the caller); reconcile meanwhile does not delete its recording as an orphan; when the store
    answers again the task is committed and reaches the core, once."""
    import sqlite3

    d = w.make()
    w.ari.stored = {"callcenter/vm-1"}
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    assert await d.voicemail_recorded(intake()) is True
    assert drain(d) == [] and len(d.writes) == 1 and d.writes.down
    assert d.held_recordings == {"callcenter/vm-1"}
    await d._reconcile_once()  # reads work (WAL): the held task's recording is known, not an orphan
    assert ("delete_stored_recording", "callcenter/vm-1") not in w.ari.calls
    other.execute("ROLLBACK")
    other.close()
    d.writes.flush(NOW + 1)
    assert [t.task_id for t in w.store.tasks()] == ["vm-1"] and len(d.writes) == 0
    assert drain(d) == [left()] and d.held_recordings == set()
