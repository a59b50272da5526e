"""The SQL both backends run: every ``Repository`` method, written once in portable SQL.

A backend subclass supplies the connection: ``_exec`` (``?`` placeholders;
PostgreSQL rewrites them), ``_tx`` (one transaction) and ``_migration_tx``
(one transaction that also excludes a concurrent migrator). Upserts use
``INSERT … ON CONFLICT``, which SQLite ≥ 3.24 and PostgreSQL share.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Iterable, Sequence

from ..core.agents import AgentLogEntry
from ..core.callbacks import OPEN_STATES, CallbackTask, RotaState
from ..core.comply import ComplianceRecord
from ..core.figures import OutboundAttempt
from ..core.login import LockState
from ..core.lateness import Excuse
from ..core.roster import LeaveEntry, SwapEntry
from ..core.timeline import TimelineEntry
from . import _rows as rows
from ._schema import VERSION_TABLE, Migration, render
from .base import AgentSession, OutboundCall, StoreError, VoicemailIntake

_TASK_UPSERT = (
    f"INSERT INTO callback_tasks ({rows.TASK_COLUMNS}) VALUES ({rows.placeholders(rows.TASK_COLUMNS)})"
    " ON CONFLICT (task_id) DO UPDATE SET "
    + ", ".join(f"{c.strip()}=excluded.{c.strip()}" for c in rows.TASK_COLUMNS.split(",")[1:]))
_TASK_INSERT = (f"INSERT INTO callback_tasks ({rows.TASK_COLUMNS})"
                f" VALUES ({rows.placeholders(rows.TASK_COLUMNS)}) ON CONFLICT (task_id) DO NOTHING")
_ATTEMPT_INSERT = (f"INSERT INTO callback_attempts ({rows.ATTEMPT_COLUMNS})"
                   f" VALUES ({rows.placeholders(rows.ATTEMPT_COLUMNS)})")
_TASK_SELECT = (
    "SELECT " + ", ".join(f"t.{c.strip()}" for c in rows.TASK_COLUMNS.split(","))
    + ", a.at, a.agent_id, a.outcome FROM callback_tasks t"
    " LEFT JOIN callback_attempts a ON a.task_id = t.task_id")
_OPEN = sorted(s.value for s in OPEN_STATES)


class SqlRepository:
    """The shared implementation of ``base.Repository``; see the backends for the connection."""

    schema_version: int = 0
    _types: dict[str, str]  # the backend's column types for ``_schema``

    # -- supplied by the backend ------------------------------------------------------------------
    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the result iterates over rows and has ``rowcount``."""
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _migration_tx(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- schema --------------------------------------------------------------------------------------
    def _migrate(self, migrations: list[Migration]) -> None:
        """Bring the schema to the newest version, one transaction per migration; refuse a newer one."""
        known = len(migrations)
        while True:
            with self._migration_tx():
                self._exec(render(VERSION_TABLE, self._types).strip())
                current = self._exec("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
                if current > known:
                    raise StoreError(f"database schema is version {current}, "
                                     f"this ari-app knows up to {known}")
                if current == known:
                    break
                m = migrations[current]
                for statement in m.statements:
                    self._exec(statement)
                self._exec("INSERT INTO schema_version (version, applied_at, name) VALUES (?, ?, ?)",
                           (m.version, time.time(), m.name))
        self.schema_version = current

    # -- agent sessions ------------------------------------------------------------------------------
    def save_agent(self, s: AgentSession) -> None:
        self._exec(
            f"INSERT INTO agent_sessions ({rows.AGENT_COLUMNS})"
            f" VALUES ({rows.placeholders(rows.AGENT_COLUMNS)})"
            " ON CONFLICT (agent_id) DO UPDATE SET state=excluded.state,"
            " since=excluded.since, reason=excluded.reason, interface=excluded.interface,"
            " last_call_end=excluded.last_call_end, calls_taken=excluded.calls_taken",
            rows.agent_row(s))

    def agents(self) -> dict[str, AgentSession]:
        found = self._exec(f"SELECT {rows.AGENT_COLUMNS} FROM agent_sessions")
        return {s.agent_id: s for s in map(rows.agent_from_row, found)}

    # -- call timelines ------------------------------------------------------------------------------
    def append_facts(self, facts: list[tuple[str, TimelineEntry]]) -> None:
        if not facts:
            return
        with self._tx():
            for call_id, e in facts:
                self._exec(
                    "INSERT INTO call_timeline (call_id, seq, at, fact, agent, detail) VALUES (?,"
                    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM call_timeline WHERE call_id = ?), ?, ?, ?, ?)",
                    (call_id, call_id, *rows.fact_row(e)))

    def timeline(self, call_id: str) -> list[TimelineEntry]:
        found = self._exec("SELECT at, fact, agent, detail FROM call_timeline WHERE call_id = ? ORDER BY seq",
                           (call_id,))
        return [rows.fact_from_row(r) for r in found]

    # -- the figures' sources (R-KPI, R-COMPLY, R-QA, R-SHIFT) ------------------------------------------
    def append_agent_log(self, entries: list[AgentLogEntry]) -> None:
        if not entries:
            return
        with self._tx():
            for e in entries:
                self._exec("INSERT INTO agent_log (agent_id, at, event, state, reason) VALUES (?, ?, ?, ?, ?)",
                           (e.agent_id, e.at, e.event, e.state, e.reason))

    def agent_log(self, start: float, end: float) -> list[AgentLogEntry]:
        """Entries in [start, end), and each agent's last state before ``start`` (where the period began)."""
        found = list(self._exec(
            "SELECT agent_id, at, event, state, reason FROM agent_log WHERE at >= ? AND at < ?", (start, end)))
        found += self._exec(
            "SELECT l.agent_id, l.at, l.event, l.state, l.reason FROM agent_log l JOIN"
            " (SELECT agent_id, MAX(at) AS m FROM agent_log WHERE at < ? AND event = 'state' GROUP BY agent_id) x"
            " ON l.agent_id = x.agent_id AND l.at = x.m AND l.event = 'state'", (start,))
        entries = [AgentLogEntry(agent_id=r[0], at=r[1], event=r[2], state=r[3], reason=r[4]) for r in found]
        return sorted(entries, key=lambda e: (e.at, e.agent_id))

    def timelines(self, start: float, end: float) -> dict[str, list[TimelineEntry]]:
        """The whole timeline of every call that entered a queue in [start, end)."""
        found = self._exec(
            "SELECT call_id, at, fact, agent, detail FROM call_timeline WHERE call_id IN"
            " (SELECT call_id FROM call_timeline WHERE fact IN ('entered_queue', 'resynced') AND at >= ? AND at < ?)"
            " ORDER BY call_id, seq", (start, end))
        out: dict[str, list[TimelineEntry]] = {}
        for r in found:
            out.setdefault(r[0], []).append(rows.fact_from_row(r[1:]))
        return out

    def save_compliance(self, record: ComplianceRecord) -> None:
        self._exec(
            "INSERT INTO call_compliance (call_id, queue, agent, entered_at, ended_at, checks, hung_up_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET queue=excluded.queue,"
            " agent=excluded.agent, entered_at=excluded.entered_at, ended_at=excluded.ended_at,"
            " checks=excluded.checks, hung_up_by=excluded.hung_up_by", rows.compliance_row(record))

    def compliance(self, start: float, end: float) -> list[ComplianceRecord]:
        found = self._exec(
            "SELECT call_id, queue, agent, entered_at, ended_at, checks, hung_up_by FROM call_compliance"
            " WHERE entered_at >= ? AND entered_at < ? ORDER BY entered_at, call_id", (start, end))
        return [rows.compliance_from_row(r) for r in found]

    def save_recording(self, call_id: str, name: str, started_at: float) -> None:
        self._exec("INSERT INTO call_recordings (call_id, name, started_at) VALUES (?, ?, ?)"
                   " ON CONFLICT (call_id) DO NOTHING", (call_id, name, started_at))

    def recordings(self, start: float, end: float) -> dict[str, str]:
        found = self._exec("SELECT call_id, name FROM call_recordings WHERE started_at >= ? AND started_at < ?",
                           (start, end))
        return {r[0]: r[1] for r in found}

    def add_outbound(self, call: OutboundCall) -> None:
        self._exec("INSERT INTO outbound_calls (call_id, agent_id, at, kind, connected, talk_s)"
                   " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO NOTHING",
                   (call.call_id, call.agent_id, call.at, call.kind, int(call.connected), call.talk_s))

    def outbound(self, start: float, end: float) -> list[OutboundAttempt]:
        """Every outbound attempt in [start, end): agents' own calls (CDR) and callback attempts (R-CB)."""
        own = self._exec("SELECT agent_id, at, kind, connected FROM outbound_calls WHERE at >= ? AND at < ?",
                         (start, end))
        out = [OutboundAttempt(agent=r[0], at=r[1], kind=r[2], connected=bool(r[3])) for r in own]
        attempts = self._exec(
            "SELECT a.agent_id, a.at, t.kind, a.outcome FROM callback_attempts a"
            " JOIN callback_tasks t ON t.task_id = a.task_id WHERE a.at >= ? AND a.at < ?", (start, end))
        out += [OutboundAttempt(agent=r[0], at=r[1], kind="followup" if r[2] == "followup" else "callback",
                                connected=r[3] in ("reached", "wrong_number")) for r in attempts]
        return sorted(out, key=lambda o: o.at)

    def overdue_callbacks(self, start: float, end: float) -> list[str | None]:
        """R-SLA24: the assigned agent of each task that went overdue in [start, end)."""
        found = self._exec("SELECT assigned FROM callback_tasks WHERE overdue_at >= ? AND overdue_at < ?",
                           (start, end))
        return [r[0] for r in found]

    # -- callback tasks (R-VM) -----------------------------------------------------------------------
    def save_tasks(self, tasks: Iterable[CallbackTask]) -> None:
        """Upsert every task with its attempts (replaced), all in one transaction."""
        with self._tx():
            for t in tasks:
                self._exec(_TASK_UPSERT, rows.task_row(t))
                self._exec("DELETE FROM callback_attempts WHERE task_id = ?", (t.task_id,))
                for a in rows.attempt_rows(t):
                    self._exec(_ATTEMPT_INSERT, a)

    def commit_task(self, task: CallbackTask) -> bool:
        """R-VM: the intake becomes its task in one transaction. False (nothing overwritten) if the task
        already exists; the intake is removed either way."""
        with self._tx():
            inserted = self._exec(_TASK_INSERT, rows.task_row(task)).rowcount == 1
            if inserted:
                for a in rows.attempt_rows(task):
                    self._exec(_ATTEMPT_INSERT, a)
            self._exec("DELETE FROM voicemail_intake WHERE task_id = ?", (task.task_id,))
        return inserted

    def tasks(self, *, open_only: bool = False) -> list[CallbackTask]:
        """Ordered by ``created_at`` then ``task_id``; one statement, so one consistent snapshot."""
        where, params = "", ()
        if open_only:
            where, params = f" WHERE t.state IN ({', '.join('?' for _ in _OPEN)})", tuple(_OPEN)
        return rows.tasks_from_rows(self._exec(
            f"{_TASK_SELECT}{where} ORDER BY t.created_at, t.task_id, a.seq", params))

    def task(self, task_id: str) -> CallbackTask | None:
        found = rows.tasks_from_rows(self._exec(f"{_TASK_SELECT} WHERE t.task_id = ? ORDER BY a.seq",
                                                (task_id,)))
        return found[0] if found else None

    def task_recordings(self) -> set[str]:
        """R-VM: every recording a task holds (reconcile: a stored voicemail outside this set is an orphan)."""
        return {r[0] for r in self._exec("SELECT recording FROM callback_tasks WHERE recording <> ''")}

    def closed_tasks(self, limit: int = 1000) -> list[CallbackTask]:
        """Closed tasks, newest closed first, at most ``limit`` (the core keeps only open ones in memory)."""
        ids = [r[0] for r in self._exec(
            f"SELECT task_id FROM callback_tasks WHERE state NOT IN ({', '.join('?' for _ in _OPEN)})"
            " ORDER BY closed_at DESC, task_id LIMIT ?", (*_OPEN, limit))]
        if not ids:
            return []
        return rows.tasks_from_rows(self._exec(
            f"{_TASK_SELECT} WHERE t.task_id IN ({', '.join('?' for _ in ids)})"
            " ORDER BY t.created_at, t.task_id, a.seq", tuple(ids)))

    # -- R-PRIVACY: retention of callback tasks ------------------------------------------------------
    def expired_tasks(self, closed_before: float, *, limit: int = 500) -> list[tuple[str, str]]:
        """(task id, recording) of closed tasks closed before ``closed_before`` that still hold a caller
        number, a note or a recording; oldest first, at most ``limit``."""
        found = self._exec(
            f"SELECT task_id, recording FROM callback_tasks WHERE state NOT IN ({', '.join('?' for _ in _OPEN)})"
            " AND COALESCE(closed_at, created_at) < ? AND (caller <> '' OR note <> '' OR recording <> '')"
            " ORDER BY COALESCE(closed_at, created_at), task_id LIMIT ?", (*_OPEN, closed_before, limit))
        return [(r[0], r[1]) for r in found]

    def anonymise_tasks(self, task_ids: Iterable[str]) -> int:
        """Blank the caller number, note and recording of these tasks if they are still closed (a task
        reopened meanwhile is left alone); the rest (team, agent, times, outcomes) stays for the figures."""
        n = 0
        with self._tx():
            for task_id in task_ids:
                n += self._exec(
                    "UPDATE callback_tasks SET caller = '', note = '', recording = '' WHERE task_id = ?"
                    f" AND state NOT IN ({', '.join('?' for _ in _OPEN)})", (task_id, *_OPEN)).rowcount
        return n

    # -- voicemail intake (R-VM) ---------------------------------------------------------------------
    def add_intake(self, intake: VoicemailIntake) -> None:
        self._exec(f"INSERT INTO voicemail_intake ({rows.INTAKE_COLUMNS})"
                   f" VALUES ({rows.placeholders(rows.INTAKE_COLUMNS)}) ON CONFLICT (task_id) DO NOTHING",
                   rows.intake_row(intake))

    def intakes(self) -> list[VoicemailIntake]:
        found = self._exec(f"SELECT {rows.INTAKE_COLUMNS} FROM voicemail_intake ORDER BY started_at, task_id")
        return [rows.intake_from_row(r) for r in found]

    def drop_intake(self, task_id: str) -> None:
        self._exec("DELETE FROM voicemail_intake WHERE task_id = ?", (task_id,))

    # -- rota pointer (R-VM-RR) ----------------------------------------------------------------------
    def load_rota(self) -> RotaState | None:
        row = self._exec("SELECT state FROM callback_rota WHERE id = 1").fetchone()
        return rows.rota_from_text(row[0]) if row else None

    def save_rota(self, rota: RotaState) -> None:
        self._exec("INSERT INTO callback_rota (id, state) VALUES (1, ?)"
                   " ON CONFLICT (id) DO UPDATE SET state=excluded.state", (rows.rota_text(rota),))

    # -- leave (R-LEAVE) -----------------------------------------------------------------------------
    def leave(self) -> list[LeaveEntry]:
        found = self._exec(f"SELECT {rows.LEAVE_COLUMNS} FROM agent_leave ORDER BY day, agent_id, shift")
        return [rows.leave_from_row(r) for r in found]

    def add_leave(self, entry: LeaveEntry) -> None:
        """Idempotent on (agent, day, shift): a repeat keeps the first entry."""
        self._exec(f"INSERT INTO agent_leave ({rows.LEAVE_COLUMNS})"
                   f" VALUES ({rows.placeholders(rows.LEAVE_COLUMNS)})"
                   " ON CONFLICT (agent_id, day, shift) DO NOTHING", rows.leave_row(entry))

    def remove_leave(self, agent_id: str, day: date, shift: str | None) -> bool:
        return self._exec("DELETE FROM agent_leave WHERE agent_id = ? AND day = ? AND shift = ?",
                          rows.leave_key(agent_id, day, shift)).rowcount > 0

    # -- shift swaps (R-LEAVE 换班) and excused lateness (R-SHIFT 第十一条), issue 18 --------------------
    def swaps(self) -> list[SwapEntry]:
        found = self._exec(f"SELECT {rows.SWAP_COLUMNS} FROM shift_swaps ORDER BY day, agent_id, shift")
        return [rows.swap_from_row(r) for r in found]

    def add_swap(self, entries: Iterable[SwapEntry]) -> None:
        """One swap's entries in one transaction; idempotent on (agent, day, shift)."""
        with self._tx():
            for e in entries:
                self._exec(f"INSERT INTO shift_swaps ({rows.SWAP_COLUMNS})"
                           f" VALUES ({rows.placeholders(rows.SWAP_COLUMNS)})"
                           " ON CONFLICT (agent_id, day, shift) DO NOTHING", rows.swap_row(e))

    def remove_swap(self, swap_id: str) -> int:
        return self._exec("DELETE FROM shift_swaps WHERE swap_id = ?", (swap_id,)).rowcount

    def excuses(self, first: date, last: date) -> list[Excuse]:
        """Excusals of days ``first``..``last`` (both included)."""
        found = self._exec(f"SELECT {rows.EXCUSE_COLUMNS} FROM attendance_excuses WHERE day >= ? AND day <= ?"
                           " ORDER BY day, agent_id", (first.isoformat(), last.isoformat()))
        return [rows.excuse_from_row(r) for r in found]

    def add_excuse(self, excuse: Excuse) -> None:
        """Upsert on (agent, day): a second excusal of the same day replaces the reason."""
        self._exec(f"INSERT INTO attendance_excuses ({rows.EXCUSE_COLUMNS})"
                   f" VALUES ({rows.placeholders(rows.EXCUSE_COLUMNS)}) ON CONFLICT (agent_id, day) DO UPDATE"
                   " SET reason=excluded.reason, excused_by=excluded.excused_by, at=excluded.at",
                   rows.excuse_row(excuse))

    # -- wrong-PIN limits (R-LOGIN, issue 17) ------------------------------------------------------
    def lockouts(self) -> list[LockState]:
        found = self._exec("SELECT key, failures, locked_until FROM login_lockouts ORDER BY key")
        return [LockState(r[0], tuple(float(t) for t in r[1].split(",") if t), float(r[2])) for r in found]

    def save_lockouts(self, states: Iterable[LockState]) -> None:
        """Upsert each state, or delete its row when it is empty (decayed); one transaction."""
        with self._tx():
            for s in states:
                if s.empty:
                    self._exec("DELETE FROM login_lockouts WHERE key = ?", (s.key,))
                else:
                    self._exec("INSERT INTO login_lockouts (key, failures, locked_until) VALUES (?, ?, ?)"
                               " ON CONFLICT (key) DO UPDATE SET failures=excluded.failures,"
                               " locked_until=excluded.locked_until",
                               (s.key, ",".join(repr(t) for t in s.failures), s.locked_until))
