"""PostgreSQL store: the shared backend of ``base.Repository`` (DESIGN.md "Beyond one machine").

psycopg 3, synchronous like the SQLite store: the connection is in
autocommit, and methods that write several rows open one explicit
transaction. Migrations take a transaction-scoped advisory lock, so nodes
starting together migrate once. Connection failures become ``StoreError``
naming the server (never the password, R-PRIVACY); tables are created
without grants, so only their owner can read callers' numbers.

Issue 17: no statement may hang. The service calls the store from one worker thread (``store.worker``),
never on the event loop, and every statement is bounded three ways (the URL may override each libpq one):

* the server's ``statement_timeout`` (``STATEMENT_TIMEOUT_S``), ``lock_timeout`` and
  ``idle_in_transaction_session_timeout``: a slow query or a held lock;
* TCP: ``tcp_user_timeout`` (data unacknowledged that long: the connection is dropped) and keepalives
  (an idle connection to a host that vanished), with ``connect_timeout``;
* a client-side deadline (``CALL_DEADLINE_S``): a peer that takes the packets but never answers (a proxy or
  a firewall that stops forwarding) — the socket is shut down, the call fails as ``StoreError``, and the
  next call connects afresh.

Every error that is an operational condition (read-only server, disk full, connection lost, a timeout, a
lock, missing privileges) is a ``StoreError``, so the service's outbox holds and retries the write (issue 17,
item 8); only errors of the SQL itself (syntax, types, constraints) stay psycopg's own: they are bugs.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

import psycopg

from ._schema import POSTGRES_TYPES, migrations
from ._sql import SqlRepository
from .base import StoreError, redact_url

__all__ = ["CALL_DEADLINE_S", "MIGRATIONS", "PostgresStore", "STATEMENT_TIMEOUT_S", "operational"]

MIGRATIONS = migrations(POSTGRES_TYPES)
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_S = 5  # the server cancels a statement that runs longer (and waits this long for a lock)
CALL_DEADLINE_S = 8.0  # the client gives up on one statement (or a transaction's commit) this late
TCP_USER_TIMEOUT_MS = 8000  # sent data unacknowledged this long: the kernel drops the connection
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}
_MIGRATION_LOCK = 0x61726961707073  # pg_advisory_xact_lock key: "ariapps" in hex


def operational(e: BaseException) -> bool:
    """A database error that is the database's condition, not this code's: retrying can succeed."""
    return isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError, psycopg.InternalError,
                          psycopg.errors.InsufficientPrivilege))


def connect_options(url: str) -> dict[str, Any]:
    """libpq parameters the URL does not set itself: the timeouts above."""
    server = (f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000} -c lock_timeout={STATEMENT_TIMEOUT_S * 1000}"
              f" -c idle_in_transaction_session_timeout={int(CALL_DEADLINE_S * 4 * 1000)}")
    wanted: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
                              **KEEPALIVES, "options": server}
    return {k: v for k, v in wanted.items() if f"{k}=" not in url}


class PostgresStore(SqlRepository):
    """``PostgresStore("postgresql://user:pass@host:port/db")``: connect and migrate to the newest schema."""

    _types = POSTGRES_TYPES

    def __init__(self, url: str, *, deadline_s: float = CALL_DEADLINE_S) -> None:
        self.url = redact_url(url)
        parts = urlsplit(url)
        self._where = f"PostgreSQL {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
        self.deadline_s = deadline_s
        extra = connect_options(url)
        self._connect = lambda: psycopg.connect(url, autocommit=True, **extra)  # the password stays in here
        self._timed_out = self._bounded = False
        try:
            self.db = self._connect()
        except psycopg.Error as e:
            raise StoreError(f"{self._where} unreachable: {_first_line(e)}") from e
        try:
            self._migrate(MIGRATIONS)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _conn(self) -> psycopg.Connection[Any]:
        """The connection; one the server closed (a restart, a network cut) is replaced: issue 7, the
        service's outbox retries its writes and they land once PostgreSQL is back, without a restart."""
        if self.db.closed or self.db.broken:
            try:
                self.db = self._connect()
            except psycopg.Error as e:
                raise StoreError(f"{self._where} unreachable: {_first_line(e)}") from e
        return self.db

    @contextmanager
    def _deadline(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Shut the connection's socket down should the block take longer than ``deadline_s``: a blocked
        read returns at once, psycopg raises ``OperationalError`` and the connection is broken (replaced on
        the next call). Nothing the server does not answer can hold the store's thread longer. A transaction
        is one block: its statements and its COMMIT share the deadline."""
        if self._bounded:
            yield
            return
        self._bounded, self._timed_out = True, False

        def expire() -> None:
            self._timed_out = True
            try:
                fd = os.dup(conn.pgconn.socket)
            except (OSError, psycopg.Error):
                return
            with socket.socket(fileno=fd) as s:  # shutdown acts on the connection, not this descriptor
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(self.deadline_s, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self._bounded = False

    def _error(self, e: psycopg.Error) -> StoreError:
        if self._timed_out:
            return StoreError(f"{self._where}: no answer within {self.deadline_s:g} s (connection dropped)")
        return StoreError(f"{self._where}: {_first_line(e)}")

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        try:
            conn = self._conn()
            with self._deadline(conn):
                return conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        except psycopg.Error as e:
            if not operational(e):
                raise
            raise self._error(e) from e

    @contextmanager
    def _tx(self) -> Iterator[None]:
        try:
            conn = self._conn()
            with self._deadline(conn), conn.transaction():
                yield
        except psycopg.Error as e:
            if not operational(e):
                raise
            raise self._error(e) from e

    @contextmanager
    def _locked_tx(self) -> Iterator[None]:
        with self._tx():
            self._exec("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            yield

    def _migration_tx(self) -> AbstractContextManager[None]:
        return self._locked_tx()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
