"""Voice prompts: which recordings make up an announcement (pure, stdlib only).

Every prompt id is an entry of prompts/manifest.toml, rendered by
scripts/make-prompts into prompts/<lang>/<id>.wav and installed by
scripts/pbx into Asterisk's sounds/<lang>/callcenter/ (and the Mandarin ones
also into sounds/callcenter/). ARI plays one as the media URI
``sound:callcenter/<id>`` (see media()); Asterisk picks the file by the
channel's language (or the play request's ``lang``): sounds/<lang>/callcenter/<id>,
then sounds/callcenter/<id> (Mandarin), then sounds/en/callcenter/<id>.

An announcement is a list of prompt ids, played in order: ARI's play takes
several media URIs at once (``[media(p) for p in ids]``).

Codes: digits() reads agent IDs (工号) and phone numbers digit by digit
(``digit-0`` .. ``digit-9``); ``digit-1`` is 幺 (yāo), as call centers say 1
in codes.

Numbers (issue 18): number() reads a count, position, minute, month, day or
hour 0..9999 as a Mandarin numeral: 十二 (num-10 digit-2), 二十 (digit-2
num-10), 一百零五 (count-1 num-100 digit-0 digit-5), 一百一十 (the 一 before
a 十 is said after 百 and 千, not at the start: 十 alone is 10), 一千零五十,
零 (digit-0) for 0. 1 in a number is 一 (``count-1``), never 幺.
Decision on 2: a leading 2 before 百 or 千 is 两 (两百, 两千, 两千二百二十二);
2 anywhere else is 二 (二十, 十二, 一百二十二), and a quantity of exactly 2
before a measure word is 两 (``measure=True``: 两分钟).
Dates and times: month_day() is 十二月七日; time_of_day() is 八点四十五分
(hour word 点, ``oclock``; the callback's when-left says 时, ``hour``: 八时四十五分),
whole hours have no minutes (十二点), minutes under 10 are 零五分, hour 2 is
两点, 24 (a window's end at midnight) is 二十四点.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

MEDIA_PREFIX = "sound:callcenter/"
# The ringback an agent hears while a leg it waits for rings (a transfer's target, a callback's customer):
# Asterisk's tone generator, China's cadence (asterisk-config/indications.conf [cn]: 450 Hz, 1 s on, 4 s off).
# A media URI, not a prompt id. The one place it is written (flows/transfer.py, flows/callback.py play it).
RINGBACK = "tone:ring;tonezone=cn"

DIGIT_IDS = tuple(f"digit-{d}" for d in range(10))
COUNT_ONE = "count-1"  # 一: 1 in a count ("第一位", "一分钟"), never 幺
COUNT_TWO = "count-2"  # 两: a quantity of 2 before a measure word ("两分钟"), a leading 2 before 百/千
MAX_NUMBER = 9999  # no 万 prompt
_PLACES = ((1000, "num-1000"), (100, "num-100"), (10, "num-10"), (1, None))

GREETINGS = ("greet-morning", "greet-noon", "greet-afternoon", "greet-evening")
QUEUE_WHISPERS = ("queue-support", "queue-sales", "queue-lab", "queue-slow")
# 十 百 千 and the words of dates and times (月 日 时, 点 分, 至)
NUMERAL_IDS = ("num-10", "num-100", "num-1000", "month", "day", "hour", "oclock", "minute", "to")
WEEKDAY_IDS = tuple(f"weekday-{d}" for d in range(1, 8))  # 星期一 .. 星期日 (ISO weekday numbers)

# Every prompt id the code (ari_app and the dialplan) may ask for. Each one is
# an entry of prompts/manifest.toml, rendered for every language
# (tests/unit/test_prompts.py checks both ways).
PROMPT_IDS: frozenset[str] = frozenset(
    {
        *DIGIT_IDS,
        COUNT_ONE,
        COUNT_TWO,
        # dialplan: fallback voicemail, unknown numbers
        "fallback-unavailable",
        "voicemail-prompt",
        "voicemail-thanks",
        # R-VM, R-CB: voicemail review, keep my place, the duty agent's callback call
        "voicemail-review",
        "keep-place-ok",
        "callback-intro",
        "callback-message",
        "callback-dialing",
        "callback-not-reached",
        "callback-done",
        "invalid-number",
        # R-GREET
        *GREETINGS,
        "agent-id-prefix",
        "agent-id-suffix",
        # R-WAIT / R-WAITLIMIT
        "wait-apology",
        "position-prefix",
        "position-suffix",
        "wait-estimate-prefix",
        "minutes",
        "wait-less-than-minute",
        "voicemail-offer",
        "no-agent",
        "queue-full",
        # R-LOGIN
        "login-enter-id",
        "login-enter-pin",
        "login-ok",
        "login-failed",
        "login-locked",
        "logout-ok",
        "pause-ok",
        "resume-ok",
        "not-logged-in",
        # R-XFER / R-HOLD / R-SILENT
        "xfer-please-hold",
        "xfer-sorry-wait",
        "hold-sorry",
        "silent-hello",
        "silent-bye",
        "recording-notice",
        # the agent's whisper: which queue the call comes from
        *QUEUE_WHISPERS,
        # issue 18: Mandarin numerals, dates and times; R-HOURS closed message; R-CB when left;
        # R-GREET 您好 + organisation; R-XFER-CONSENT/NAME; R-SILENT hotline variant
        *NUMERAL_IDS,
        *WEEKDAY_IDS,
        "closed-intro",
        "callback-left-at",
        "callback-number-tail",
        "hello",
        "org-callcenter",
        "xfer-to",
        "please-wait",
        "xfer-connected-to",
        "silent-no-sound",
    }
)


def media(prompt_id: str) -> str:
    """The ARI media URI of a prompt: ``sound:callcenter/<id>``."""
    if not prompt_id or "/" in prompt_id or prompt_id != prompt_id.strip():
        raise ValueError(f"not a prompt id: {prompt_id!r}")
    return MEDIA_PREFIX + prompt_id


def digits(text: str) -> list[str]:
    """A digit string read digit by digit (codes: 1 is 幺): "1024" -> digit-1, digit-0, digit-2, digit-4."""
    text = str(text)
    if not text or not all(c in "0123456789" for c in text):
        raise ValueError(f"not a digit string: {text!r}")
    return [f"digit-{c}" for c in text]


def number(n: int, *, measure: bool = False) -> list[str]:
    """A count 0..9999 read as a Mandarin numeral (see the module docstring):
    12 -> [num-10, digit-2] 十二, 105 -> [count-1, num-100, digit-0, digit-5] 一百零五, 0 -> [digit-0].

    measure=True: the number stands before a measure word (两分钟), so a
    quantity of exactly 2 is 两 (count-2).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"not a non-negative integer: {n!r}")
    if n > MAX_NUMBER:
        raise ValueError(f"not a number up to {MAX_NUMBER} (there is no 万 prompt): {n!r}")
    if n == 0:
        return ["digit-0"]
    if measure and n == 2:
        return [COUNT_TWO]
    out: list[str] = []
    zero = False  # a 零 is owed: a zero place between two spoken ones (一千零五)
    rest = n
    for place, word in _PLACES:
        d, rest = divmod(rest, place)
        if d == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out.append("digit-0")
            zero = False
        if not (d == 1 and place == 10 and not out):  # 十二, not 一十二 (but 一百一十)
            liang = d == 2 and place >= 100 and not out  # 两百, 两千
            out.append(COUNT_ONE if d == 1 else COUNT_TWO if liang else f"digit-{d}")
        if word:
            out.append(word)
    return out


def month_day(month: int, day: int) -> list[str]:
    """A date: 十二月七日 -> [num-10, digit-2, month, digit-7, day]."""
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"not a month 1-12: {month!r}")
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise ValueError(f"not a day of the month 1-31: {day!r}")
    return [*number(month), "month", *number(day), "day"]


def time_of_day(hour: int, minute: int = 0, *, hour_word: str = "oclock") -> list[str]:
    """A time: 8:45 -> [digit-8, oclock, digit-4, num-10, digit-5, minute] 八点四十五分; 12:00 -> 十二点;
    8:05 -> 八点零五分; 2:00 -> 两点; 24:00 (the end of a day) -> 二十四点.
    ``hour_word="hour"`` says 时 in place of 点 (八时四十五分)."""
    if hour_word not in ("oclock", "hour"):
        raise ValueError(f"not an hour word (oclock or hour): {hour_word!r}")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 24:
        raise ValueError(f"not an hour 0-24: {hour!r}")
    if (isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute <= 59
            or (hour == 24 and minute)):
        raise ValueError(f"not a minute 0-59 (0 at 24): {minute!r}")
    out = [*number(hour, measure=True), hour_word]
    if minute:
        out += [*(["digit-0"] if minute < 10 else []), *number(minute), "minute"]
    return out


def callback_left_announcement(created_at: float, tz: tzinfo, caller: str) -> list[str]:
    """R-CB: what the duty agent hears before a voicemail: when it was left (月/日/时/分 in ``tz``) and the
    caller number's last four digits (codes: 幺 for 1) — "这条留言的时间是十二月七日八时四十五分，来电号码尾号
    幺二三四". A number of fewer than four digits is said whole; one with no digits (anonymous, withheld)
    leaves the tail out."""
    if isinstance(created_at, bool) or not isinstance(created_at, (int, float)) or not math.isfinite(created_at):
        raise ValueError(f"not an epoch time: {created_at!r}")
    left = datetime.fromtimestamp(created_at, tz)
    out = ["callback-left-at", *month_day(left.month, left.day),
           *time_of_day(left.hour, left.minute, hour_word="hour")]
    tail = "".join(c for c in (caller or "") if c in "0123456789")[-4:]
    if tail:
        out += ["callback-number-tail", *digits(tail)]
    return out


def callback_intro(task_count: int) -> list[str]:
    """R-VM-CHECK: what the duty agent hears on answer, "您有<十二>条留言待处理" (callback-intro, then the
    count as a Mandarin numeral). More than MAX_NUMBER (no 万 prompt) is said as MAX_NUMBER: the agent
    hears "many", never nothing."""
    if isinstance(task_count, bool) or not isinstance(task_count, int) or task_count < 0:
        raise ValueError(f"not a task count: {task_count!r}")
    return ["callback-intro", *number(min(task_count, MAX_NUMBER))]


def greeting(hour: int) -> str:
    """R-GREET: the time-of-day greeting for a local hour (0-23)."""
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError(f"not an hour 0-23: {hour!r}")
    if hour < 11:
        return "greet-morning"
    if hour <= 12:
        return "greet-noon"
    if hour <= 17:
        return "greet-afternoon"
    return "greet-evening"


def agent_id_announcement(agent_id: str | int) -> list[str]:
    """R-GREET: "工号 幺零二四 为您服务" -> [agent-id-prefix, digit…, agent-id-suffix]."""
    return ["agent-id-prefix", *digits(str(agent_id)), "agent-id-suffix"]


def position_announcement(position: int, est_wait_s: float | None) -> list[str]:
    """R-WAITLIMIT: "您现在排在第三位，预计等待两分钟", "第十二位", "十二分钟" (Mandarin numerals, number()).

    The estimate is in whole minutes rounded up (never promise less than
    expected); under a minute it is "预计等待不到一分钟"; None leaves it out.
    """
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise ValueError(f"not a queue position: {position!r}")
    ids = ["position-prefix", *number(position), "position-suffix"]
    if est_wait_s is None:
        return ids
    if not math.isfinite(est_wait_s) or est_wait_s < 0:
        raise ValueError(f"not a wait estimate: {est_wait_s!r}")
    if est_wait_s < 60:
        return [*ids, "wait-less-than-minute"]
    minutes = math.ceil(est_wait_s / 60)
    if minutes > MAX_NUMBER:  # a week of waiting is no estimate (and past what number() says)
        return ids
    return [*ids, "wait-estimate-prefix", *number(minutes, measure=True), "minutes"]
