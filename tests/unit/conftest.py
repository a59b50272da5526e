"""Shared unit-test settings: the hypothesis profiles of the fuzz tests (``tests/unit/test_fuzz_*.py``),
and ``ari_server``, the local HTTP server AriClient's tests send to (tests/unit/fake_ari.py).

``ci`` (the default) runs the same inputs on every run: derandomized, no example database (nothing
carried from one run to the next), no per-example deadline (a loaded 2-core CI machine is slow).
``deep`` is for hunting bugs by hand, with fresh random inputs each run:
``HYPOTHESIS_PROFILE=deep .venv/bin/python -m pytest tests/unit/test_fuzz_*.py -p no:cacheprovider``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from fake_ari import FakeAri
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=400,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    database=None,
    deadline=None,
    max_examples=20_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def ari_server() -> AsyncIterator[FakeAri]:
    async with FakeAri.serve() as fake:
        yield fake
