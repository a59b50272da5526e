"""Issue 18 item 1: counts, positions, minutes, dates and times are spoken as Mandarin numerals.

The prompts are judged as the text a caller hears: each prompt id is mapped to its Mandarin text in
prompts/manifest.toml (digit-1 is 幺 there, count-1 一, count-2 两), and the spoken text is compared with
an independent reference: a small text-only numeral writer below (it never looks at prompt ids) plus a
hand-written table of the tricky values. On the old code (099d431) number() read digit by digit:
12 was "一二" (第一二位, 一二分钟), so every comparison past 9 fails there.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.prompts import (
    PROMPT_IDS, agent_id_announcement, callback_left_announcement, digits, month_day, number,
    position_announcement, time_of_day,
)

MANIFEST = tomllib.loads((Path(__file__).resolve().parents[2] / "prompts" / "manifest.toml").read_text("utf-8"))


def said(ids: list[str]) -> str:
    """What the listener hears, as Mandarin text (from the manifest, not from the code)."""
    assert set(ids) <= PROMPT_IDS, ids
    return "".join(MANIFEST[p]["zh"] for p in ids)


def reference(n: int) -> str:
    """An independent Mandarin numeral writer, by the text of the digits (0..9999).

    Rules: units 千 百 十; a run of zeros between spoken digits is one 零, trailing zeros are silent;
    10-19 start with 十 (一十 only after 百/千); a leading 2 before 百/千 is 两 (the project's choice,
    documented in ari_app/core/prompts.py and prompts/manifest.toml), any other 2 is 二."""
    chars = "零一二三四五六七八九"
    s = str(n)
    if s == "0":
        return "零"
    out, owed = "", False
    for i, c in enumerate(s):
        unit = ("", "十", "百", "千")[len(s) - 1 - i]
        if c == "0":
            owed = True
            continue
        if owed:
            out += "零"
            owed = False
        out += chars[int(c)] + unit
    if out.startswith("一十"):
        out = out[1:]
    if len(s) >= 3 and s[0] == "2":
        out = "两" + out[1:]
    return out


# hand-written: what a Mandarin speaker says (not derived from either implementation)
TABLE = {
    0: "零", 1: "一", 2: "二", 3: "三", 7: "七", 9: "九", 10: "十", 11: "十一", 12: "十二", 15: "十五",
    19: "十九", 20: "二十", 21: "二十一", 22: "二十二", 30: "三十", 45: "四十五", 99: "九十九",
    100: "一百", 101: "一百零一", 102: "一百零二", 105: "一百零五", 110: "一百一十", 111: "一百一十一",
    119: "一百一十九", 120: "一百二十", 200: "两百", 202: "两百零二", 212: "两百一十二", 220: "两百二十",
    305: "三百零五", 999: "九百九十九",
    1000: "一千", 1001: "一千零一", 1005: "一千零五", 1010: "一千零一十", 1011: "一千零一十一",
    1050: "一千零五十", 1100: "一千一百", 1101: "一千一百零一", 1110: "一千一百一十", 1200: "一千二百",
    2000: "两千", 2002: "两千零二", 2020: "两千零二十", 2200: "两千二百", 2222: "两千二百二十二",
    3005: "三千零五", 9009: "九千零九", 9090: "九千零九十", 9999: "九千九百九十九",
}


def test_hand_table_agrees_with_the_reference_writer():
    assert {n: reference(n) for n in TABLE} == TABLE


@pytest.mark.parametrize("n,text", sorted(TABLE.items()))
def test_number_tricky_values(n, text):
    assert said(number(n)) == text


def test_number_every_value_0_to_9999_against_the_reference():
    wrong = {n: (said(number(n)), reference(n)) for n in range(10000) if said(number(n)) != reference(n)}
    assert not wrong, dict(list(wrong.items())[:10])


def test_number_never_says_yao_and_uses_known_prompts():
    for n in range(10000):
        ids = number(n)
        assert "digit-1" not in ids, n  # 幺 is for codes only
        assert set(ids) <= {"digit-0", *(f"digit-{d}" for d in range(2, 10)), "count-1", "count-2",
                            "num-10", "num-100", "num-1000"}, n


def test_number_prompt_ids_of_the_brief():
    assert number(12) == ["num-10", "digit-2"]
    assert number(10) == ["num-10"]
    assert number(20) == ["digit-2", "num-10"]
    assert number(105) == ["count-1", "num-100", "digit-0", "digit-5"]
    assert number(110) == ["count-1", "num-100", "count-1", "num-10"]
    assert number(2000) == ["count-2", "num-1000"]
    assert number(200) == ["count-2", "num-100"]
    assert number(0) == ["digit-0"]
    assert number(1) == ["count-1"]


def test_measure_two_is_liang_only_for_exactly_two():
    assert number(2, measure=True) == ["count-2"]  # 两分钟
    assert said(number(2)) == "二"  # 第二位
    assert said(number(12, measure=True)) == "十二"  # 十二分钟, never 十两
    assert said(number(22, measure=True)) == "二十二"


def test_number_refuses_what_it_cannot_say():
    for bad in (-1, 10000, 1.5, "3", True, None):
        with pytest.raises(ValueError):
            number(bad)
    with pytest.raises(ValueError, match=r"no 万 prompt\): 10000$"):
        number(10000)


def test_position_twelve_and_twelve_minutes_are_said_as_numerals():
    # the issue: "position 12 is 第一二位, 12 minutes 一二分钟" on the old code
    assert said(position_announcement(12, None)) == "您现在排在第十二位"
    assert said(position_announcement(1, 12 * 60)) == "您现在排在第一位预计等待十二分钟"
    assert said(position_announcement(2, 61)) == "您现在排在第二位预计等待两分钟"
    assert said(position_announcement(105, 20 * 60)) == "您现在排在第一百零五位预计等待二十分钟"


def test_position_estimate_beyond_what_can_be_said_is_left_out():
    assert position_announcement(3, 10000 * 60) == ["position-prefix", "digit-3", "position-suffix"]
    assert said(position_announcement(3, 9999 * 60)).endswith("九千九百九十九分钟")


def test_agent_ids_and_codes_stay_digit_by_digit_with_yao():
    assert said(agent_id_announcement("1012")) == "工号幺零幺二为您服务"
    assert said(digits("110")) == "幺幺零"


@pytest.mark.parametrize("month,day,text", [
    (12, 7, "十二月七日"), (1, 1, "一月一日"), (2, 2, "二月二日"), (10, 10, "十月十日"), (11, 20, "十一月二十日"),
    (12, 31, "十二月三十一日"), (7, 21, "七月二十一日"),
])
def test_month_day(month, day, text):
    assert said(month_day(month, day)) == text


def test_month_day_prompt_ids():
    assert month_day(12, 7) == ["num-10", "digit-2", "month", "digit-7", "day"]
    for bad in ((0, 1), (13, 1), (1, 0), (1, 32), (True, 1), (1, "2")):
        with pytest.raises(ValueError):
            month_day(*bad)


@pytest.mark.parametrize("hour,minute,text", [
    (8, 45, "八点四十五分"), (12, 0, "十二点"), (13, 30, "十三点三十分"), (17, 30, "十七点三十分"),
    (8, 5, "八点零五分"), (9, 1, "九点零一分"), (10, 10, "十点十分"), (0, 0, "零点"), (2, 0, "两点"),
    (2, 2, "两点零二分"), (1, 15, "一点十五分"), (20, 20, "二十点二十分"), (24, 0, "二十四点"), (23, 59, "二十三点五十九分"),
])
def test_time_of_day(hour, minute, text):
    assert said(time_of_day(hour, minute)) == text
    assert said(time_of_day(hour, minute, hour_word="hour")) == text.replace("点", "时")


def test_time_of_day_prompt_ids_and_errors():
    assert time_of_day(8, 45) == ["digit-8", "oclock", "digit-4", "num-10", "digit-5", "minute"]
    assert time_of_day(12) == ["num-10", "digit-2", "oclock"]
    for bad in ((25, 0), (-1, 0), (8, 60), (24, 1), (8, -1), (8.5, 0)):
        with pytest.raises(ValueError):
            time_of_day(*bad)
    with pytest.raises(ValueError, match="not an hour word"):
        time_of_day(8, 0, hour_word="点")


SH = ZoneInfo("Asia/Shanghai")


def at(*a: int) -> float:
    return datetime(*a, tzinfo=SH).timestamp()


@pytest.mark.parametrize("created,caller,text", [
    (at(2026, 12, 7, 8, 45), "13800131234", "这条留言的时间是十二月七日八时四十五分来电号码尾号幺二三四"),
    (at(2026, 2, 2, 14, 0), "+86 138-0013-8000", "这条留言的时间是二月二日十四时来电号码尾号八零零零"),
    (at(2026, 11, 1, 0, 5), "110", "这条留言的时间是十一月一日零时零五分来电号码尾号幺幺零"),  # short: all of it
    (at(2026, 1, 10, 2, 30), "", "这条留言的时间是一月十日两时三十分"),  # no number: no tail
    (at(2026, 1, 10, 2, 30), "anonymous", "这条留言的时间是一月十日两时三十分"),
])
def test_callback_left_announcement(created, caller, text):
    assert said(callback_left_announcement(created, SH, caller)) == text


def test_callback_left_is_in_the_given_time_zone():
    # 2026-12-06 23:50 UTC is 2026-12-07 07:50 in Shanghai: the agent hears the local day and hour
    utc_late = datetime(2026, 12, 6, 23, 50, tzinfo=ZoneInfo("UTC")).timestamp()
    assert said(callback_left_announcement(utc_late, SH, "1234")).startswith("这条留言的时间是十二月七日七时五十分")
    assert callback_left_announcement(utc_late, SH, "13800131234") == [
        "callback-left-at", "num-10", "digit-2", "month", "digit-7", "day", "digit-7", "hour", "digit-5", "num-10",
        "minute", "callback-number-tail", "digit-1", "digit-2", "digit-3", "digit-4"]
    for bad in (float("nan"), "1", None):
        with pytest.raises(ValueError):
            callback_left_announcement(bad, SH, "1234")  # type: ignore[arg-type]
