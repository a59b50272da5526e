"""Fixtures for every kind of test: the throwaway PostgreSQL cluster (``pg_server``).

PostgreSQL is Debian's ``postgresql`` package (.ci/run installs it). One
throwaway cluster per test session, made only when a test asks for it (the
store tests, the e2e fault test of a stopped database): ``pg_createcluster``
with its data, socket and log under a fresh temp dir and a free port,
``pg_ctlcluster … start`` (it switches to the ``postgres`` user; PostgreSQL
refuses to run as root), a role with a password. Clusters left by a crashed
run (``ariapp_test_<pid>`` whose pid is gone) are dropped first. If the
cluster cannot be made, the fixture FAILS with the command's stderr: a test
that needs PostgreSQL is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PREFIX = "ariapp_test_"


@dataclass(frozen=True)
class PgServer:
    version: str
    cluster: str
    port: int
    user: str
    password: str
    log: Path  # the server's log

    def url(self, db: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        """The database goes away (fast shutdown: open connections are closed), as in an outage."""
        _run("pg_ctlcluster", self.version, self.cluster, "stop", "-m", "fast", what="stop the test cluster",
             log=self.log)

    def start(self) -> None:
        _run("pg_ctlcluster", self.version, self.cluster, "start", what="start the test cluster", log=self.log)


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
        yield PgServer(version=version, cluster=cluster, port=port, user=user, password=password,
                       log=base / "server.log")
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, cluster], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


class Blackhole:
    """A TCP proxy to ``127.0.0.1:upstream`` that can stop forwarding (issue 17): after ``drop()`` it reads
    nothing and sends nothing, on open connections and new ones alike, and closes no socket — as a network that
    drops every packet (not a refused connection). ``resume()`` forwards again (what waited is delivered).
    Threads, so it serves synchronous store tests and the e2e service alike."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True, name="blackhole").start()

    def drop(self) -> None:
        self.forwarding.clear()

    def resume(self) -> None:
        self.forwarding.set()

    def close(self) -> None:
        self.closed.set()
        self.forwarding.set()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                continue
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while not self.closed.is_set():
            if not self.forwarding.wait(0.1):
                continue
            try:
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready or not self.forwarding.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return


@pytest.fixture
def pg_blackhole(pg_server: PgServer) -> Iterator[Blackhole]:
    """``pg_server`` behind a ``Blackhole``: connect to ``pg_blackhole.port``; ``drop()`` cuts the network."""
    proxy = Blackhole(pg_server.port)
    yield proxy
    proxy.close()




@pytest.fixture(autouse=True)
def _no_token_file(monkeypatch):
    """The CLI's token file (~/.config/ari-app/token: the demo site writes it) never reaches a test."""
    monkeypatch.setenv("ARI_APP_TOKEN_FILE", "/nonexistent/ari-app-token")
