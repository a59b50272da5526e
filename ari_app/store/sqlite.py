"""SQLite store (WAL): the embedded default backend of ``base.Repository``.

A restart loses no agent state and no callback task (R-VM): everything is
written on every change and read back at start-up. The file is created
private (0600, R-PRIVACY); SQLite gives its -wal/-shm files the same mode.
Writes are small and synchronous (microseconds in WAL mode). The SQL lives
in ``_sql`` (shared with PostgreSQL); this module owns the connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ._schema import SQLITE_TYPES, migrations
from ._sql import SqlRepository
from .base import AgentSession, StoreError

__all__ = ["AgentSession", "MIGRATIONS", "Store"]

MIGRATIONS = migrations(SQLITE_TYPES)
# How long a write waits for another process's lock before it fails (and the service's outbox retries it
# later, app.py): the store's one worker thread (store/worker.py) would hold every later store call that long.
BUSY_TIMEOUT_S = 0.5


def operational(e: BaseException) -> bool:
    """A database error that is the file's condition, not this code's (issue 17, item 8: retried, not dropped):
    locked, read-only, disk full, an I/O error (``OperationalError``), or a file that is not (or no longer) a
    database (``DatabaseError`` itself). Constraint and programming errors stay sqlite3's own: they are bugs."""
    return isinstance(e, (sqlite3.OperationalError, sqlite3.InternalError)) or type(e) is sqlite3.DatabaseError


class Store(SqlRepository):
    """``Store(path)``: open (create 0600) the SQLite file at ``path`` and migrate it to the newest schema."""

    _types = SQLITE_TYPES

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                p = Path(self.path)
                p.parent.mkdir(parents=True, exist_ok=True)
                if not p.exists():
                    p.touch(mode=0o600)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                      timeout=BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"SQLite store {self.path}: cannot open: {e}") from e
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate(MIGRATIONS)
        except sqlite3.Error as e:
            self.db.close()
            raise StoreError(f"SQLite store {self.path}: cannot open: {e}") from e
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement; a database that cannot be used now (locked, read-only, disk full, I/O error) is a
        ``StoreError`` naming the file, as PostgreSQL's connection failures are (the callers handle only that)."""
        try:
            return self.db.execute(sql, params)
        except sqlite3.Error as e:
            if not operational(e):
                raise
            raise StoreError(f"SQLite store {self.path}: {e}") from e

    @contextmanager
    def _tx(self, begin: str = "BEGIN") -> Iterator[None]:
        self._exec(begin)
        try:
            yield
            self._exec("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # a failed COMMIT can leave it open; SQLite may have rolled back itself
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise

    def _migration_tx(self) -> AbstractContextManager[None]:
        # the write lock first: a second process waits, then sees the new version
        return self._tx("BEGIN IMMEDIATE")
