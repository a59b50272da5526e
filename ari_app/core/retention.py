"""R-QA / R-PRIVACY: names of the calls' recordings and which of them are past their retention.

Pure (stdlib only, dates passed in). A recording's name comes from a pattern with two
placeholders, ``{date}`` (the day the recording started, ``YYYY-MM-DD``) and ``{call_id}``;
the default ``qa/{date}/{call_id}`` files a call's recording as
``qa/2025-03-04/1741000000.17`` in Asterisk's recording spool. The same pattern read
backwards gives a stored recording's day, so the retention job deletes exactly the
recordings this pattern made, and only once they are older than ``retention_days``:
a recording of day D is kept through D + retention_days and deleted from the day after.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Iterable

__all__ = ["DEFAULT_PATTERN", "expired", "name_pattern_error", "next_run_delay", "recording_name"]

DEFAULT_PATTERN = "qa/{date}/{call_id}"
_FIELDS = ("{date}", "{call_id}")
_LITERAL = re.compile(r"^[A-Za-z0-9_./-]*$")
# Stored recordings the voicemail desk owns: its reconcile deletes every unknown name there (R-VM).
RESERVED_DIRS = ("callcenter", "callcenter-fallback")


def name_pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot name recordings, or None when it can."""
    for field in _FIELDS:
        if pattern.count(field) != 1:
            return f"must contain {field} exactly once"
    literal = pattern.replace("{date}", "").replace("{call_id}", "")
    if not _LITERAL.match(literal):
        return "only {date}, {call_id}, letters, digits and _ . - / are allowed"
    parts = pattern.split("/")
    if pattern.startswith("/") or pattern.endswith("/") or any(p in ("", ".", "..") for p in parts):
        return "must be a relative path without empty, '.' or '..' parts"
    if len(parts) > 1 and parts[0] in RESERVED_DIRS:
        return f"{parts[0]}/ holds the voicemails (R-VM); use another directory, e.g. qa/"
    return None


def recording_name(pattern: str, call_id: str, day: date) -> str:
    return pattern.replace("{date}", day.isoformat()).replace("{call_id}", call_id)


def _matcher(pattern: str) -> re.Pattern[str]:
    out = []
    for piece in re.split(r"(\{date\}|\{call_id\})", pattern):
        if piece == "{date}":
            out.append(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})")
        elif piece == "{call_id}":
            out.append(r"(?P<call_id>[^/]+)")
        else:
            out.append(re.escape(piece))
    return re.compile("^" + "".join(out) + "$")


def expired(names: Iterable[str], pattern: str, *, today: date, retention_days: int) -> list[str]:
    """The names ``pattern`` made whose day is more than ``retention_days`` before ``today``, sorted.

    Names of other shapes (voicemails, a day that is no date) are never chosen."""
    match = _matcher(pattern).match
    oldest_kept = today - timedelta(days=retention_days)
    out = []
    for name in names:
        m = match(name)
        if m is None:
            continue
        try:
            day = date.fromisoformat(m["date"])
        except ValueError:
            continue
        if day < oldest_kept:
            out.append(name)
    return sorted(out)


def next_run_delay(now: datetime, at: time) -> float:
    """Seconds from ``now`` to the next ``at`` (a wall-clock time of day, same time zone as ``now``)."""
    run = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if run <= now:
        run = datetime.combine(now.date() + timedelta(days=1), at, tzinfo=now.tzinfo)
    return (run - now).total_seconds()
