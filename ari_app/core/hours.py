"""R-HOURS: business hours per queue, in an explicit time zone.

A calendar is weekday windows (default Mon–Fri 08:45–12:00 and
13:30–17:30), holiday dates (closed all day) and extra working days (调休:
a weekend day worked with the windows of a normal weekday). Pure: the
shell passes epoch seconds; ``zoneinfo`` only reads the tz database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

__all__ = ["Calendar", "Window", "parse_window"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(?P<d1>mon|tue|wed|thu|fri|sat|sun)(?:-(?P<d2>mon|tue|wed|thu|fri|sat|sun))?\s+"
                     r"(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time  # exclusive


def parse_window(text: str) -> Window:
    """``"mon-fri 08:45-12:00"`` → Window; raises ValueError with the reason."""
    m = _WINDOW.match(text.strip().lower())
    if not m:
        raise ValueError(f"expected e.g. 'mon-fri 08:45-12:00', got {text!r}")
    d1 = _DAYS.index(m["d1"])
    d2 = _DAYS.index(m["d2"]) if m["d2"] else d1
    if d2 < d1:
        raise ValueError(f"days run backwards in {text!r}")
    try:
        start = time(int(m["h1"]), int(m["m1"]))
        end = time(int(m["h2"]), int(m["m2"])) if m["h2"] != "24" else time.max
    except ValueError:
        raise ValueError(f"not a time of day in {text!r}") from None
    if end <= start:
        raise ValueError(f"window ends before it starts in {text!r}")
    return Window(days=frozenset(range(d1, d2 + 1)), start=start, end=end)


@dataclass(frozen=True, kw_only=True)
class Calendar:
    timezone: str = "Asia/Shanghai"
    windows: tuple[Window, ...] = (parse_window("mon-fri 08:45-12:00"), parse_window("mon-fri 13:30-17:30"))
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()  # 调休: worked like a Monday
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", ZoneInfo(self.timezone))

    def is_open(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, self._tz)
        day = local.date()
        if day in self.holidays:
            return False
        weekday = 0 if day in self.extra_workdays else local.weekday()
        t = local.time()
        return any(weekday in w.days and w.start <= t < w.end for w in self.windows)

    def local_hour(self, now: float) -> int:
        return datetime.fromtimestamp(now, self._tz).hour


ALWAYS_OPEN = Calendar(windows=(parse_window("mon-sun 00:00-24:00"),))
