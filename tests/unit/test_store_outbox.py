"""The store outbox (issue 7): a database that is away delays writes, in order, and loses none (or counts
what it must drop); the outage is logged once and its end once. A fake store and a fake clock: no sleeps."""

from __future__ import annotations

import sqlite3

import pytest
from structlog.testing import capture_logs

from ari_app.core.timeline import Fact, TimelineEntry
from ari_app.store.base import StoreError
from ari_app.store.outbox import WriteOutbox
from ari_app.store.sqlite import Store


class FakeStore:
    """Rows land in ``rows``; ``down`` makes every write raise StoreError with ``reason``."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.down = False
        self.reason = "database is locked"
        self.attempts = 0

    def put(self, *rows: str) -> None:
        self.attempts += 1
        if self.down:
            raise StoreError(self.reason)
        self.rows.extend(rows)


def events(logs: list[dict], name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


def test_writes_run_at_once_while_the_store_answers():
    store, box = FakeStore(), WriteOutbox()
    with capture_logs() as logs:
        box.write("facts", lambda: store.put("a", "b"), 100.0, rows=2)
        box.write("agent", lambda: store.put("agent 1"), 100.0, key=("agent", "1"))
    assert store.rows == ["a", "b", "agent 1"]
    assert len(box) == 0 and box.rows == 0 and box.next_retry() is None
    assert logs == []


def test_an_outage_is_logged_once_writes_are_held_in_order_and_land_when_it_ends():
    store, box = FakeStore(), WriteOutbox(retry_min_s=1.0, retry_max_s=8.0)
    store.down = True
    with capture_logs() as logs:
        box.write("facts", lambda: store.put("f1"), 100.0)
        # later writes do not hammer the store while the back-off runs: they queue behind the first
        for i in range(2, 6):
            box.write("facts", lambda i=i: store.put(f"f{i}"), 100.0 + i / 10)
        assert store.attempts == 1
        assert box.next_retry() == 101.0
        # retries back off: 1, 2, 4, 8, 8 s; each fails without a new log line
        at = 101.0
        for delay in (2.0, 4.0, 8.0, 8.0):
            box.flush(at)
            at += delay
            assert box.next_retry() == at
        store.down = False
        box.flush(at)
    assert store.rows == ["f1", "f2", "f3", "f4", "f5"]
    unavailable = events(logs, "store.unavailable")
    assert len(unavailable) == 1 and unavailable[0]["reason"] == "database is locked"
    assert unavailable[0]["log_level"] == "error"
    recovered = events(logs, "store.recovered")
    assert len(recovered) == 1
    assert recovered[0]["landed_writes"] == 5 and recovered[0]["landed_rows"] == 5
    assert recovered[0]["dropped_rows"] == 0 and recovered[0]["down_s"] == at - 100.0
    assert len(logs) == 2  # nothing per failed write or per retry
    assert box.next_retry() is None and not box.down


def test_a_second_outage_is_logged_again_and_the_back_off_starts_over():
    store, box = FakeStore(), WriteOutbox(retry_min_s=1.0, retry_max_s=8.0)
    with capture_logs() as logs:
        for start in (0.0, 100.0):
            store.down = True
            box.write("facts", lambda: store.put("x"), start)
            box.flush(start + 1)
            assert box.next_retry() == start + 3  # 1 s, then 2 s
            store.down = False
            box.flush(start + 3)
    assert [e["event"] for e in logs] == ["store.unavailable", "store.recovered"] * 2
    assert store.rows == ["x", "x"]


def test_a_keyed_write_replaces_the_held_one_in_its_place():
    store, box = FakeStore(), WriteOutbox()
    store.down = True
    box.write("agent", lambda: store.put("1 paused"), 0.0, key=("agent", "1"))
    box.write("facts", lambda: store.put("fact"), 0.1)
    box.write("agent", lambda: store.put("1 available"), 0.2, key=("agent", "1"))
    assert len(box) == 2 and box.rows == 2
    store.down = False
    box.flush(1.0)
    assert store.rows == ["1 available", "fact"]  # only the latest session, where the first one was


def test_the_bound_drops_the_oldest_rows_counts_them_and_logs_once():
    store, box = FakeStore(), WriteOutbox(limit=10)
    store.down = True
    with capture_logs() as logs:
        for i in range(8):
            box.write("facts", lambda i=i: store.put(f"f{i}a", f"f{i}b"), float(i), rows=2)
    assert box.rows <= 10 and box.dropped_rows == 6 and box.dropped_writes == 3
    dropped = events(logs, "store.dropped")
    assert len(dropped) == 1 and dropped[0]["limit"] == 10 and dropped[0]["reason"] == "database is locked"
    store.down = False
    with capture_logs() as logs:
        box.flush(20.0)
    assert store.rows == [f"f{i}{x}" for i in range(3, 8) for x in "ab"]  # the newest, in order
    assert events(logs, "store.recovered")[0]["dropped_rows"] == 6


def test_a_write_that_is_a_bug_is_logged_dropped_and_does_not_hold_up_the_rest():
    store, box = FakeStore(), WriteOutbox()

    def broken() -> None:
        raise KeyError("no such column")

    with capture_logs() as logs:
        box.write("compliance", broken, 0.0)
        box.write("facts", lambda: store.put("after"), 0.0)
    assert store.rows == ["after"] and box.dropped_writes == 1 and len(box) == 0
    assert [e["event"] for e in logs] == ["store.write_bug"]


def test_on_wait_is_told_of_each_scheduled_retry():
    store, box = FakeStore(), WriteOutbox()
    told: list[float | None] = []
    box.on_wait = lambda: told.append(box.next_retry())
    store.down = True
    box.write("facts", lambda: store.put("x"), 5.0)
    box.flush(5.5)
    assert told == [5.5, 6.5]


def test_bad_limit_is_refused():
    with pytest.raises(ValueError, match="limit must be >= 1"):
        WriteOutbox(limit=0)


def test_a_locked_sqlite_file_is_a_store_error_within_the_busy_timeout_and_writes_land_after(tmp_path):
    """A real SQLite file locked by another process: the write fails as StoreError (not sqlite3's own error,
    which the service did not catch), the outbox holds it, and it lands when the lock is gone."""
    path = tmp_path / "state.db"
    store = Store(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    fact = TimelineEntry(at=1.0, fact=Fact.HANGUP, agent=None, detail={"by": "caller"})
    box = WriteOutbox()
    with capture_logs() as logs:
        box.write("facts", lambda: store.append_facts([("call-1", fact)]), 0.0)
        assert len(box) == 1
        assert "locked" in events(logs, "store.unavailable")[0]["reason"]
        other.execute("ROLLBACK")
        box.flush(1.0)
    assert len(box) == 0
    assert [e.fact for e in store.timeline("call-1")] == [Fact.HANGUP]
    other.close()
    store.close()


def test_metrics_show_the_outage_the_held_rows_and_the_dropped_ones():
    from ari_app.events.metrics import Metrics

    store, box = FakeStore(), WriteOutbox(limit=3)
    metrics = Metrics(store=lambda: box)

    def value(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    assert value("callcenter_store_available") == 1 and value("callcenter_store_rows_dropped_total") == 0
    store.down = True
    for i in range(3):
        box.write("facts", lambda: store.put("x", "y"), float(i), rows=2)
    assert value("callcenter_store_available") == 0
    assert value("callcenter_store_writes_held") == 2  # the bound keeps one write of two rows
    assert value("callcenter_store_rows_dropped_total") == 4
