"""R-CB: follow-up lists (回访) as CSV, read into rows for ``callbacks.FollowupImported``.

``parse_followup_csv(text)`` → ``(rows, errors)``. The file has a header line
``number,note`` (``note`` optional; names in any case, spaces around them
ignored; a UTF-8 BOM is accepted). Each row's number is normalised: spaces
and dashes removed, an optional leading ``+`` kept, then 3–20 digits. A bad
row is not imported and gives one error, ``line N: reason``; a number seen
before in the same file is reported and skipped. Error messages never repeat
the number (R-PRIVACY: they may be logged). Blank lines are skipped. Task ids
are the shell's business: rows are ``(number, note, line)``.

Pure: text in, rows and messages out.
"""

from __future__ import annotations

import csv
from typing import NamedTuple

from . import numbers

__all__ = ["FollowupLine", "normalise_number", "parse_followup_csv"]


class FollowupLine(NamedTuple):
    number: str  # normalised: optional leading +, digits
    note: str
    line: int  # 1-based line of the file, for messages


def normalise_number(raw: str) -> tuple[str | None, str]:
    """``" +86 138-0013-5678 "`` → ``("+8613800135678", "")``; a bad number → ``(None, reason)``.

    The check every dialled number gets (``numbers.clean``: ASCII digits only, issue 17)."""
    return numbers.clean(raw)


def parse_followup_csv(text: str) -> tuple[list[FollowupLine], list[str]]:
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    rows: list[FollowupLine] = []
    errors: list[str] = []
    header_at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_at is None:
        return rows, ["line 1: the file is empty; expected the header 'number,note'"]
    header = [h.strip().lower() for h in next(csv.reader([lines[header_at]]))]
    if header not in (["number"], ["number", "note"]):
        return rows, [f"line {header_at + 1}: expected the header 'number,note' (note optional), "
                      f"got {lines[header_at].strip()!r}"]
    first_seen: dict[str, int] = {}
    reader = csv.reader(lines[header_at + 1:])
    for cells in reader:
        n = header_at + 1 + reader.line_num  # the row's last line (a quoted note may span lines)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            errors.append(f"line {n}: expected {len(header)} column{'s' if len(header) > 1 else ''} "
                          f"({','.join(header)}), got {len(cells)}")
            continue
        number, reason = normalise_number(cells[0])
        if number is None:
            errors.append(f"line {n}: {reason}")
            continue
        if number in first_seen:
            errors.append(f"line {n}: the same number as line {first_seen[number]}; skipped")
            continue
        first_seen[number] = n
        rows.append(FollowupLine(number=number, note=cells[1].strip() if len(cells) > 1 else "", line=n))
    return rows, errors
