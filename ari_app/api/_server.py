"""The HTTP control API (aiohttp): agents' states and commands, as JSON.

    GET  /health                     no auth, readiness (issue 15): 200 {"status": "ok", "checks": {...}} when
                                     every check passes, else 503 {"status": "unavailable", "checks": {...},
                                     "failing": [names]}; checks (``Controller.readiness``): ari, store, and
                                     ami and mqtt when configured, each {"ok": bool, "reason": "..." if not}
    GET  /health/live                no auth, liveness: 200 {"status": "ok"} while the process serves HTTP
    GET  /metrics                    Prometheus text format (R-KPI): supervisor, ops and metrics tokens (a
                                     metrics token may call nothing else), or no token from loopback when
                                     [api] metrics_loopback_without_token = true and no proxy header
                                     (Forwarded, X-Forwarded-*, X-Real-IP, Via); 404 when [metrics] enabled = false
    GET  /agents                     supervisor, ops
    GET  /agents/{id}                the agent itself, supervisor, ops
    POST /agents/{id}/login          body {"interface": "PJSIP/1001"} (optional): a configured phone only
                                     (_phones.py): an agent token its own agent's, others any agent's
    POST /agents/{id}/logout
    POST /agents/{id}/pause          body {"reason": "lunch"}: 1-32 of a-z 0-9 _ -
    POST /agents/{id}/resume
    POST /supervise                  R-SUPERVISE, supervisor and ops only: body {"agent_id": "1001",
                                     "mode": "listen|whisper|barge", "interface": "PJSIP/1010"}; calls the
                                     interface (a phone of a role = "supervisor" agent, nothing else) and,
                                     on answer, attaches it to the agent's live call (202)
    POST   /transfers                body {"agent_id": "1001", "target": "2002" | "queue:sales" | "8001"}
    PUT    /transfers/{id}/complete  only once the target answered (R-XFER-CONFIRM)
    DELETE /transfers/{id}           cancel: the caller is back with the agent

Callbacks and the roster (R-VM, R-CB, R-SLA24, R-VM-RR, R-LEAVE), supervisor and ops only unless said;
404 {"error": "callbacks are not configured ([callbacks] in the config)"} without ``[callbacks]``:

    GET    /callbacks                tasks, oldest first; query state=open|in_progress|reached|…, agent=1001,
                                     team=support, open=1 (open and in progress only), reveal=1 (caller
                                     numbers in clear, supervisor and ops only, written in the audit line;
                                     masked *******5678 otherwise, R-PRIVACY). An agent token may list its
                                     own tasks only (agent= defaults to its agent)
    POST   /callbacks/{id}/close     close without a callback; 409 with the core's message if refused
    POST   /callbacks/{id}/reopen    a finished task is open again (attempts start over)
    POST   /callbacks/{id}/reassign  body {"agent_id": "1002"}: an agent of the task's team, not on leave
    POST   /followups                body {"team": "support", "csv": "number,note\n…"}: a follow-up list
                                     (回访) dealt round-robin; 202 {"team", "imported", "task_ids", "errors"}
                                     (errors name lines, never numbers)
    GET    /roster/leave             every leave entry: agent_id, team, day, shift, overridden_by, source
                                     (api: kept in the store; roster_file: from the roster file)
    POST   /roster/leave             body {"agent_id": "1001", "day": "2025-03-04", "shift": "day"
                                     (optional: the whole day), "kind": "personal" | "sick" (optional),
                                     "override": false}; the seed's rules (core.roster_rules: one agent
                                     per team and shift on leave or swapping, two leave days a month, a
                                     day ahead unless sick), else 409 naming the rule; "override": true
                                     lifts them, supervisor role only, the token's name is logged as the
                                     supervisor with the rules overridden
    DELETE /roster/leave             body {"agent_id": "1001", "day": "2025-03-04", "shift": "day"
                                     (optional: all of that day)}; 404 when there is none
    GET    /roster/duty              ?day=YYYY-MM-DD (default: each team's current duty day): per team
                                     the duty agent (R-VM-RR), a preview that moves no pointer
    GET|POST|DELETE /roster/swap(s), POST /attendance/excuse: shift swaps and excused lateness, _roster_routes.py

Every route but /health and /health/live (and /metrics from loopback, if allowed) needs
``Authorization: Bearer <token>``. Checks run in this order, so a refusal
never reveals more than the caller may know: 401 (no or unknown token) →
403 (role) → 400 (body) → 404 (unknown agent) → 409 (refused by the agent's
state). Errors are ``{"error": "<message>"}``, unknown paths and methods included (404, 405).
R-PRIVACY: every request but /health and /health/live writes one ``audit.api`` log line,
refused ones included. Nothing a caller sent is echoed whole (issue 17): error messages quote at most
40 characters of a value, audit values are cut at 80; limits on connections and bodies: _serve.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..core.roster_types import LEAVE_KINDS
from ._controller import COMMANDS, SUPERVISE_MODES, SUPERVISE_ROLES, Controller
from ._errors import BadRequest, CommandRefused, NotFound, UnknownAgent
from ._input import (AGENT_ID, DAY, ERROR_CHARS, INTERFACE, REASON, TASK_ID, TEAM, TRANSFER_ID, TRANSFER_TARGET, Fail,
                     check, clip, flag, show, show_query)
from ._input import body as _body
from ._phones import PhoneBook
from ._roster_routes import DESK_ROLES, add_roster_routes
from ._roster_routes import desk_role as _desk_role
from ._settings import MAX_BODY, METRICS_ROLES, ApiSettings, ApiToken

__all__ = ["build_app"]

log = structlog.get_logger()

Handler = Callable[[web.Request, ApiToken, dict[str, Any]], Awaitable[web.StreamResponse]]


_Fail, _check, _flag = Fail, check, flag
# issue 17: a tokenless /metrics scrape must come straight from this machine, not through a proxy on it
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP", "Via")


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": clip(message, ERROR_CHARS)}, status=status, headers=headers or None)


@web.middleware
async def _json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as e:  # no such route, wrong method
        return _error(e.status, e.reason)


class _Api:
    def __init__(self, controller: Controller, settings: ApiSettings, command_timeout_s: float) -> None:
        self.controller, self.settings, self.command_timeout_s = controller, settings, command_timeout_s

    # -- auth, errors and the audit line, around every route but /health ---------------------------
    def guarded(self, action: str, handler: Handler
                ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            token = self._token(request)
            audit: dict[str, Any] = {}
            if token is None:
                reason = "missing bearer token" if "Authorization" not in request.headers else "invalid token"
                response = _error(401, reason, **{"WWW-Authenticate": "Bearer"})
            elif token.role not in ROUTE_ROLES:  # a metrics token reads GET /metrics and nothing else
                response = _error(403, f"token {token.name} (role {token.role}) may only read /metrics")
            else:
                response = await self._handle(request, token, audit, handler)
            if response.status >= 400:
                audit["error"] = _message(getattr(response, "text", None))
            log.info("audit.api", token=token.name if token else None, role=token.role if token else None,
                     action=action, agent=clip(request.match_info.get("agent_id")), status=response.status,
                     remote=request.remote, **{k: v if k == "error" else clip(v) for k, v in audit.items()})
            return response

        return route

    def _token(self, request: web.Request) -> ApiToken | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return self.settings.authenticate(value.strip())

    async def _handle(self, request: web.Request, token: ApiToken, audit: dict[str, Any], handler: Handler
                      ) -> web.StreamResponse:
        try:
            return await handler(request, token, audit)
        except _Fail as e:
            return _error(e.status, e.message)
        except BadRequest as e:
            return _error(400, e.message)
        except NotFound as e:
            return _error(404, e.message)
        except CommandRefused as e:
            return _error(409, e.message)
        except TimeoutError as e:  # the callbacks desk's own (DeskTimeout) says what did not answer
            return _error(504, str(e) or f"the service did not answer within {self.command_timeout_s:g} s; "
                                         "the command may still take effect")
        except web.HTTPException as e:  # body too large
            return _error(e.status, e.reason)
        except Exception:
            log.exception("api.error", path=clip(request.path))
            return _error(500, "internal error (see the service's log)")

    # -- GET /metrics (R-KPI): its own auth, so a local scraper may go without a token ----------------------
    async def metrics(self, request: web.Request) -> web.StreamResponse:
        token = self._token(request)
        proxied = [h for h in PROXY_HEADERS if h in request.headers]  # their values are never trusted
        tokenless = "Authorization" not in request.headers and _loopback_peer(request.remote) and not proxied
        get = getattr(self.controller, "metrics", None)
        source = get() if get is not None else None
        if token is None and not (self.settings.metrics_loopback_without_token and tokenless):
            reason = "missing bearer token" if "Authorization" not in request.headers else "invalid token"
            if "Authorization" not in request.headers and self.settings.metrics_loopback_without_token:
                reason += (f" (a scrape through a proxy ({proxied[0]} header) needs one)" if proxied
                           else " (only loopback scrapes go without one)")
            response: web.Response = _error(401, reason, **{"WWW-Authenticate": "Bearer"})
        elif token is not None and token.role not in METRICS_ROLES:
            response = _error(403, f"token {token.name} (role {token.role}) may not read metrics")
        elif source is None:
            response = _error(404, "metrics are off ([metrics] enabled = false in the config)")
        else:
            try:
                response = web.Response(body=source.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
            except Exception:
                log.exception("api.error", path=clip(request.path))
                response = _error(500, "internal error (see the service's log)")
        audit: dict[str, Any] = {"proxied": True} if proxied else {}
        if response.status >= 400:
            audit["error"] = _message(response.text)
        log.info("audit.api", token=token.name if token else None, role=token.role if token else None,
                 action="metrics", agent=None, status=response.status, remote=request.remote, **audit)
        return response

    # -- routes -------------------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        """Readiness (issue 15): 200 only when every check passes; 503 naming the failing ones."""
        try:
            checks = self._readiness()
        except Exception:
            log.exception("api.error", path=clip(request.path))
            return _error(500, "internal error (see the service's log)")
        failing = [name for name, check in checks.items() if not check.get("ok")]
        if failing:
            return web.json_response({"status": "unavailable", "checks": checks, "failing": failing},
                                     status=503)
        return web.json_response({"status": "ok", "checks": checks})

    def _readiness(self) -> dict[str, dict[str, Any]]:
        readiness = getattr(self.controller, "readiness", None)
        if readiness is None:  # a controller that knows only its ARI link
            connected = self.controller.ari_connected()
            return {"ari": {"ok": True} if connected else {"ok": False, "reason": "not connected"}}
        return dict(readiness())

    async def live(self, request: web.Request) -> web.Response:
        """Liveness: the process serves HTTP (its event loop turns)."""
        return web.json_response({"status": "ok"})

    async def list_agents(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        if token.role == "agent":
            raise _Fail(403, f"token {token.name} (role agent) may not list all agents; "
                             f"ask for /agents/{token.agent_id}")
        return web.json_response(self.controller.agents())

    async def show_agent(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        agent_id = _target(request, token)
        for agent in self.controller.agents():
            if agent.get("agent_id") == agent_id:
                return web.json_response(agent)
        raise UnknownAgent(agent_id)

    async def command(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        agent_id = _target(request, token)
        command = request.match_info.route.name
        args: dict[str, Any] = {}
        if command == "login":
            body = await _body(request, {"interface"})
            if "interface" in body:
                args["interface"] = self._login_phone(token, agent_id, body)
        elif command == "pause":
            body = await _body(request, {"reason"})
            if "reason" not in body:
                raise _Fail(400, 'reason: missing (e.g. {"reason": "lunch"})')
            args["reason"] = _check(body, "reason", REASON, "1-32 characters of a-z, 0-9, _ and -")
        else:
            await _body(request, set())
        audit.update(args)
        async with asyncio.timeout(self.command_timeout_s):
            snapshot = await self.controller.agent_command(agent_id, command, **args)
        return web.json_response(snapshot)


    def _phones(self) -> PhoneBook:
        get = getattr(self.controller, "phones", None)
        return get() if get is not None else PhoneBook()  # a controller that names none: no phone at all

    def _login_phone(self, token: ApiToken, agent_id: str, body: dict[str, Any]) -> str:
        """issue 17: the phone comes from the config; an agent token picks only among its own."""
        interface = _check(body, "interface", INTERFACE, "a dial string like PJSIP/1001")
        book = self._phones()
        own = book.own.get(agent_id, ())
        if token.role == "agent" and interface not in own:
            raise _Fail(403, f"token {token.name} (role agent) may only log in at agent {agent_id}'s own phones "
                             f"({', '.join(own) or 'none configured'}; [agents.{agent_id}] interface, phones)")
        if interface not in book.configured:
            raise _Fail(400, f"interface: {interface} is not a configured phone "
                             "([agents.<id>] interface or phones)")
        return interface

    # -- R-SUPERVISE: listen / whisper / barge ------------------------------------------------------
    async def supervise(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        if token.role not in SUPERVISE_ROLES:
            raise _Fail(403, f"token {token.name} (role {token.role}) may not supervise calls")
        body = await _body(request, {"agent_id", "mode", "interface"})
        example = '{"agent_id": "1001", "mode": "listen", "interface": "PJSIP/1010"}'
        for key in ("agent_id", "mode", "interface"):
            if key not in body:
                raise _Fail(400, f"{key}: missing (e.g. {example})")
        agent_id = _check(body, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
        if body["mode"] not in SUPERVISE_MODES:
            raise _Fail(400, f"mode: must be one of {', '.join(SUPERVISE_MODES)}, got {show(body['mode'])}")
        interface = _check(body, "interface", INTERFACE, "a dial string like PJSIP/1010")
        if interface not in self._phones().supervisor:  # issue 17: never a caller's dial string
            raise _Fail(400, f"interface: {interface} is not a supervisor's phone (the interface or phones "
                             'of an agent with role = "supervisor")')
        audit.update(agent_id=agent_id, mode=body["mode"], interface=interface)
        async with asyncio.timeout(self.command_timeout_s):
            result = await self.controller.supervise(agent_id, body["mode"], interface, supervisor=token.name)
        return web.json_response(result, status=202)

    # -- transfers (R-XFER-*) ----------------------------------------------------------------------
    async def start_transfer(self, request: web.Request, token: ApiToken, audit: dict[str, Any]
                             ) -> web.Response:
        body = await _body(request, {"agent_id", "target"})
        for key in ("agent_id", "target"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise _Fail(400, f"{key}: missing (e.g. {{\"agent_id\": \"1001\", \"target\": \"2002\"}})")
        agent_id = _check(body, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
        if not token.may_act_on(agent_id):
            raise _Fail(403, f"token {token.name} (role agent) may only transfer calls of agent {token.agent_id}")
        if not TRANSFER_TARGET.match(body["target"]):
            raise _Fail(400, f"target: must be an agent ID, an extension or queue:<name>, got {show(body['target'])}")
        audit.update(agent_id=body["agent_id"], target=body["target"])
        async with asyncio.timeout(self.command_timeout_s):
            result = await self.controller.transfer_start(body["agent_id"], body["target"])
        return web.json_response(result, status=201)

    async def transfer_command(self, request: web.Request, token: ApiToken, audit: dict[str, Any]
                               ) -> web.Response:
        transfer_id = request.match_info["transfer_id"]
        command = "complete" if request.method == "PUT" else "cancel"
        audit.update(transfer_id=transfer_id, command=command)
        if not TRANSFER_ID.match(transfer_id):
            raise _Fail(400, f"transfer id: must be 1-128 of A-Z a-z 0-9 _ . ~ -, got {show_query(transfer_id)}")
        async with asyncio.timeout(self.command_timeout_s):
            result = await self.controller.transfer_command(transfer_id, command, token)
        return web.json_response(result)

    # -- callbacks and the roster (R-VM, R-CB, R-SLA24, R-VM-RR, R-LEAVE) ------------------------------------
    def _desk(self) -> Any:
        get = getattr(self.controller, "callbacks", None)
        desk = get() if get is not None else None
        if desk is None:
            raise _Fail(404, "callbacks are not configured ([callbacks] in the config)")
        return desk

    async def list_callbacks(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        query = request.query
        for key in query:
            if key not in CALLBACK_QUERY:
                raise _Fail(400, f"{clip(key, 40)}: unknown query parameter (expected {', '.join(CALLBACK_QUERY)})")
        open_only, reveal = _flag(query, "open"), _flag(query, "reveal")
        audit.update(open=open_only, reveal=reveal)  # R-PRIVACY: a refused reveal is audited too
        agent = query.get("agent")
        if token.role == "agent":
            if reveal:
                raise _Fail(403, f"token {token.name} (role agent) may not reveal caller numbers")
            if agent is not None and agent != token.agent_id:
                raise _Fail(403, f"token {token.name} (role agent) may only list the tasks of agent "
                                 f"{token.agent_id}")
            agent = token.agent_id
        elif token.role not in DESK_ROLES:
            raise _Fail(403, f"token {token.name} (role {token.role}) may not list callbacks")
        if agent is not None and not AGENT_ID.match(agent):
            raise _Fail(400, f"agent: must be an agent ID of 1-10 digits, got {show_query(agent)}")
        if query.get("team") is not None and not TEAM.match(query["team"]):
            raise _Fail(400, f"team: must be a team name (1-64 of A-Z a-z 0-9 _ -), got {show_query(query['team'])}")
        audit.update({k: v for k, v in (("state", query.get("state")), ("agent_id", agent),
                                         ("team", query.get("team"))) if v is not None})
        tasks = await self._desk().list_tasks(state=query.get("state"), agent=agent, team=query.get("team"),
                                              open_only=open_only, reveal=reveal)  # closed ones: from the store
        return web.json_response(tasks)

    async def callback_command(self, request: web.Request, token: ApiToken, audit: dict[str, Any]
                               ) -> web.Response:
        command = request.match_info.route.name.removeprefix("callback_")
        _desk_role(token, f"{command} callbacks")
        task_id = request.match_info["task_id"]
        audit["task_id"] = task_id
        if command == "reassign":
            body = await _body(request, {"agent_id"})
            if "agent_id" not in body:
                raise _Fail(400, 'agent_id: missing (e.g. {"agent_id": "1002"})')
            agent_id = _check(body, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
            audit["agent_id"] = agent_id
        else:
            await _body(request, set())
        if not TASK_ID.match(task_id):
            raise _Fail(400, f"task id: must be 1-64 of A-Z a-z 0-9 _ . -, got {show_query(task_id)}")
        desk = self._desk()
        async with asyncio.timeout(self.command_timeout_s):
            if command == "close":
                task = await desk.task_close(task_id, by=token.name)
            elif command == "reopen":
                task = await desk.task_reopen(task_id, by=token.name)
            else:
                task = await desk.task_reassign(task_id, agent_id, by=token.name)
        return web.json_response(task)

    async def callback_check(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        """R-VM-CHECK now: POST /callbacks/check, body {} (every team) or {"team": "support"}."""
        _desk_role(token, "run a duty check")
        body = await _body(request, {"team"})
        team = _check(body, "team", TEAM, "a team name") if body.get("team") is not None else None
        audit["team"] = team
        async with asyncio.timeout(self.command_timeout_s):
            result = await self._desk().check_now(team, by=token.name)
        return web.json_response(result)

    async def import_followups(self, request: web.Request, token: ApiToken, audit: dict[str, Any]
                               ) -> web.Response:
        _desk_role(token, "import follow-up lists")
        body = await _body(request, {"team", "csv"})
        for key in ("team", "csv"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise _Fail(400, f'{key}: missing (e.g. {{"team": "support", "csv": "number,note\\n…"}})')
        team = _check(body, "team", TEAM, "a team name")
        audit["team"] = team
        result = self._desk().followups_import(body["csv"], team, by=token.name)
        audit.update(imported=result["imported"], errors=len(result["errors"]))
        return web.json_response(result, status=202)

    async def list_leave(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        _desk_role(token, "see the leave")
        return web.json_response(self._desk().leave_list())

    async def change_leave(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        adding = request.method == "POST"
        _desk_role(token, "change the leave")
        body = await _body(request, {"agent_id", "day", "shift", *(("override", "kind") if adding else ())})
        override, kind = body.get("override", False), body.get("kind", "personal")
        if kind not in LEAVE_KINDS:
            raise _Fail(400, f"kind: must be {' or '.join(LEAVE_KINDS)}, got "
                             f"{json.dumps(kind, ensure_ascii=False)[:40]}")
        if adding and not isinstance(override, bool):
            raise _Fail(400, f"override: must be true or false, got {json.dumps(override)[:40]}")
        if override and token.role != "supervisor":
            raise _Fail(403, f"token {token.name} (role {token.role}) may not override the leave limit "
                             "(supervisor only, R-LEAVE)")
        example = '{"agent_id": "1001", "day": "2025-03-04"}'
        for key in ("agent_id", "day"):
            if key not in body:
                raise _Fail(400, f"{key}: missing (e.g. {example})")
        agent_id = _check(body, "agent_id", AGENT_ID, "an agent ID of 1-10 digits")
        day = _check(body, "day", DAY, "a date as YYYY-MM-DD")
        shift = None
        if body.get("shift") is not None:
            shift = _check(body, "shift", TEAM, "a shift name")
        audit.update(agent_id=agent_id, day=day, shift=shift)
        desk = self._desk()
        if not adding:
            return web.json_response(desk.leave_cancel(agent_id, day, shift, by=token.name))
        audit.update(override=override, kind=kind)
        return web.json_response(desk.leave_add(agent_id, day, shift, token.name if override else None,
                                                by=token.name, kind=kind))

    async def duty(self, request: web.Request, token: ApiToken, audit: dict[str, Any]) -> web.Response:
        _desk_role(token, "see the duty rota")
        for key in request.query:
            if key != "day":
                raise _Fail(400, f"{clip(key, 40)}: unknown query parameter (expected day)")
        day = request.query.get("day")
        if day is not None and not DAY.match(day):
            raise _Fail(400, f"day: must be a date as YYYY-MM-DD, got {show_query(day)}")
        if day is not None:
            audit["day"] = day
        return web.json_response(self._desk().duty(day))


CALLBACK_QUERY = ("state", "agent", "team", "open", "reveal")
ROUTE_ROLES = ("agent", "supervisor", "ops")  # every role but metrics


def _target(request: web.Request, token: ApiToken) -> str:
    agent_id = request.match_info["agent_id"]
    if not token.may_act_on(agent_id):
        raise _Fail(403, f"token {token.name} (role agent) may only act on agent {token.agent_id}")
    if not AGENT_ID.match(agent_id):
        raise _Fail(400, f"agent id: must be 1-10 digits, got {show_query(agent_id)}")
    return agent_id


def _loopback_peer(remote: str | None) -> bool:
    """The peer is this machine: 127.0.0.0/8, ::1, or 127.x as an IPv4-mapped IPv6 address."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _message(text: str | None) -> str | None:
    try:
        return json.loads(text or "")["error"]
    except (ValueError, KeyError, TypeError):
        return text


def build_app(controller: Controller, settings: ApiSettings, *, command_timeout_s: float = 10.0
              ) -> web.Application:
    api = _Api(controller, settings, command_timeout_s)
    app = web.Application(middlewares=[_json_errors], client_max_size=MAX_BODY)
    app.router.add_get("/health", api.health, name="health", allow_head=False)  # issue 15: readiness
    app.router.add_get("/health/live", api.live, name="live", allow_head=False)
    app.router.add_get("/metrics", api.metrics, name="metrics", allow_head=False)  # R-KPI
    app.router.add_get("/agents", api.guarded("list", api.list_agents), name="list", allow_head=False)
    app.router.add_get("/agents/{agent_id}", api.guarded("show", api.show_agent), name="show",
                       allow_head=False)
    for command in COMMANDS:
        app.router.add_post(f"/agents/{{agent_id}}/{command}", api.guarded(command, api.command),
                            name=command)
    _add_transfer_routes(app, api)
    _add_callback_routes(app, api)
    app.router.add_post("/supervise", api.guarded("supervise", api.supervise), name="supervise")  # R-SUPERVISE
    return app


def _add_transfer_routes(app: web.Application, api: "_Api") -> None:
    app.router.add_post("/transfers", api.guarded("transfer", api.start_transfer), name="transfer")
    app.router.add_put("/transfers/{transfer_id}/complete", api.guarded("transfer_complete", api.transfer_command),
                       name="transfer_complete")
    app.router.add_delete("/transfers/{transfer_id}", api.guarded("transfer_cancel", api.transfer_command),
                          name="transfer_cancel")


def _add_callback_routes(app: web.Application, api: "_Api") -> None:
    app.router.add_get("/callbacks", api.guarded("callbacks", api.list_callbacks), name="callbacks",
                       allow_head=False)
    app.router.add_post("/callbacks/check", api.guarded("callback_check", api.callback_check), name="callback_check")
    for command in ("close", "reopen", "reassign"):
        app.router.add_post(f"/callbacks/{{task_id}}/{command}",
                            api.guarded(f"callback_{command}", api.callback_command), name=f"callback_{command}")
    app.router.add_post("/followups", api.guarded("followups_import", api.import_followups), name="followups")
    app.router.add_get("/roster/leave", api.guarded("leave_list", api.list_leave), name="leave_list",
                       allow_head=False)
    app.router.add_post("/roster/leave", api.guarded("leave_add", api.change_leave), name="leave_add")
    app.router.add_delete("/roster/leave", api.guarded("leave_cancel", api.change_leave), name="leave_cancel")
    app.router.add_get("/roster/duty", api.guarded("duty", api.duty), name="duty", allow_head=False)
    add_roster_routes(app, api)  # swaps (R-LEAVE 换班), excused lateness (R-SHIFT), issue 18
