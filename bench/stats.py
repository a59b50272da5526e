"""The benchmark's pure arithmetic: percentiles, Prometheus histogram quantiles, /proc parsing,
ratios and the markdown table. No I/O, no clock: tests/unit/test_bench_stats.py checks it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "ari_time",
    "cpu_seconds",
    "histogram_quantile",
    "markdown_table",
    "parse_histogram",
    "percentile",
    "per_thousand",
    "ratio",
    "rss_kib",
    "summary",
]


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0..100) by linear interpolation between closest ranks (numpy's default).

    None for no values, so a phase without samples says "n/a", never 0."""
    xs = sorted(values)
    if not xs:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile: p must be 0..100, got {p}")
    rank = (len(xs) - 1) * p / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """n, p50, p95, p99 and max of the values (seconds in, seconds out)."""
    xs = sorted(values)
    return {
        "n": len(xs),
        "p50": percentile(xs, 50),
        "p95": percentile(xs, 95),
        "p99": percentile(xs, 99),
        "max": xs[-1] if xs else None,
    }


def ari_time(stamp: str) -> float:
    """An ARI event timestamp ("2026-11-27T00:03:09.177+0000") as epoch seconds."""
    return datetime.fromisoformat(stamp).timestamp()


def cpu_seconds(stat_line: str, ticks_per_s: int = 100) -> float:
    """utime + stime of /proc/<pid>/stat (all the process's threads), in seconds.

    The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'."""
    rest = stat_line[stat_line.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(rest[11]) + int(rest[12])) / ticks_per_s


def rss_kib(status_text: str, key: str = "VmHWM") -> int | None:
    """A "Vm…: <n> kB" line of /proc/<pid>/status, in KiB (VmHWM: the peak resident set)."""
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def parse_histogram(text: str, name: str) -> tuple[list[tuple[float, float]], float]:
    """A Prometheus histogram from the text format: ([(upper bound, cumulative count)], count).

    Labelled series of the same histogram are summed bucket by bucket."""
    buckets: dict[float, float] = {}
    count = 0.0
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = math.inf if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count"):
            count += float(line.rsplit(" ", 1)[1])
    return sorted(buckets.items()), count


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket, the last finite bound if it falls in +Inf.

    ``buckets`` are (upper bound, cumulative count), sorted; None when empty."""
    if not 0 <= q <= 1:
        raise ValueError(f"histogram_quantile: q must be 0..1, got {q}")
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def diff_buckets(
    after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The buckets of what happened between two scrapes (cumulative counts subtracted)."""
    old = dict(before)
    return [(bound, count - old.get(bound, 0.0)) for bound, count in after]


def per_thousand(cpu_s: float | None, calls: int) -> float | None:
    """CPU seconds per 1,000 calls."""
    if cpu_s is None or calls <= 0:
        return None
    return cpu_s * 1000 / calls


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def markdown_table(columns: Sequence[tuple[str, str, str]], rows: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table. ``columns`` are (key, header, format spec); a missing value is "n/a",
    a string is printed as it is."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(_cell(row.get(key), fmt) for key, _, fmt in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])
