"""Issue 18 item 6 (R-HOURS): the closed message states the queue's own hours, rendered from its calendar.

Judged as the Mandarin text a caller hears (each prompt id mapped to its text in prompts/manifest.toml).
On the old code (099d431) the closed message was the single recording ``closed`` with the default
hours baked in, whatever the calendar, and core/hours.py had no closed_announcement/spoken_hours.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from ari_app.core.hours import ALWAYS_OPEN, Calendar, Window, closed_announcement, parse_window, spoken_hours
from ari_app.core.prompts import PROMPT_IDS

MANIFEST = tomllib.loads((Path(__file__).resolve().parents[2] / "prompts" / "manifest.toml").read_text("utf-8"))
INTRO = "您好，现在是非工作时间。我们的服务时间是"


def said(ids: list[str]) -> str:
    assert set(ids) <= PROMPT_IDS, ids
    return "".join(MANIFEST[p]["zh"] for p in ids)


def cal(*windows: str, **kw) -> Calendar:
    return Calendar(windows=tuple(parse_window(w) for w in windows), **kw)


def test_default_calendar():
    ids = closed_announcement(Calendar())
    assert said(ids) == INTRO + "星期一至星期五八点四十五分至十二点十三点三十分至十七点三十分"
    assert ids == ["closed-intro", "weekday-1", "to", "weekday-5",
                   "digit-8", "oclock", "digit-4", "num-10", "digit-5", "minute", "to", "num-10", "digit-2", "oclock",
                   "num-10", "digit-3", "oclock", "digit-3", "num-10", "minute", "to",
                   "num-10", "digit-7", "oclock", "digit-3", "num-10", "minute"]


def test_a_non_default_calendar_mon_sat_and_sunday():
    c = cal("mon-sat 09:00-18:00", "sun 10:00-16:00")
    assert said(closed_announcement(c)) == INTRO + "星期一至星期六九点至十八点星期日十点至十六点"


def test_a_24_hour_day_and_minutes_like_05():
    assert said(spoken_hours(ALWAYS_OPEN)) == "星期一至星期日零点至二十四点"
    assert said(spoken_hours(cal("mon-fri 00:00-24:00"))) == "星期一至星期五零点至二十四点"
    assert said(spoken_hours(cal("tue 08:05-12:00", "tue 13:01-17:59"))) == (
        "星期二八点零五分至十二点十三点零一分至十七点五十九分")


def test_days_sharing_windows_are_one_group_and_short_runs_are_named():
    # Sat and Sun share windows: named one by one (a run of two); Mon-Wed a run of three: 至
    c = cal("mon-wed 09:00-17:00", "thu-fri 09:00-12:00", "sat-sun 10:00-14:00")
    assert said(spoken_hours(c)) == (
        "星期一至星期三九点至十七点星期四星期五九点至十二点星期六星期日十点至十四点")
    # the same windows on Mon, Wed, Fri (not consecutive): one group, named in order
    spaced = Calendar(windows=(Window(days=frozenset({0, 2, 4}), start=parse_window("mon 09:00-12:00").start,
                                      end=parse_window("mon 09:00-12:00").end),))
    assert said(spoken_hours(spaced)) == "星期一星期三星期五九点至十二点"
    # a day whose windows differ is its own group (groups in the order of their first day); the days that
    # share windows stay one group around it; a window declared twice is said once
    c = cal("mon-fri 09:00-12:00", "wed 14:00-16:00", "mon-fri 09:00-12:00")
    assert said(spoken_hours(c)) == "星期一星期二星期四星期五九点至十二点星期三九点至十二点十四点至十六点"


def test_holidays_and_extra_workdays_are_not_read_out():
    base = cal("mon-fri 09:00-17:00")
    odd = cal("mon-fri 09:00-17:00", holidays=frozenset({date(2026, 10, 1)}),
              extra_workdays=frozenset({date(2026, 9, 27)}))
    assert closed_announcement(odd) == closed_announcement(base)


def test_a_calendar_that_is_never_open_says_no_agent_not_a_half_sentence():
    assert spoken_hours(Calendar(windows=())) == []
    assert closed_announcement(Calendar(windows=())) == ["no-agent"]


def test_the_old_recording_with_baked_in_hours_is_gone():
    assert "closed" not in PROMPT_IDS and "closed" not in MANIFEST
