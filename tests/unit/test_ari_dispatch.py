"""OrderedDispatcher: per-key order, cross-key parallelism, failure isolation, cleanup."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from structlog.testing import capture_logs

from ari_app.ari import GLOBAL_KEY, Channel, Event, OrderedDispatcher, StasisStart


def ev(key: str | None, n: int) -> StasisStart:
    """An event keyed by `key` (None -> global) carrying sequence number n."""
    return StasisStart(type="StasisStart", channel=Channel(id=key or "-"), args=(key or "", str(n)))


def key_of(event: Event) -> str | None:
    assert isinstance(event, StasisStart)
    return event.args[0] or None


def seq(event: Event) -> int:
    assert isinstance(event, StasisStart)
    return int(event.args[1])


class Recorder:
    def __init__(self) -> None:
        self.handled: dict[str, list[int]] = defaultdict(list)
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: set[tuple[str, int]] = set()
        self.done = asyncio.Event()
        self.expect: tuple[str, int] | None = None

    async def __call__(self, key: str, event: Event) -> None:
        if key in self.gates:
            await self.gates[key].wait()
        if (key, seq(event)) in self.fail:
            raise RuntimeError(f"boom {key} {seq(event)}")
        self.handled[key].append(seq(event))
        if self.expect == (key, seq(event)):
            self.done.set()


@pytest.fixture
async def rec() -> Recorder:
    return Recorder()


async def test_blocked_key_does_not_block_others_and_keeps_order(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    rec.gates["A"] = asyncio.Event()
    rec.expect = ("B", 3)
    for n in range(1, 4):
        d.dispatch(ev("A", n))
        d.dispatch(ev("B", n))
    await asyncio.wait_for(rec.done.wait(), 2)  # B completes while A is stuck
    assert rec.handled["B"] == [1, 2, 3]
    assert rec.handled["A"] == []
    assert d.pending() == 3 and d.active_keys == {"A"}

    d.dispatch(ev("A", 4))  # arrives while A's worker is blocked
    rec.gates["A"].set()
    await asyncio.wait_for(d.join(), 2)
    assert rec.handled["A"] == [1, 2, 3, 4]
    assert d.pending() == 0


async def test_none_key_goes_to_global(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    d.dispatch(ev(None, 1))
    d.dispatch(ev(None, 2))
    assert d.active_keys == {GLOBAL_KEY}
    await d.join()
    assert rec.handled == {GLOBAL_KEY: [1, 2]}


async def test_handler_exception_is_logged_and_next_event_runs(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    rec.fail = {("A", 1), ("A", 3)}
    with capture_logs() as logs:
        for n in range(1, 5):
            d.dispatch(ev("A", n))
        await asyncio.wait_for(d.join(), 2)
    assert rec.handled["A"] == [2, 4]
    failures = [e for e in logs if e["event"] == "ari.handler_failed"]
    seen = [(e["key"], e["event_type"], e["log_level"]) for e in failures]
    assert seen == [("A", "StasisStart", "error")] * 2
    assert all(e.get("exc_info") for e in failures)
    assert d.pending() == 0 and d.active_keys == frozenset()


async def test_idle_keys_are_cleaned_up(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    for i in range(200):
        d.dispatch(ev(f"call-{i}", 1))
    assert len(d.active_keys) == 200
    await asyncio.wait_for(d.join(), 2)
    assert d.active_keys == frozenset()
    assert d._workers == {} and d._queues == {}  # nothing retained per finished call
    assert sum(len(v) for v in rec.handled.values()) == 200


@pytest.mark.parametrize("yields", range(8))
async def test_event_arriving_as_worker_goes_idle_is_not_lost(rec: Recorder, yields: int) -> None:
    """Sweep the arrival of the next event over every scheduling point of the worker's
    lifecycle (start, handling, emptiness check, exit, cleanup)."""
    d = OrderedDispatcher(rec, key_of)
    for n in range(1, 6):
        d.dispatch(ev("A", n))
        for _ in range(yields):
            await asyncio.sleep(0)
    await asyncio.wait_for(d.join(), 2)
    assert rec.handled["A"] == [1, 2, 3, 4, 5]
    assert d.active_keys == frozenset() and d.pending() == 0


async def test_event_dispatched_from_handler_and_from_done_callback(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    loop = asyncio.get_running_loop()

    async def handler(key: str, event: Event) -> None:
        await rec(key, event)
        if seq(event) == 1:
            d.dispatch(ev("A", 2))  # same key, while its worker is still running
        if seq(event) == 2:
            loop.call_soon(d.dispatch, ev("A", 3))  # lands right as the worker exits

    d._handler = handler
    d.dispatch(ev("A", 1))
    await asyncio.wait_for(d.join(), 2)
    await asyncio.sleep(0)
    await asyncio.wait_for(d.join(), 2)
    assert rec.handled["A"] == [1, 2, 3]


async def test_aclose_cancels_workers(rec: Recorder) -> None:
    d = OrderedDispatcher(rec, key_of)
    rec.gates["A"] = asyncio.Event()
    d.dispatch(ev("A", 1))
    d.dispatch(ev("A", 2))
    d.dispatch(ev("B", 1))
    await asyncio.sleep(0)
    await asyncio.wait_for(d.aclose(), 2)
    assert d.active_keys == frozenset() and d.pending() == 0
    assert rec.handled["A"] == []
    with pytest.raises(RuntimeError):
        d.dispatch(ev("A", 3))
