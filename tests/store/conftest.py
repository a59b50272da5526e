"""Store fixtures: every store test runs against SQLite and a real PostgreSQL.

PostgreSQL is Debian's ``postgresql`` package (.ci/run installs it). One
throwaway cluster per test session: ``pg_createcluster`` with its data,
socket and log under a fresh temp dir and a free port, ``pg_ctlcluster …
start`` (it switches to the ``postgres`` user; PostgreSQL refuses to run as
root), a role with a password, and one fresh database per test. Clusters
left by a crashed run (``ariapp_test_<pid>`` whose pid is gone) are dropped
first. If the cluster cannot be made, the fixture FAILS with the command's
stderr: a store test is never skipped.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ari_app.store import open_store
from ari_app.store.base import Repository

PREFIX = "ariapp_test_"
BACKENDS = ["sqlite", "postgres"]


@dataclass(frozen=True)
class PgServer:
    version: str
    cluster: str
    port: int
    user: str
    password: str

    def url(self, db: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"


def _run(*cmd: str, what: str, log: Path | None = None) -> str:
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{what}: {cmd[0]} not found; install Debian's postgresql package "
                    "(apt-get install -y postgresql)", pytrace=False)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        server_log = f"\nserver log {log}:\n{log.read_text()}" if log and log.exists() else ""
        pytest.fail(f"{what}: `{' '.join(cmd)}` exited {p.returncode}\nstderr:\n{p.stderr}"
                    f"\nstdout:\n{p.stdout}{server_log}", pytrace=False)
    return p.stdout


def _pg_version() -> str:
    versions = sorted((p.parent.parent.name for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")),
                      key=lambda v: int(re.sub(r"\D.*", "", v) or 0))
    if not versions:
        pytest.fail("PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/postgres); "
                    "apt-get install -y postgresql", pytrace=False)
    return versions[-1]


def _drop_stale_clusters() -> None:
    """Drop clusters of earlier runs whose process is gone (a crash left them behind)."""
    for line in _run("pg_lsclusters", "--no-header", what="list clusters").splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[1].startswith(PREFIX):
            continue
        pid = fields[1].removeprefix(PREFIX)
        if pid.isdigit() and int(pid) != os.getpid() and Path(f"/proc/{pid}").exists():
            continue  # another test run, still going
        _run("pg_dropcluster", "--stop", fields[0], fields[1], what="drop a stale test cluster")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    version = _pg_version()
    _drop_stale_clusters()
    cluster = f"{PREFIX}{os.getpid()}"
    base = Path(tempfile.mkdtemp(prefix="ari-app-pg-"))
    shutil.chown(base, "postgres", "postgres")  # the server runs as postgres and keeps all its files here
    user, password = "ari_app_test", secrets.token_hex(12)
    port = _free_port()
    try:
        _run("pg_createcluster", "--start-conf=manual", "-d", str(base / "data"), "-s", str(base),
             "-l", str(base / "server.log"), "-p", str(port), "-o", "fsync=off", "-o", "full_page_writes=off",
             version, cluster, what="create the test cluster")
        _run("pg_ctlcluster", version, cluster, "start", what="start the test cluster",
             log=base / "server.log")
        _run("runuser", "-u", "postgres", "--", "psql", "-h", str(base), "-p", str(port), "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-c", f"CREATE ROLE {user} LOGIN CREATEDB PASSWORD '{password}'",
             "-c", f"CREATE DATABASE {user} OWNER {user}", what="create the test role")
        yield PgServer(version=version, cluster=cluster, port=port, user=user, password=password)
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, cluster], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


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
    pg: PgServer = request.getfixturevalue("pg_server")
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
