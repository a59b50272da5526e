"""Issue 17, items 2 and 8: every database error that is an operational condition is a ``StoreError`` (held and
retried by the outbox, never dropped as a bug); no failing action stops the core's or the desk's task; the
running service's writes run on the store's one thread, never on the event loop. Fake connections and stores:
no database, no sleeps beyond a few hundred milliseconds on a worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from structlog.testing import capture_logs

from ari_app.app import Service
from ari_app.config import parse
from ari_app.core import acd
from ari_app.core.acd import Publish
from ari_app.store.base import AgentSession, StoreError
from ari_app.store.outbox import WriteOutbox
from ari_app.store.postgres import PostgresStore
from ari_app.store.sqlite import Store
from ari_app.store.worker import StoreThread

SESSION = AgentSession(agent_id="1001", state="available", since=1.0, reason="", interface="PJSIP/1001")

# errors PostgreSQL raises for conditions of the server, the disk or the network: retried
OPERATIONAL = [
    psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),  # InternalError
    psycopg.errors.DiskFull("could not extend file: No space left on device"),
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
    psycopg.errors.InsufficientPrivilege("permission denied for table agent_sessions"),
    psycopg.errors.InFailedSqlTransaction("current transaction is aborted"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.InterfaceError("the connection is closed"),
]
# errors of the SQL itself: bugs, never retried for ever
BUGS = [psycopg.errors.UndefinedTable("relation \"x\" does not exist"),
        psycopg.errors.UniqueViolation("duplicate key value"), psycopg.errors.SyntaxError("syntax error")]


class FakeConnection:
    """What ``PostgresStore`` uses of a psycopg connection; ``error`` makes every statement raise it."""

    def __init__(self) -> None:
        self.closed = self.broken = False
        self.error: Exception | None = None
        self.statements: list[str] = []
        self.pgconn = SimpleNamespace(socket=-1)

    def execute(self, sql: str, params: Any = ()) -> Any:
        if self.error is not None:
            raise self.error
        self.statements.append(sql)
        return SimpleNamespace(rowcount=1)


def fake_postgres() -> tuple[PostgresStore, FakeConnection]:
    store = object.__new__(PostgresStore)  # no server: the connection is the fake
    conn = FakeConnection()
    store.db, store._where, store.url = conn, "PostgreSQL db.example:5432/cc", "postgresql://db.example/cc"
    store._connect = lambda: conn
    store.deadline_s, store._timed_out, store._bounded = 60.0, False, False
    return store, conn


@pytest.mark.parametrize("error", OPERATIONAL, ids=lambda e: type(e).__name__)
def test_postgres_operational_errors_are_store_errors_naming_the_server(error):
    """On 09ab527 only ``OperationalError`` was mapped: a read-only server's ``InternalError`` (and the others
    here but the first two kinds) escaped as psycopg's own."""
    store, conn = fake_postgres()
    conn.error = error
    with pytest.raises(StoreError, match=r"^PostgreSQL db\.example:5432/cc: ") as e:
        store.save_agent(SESSION)
    assert e.value.__cause__ is error


@pytest.mark.parametrize("error", BUGS, ids=lambda e: type(e).__name__)
def test_postgres_errors_of_the_sql_stay_bugs(error):
    store, conn = fake_postgres()
    conn.error = error
    with pytest.raises(type(error)):
        store.save_agent(SESSION)


def test_a_read_only_postgres_write_is_held_and_retried_not_dropped():
    """Issue 17, item 8: on 09ab527 the outbox took the read-only server's ``InternalError`` for a bug: the write
    was dropped (``store.write_bug``, ``dropped_rows``) and never retried. Now it is held, retried, and lands."""
    store, conn = fake_postgres()
    box = WriteOutbox(retry_min_s=1.0)
    conn.error = psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")
    with capture_logs() as logs:
        box.write("agent", lambda: store.save_agent(SESSION), 100.0)
        assert box.down and len(box) == 1 and box.dropped_rows == 0
        conn.error = None
        box.flush(101.0)
    assert len(box) == 0 and box.dropped_rows == 0 and len(conn.statements) == 1
    assert [e["event"] for e in logs] == ["store.unavailable", "store.recovered"]
    assert "read-only transaction" in logs[0]["reason"]


@pytest.mark.parametrize("error, operational", [
    (sqlite3.OperationalError("attempt to write a readonly database"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (sqlite3.DatabaseError("database disk image is malformed"), True),
    (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
    (sqlite3.ProgrammingError("Incorrect number of bindings supplied"), False),
], ids=lambda x: str(x)[:30])
def test_sqlite_errors_of_the_file_are_store_errors(tmp_path, error, operational):
    """On 09ab527 a corrupt file's ``DatabaseError`` escaped as sqlite3's own (only OperationalError was mapped)."""
    store = Store(tmp_path / "s.db")

    class Failing:
        def execute(self, sql: str, params: Any = ()) -> Any:
            raise error

    real, store.db = store.db, Failing()  # type: ignore[assignment]
    try:
        with pytest.raises(StoreError if operational else type(error)):
            store.save_agent(SESSION)
    finally:
        real.close()


# -- nothing in an action handler stops the core (app.py) or the callbacks desk (flows/desk.py) --------------
def service(tmp_path: Any) -> Service:
    cfg = parse({"ari": {"password": "x"}, "queues": {"support": {}},
                 "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}}})
    return Service(cfg, store=Store(tmp_path / "state.db"), clock=lambda: 1000.0)


async def test_a_failing_action_handler_is_logged_and_the_core_goes_on(tmp_path):
    """On 09ab527 ``desk.keep_place`` raising a read-only PostgreSQL's ``InternalError`` escaped ``_apply``,
    ended ``_run_core`` and the TaskGroup took the whole service down."""
    svc = service(tmp_path)
    published: list[str] = []
    svc.bus.publish = lambda name, fields: published.append(name)  # type: ignore[method-assign]

    class Desk:
        def keep_place(self, *args: Any) -> None:
            raise psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")

    svc.desk = Desk()  # type: ignore[assignment]
    actions = [acd.KeepPlace(call_id="c1", queue="support", estimate_s=60.0, position=1),
               acd.Publish(event="call.after", fields={})]
    with capture_logs() as logs:
        svc._apply(lambda: actions)  # must not raise
    assert published == ["call.after"]  # the action after the failing one still ran
    errors = [e for e in logs if e["event"] == "core.action_error"]
    assert len(errors) == 1 and errors[0]["action"] == "KeepPlace" and errors[0]["call_id"] == "c1"

    # and the core's task itself keeps taking events after it
    svc.acd.handle = lambda ev, now: actions  # type: ignore[method-assign]
    core = asyncio.create_task(svc._run_core())
    svc.inbox.put_nowait(acd.AgentCommand(agent_id="1001", command="pause", source="api"))
    svc.inbox.put_nowait(acd.AgentCommand(agent_id="1001", command="pause", source="api"))
    for _ in range(50):
        await asyncio.sleep(0.01)
        if published.count("call.after") == 3:
            break
    assert not core.done() and published.count("call.after") == 3
    core.cancel()
    await asyncio.gather(core, return_exceptions=True)
    svc.store.close()


async def test_a_failing_desk_action_is_logged_and_the_desk_goes_on():
    """On 09ab527 an exception from one of the callbacks core's actions ended the desk's task (and the service)."""
    from ari_app.flows.desk import CallbackDesk

    desk = object.__new__(CallbackDesk)
    done: list[str] = []

    async def act(action: Any) -> None:
        if action.event == "boom":
            raise psycopg.errors.ReadOnlySqlTransaction("read-only")
        done.append(action.event)

    desk._act = act  # type: ignore[method-assign]
    desk._persist = lambda: None  # type: ignore[method-assign]
    with capture_logs() as logs:
        await desk._step(lambda: [Publish(event="boom", fields={}), Publish(event="after", fields={})])
    assert done == ["after"]
    assert [e["event"] for e in logs] == ["callback.action_error"]


# -- issue 17, item 2: the writes run on the store's thread, the event loop stays free ----------------------------
async def test_drain_runs_the_writes_in_order_on_the_store_thread_and_the_loop_keeps_its_timers():
    io, box = StoreThread(), WriteOutbox()
    box.deferred = True
    ran: list[tuple[str, str]] = []

    def slow(name: str) -> None:
        time.sleep(0.3)  # a database that takes its time
        ran.append((name, threading.current_thread().name))

    for name in ("a", "b", "c"):
        box.write(name, lambda n=name: slow(n), 0.0)
    assert ran == [] and len(box) == 3  # deferred: nothing ran on the loop
    drain = asyncio.create_task(box.drain(io.call, time.time))
    late = []
    for _ in range(10):  # a 50 ms timer, ten times, while the writes run
        t0 = time.monotonic()
        await asyncio.sleep(0.05)
        late.append(time.monotonic() - t0 - 0.05)
    await drain
    io.close()
    assert [n for n, _ in ran] == ["a", "b", "c"] and len(box) == 0
    assert all(thread.startswith("store") for _, thread in ran)
    assert max(late) < 0.1, late


async def test_a_write_replaced_while_it_runs_is_not_lost_and_a_cancelled_drain_counts_the_running_write():
    io, box = StoreThread(), WriteOutbox()
    box.deferred = True
    landed: list[int] = []
    started = threading.Event()

    def save(v: int) -> int:
        started.set()
        time.sleep(0.2)
        landed.append(v)
        return v

    results: list[int] = []
    box.write("agent", lambda: save(1), 0.0, key="agent", then=results.append)
    drain = asyncio.create_task(box.drain(io.call, time.time))
    await asyncio.to_thread(started.wait)
    box.write("agent", lambda: save(2), 0.0, key="agent", then=results.append)  # the newer state, queued
    drain.cancel()  # the service stops while the first write runs
    with pytest.raises(asyncio.CancelledError):
        await drain
    assert landed == [1] and results == [1]  # its outcome was awaited and counted, not left to run twice
    assert len(box) == 1  # the newer state was not taken for the one that ran
    await box.drain(io.call, time.time)
    io.close()
    assert landed == [1, 2] and results == [1, 2] and len(box) == 0


async def test_the_running_service_writes_off_the_event_loop(tmp_path):
    """On 09ab527 ``writes.write`` ran the store call at once, on the event loop: a database that takes 0.5 s
    held every call and timer 0.5 s (a dropped network: minutes)."""
    svc = service(tmp_path)
    writer = asyncio.create_task(svc._retry_writes())
    await asyncio.sleep(0)
    threads: list[str] = []

    def slow_write() -> None:
        time.sleep(0.5)
        threads.append(threading.current_thread().name)

    t0 = time.monotonic()
    svc.writes.write("facts", slow_write, svc.clock())
    returned = time.monotonic() - t0
    await asyncio.sleep(0.05)
    timer = time.monotonic() - t0
    for _ in range(100):
        if threads:
            break
        await asyncio.sleep(0.02)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    if hasattr(svc, "store_io"):  # (09ab527 had none: the write ran inline, the assertions below fail)
        svc.store_io.close()
    svc.store.close()
    assert returned < 0.05 and timer < 0.2, (returned, timer)
    assert threads and threads[0].startswith("store")
