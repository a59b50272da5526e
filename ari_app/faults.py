"""Named fault-injection points for the crash tests (R-VM: nothing is lost across restarts).

Off unless the environment asks for it; then the process kills itself with
SIGKILL at the named point, exactly as a crash would (no clean-up, no flush
beyond the log line saying where):

* ``ARI_APP_FAULTS=vm.before_commit,cb.assign`` — die at the first hit of any of these points;
* ``ARI_APP_FAULT_SEED=7`` (with ``ARI_APP_FAULT_RATE``, default 0.3) — at every hit of any
  point, die with that probability, from a seeded generator (a reproducible random set).

The points are listed in ``POINTS``; ``hit()`` refuses a name not listed, so a test naming a point
cannot silently miss it.
"""

from __future__ import annotations

import os
import random
import signal
import sys

import structlog

__all__ = ["POINTS", "hit"]

log = structlog.get_logger()

POINTS = frozenset({
    "vm.recording_started",  # the caller is being recorded; the intake row exists
    "vm.recording_finished",  # the recording is stored; no task yet
    "vm.before_commit",  # about to commit the task (and drop the intake row)
    "vm.after_commit",  # the task is committed, not yet assigned
    "cb.assign",  # the core assigned the task; not yet persisted
    "cb.during_call",  # the duty agent's callback call is running (a customer being dialled)
})

_named = frozenset(p for p in os.environ.get("ARI_APP_FAULTS", "").split(",") if p)
_unknown = _named - POINTS
if _unknown:
    sys.exit(f"ARI_APP_FAULTS: unknown fault points {sorted(_unknown)}; known: {sorted(POINTS)}")
_seed = os.environ.get("ARI_APP_FAULT_SEED")
_random = random.Random(int(_seed)) if _seed else None
_rate = float(os.environ.get("ARI_APP_FAULT_RATE", "0.3"))


def hit(point: str) -> None:
    if point not in POINTS:
        raise ValueError(f"unknown fault point {point!r}")
    if point in _named or (_random is not None and _random.random() < _rate):
        log.warning("fault.injected", point=point)
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
