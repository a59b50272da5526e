"""Issue 17, items 2 and 8, against the real databases: a read-only database is a ``StoreError`` (retried by
the service's outbox, not dropped as a bug); PostgreSQL statements are bounded — by the server's
``statement_timeout``, and, for a network that drops every packet, by the client's deadline — and the store
connects afresh once the network is back."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable
from urllib.parse import urlsplit

import psycopg
import pytest

from ari_app.store import open_store
from ari_app.store.base import AgentSession, StoreError
from ari_app.store.outbox import WriteOutbox
from ari_app.store.postgres import CALL_DEADLINE_S, STATEMENT_TIMEOUT_S, PostgresStore

SESSION = AgentSession(agent_id="1001", state="available", since=1.0, reason="", interface="PJSIP/1001")


def read_only(backend: str, url: str, repo: Any, on: bool) -> None:
    """Make the database read-only (or writable again) as an operator would; the store's next statement sees it."""
    if backend == "sqlite":
        repo.db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
        return
    db = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET default_transaction_read_only = off")  # this session only: it may change the setting
        admin.execute(f"ALTER DATABASE {db} SET default_transaction_read_only = {'on' if on else 'off'}")
    repo.db.close()  # the setting applies to new sessions: the store connects afresh on its next call


def test_a_read_only_database_is_a_store_error_and_the_outbox_retries_the_write(backend, url, raw):
    """On 09ab527 PostgreSQL's ``ReadOnlySqlTransaction`` (an ``InternalError``) escaped as psycopg's own: the
    outbox dropped the write as a bug, and from an action handler it stopped the service."""
    repo = open_store(url)
    try:
        read_only(backend, url, repo, True)
        with pytest.raises(StoreError, match="read-only|readonly"):
            repo.save_agent(SESSION)
        box = WriteOutbox()
        box.write("agent", lambda: repo.save_agent(SESSION), 100.0)
        assert box.down and len(box) == 1 and box.dropped_rows == 0  # held, not dropped

        read_only(backend, url, repo, False)
        box.flush(101.0)
        assert len(box) == 0 and not box.down and box.dropped_rows == 0
        assert raw("SELECT agent_id, state FROM agent_sessions") == [("1001", "available")]
    finally:
        repo.close()


def in_thread(fn: Callable[[], Any], limit_s: float) -> tuple[BaseException | None, float]:
    """Run ``fn`` on a thread; (what it raised, how long it took). A call still blocked after ``limit_s`` fails
    the test (the thread is left behind, as the service's loop would have been)."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            out.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit_s)
    assert out, f"the store call was still blocked after {limit_s} s"
    return out[0], time.monotonic() - t0


@pytest.fixture
def pg_url(pg_server) -> Any:
    name = f"timeouts{int(time.time() * 1000) % 10_000_000}"
    with psycopg.connect(pg_server.url(pg_server.user), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(pg_server.url(pg_server.user), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_network_that_drops_every_packet_fails_the_call_at_the_deadline_and_the_store_comes_back(
        pg_server, pg_blackhole, pg_url):
    """The connection is open when the network starts dropping PostgreSQL's packets (a proxy that stops
    forwarding: no reset, no refusal). On 09ab527 the call blocked until TCP gave up — for ever here, as the
    proxy's kernel acknowledges what it is sent. Now: a ``StoreError`` at the deadline; a new connection while
    the network is still away fails at ``connect_timeout``; once it is back, the next call connects afresh."""
    url = pg_server.url(pg_url).replace(f":{pg_server.port}/", f":{pg_blackhole.port}/")
    repo = PostgresStore(url, deadline_s=1.5)
    try:
        repo.save_agent(SESSION)  # the connection works
        pg_blackhole.drop()
        error, took = in_thread(lambda: repo.save_agent(SESSION), 20)
        assert isinstance(error, StoreError), error
        assert "no answer within 1.5 s" in str(error) and pg_server.password not in str(error)
        assert 1.4 <= took < 3.5, took
        error, took = in_thread(lambda: repo.agents(), 20)  # reconnecting through the dead network
        assert isinstance(error, StoreError) and "unreachable" in str(error), error
        assert took < 8, took

        pg_blackhole.resume()
        error, took = in_thread(lambda: repo.save_agent(SESSION), 20)
        assert error is None and took < 3, (error, took)
        assert list(repo.agents()) == ["1001"]
    finally:
        pg_blackhole.resume()
        repo.close()


def test_postgres_statements_have_server_and_network_timeouts(pg_server, pg_url):
    """The store's sessions carry ``statement_timeout`` (a statement running longer is cancelled: a
    ``StoreError``) and the TCP settings (on 09ab527: only ``connect_timeout``; ``pg_sleep`` ran to its end)."""
    repo = PostgresStore(pg_server.url(pg_url))
    try:
        assert repo._exec("SHOW statement_timeout").fetchone()[0] == f"{STATEMENT_TIMEOUT_S}s"
        assert repo._exec("SHOW lock_timeout").fetchone()[0] == f"{STATEMENT_TIMEOUT_S}s"
        params = repo.db.info.get_parameters()
        assert params["tcp_user_timeout"] == "8000" and params["keepalives_idle"] == "10"
        assert params["connect_timeout"] == "5"
        assert STATEMENT_TIMEOUT_S < CALL_DEADLINE_S  # the server's cancel comes first: the connection stays
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="statement timeout"):
            repo._exec("SELECT pg_sleep(?)", (STATEMENT_TIMEOUT_S + 2,))
        assert time.monotonic() - t0 < STATEMENT_TIMEOUT_S + 1
        assert not repo.db.broken and repo.agents() == {}  # the same connection goes on
    finally:
        repo.close()


def test_a_url_setting_of_its_own_wins(pg_server, pg_url):
    repo = PostgresStore(pg_server.url(pg_url) + "?tcp_user_timeout=3000&connect_timeout=2")
    try:
        params = repo.db.info.get_parameters()
        assert (params["tcp_user_timeout"], params["connect_timeout"]) == ("3000", "2")
    finally:
        repo.close()
