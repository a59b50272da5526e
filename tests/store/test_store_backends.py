"""The store's methods on both backends (R-VM, R-VM-RR, R-LEAVE): same calls, same results."""

from __future__ import annotations

import sqlite3
import subprocess
from dataclasses import replace
from datetime import date

import pytest

from ari_app.core.callbacks import Attempt, CallbackTask, Outcome, RotaPointer, RotaState, TaskState
from ari_app.core.roster import LeaveEntry
from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.store import AgentSession, StoreError, VoicemailIntake, open_store


def full_task(task_id: str = "vm-1", **over) -> CallbackTask:
    """A task with every field set to something other than its default."""
    t = CallbackTask(
        task_id=task_id, caller="13800005678", queue="sales", team="north", recording="vm/vm-1.wav",
        created_at=1_700_000_000.125, deadline=1_700_086_400.125, assigned="1002", state=TaskState.NO_ANSWER,
        attempts=[Attempt(at=1_700_000_100.5, agent_id="1002", outcome=Outcome.BUSY),
                  Attempt(at=1_700_000_900.75, agent_id=None, outcome=Outcome.NO_ANSWER)],
        tries=2, next_attempt_at=1_700_001_000.25, overdue_at=1_700_086_401.0, closed_at=1_700_090_000.5,
        closed_by="sup1", kind="followup", note="ask about the invoice", reassigned_by="9001")
    return replace(t, **over)


def intake(task_id: str, started_at: float = 1.0) -> VoicemailIntake:
    return VoicemailIntake(task_id=task_id, caller="138", queue="sales", recording=f"vm/{task_id}.wav",
                           started_at=started_at)


def test_agent_sessions_survive_reopen(url):
    s = open_store(url)
    s.save_agent(AgentSession(agent_id="1001", state="paused", since=5.0, reason="lunch",
                              interface="PJSIP/1001"))
    s.save_agent(AgentSession(agent_id="1001", state="available", since=9.0, reason="",
                              interface="PJSIP/1001", calls_taken=3, last_call_end=1_700_000_000.5))
    s.close()
    again = open_store(url)
    assert again.agents() == {"1001": AgentSession(agent_id="1001", state="available", since=9.0, reason="",
                                                   interface="PJSIP/1001", calls_taken=3,
                                                   last_call_end=1_700_000_000.5)}
    again.close()


def test_timeline_is_appended_in_order(repo):
    repo.append_facts([("c1", TimelineEntry(at=1.0, fact=Fact.ENTERED_QUEUE)),
                       ("c2", TimelineEntry(at=1.5, fact=Fact.ENTERED_QUEUE))])
    repo.append_facts([("c1", TimelineEntry(at=2.0, fact=Fact.HANGUP, agent="1001",
                                            detail={"by": "caller"}))])
    assert [(e.fact, e.agent, e.detail) for e in repo.timeline("c1")] == [
        (Fact.ENTERED_QUEUE, None, {}), (Fact.HANGUP, "1001", {"by": "caller"})]
    assert [e.at for e in repo.timeline("c2")] == [1.5]


def test_every_task_field_survives_reopen(url):
    """R-VM: nothing is lost across restarts — every field, the attempts in order, enums as enums."""
    s = open_store(url)
    t = full_task()
    s.save_tasks([t])
    s.close()
    again = open_store(url)
    got = again.task("vm-1")
    assert got == t
    assert type(got.state) is TaskState and all(type(a.outcome) is Outcome for a in got.attempts)
    assert again.tasks() == [t]
    assert again.task("nope") is None
    again.close()


def test_task_defaults_round_trip(repo):
    t = CallbackTask(task_id="vm-2", caller="100", queue="q", team="t", recording="r", created_at=1.0,
                     deadline=2.0)
    repo.save_tasks([t])
    assert repo.task("vm-2") == t


def test_save_tasks_upserts_and_replaces_attempts(repo):
    repo.save_tasks([full_task()])
    changed = full_task(state=TaskState.REACHED, tries=3, assigned="1003", note="done", next_attempt_at=None,
                        attempts=[Attempt(at=5.0, agent_id="1003", outcome=Outcome.REACHED)])
    repo.save_tasks([changed, full_task("vm-0", created_at=1.0)])
    assert repo.tasks() == [full_task("vm-0", created_at=1.0), changed]
    assert repo.task("vm-1").attempts == [Attempt(at=5.0, agent_id="1003", outcome=Outcome.REACHED)]


def test_save_tasks_is_one_transaction(repo):
    """A failure half-way leaves nothing written: not the first task, not the first task's new attempts."""
    repo.save_tasks([full_task()])
    broken = full_task("vm-9")
    broken.caller = None  # NOT NULL
    with pytest.raises(Exception):
        repo.save_tasks([full_task(note="changed", attempts=[]), broken])
    assert repo.tasks() == [full_task()]


def test_tasks_order_and_open_only(repo):
    repo.save_tasks([
        full_task("b", created_at=10.0, state=TaskState.OPEN),
        full_task("a", created_at=10.0, state=TaskState.IN_PROGRESS),
        full_task("c", created_at=5.0, state=TaskState.CLOSED),
        full_task("d", created_at=20.0, state=TaskState.REACHED, attempts=[]),
    ])
    assert [t.task_id for t in repo.tasks()] == ["c", "a", "b", "d"]
    open_tasks = repo.tasks(open_only=True)
    assert [t.task_id for t in open_tasks] == ["a", "b"]
    assert all(len(t.attempts) == 2 for t in open_tasks)


def test_intake_add_list_drop(repo):
    first = VoicemailIntake(task_id="vm-1", caller="13800005678", queue="sales", recording="vm/1.wav",
                            started_at=2.0, kind="keep_place", team="north")
    second = VoicemailIntake(task_id="vm-0", caller="139", queue="support", recording="vm/0.wav",
                             started_at=1.0)
    repo.add_intake(first)
    repo.add_intake(second)
    repo.add_intake(first)  # a repeat is harmless
    assert repo.intakes() == [second, first]
    repo.drop_intake("vm-0")
    repo.drop_intake("vm-0")
    assert repo.intakes() == [first]


def test_commit_task_inserts_once_and_removes_the_intake(repo):
    """R-VM: intake → task in one step; a repeat (after a crash) neither duplicates nor overwrites."""
    repo.add_intake(intake("vm-1"))
    repo.add_intake(intake("vm-2", started_at=1.5))
    assert repo.commit_task(full_task()) is True
    assert [i.task_id for i in repo.intakes()] == ["vm-2"]
    repo.add_intake(intake("vm-1"))
    assert repo.commit_task(full_task(note="second try", attempts=[])) is False
    assert repo.tasks() == [full_task()]
    assert [i.task_id for i in repo.intakes()] == ["vm-2"]


def test_commit_task_rolls_back_with_the_intake(repo):
    """The task insert and the intake removal are one transaction: a failed insert keeps the intake."""
    repo.add_intake(intake("vm-1"))
    broken = full_task()
    broken.attempts = [Attempt(at=1.0, agent_id="1", outcome=Outcome.BUSY), None]  # fails after the insert
    with pytest.raises(Exception):
        repo.commit_task(broken)
    assert repo.task("vm-1") is None
    assert [i.task_id for i in repo.intakes()] == ["vm-1"]


def test_rota_round_trip(url):
    """R-VM-RR: the rota pointer is persisted in both modes."""
    s = open_store(url)
    assert s.load_rota() is None
    rota = RotaState(pointers={"north": RotaPointer(last_agent="1002", day=date(2025, 3, 4), duty="1002"),
                               "south": RotaPointer(last_agent="2001")})
    s.save_rota(rota)
    s.save_rota(RotaState(pointers={**rota.pointers, "east": RotaPointer(duty=None, last_agent="3001")}))
    s.close()
    again = open_store(url)
    assert again.load_rota().to_dict() == {
        "east": {"last_agent": "3001", "day": None, "duty": None},
        "north": {"last_agent": "1002", "day": "2025-03-04", "duty": "1002"},
        "south": {"last_agent": "2001", "day": None, "duty": None}}
    assert again.load_rota().pointers["north"].day == date(2025, 3, 4)
    again.close()


def test_leave_add_is_idempotent_and_remove_reports(repo):
    """R-LEAVE: whole-day and per-shift leave are different entries; repeats change nothing."""
    day = date(2025, 3, 4)
    whole = LeaveEntry(agent_id="1002", day=day)
    morning = LeaveEntry(agent_id="1002", day=day, shift="morning", overridden_by="sup1")
    earlier = LeaveEntry(agent_id="1003", day=date(2025, 3, 3), shift="late")
    for e in (whole, morning, earlier, whole, LeaveEntry(agent_id="1002", day=day, shift="morning")):
        repo.add_leave(e)
    assert repo.leave() == [earlier, whole, morning]
    assert repo.remove_leave("1002", day, None) is True
    assert repo.remove_leave("1002", day, None) is False
    assert repo.remove_leave("1002", date(2025, 3, 5), "morning") is False
    assert repo.leave() == [earlier, morning]
    assert type(repo.leave()[0].day) is date


def test_unknown_url_scheme_is_refused():
    with pytest.raises(StoreError, match=r"unknown scheme 'mysql'") as e:
        open_store("mysql://u:secret@db/x")
    assert "secret" not in str(e.value)


def test_store_not_world_readable(backend, url, raw):
    """R-PRIVACY: the callback store is not world-readable (SQLite: files 0600; PostgreSQL: no grants)."""
    s = open_store(url)
    s.save_tasks([full_task()])
    s.close()
    if backend == "sqlite":
        import os
        import stat
        from pathlib import Path

        files = [p for p in Path(url).parent.iterdir() if p.name.startswith("state.db")]
        assert files and {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in files} == {
            p.name: 0o600 for p in files}
        assert raw("PRAGMA journal_mode") == [("wal",)]
    else:
        tables = [r[0] for r in raw("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert "callback_tasks" in tables and "voicemail_intake" in tables
        readable = [t for t in tables if raw("SELECT has_table_privilege('public', ?, 'SELECT')",
                                                 (t,))[0][0]]
        assert readable == []


def test_unreachable_database_is_a_store_error(backend, tmp_path, url):
    if backend == "sqlite":
        (tmp_path / "afile").write_text("x")
        bad = str(tmp_path / "afile" / "state.db")  # its parent is a file
        with pytest.raises(StoreError, match=r"^SQLite store .*afile/state.db: cannot open: "):
            open_store(bad)
        (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
        with pytest.raises(StoreError, match=r"junk.db: cannot open: file is not a database"):
            open_store(f"sqlite://{tmp_path}/junk.db")
    else:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: nobody answers
            with pytest.raises(StoreError, match=rf"^PostgreSQL 127.0.0.1:{port}/db unreachable: ") as e:
                open_store(f"postgresql://u:secret@127.0.0.1:{port}/db")
        assert "secret" not in str(e.value)


def test_a_database_that_goes_away_is_a_store_error_and_writes_work_again_when_it_is_back(backend, url, request):
    """Issue 7: SQLite locked by another process, PostgreSQL stopped and started again. Each write meanwhile
    raises StoreError (what the service's outbox holds and retries); afterwards the same store object
    writes again: the PostgreSQL connection the server closed is replaced, no restart of the service."""
    store = open_store(url)
    fact = TimelineEntry(at=1.0, fact=Fact.HANGUP, agent=None, detail={})
    try:
        if backend == "sqlite":
            other = sqlite3.connect(url, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreError, match=r"^SQLite store .*state.db: database is locked"):
                store.append_facts([("call-1", fact)])
            other.execute("ROLLBACK")
            other.close()
        else:
            pg = request.getfixturevalue("pg_server")
            subprocess.run(["pg_ctlcluster", pg.version, pg.cluster, "stop", "-m", "fast"], check=True,
                           capture_output=True, timeout=60)
            try:
                for _ in range(2):  # the broken connection, then a reconnect that is refused
                    with pytest.raises(StoreError, match=r"^PostgreSQL 127.0.0.1:\d+/t\d+"):
                        store.append_facts([("call-1", fact)])
            finally:
                subprocess.run(["pg_ctlcluster", pg.version, pg.cluster, "start"], check=True,
                               capture_output=True, timeout=60)
        store.append_facts([("call-1", fact)])
        store.save_agent(AgentSession(agent_id="1001", state="available", since=2.0, reason="", interface="x"))
        assert [e.fact for e in store.timeline("call-1")] == [Fact.HANGUP]
        assert store.agents()["1001"].state == "available"
    finally:
        store.close()
