"""Versioned schema: a v1 database is migrated in place, a newer one is refused."""

from __future__ import annotations

import pytest

from ari_app.core.timeline import Fact
from ari_app.store import AgentSession, Store, StoreError, open_store
from ari_app.store.postgres import PostgresStore

# The schema of the first store (ari_app/store/sqlite.py before schema_version), verbatim.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_sessions (
    agent_id   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    since      REAL NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    interface  TEXT NOT NULL,
    last_call_end REAL NOT NULL DEFAULT 0,
    calls_taken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS call_timeline (
    call_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    at      REAL NOT NULL,
    fact    TEXT NOT NULL,
    agent   TEXT,
    detail  TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (call_id, seq)
);
CREATE INDEX IF NOT EXISTS call_timeline_at ON call_timeline (at);
"""

NEWEST = 6  # v6: leave kinds, shift swaps, excused lateness (issue 18); v5: wrong-PIN limits (R-LOGIN, issue 17); v4: agent log, compliance, recordings, outbound calls


def test_fresh_database_is_at_the_newest_version(backend, url, raw):
    s = open_store(url)
    assert s.schema_version == NEWEST
    assert isinstance(s, Store if backend == "sqlite" else PostgresStore)
    assert raw("SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, NEWEST + 1)]
    s.close()
    again = Store(url) if backend == "sqlite" else open_store(url)  # a second open runs nothing
    assert again.schema_version == NEWEST
    assert raw("SELECT COUNT(*) FROM schema_version") == [(NEWEST,)]
    again.close()


def test_v1_database_is_migrated_in_place(backend, url, raw):
    """A database made by the first store (tables, no schema_version) keeps its rows and gains v2."""
    for statement in filter(str.strip, V1_SCHEMA.split(";")):
        raw(statement)
    raw("INSERT INTO agent_sessions (agent_id, state, since, reason, interface, last_call_end,"
        " calls_taken) VALUES ('1001', 'paused', 5.0, 'lunch', 'PJSIP/1001', 3.0, 7)")
    raw("INSERT INTO call_timeline (call_id, seq, at, fact, agent, detail)"
        " VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
        ("c1", 1, 1.0, "entered_queue", None, "{}", "c1", 2, 2.0, "hangup", "1001", '{"by": "caller"}'))
    s = open_store(url)
    assert s.schema_version == NEWEST
    assert s.agents() == {"1001": AgentSession(agent_id="1001", state="paused", since=5.0, reason="lunch",
                                               interface="PJSIP/1001", last_call_end=3.0, calls_taken=7)}
    assert [(e.fact, e.agent, e.detail) for e in s.timeline("c1")] == [
        (Fact.ENTERED_QUEUE, None, {}), (Fact.HANGUP, "1001", {"by": "caller"})]
    assert s.tasks() == [] and s.intakes() == [] and s.leave() == [] and s.load_rota() is None
    s.close()


def test_newer_schema_is_refused(backend, url, raw):
    open_store(url).close()
    raw("INSERT INTO schema_version (version, applied_at, name) VALUES (7, 0, 'from the future')")
    with pytest.raises(StoreError) as e:
        open_store(url)
    assert str(e.value) == f"database schema is version 7, this ari-app knows up to {NEWEST}"


def test_failed_migration_leaves_the_previous_version(backend, url, raw, monkeypatch):
    """Each migration is one transaction: v2 failing half-way leaves v1 intact and no v2 table."""
    from ari_app.store import _schema, postgres, sqlite

    module = sqlite if backend == "sqlite" else postgres
    v1, v2, *_ = module.MIGRATIONS
    broken = _schema.Migration(version=2, name=v2.name, statements=(*v2.statements[:3], "CREATE TABLE ("))
    monkeypatch.setattr(module, "MIGRATIONS", [v1, broken])
    with pytest.raises(Exception):
        open_store(url)
    assert raw("SELECT version FROM schema_version") == [(1,)]
    monkeypatch.undo()
    s = open_store(url)
    assert s.schema_version == NEWEST
    s.close()


def test_v2_tasks_gain_the_reassignment_column(backend, url, raw, monkeypatch):
    """v3 adds callback_tasks.reassigned_by: tasks written by a v2 store read back unpinned, then pin."""
    from ari_app.core.callbacks import CallbackTask
    from ari_app.store import postgres, sqlite

    module = sqlite if backend == "sqlite" else postgres
    monkeypatch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:2])
    old = open_store(url)
    assert old.schema_version == 2
    old.close()
    raw("INSERT INTO callback_tasks (task_id, caller, queue, team, recording, created_at, deadline, assigned,"
        " state, tries, kind, note) VALUES ('vm-1', '13800138000', 'support', 'support', 'callcenter/vm-1',"
        " 10.0, 86410.0, '1002', 'open', 0, 'voicemail', '')")
    monkeypatch.undo()
    s = open_store(url)
    assert s.schema_version == NEWEST
    [task] = s.tasks()
    assert task.task_id == "vm-1" and task.assigned == "1002" and task.reassigned_by is None
    task.reassigned_by = "9001"
    s.save_tasks([task])
    assert s.task("vm-1").reassigned_by == "9001"
    assert isinstance(task, CallbackTask)
    s.close()
