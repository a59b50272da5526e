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

Digits: ``digit-0`` .. ``digit-9`` read codes (agent IDs, phone numbers);
``digit-1`` is 幺 (yāo), as call centers say 1 in codes. Counts (queue
position, minutes) are read by number(), which says 一 (``count-1``) for 1,
and 两 (``count-2``) for a quantity of exactly 2 before a measure word.
"""

from __future__ import annotations

import math

MEDIA_PREFIX = "sound:callcenter/"

DIGIT_IDS = tuple(f"digit-{d}" for d in range(10))
COUNT_ONE = "count-1"  # 一: 1 in a count ("第一位", "一分钟"), never 幺
COUNT_TWO = "count-2"  # 两: a quantity of 2 before a measure word ("两分钟")

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
        "closed",
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
    """A count read digit by digit, with 一 (count-1) for 1: 1 -> [count-1], 10 -> [count-1, digit-0].

    measure=True: the number stands before a measure word (两分钟), so a
    quantity of exactly 2 is 两 (count-2).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"not a non-negative integer: {n!r}")
    if measure and n == 2:
        return [COUNT_TWO]
    return [COUNT_ONE if c == "1" else f"digit-{c}" for c in str(n)]


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
    """R-WAITLIMIT: "您现在排在第三位，预计等待两分钟".

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
    return [*ids, "wait-estimate-prefix", *number(minutes, measure=True), "minutes"]


def queue_whisper(queue: str) -> str | None:
    """The queue's name, whispered to the agent before the call is connected; None when the
    manifest has no recording of that queue's name (nothing is whispered then)."""
    prompt_id = f"queue-{queue}"
    return prompt_id if prompt_id in PROMPT_IDS else None
