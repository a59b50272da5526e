"""The store's versioned schema: one ordered list of migrations, rendered per backend.

Version N is reached by running migrations 1..N in order, each in its own
transaction, and recording N in ``schema_version``. Migrations only ever
get appended: a released migration is never edited. The DDL is portable
SQL; the only backend difference is the column type of epoch seconds
(SQLite ``REAL`` is 8 bytes, PostgreSQL ``REAL`` only 4, so PostgreSQL
uses ``DOUBLE PRECISION``) and of leave days (PostgreSQL ``DATE``, SQLite
ISO text).

v1 is the schema of the first SQLite store, verbatim but for the type
placeholders; every statement is ``IF NOT EXISTS``, so a v1 file made
before ``schema_version`` existed is adopted in place, rows kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["Migration", "POSTGRES_TYPES", "SQLITE_TYPES", "VERSION_TABLE", "migrations"]

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at {time} NOT NULL,
    name       TEXT NOT NULL
)
"""

_MIGRATIONS: list[tuple[str, str]] = [
    ("agent sessions and call timelines", """
CREATE TABLE IF NOT EXISTS agent_sessions (
    agent_id   TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    since      {time} NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    interface  TEXT NOT NULL,
    last_call_end {time} NOT NULL DEFAULT 0,
    calls_taken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS call_timeline (
    call_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    at      {time} NOT NULL,
    fact    TEXT NOT NULL,
    agent   TEXT,
    detail  TEXT NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (call_id, seq)
);
CREATE INDEX IF NOT EXISTS call_timeline_at ON call_timeline (at);
"""),
    ("callback tasks, voicemail intake, rota, leave (R-VM, R-VM-RR, R-LEAVE)", """
CREATE TABLE callback_tasks (
    task_id    TEXT PRIMARY KEY,
    caller     TEXT NOT NULL,
    queue      TEXT NOT NULL,
    team       TEXT NOT NULL,
    recording  TEXT NOT NULL,
    created_at {time} NOT NULL,
    deadline   {time} NOT NULL,
    assigned   TEXT,
    state      TEXT NOT NULL,
    tries      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {time},
    overdue_at {time},
    closed_at  {time},
    closed_by  TEXT,
    kind       TEXT NOT NULL DEFAULT 'voicemail',
    note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX callback_tasks_created ON callback_tasks (created_at, task_id);
CREATE INDEX callback_tasks_state ON callback_tasks (state);
CREATE TABLE callback_attempts (
    task_id  TEXT NOT NULL REFERENCES callback_tasks (task_id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    at       {time} NOT NULL,
    agent_id TEXT,
    outcome  TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
CREATE TABLE voicemail_intake (
    task_id    TEXT PRIMARY KEY,
    caller     TEXT NOT NULL,
    queue      TEXT NOT NULL,
    recording  TEXT NOT NULL,
    started_at {time} NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'voicemail',
    team       TEXT
);
CREATE TABLE callback_rota (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL
);
CREATE TABLE agent_leave (
    agent_id TEXT NOT NULL,
    day      {day} NOT NULL,
    shift    TEXT NOT NULL DEFAULT '',
    overridden_by TEXT,
    PRIMARY KEY (agent_id, day, shift)
);
"""),
    ("a supervisor's reassignment survives a restart (R-CB)", """
ALTER TABLE callback_tasks ADD COLUMN reassigned_by TEXT;
"""),
    ("agent log, compliance records, QA recordings, outbound calls (R-KPI, R-COMPLY, R-QA, R-SHIFT)", """
CREATE TABLE agent_log (
    agent_id TEXT NOT NULL,
    at       {time} NOT NULL,
    event    TEXT NOT NULL,
    state    TEXT NOT NULL,
    reason   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX agent_log_at ON agent_log (at);
CREATE TABLE call_compliance (
    call_id    TEXT PRIMARY KEY,
    queue      TEXT NOT NULL,
    agent      TEXT,
    entered_at {time} NOT NULL,
    ended_at   {time} NOT NULL,
    checks     TEXT NOT NULL,
    hung_up_by TEXT
);
CREATE INDEX call_compliance_entered ON call_compliance (entered_at);
CREATE TABLE call_recordings (
    call_id    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    started_at {time} NOT NULL
);
CREATE INDEX call_recordings_started ON call_recordings (started_at);
CREATE TABLE outbound_calls (
    call_id   TEXT PRIMARY KEY,
    agent_id  TEXT,
    at        {time} NOT NULL,
    kind      TEXT NOT NULL,
    connected INTEGER NOT NULL,
    talk_s    {time} NOT NULL DEFAULT 0
);
CREATE INDEX outbound_calls_at ON outbound_calls (at);
"""),
    ("wrong-PIN limits per agent ID and per phone survive a restart (R-LOGIN, issue 17)", """
CREATE TABLE login_lockouts (
    key          TEXT PRIMARY KEY,
    failures     TEXT NOT NULL DEFAULT '',
    locked_until {time} NOT NULL DEFAULT 0
);
"""),
    ("leave kinds, shift swaps, excused lateness (R-LEAVE, R-SHIFT, issue 18)", """
ALTER TABLE agent_leave ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';
CREATE TABLE shift_swaps (
    swap_id  TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    day      {day} NOT NULL,
    shift    TEXT NOT NULL DEFAULT '',
    taker    TEXT NOT NULL,
    overridden_by TEXT,
    PRIMARY KEY (agent_id, day, shift)
);
CREATE INDEX shift_swaps_id ON shift_swaps (swap_id);
CREATE TABLE attendance_excuses (
    agent_id   TEXT NOT NULL,
    day        {day} NOT NULL,
    reason     TEXT NOT NULL,
    excused_by TEXT NOT NULL,
    at         {time} NOT NULL,
    PRIMARY KEY (agent_id, day)
);
"""),
]

SQLITE_TYPES = {"time": "REAL", "day": "TEXT"}
POSTGRES_TYPES = {"time": "DOUBLE PRECISION", "day": "DATE"}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def render(sql: str, types: Mapping[str, str]) -> str:
    return sql.format_map(types)


def migrations(types: Mapping[str, str]) -> list[Migration]:
    """The ordered migrations in one backend's dialect (``migrations(SQLITE_TYPES)[0]`` is v1)."""
    return [Migration(version=n, name=name,
                      statements=tuple(s.strip() for s in render(sql, types).split(";") if s.strip()))
            for n, (name, sql) in enumerate(_MIGRATIONS, start=1)]
