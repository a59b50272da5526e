"""The API's input rules (issue 17): bodies, fields and query values, each bad one a clear 400.

A body is read within ``BODY_TIMEOUT_S`` and at most the app's ``client_max_size``; it must be a
JSON object of known fields, nested no deeper than ``MAX_DEPTH`` (a 60,000-deep array is a 400, not a
``RecursionError``). Nothing a caller sent is echoed whole: ``show`` quotes at most ``SHOWN`` characters
of a value (in error messages) and ``clip`` shortens every string of an audit line to ``AUDIT_CHARS``.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

__all__ = ["AGENT_ID", "DAY", "INTERFACE", "MAX_DEPTH", "REASON", "TASK_ID", "TEAM", "TRANSFER_ID", "TRANSFER_TARGET",
           "Fail", "body", "check", "clip", "flag", "show", "show_query"]

# \Z, never $: "$" also matches before a trailing newline
REASON = re.compile(r"[a-z0-9_-]{1,32}\Z")
# a dial string as the config writes phones (the API only accepts configured ones): no "," "&" or space
INTERFACE = re.compile(r"(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@/-]{1,80}\Z")
AGENT_ID = re.compile(r"[0-9]{1,10}\Z")
TRANSFER_TARGET = re.compile(r"([0-9]{1,15}|queue:[a-z][a-z0-9_-]{0,31})\Z")
TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
TRANSFER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}\Z")  # the call's channel ID, "~x", a number
TEAM = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)

BODY_TIMEOUT_S = 10.0  # the whole body must arrive within this (a trickled body is a 408)
MAX_DEPTH = 8  # JSON nesting of a body: every route takes a flat object
SHOWN = 40  # characters of a caller's value quoted back in an error message
AUDIT_CHARS = 80  # characters of any string in an audit line
ERROR_CHARS = 300  # characters of an error message
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


class Fail(Exception):
    """Refuse the request with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def show(value: Any) -> str:
    """A caller's value for an error message: JSON, at most ``SHOWN`` characters of a string, and only
    the kind of a list or object (never dumped: it may be huge or deeply nested)."""
    if isinstance(value, str):
        return json.dumps(value[:SHOWN], ensure_ascii=False) + ("…" if len(value) > SHOWN else "")
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return json.dumps(value)[:SHOWN]  # numbers, true, false, null


def show_query(value: str) -> str:
    """A query or path value for an error message: Python-quoted, at most ``SHOWN`` characters."""
    return repr(value[:SHOWN]) + ("…" if len(value) > SHOWN else "")


def clip(value: Any, limit: int = AUDIT_CHARS) -> Any:
    """A string cut to ``limit`` characters (marked with "…"); other values as they are."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def _depth_ok(raw: bytes) -> bool:
    """Is the JSON text nested at most ``MAX_DEPTH`` deep? (brackets in strings are skipped)"""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return True  # the usual body: no need to look closer
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


async def body(request: web.Request, fields: set[str]) -> dict[str, Any]:
    """The request's JSON object, with only ``fields``; an empty body is ``{}``."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            raw = await request.read()
    except TimeoutError:
        raise Fail(408, f"body: not received within {BODY_TIMEOUT_S:g} s") from None
    if not raw.strip():
        return {}
    if not _depth_ok(raw):
        raise Fail(400, f"body: nested more than {MAX_DEPTH} deep (every route takes a flat JSON object)")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError: also UnicodeDecodeError
        raise Fail(400, "body: not valid JSON") from None
    if not isinstance(data, dict):
        raise Fail(400, f"body: must be a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in fields:
            hint = f"expected {', '.join(sorted(fields))}" if fields else "this command takes no body"
            name = json.dumps(key[:SHOWN], ensure_ascii=False)[1:-1] + ("…" if len(key) > SHOWN else "")
            raise Fail(400, f"{name}: unknown field ({hint})")
    return data


def check(data: dict[str, Any], key: str, pattern: re.Pattern[str], must: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not pattern.match(value):
        raise Fail(400, f"{key}: must be {must}, got {show(value)}")
    return value


def flag(query: Any, key: str) -> bool:
    value = query.get(key)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise Fail(400, f"{key}: must be 1 or 0, got {show_query(value)}")
