"""Every number the service dials is checked here (issue 17: no number reaches a dial string unchecked).

A customer's number comes from outside: a caller ID from the provider (voicemail, keep my place), a row
of a follow-up list, the name of a fallback recording. Put into a dial string such as
``Local/{number}@e2e-customer`` or ``PJSIP/{number}@provider``, a character like ``@ / & , ;`` changes
what is dialled (``90012345678@from-agents/n`` lands in another context; ``&`` adds a second target).

- ``clean(raw)``: spaces and dashes removed, an optional leading ``+``, then 3-20 ASCII digits
  (``"+86 138-0013-5678"`` → ``"+8613800135678"``); anything else is refused with a reason that never
  repeats the number (R-PRIVACY: reasons are logged).
- ``national(number)``: the digits a Chinese trunk dials: ``+86``/``0086`` then a mobile (11 digits, ``1…``) →
  the mobile; then a landline → ``0`` + area code and number; any other ``+`` → ``00`` (international).
- ``dial_digits(raw)``: ``clean`` then ``national``: ASCII digits only, or ``NumberRefused``. The last
  check before a number is formatted into a dial string (``TrunkConfig.endpoint``).
- ``callback_number(raw, patterns)``: ``dial_digits`` and the number must match one of the allow-list
  patterns (config ``[callbacks] dial_patterns``, whole-number regular expressions, ASCII ``\\d``). The
  default allows Chinese mobiles and landlines only: no ``00`` international, no ``1xx``/``9xxxx``
  service numbers, no ``400``/``800`` or premium-rate numbers — a spoofed caller ID cannot make the
  service call an expensive number back.

Pure: strings in, strings out.
"""

from __future__ import annotations

import re
from typing import Iterable, Pattern

__all__ = ["DEFAULT_DIAL_PATTERNS", "NumberRefused", "ascii_digits", "ascii_int", "callback_number", "clean",
           "compile_patterns", "dial_digits", "national"]

# Chinese mobiles (1[3-9] + 9 digits) and landlines (0 + a 2-3 digit area code not starting with 0 + a
# 7-8 digit number): the numbers a callback may dial unless the config says otherwise.
DEFAULT_DIAL_PATTERNS: tuple[str, ...] = (r"1[3-9]\d{9}", r"0[1-9]\d{8,10}")
HOME_COUNTRY = "86"
MIN_DIGITS, MAX_DIGITS = 3, 20

_DIGITS = re.compile(r"[0-9]+")
_CLEAN = re.compile(r"\+?[0-9]*")


class NumberRefused(ValueError):
    """A number that must not be dialled; the message is the reason and never holds the number."""


def ascii_digits(text: object) -> bool:
    """True for a non-empty string of ASCII 0-9 only (``str.isdigit`` also takes ``"²"`` and ``"١٢"``)."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def ascii_int(text: object, *, max_digits: int = 9) -> int | None:
    """``"12"`` / ``"-3"`` → the int; ``None`` for anything else (``"²"``: ``isdigit()`` but ``int()`` raises;
    ``"١٢"``, ``" 1"``, ``"1_0"``: ``int()`` takes them; more than ``max_digits`` digits)."""
    if not isinstance(text, str) or not re.fullmatch(rf"-?[0-9]{{1,{max_digits}}}", text):
        return None
    return int(text)


def clean(raw: str) -> tuple[str | None, str]:
    """``" +86 138-0013-5678 "`` → ``("+8613800135678", "")``; a bad number → ``(None, reason)``."""
    if not isinstance(raw, str):
        return None, "the number is not text"
    number = re.sub(r"[\s-]", "", raw)
    if not number:
        return None, "the number is empty"
    if not _CLEAN.fullmatch(number):
        return None, "the number may hold only digits, spaces, dashes and a leading +"
    digits = len(number.lstrip("+"))
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        return None, f"the number has {digits} digits, expected {MIN_DIGITS}-{MAX_DIGITS}"
    return number, ""


def national(number: str) -> str:
    """A ``clean`` number → the digits to dial from China (see the module's doc)."""
    for home in ("+" + HOME_COUNTRY, "00" + HOME_COUNTRY):
        if number.startswith(home) and len(number) - len(home) >= MIN_DIGITS:
            rest = number[len(home):]
            mobile = len(rest) == 11 and rest.startswith("1")  # Beijing's area code 10 starts with 1 too
            return rest if mobile else "0" + rest.lstrip("0")
    if number.startswith("+"):
        return "00" + number[1:]
    return number


def dial_digits(raw: str) -> str:
    """The ASCII digits to put in a dial string, or ``NumberRefused`` with the reason."""
    number, reason = clean(raw)
    if number is None:
        raise NumberRefused(reason)
    digits = national(number)
    if not ascii_digits(digits):  # cannot happen after clean(); the guard of every dial string
        raise NumberRefused("the number is not digits only")
    return digits


def compile_patterns(patterns: Iterable[str]) -> tuple[Pattern[str], ...]:
    """The allow-list as compiled whole-number patterns (ASCII ``\\d``); a bad one raises ValueError."""
    out = []
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise ValueError(f"expected a non-empty regular expression, got {p!r}")
        try:
            out.append(re.compile(p, re.ASCII))
        except re.error as e:
            raise ValueError(f"{p!r} is not a regular expression: {e}") from None
    return tuple(out)


def callback_number(raw: str, patterns: Iterable[str | Pattern[str]] = DEFAULT_DIAL_PATTERNS) -> tuple[str | None, str]:
    """``(digits, "")`` when the number may be called back, else ``(None, reason)`` (no number in it)."""
    try:
        digits = dial_digits(raw)
    except NumberRefused as e:
        return None, str(e)
    compiled = [p if isinstance(p, re.Pattern) else re.compile(p, re.ASCII) for p in patterns]
    if not any(p.fullmatch(digits) for p in compiled):
        return None, "the number matches none of [callbacks] dial_patterns"
    return digits, ""
