"""SQLite store (WAL): agent sessions and each call's timeline.

A restart loses no agent state: sessions are written on every change and
read back at start-up. The file is created private (0600, R-PRIVACY).
Writes are small and synchronous (microseconds in WAL mode); a later
backend (PostgreSQL) keeps the same methods.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..core.timeline import TimelineEntry

__all__ = ["AgentSession", "Store"]

SCHEMA = """
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


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentSession:
    agent_id: str
    state: str
    since: float
    reason: str
    interface: str
    last_call_end: float = 0.0
    calls_taken: int = 0


class Store:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            p = Path(self.path)
            p.parent.mkdir(parents=True, exist_ok=True)
            if not p.exists():
                p.touch(mode=0o600)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- agent sessions --------------------------------------------------------
    def save_agent(self, s: AgentSession) -> None:
        self.db.execute(
            "INSERT INTO agent_sessions (agent_id, state, since, reason, interface, last_call_end, calls_taken)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET state=excluded.state,"
            " since=excluded.since, reason=excluded.reason, interface=excluded.interface,"
            " last_call_end=excluded.last_call_end, calls_taken=excluded.calls_taken",
            (s.agent_id, s.state, s.since, s.reason, s.interface, s.last_call_end, s.calls_taken),
        )

    def agents(self) -> dict[str, AgentSession]:
        rows = self.db.execute(
            "SELECT agent_id, state, since, reason, interface, last_call_end, calls_taken FROM agent_sessions")
        return {r[0]: AgentSession(agent_id=r[0], state=r[1], since=r[2], reason=r[3], interface=r[4],
                                   last_call_end=r[5], calls_taken=r[6]) for r in rows}

    # -- call timelines ----------------------------------------------------------
    def append_facts(self, facts: list[tuple[str, TimelineEntry]]) -> None:
        if not facts:
            return
        with self.db:  # one transaction
            self.db.execute("BEGIN")
            for call_id, e in facts:
                self.db.execute(
                    "INSERT INTO call_timeline (call_id, seq, at, fact, agent, detail) VALUES (?,"
                    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM call_timeline WHERE call_id = ?), ?, ?, ?, ?)",
                    (call_id, call_id, e.at, e.fact.value, e.agent, json.dumps(e.detail, ensure_ascii=False)),
                )

    def timeline(self, call_id: str) -> list[TimelineEntry]:
        from ..core.timeline import Fact

        rows = self.db.execute(
            "SELECT at, fact, agent, detail FROM call_timeline WHERE call_id = ? ORDER BY seq", (call_id,))
        return [TimelineEntry(at=r[0], fact=Fact(r[1]), agent=r[2], detail=json.loads(r[3])) for r in rows]
