"""The service's log as data: its JSON lines, parsed; other lines (make's, tee's) skipped."""

from __future__ import annotations

import json


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out
