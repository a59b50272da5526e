"""Shift swaps (R-LEAVE 换班) and excused lateness (R-SHIFT 第十一条) over HTTP (issue 18); wired by _server.py.

    GET    /roster/swaps             every swap entry: swap_id, agent_id, day, shift, taker, overridden_by
    POST   /roster/swap              body {"agent_id": "1001", "day": "2026-12-09", "taker": "3001",
                                     "shift": "day" (optional: the whole day), "back_day": "2026-12-12"
                                     (optional: an exchange, the taker hands that day back),
                                     "back_shift": "day" (optional), "override": false}: 200 with the
                                     swap_id, or 409 naming the broken rule(s) of the seed (one per shift,
                                     two swaps a month, a day ahead, no consecutive shifts);
                                     "override": true grants it anyway, supervisor role only (logged)
    DELETE /roster/swap              body {"swap_id": "sw-…"}: both halves of an exchange; 404 if unknown
    POST   /attendance/excuse        supervisor role only: body {"agent_id": "1001", "day": "2026-12-09",
                                     "reason": "班车晚点"}: that day's lateness and early leave are not
                                     counted by the monthly attendance report (1-200 characters of reason)

Supervisor and ops tokens manage swaps, as leave; 404 without ``[callbacks]`` (the roster lives there).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._input import AGENT_ID, DAY, TEAM, Fail, body, check
from ._settings import ApiToken

if TYPE_CHECKING:
    from ._server import _Api

__all__ = ["DESK_ROLES", "add_roster_routes", "desk_role"]

SWAP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
REASON_CHARS = 200


DESK_ROLES = ("supervisor", "ops")  # token roles that manage callbacks and the roster (also _server.py's)


def desk_role(token: ApiToken, what: str, roles: tuple[str, ...] = DESK_ROLES) -> None:
    """403 naming the token and ``what`` it may not do unless its role is one of ``roles``. Here, not in
    _server.py (which imports this module), so the routes share it without importing _server."""
    if token.role not in roles:
        raise Fail(403, f"token {token.name} (role {token.role}) may not {what}")


def add_roster_routes(app: web.Application, api: "_Api") -> None:
    async def list_swaps(request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        desk_role(token, "see the swaps")
        return web.json_response(api._desk().swap_list())

    async def change_swap(request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        desk_role(token, "change the swaps")
        if request.method == "DELETE":
            data = await body(request, {"swap_id"})
            if "swap_id" not in data:
                raise Fail(400, 'swap_id: missing (e.g. {"swap_id": "sw-1765260000000-1001"})')
            swap_id = check(data, "swap_id", SWAP_ID, "a swap id from GET /roster/swaps")
            audit["swap_id"] = swap_id
            return web.json_response(api._desk().swap_cancel(swap_id, by=token.name))
        data = await body(request, {"agent_id", "day", "taker", "shift", "back_day", "back_shift", "override"})
        override = data.get("override", False)
        if not isinstance(override, bool):
            raise Fail(400, f"override: must be true or false, got {json.dumps(override)[:40]}")
        if override and token.role != "supervisor":
            raise Fail(403, f"token {token.name} (role {token.role}) may not override the swap rules "
                            "(supervisor only, R-LEAVE)")
        for key in ("agent_id", "day", "taker"):
            if key not in data:
                raise Fail(400, f'{key}: missing (e.g. {{"agent_id": "1001", "day": "2026-12-09", "taker": "3001"}})')
        agent_id = check(data, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
        taker = check(data, "taker", AGENT_ID, "an agent ID of 1-10 digits")
        day = check(data, "day", DAY, "a date as YYYY-MM-DD")
        opt = {k: check(data, k, DAY if k == "back_day" else TEAM, "a date as YYYY-MM-DD" if k == "back_day"
                        else "a shift name") if data.get(k) is not None else None
               for k in ("shift", "back_day", "back_shift")}
        audit.update(agent_id=agent_id, taker=taker, day=day, override=override,
                     **{k: v for k, v in opt.items() if v is not None})
        return web.json_response(api._desk().swap_add(agent_id, day, taker, **opt,
                                                      override_by=token.name if override else None, by=token.name))

    async def excuse(request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        desk_role(token, "excuse lateness (supervisor only, R-SHIFT 第十一条)", ("supervisor",))
        data = await body(request, {"agent_id", "day", "reason"})
        for key in ("agent_id", "day", "reason"):
            if key not in data:
                raise Fail(400, f'{key}: missing (e.g. {{"agent_id": "1001", "day": "2026-12-09", '
                                f'"reason": "班车晚点"}})')
        agent_id = check(data, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
        day = check(data, "day", DAY, "a date as YYYY-MM-DD")
        reason = data["reason"]
        if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_CHARS \
                or any(ord(c) < 32 for c in reason):
            raise Fail(400, f"reason: must be 1-{REASON_CHARS} characters of text on one line, saying why "
                            "(e.g. 班车晚点)")
        audit.update(agent_id=agent_id, day=day, reason=reason)
        return web.json_response(api._desk().excuse_add(agent_id, day, reason, by=token.name))

    app.router.add_get("/roster/swaps", api.guarded("swap_list", list_swaps), name="swap_list", allow_head=False)
    app.router.add_post("/roster/swap", api.guarded("swap_add", change_swap), name="swap_add")
    app.router.add_delete("/roster/swap", api.guarded("swap_cancel", change_swap), name="swap_cancel")
    app.router.add_post("/attendance/excuse", api.guarded("attendance_excuse", excuse), name="attendance_excuse")
