"""R-HOURS: business hours per queue, in an explicit time zone.

A calendar is weekday windows (default Mon–Fri 08:45–12:00 and
13:30–17:30), holiday dates (closed all day) and extra working days (调休:
a weekend day worked with the windows of a normal weekday). Pure: the
shell passes epoch seconds; ``zoneinfo`` only reads the tz database.

The closed message (issue 18) states the calendar's own hours: closed_announcement() is
closed-intro ("…我们的服务时间是") and spoken_hours(): weekdays with the same windows are
one group (consecutive runs of three or more days as 星期一至星期五, others named one by
one), each window "八点四十五分至十二点" (Mandarin numerals, prompts.time_of_day(); an end
of 24:00 is 二十四点). Holidays and 调休 days are not read out. A calendar with no windows
(never open) has no hours to state: its closed message is ``no-agent``
("对不起，现在没有座席可以接听您的电话") alone, since the intro would end in mid-sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from . import prompts

__all__ = ["Calendar", "Window", "closed_announcement", "parse_window", "spoken_hours"]

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


def _spoken_time(t: time) -> list[str]:
    if t == time.max:  # a window to 24:00
        return prompts.time_of_day(24)
    return prompts.time_of_day(t.hour, t.minute)


def _spoken_days(days: list[int]) -> list[str]:
    """Weekdays (0 = Monday) as weekday prompts: runs of three or more as 星期一至星期五."""
    out: list[str] = []
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    for run in runs:
        if len(run) >= 3:
            out += [f"weekday-{run[0] + 1}", "to", f"weekday-{run[-1] + 1}"]
        else:
            out += [f"weekday-{d + 1}" for d in run]
    return out


def spoken_hours(calendar: Calendar) -> list[str]:
    """R-HOURS: the calendar's weekly hours as prompt ids, e.g. the default
    [weekday-1, to, weekday-5, <8:45>, to, <12:00>, <13:30>, to, <17:30>]; [] without windows."""
    per_day: dict[int, tuple[tuple[time, time], ...]] = {}
    for day in range(7):
        spans = sorted({(w.start, w.end) for w in calendar.windows if day in w.days})
        if spans:
            per_day[day] = tuple(spans)
    groups: dict[tuple[tuple[time, time], ...], list[int]] = {}
    for day, spans in per_day.items():  # in weekday order: the groups are in the order of their first day
        groups.setdefault(spans, []).append(day)
    out: list[str] = []
    for spans, days in groups.items():
        out += _spoken_days(days)
        for start, end in spans:
            out += [*_spoken_time(start), "to", *_spoken_time(end)]
    return out


def closed_announcement(calendar: Calendar) -> list[str]:
    """R-HOURS: what a caller hears when the queue is closed: closed-intro + spoken_hours();
    a calendar that is never open says ``no-agent`` alone."""
    hours = spoken_hours(calendar)
    return ["closed-intro", *hours] if hours else ["no-agent"]
