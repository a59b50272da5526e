"""Store fixtures: every store test runs against SQLite and a real PostgreSQL.

PostgreSQL is the session's throwaway cluster (``pg_server``, tests/conftest.py,
shared with the e2e fault tests); each test gets one fresh database in it.
If the cluster cannot be made, the fixture FAILS with the command's stderr:
a store test is never skipped.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ari_app.store import open_store
from ari_app.store.base import Repository

BACKENDS = ["sqlite", "postgres"]


_db_numbers = itertools.count(1)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the backend: a SQLite file path, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield str(tmp_path / "state.db")
        return
    pg = request.getfixturevalue("pg_server")  # tests/conftest.py
    name = f"t{next(_db_numbers)}"
    with psycopg.connect(pg.url(pg.user), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield pg.url(name)
    with psycopg.connect(pg.url(pg.user), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def repo(url: str) -> Iterator[Repository]:
    r = open_store(url)
    yield r
    r.close()


RawSql = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def raw(backend: str, url: str) -> RawSql:
    """``raw(sql, params=())``: one statement on the test's database, behind the store's back."""
    return functools.partial(_raw_sql, backend, url)


def _raw_sql(backend: str, url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if backend == "sqlite":
        db = sqlite3.connect(url, isolation_level=None)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()
    with psycopg.connect(url, autocommit=True) as db:
        cur = db.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []
