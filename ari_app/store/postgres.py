"""PostgreSQL store: the shared backend of ``base.Repository`` (DESIGN.md "Beyond one machine").

psycopg 3, synchronous like the SQLite store: the connection is in
autocommit, and methods that write several rows open one explicit
transaction. Migrations take a transaction-scoped advisory lock, so nodes
starting together migrate once. Connection failures become ``StoreError``
naming the server (never the password, R-PRIVACY); tables are created
without grants, so only their owner can read callers' numbers.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

import psycopg

from ._schema import POSTGRES_TYPES, migrations
from ._sql import SqlRepository
from .base import StoreError, redact_url

__all__ = ["MIGRATIONS", "PostgresStore"]

MIGRATIONS = migrations(POSTGRES_TYPES)
CONNECT_TIMEOUT_S = 5
_MIGRATION_LOCK = 0x61726961707073  # pg_advisory_xact_lock key: "ariapps" in hex


class PostgresStore(SqlRepository):
    """``PostgresStore("postgresql://user:pass@host:port/db")``: connect and migrate to the newest schema."""

    _types = POSTGRES_TYPES

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        parts = urlsplit(url)
        self._where = f"PostgreSQL {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
        extra = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT_S}
        self._connect = lambda: psycopg.connect(url, autocommit=True, **extra)  # the password stays in here
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

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        try:
            return self._conn().execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        except psycopg.OperationalError as e:
            raise StoreError(f"{self._where}: {_first_line(e)}") from e

    @contextmanager
    def _tx(self) -> Iterator[None]:
        try:
            with self._conn().transaction():
                yield
        except psycopg.OperationalError as e:
            raise StoreError(f"{self._where}: {_first_line(e)}") from e

    @contextmanager
    def _locked_tx(self) -> Iterator[None]:
        with self._tx():
            self._exec("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            yield

    def _migration_tx(self) -> AbstractContextManager[None]:
        return self._locked_tx()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
