"""``ari-app agent …``, ``ari-app callbacks …``, ``ari-app followups import``, ``ari-app roster …``
(clients of the HTTP API), ``ari-app health`` and ``ari-app token new``.

Exit codes: 0 done, 1 refused by the service (401, 403, 404, 409, 5xx),
2 usage error, bad input (400) or the API cannot be reached.
``ari-app health`` (a container's healthcheck): 0 ready, 1 anything else (not ready, or no answer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import httpx

from ._settings import AGENT_ID, ROLES, TOKEN_NAME, hash_token, new_token

__all__ = ["DEFAULT_API", "agent_cli", "callbacks_cli", "followups_cli", "health_cli", "roster_cli",
           "token_cli"]

DEFAULT_API = "http://127.0.0.1:8090"
_COLUMNS = ("AGENT", "STATE", "SINCE", "REASON", "INTERFACE", "QUEUES", "CALLS")


class _Usage(Exception):
    pass


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage or the help
        return 0 if e.code in (0, None) else 2


def agent_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ari-app agent",
        description="Log agents in and out, pause and resume them, through the HTTP API.",
        epilog="ARI_APP_API (default %s) and ARI_APP_TOKEN set the API and the token; prefer the environment "
               "to --token, which other users can see in the process list." % DEFAULT_API)
    parser.add_argument("command", choices=("list", "login", "logout", "pause", "resume", "hold", "unhold"))
    parser.add_argument("agent_id", nargs="?", metavar="AGENT_ID")
    parser.add_argument("--interface", help="login: the phone to ring, e.g. PJSIP/1001")
    parser.add_argument("--reason", help="pause: why, e.g. lunch (a-z, 0-9, _ and -)")
    parser.add_argument("--api", default=os.environ.get("ARI_APP_API", DEFAULT_API),
                        help="the API's base URL")
    parser.add_argument("--token", default=default_token(), help="the API token")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        method, path, body = _request(args)
    except _Usage as e:
        print(f"ari-app agent: {e}", file=sys.stderr)
        return 2
    api = args.api.rstrip("/")
    try:
        with httpx.Client(base_url=api, timeout=15.0,
                          headers={"Authorization": f"Bearer {args.token}"}) as client:
            response = client.request(method, path, json=body)
    except httpx.ConnectError:
        print(f"ari-app agent: cannot reach the API at {api}: is ari-app running?", file=sys.stderr)
        return 2
    except httpx.TimeoutException:
        print(f"ari-app agent: the API at {api} did not answer in time", file=sys.stderr)
        return 2
    except httpx.HTTPError as e:
        print(f"ari-app agent: cannot reach the API at {api}: {e}", file=sys.stderr)
        return 2
    if response.status_code >= 400:
        print(f"ari-app agent: {_error_of(response)}", file=sys.stderr)
        return 2 if response.status_code == 400 else 1
    data = response.json()
    if args.command == "list":
        print(_table(data if isinstance(data, list) else [data]))
    else:
        print(_line(data))
    return 0


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if not args.token:
        raise _Usage(f"no API token: set ARI_APP_TOKEN (or put it in {token_file()}, mode 0600)")
    if args.command != "login" and args.interface is not None:
        raise _Usage("--interface is only for login")
    if args.command != "pause" and args.reason is not None:
        raise _Usage("--reason is only for pause")
    if args.agent_id is not None and not AGENT_ID.match(args.agent_id):
        raise _Usage(f"AGENT_ID: agent IDs (工号) are 1-10 digits, got {args.agent_id!r}")
    if args.command == "list":
        return "GET", f"/agents/{args.agent_id}" if args.agent_id else "/agents", None
    if not args.agent_id:
        raise _Usage(f"{args.command}: AGENT_ID is required")
    body: dict[str, Any] = {}
    if args.command == "login" and args.interface:
        body["interface"] = args.interface
    if args.command == "pause":
        if not args.reason:
            raise _Usage("pause: --reason is required, e.g. --reason lunch")
        body["reason"] = args.reason
    return "POST", f"/agents/{args.agent_id}/{args.command}", body or None


def _error_of(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:200]}"


def _since(epoch: Any) -> str:
    if not epoch:
        return "-"
    t = time.localtime(epoch)
    same_day = time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", t)


def _row(a: dict[str, Any]) -> tuple[str, ...]:
    return (str(a.get("agent_id", "?")), str(a.get("state", "?")), _since(a.get("since")),
            a.get("reason") or "-", a.get("interface") or "-", ",".join(a.get("queues") or ()) or "-",
            str(a.get("calls_taken", 0)))


def _table(agents: list[dict[str, Any]]) -> str:
    rows = [_COLUMNS, *(_row(a) for a in agents)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _line(a: dict[str, Any]) -> str:
    reason = f" ({a['reason']})" if a.get("reason") else ""
    return f"agent {a.get('agent_id')}: {a.get('state')}{reason} since {_since(a.get('since'))}"


def api_url_of(config_path: str) -> str:
    """The API's URL as this machine reaches it, from a config's ``[api]`` (a wildcard listen address is
    reached on loopback). Reads only that table: no secret needs to be in the environment."""
    import ipaddress
    import tomllib

    with open(config_path, "rb") as f:
        table = tomllib.load(f).get("api", {})
    if not isinstance(table, dict):
        raise ValueError("[api] is not a table")
    host, port = table.get("listen_host", "127.0.0.1"), table.get("listen_port", 8090)
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"[api] listen_host {host!r} / listen_port {port!r}")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def health_cli(argv: list[str]) -> int:
    """issue 15: GET /health; prints its JSON on one line; 0 when ready (200), 1 otherwise."""
    prog = "ari-app health"
    parser = argparse.ArgumentParser(
        prog=prog, description="Is the service ready? GET /health (no token): prints its JSON on one line; "
                               "exit 0 when ready (HTTP 200), 1 otherwise (not ready, or no answer). "
                               "For container healthchecks.")
    parser.add_argument("--url", "--api", dest="url", default=os.environ.get("ARI_APP_API", DEFAULT_API),
                        help="the API's base URL (default: ARI_APP_API, else %s)" % DEFAULT_API)
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to wait (default 5)")
    parser.add_argument("--config", metavar="FILE",
                        help="the service's config: the URL from its [api] listen_host and listen_port")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return 1 if args else 0
    if args.config:
        try:
            args.url = api_url_of(args.config)
        except (OSError, ValueError) as e:
            print(f"{prog}: --config {args.config}: {e}", file=sys.stderr)
            return 1
    api = args.url.rstrip("/")
    try:
        with httpx.Client(base_url=api, timeout=args.timeout) as client:
            response = client.get("/health")
    except httpx.TimeoutException:
        print(f"{prog}: the API at {api} did not answer within {args.timeout:g} s", file=sys.stderr)
        return 1
    except httpx.HTTPError as e:  # refused, unreachable, no such host, not http(s)
        print(f"{prog}: cannot reach the API at {api}: {str(e) or type(e).__name__}", file=sys.stderr)
        return 1
    except httpx.InvalidURL as e:
        print(f"{prog}: --url {args.url!r}: {e}", file=sys.stderr)
        return 1
    try:
        body = response.json()
    except ValueError:
        print(f"{prog}: HTTP {response.status_code} from {api}/health, not JSON: {response.text[:200]!r}",
              file=sys.stderr)
        return 1
    print(json.dumps(body, ensure_ascii=False))
    return 0 if response.status_code == 200 else 1


def token_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ari-app token", description="Make API tokens.")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="make a token; prints it once, and the config entry with its sha256")
    new.add_argument("--name", required=True, help="who holds it; shown in the audit log")
    new.add_argument("--role", required=True, choices=ROLES)
    new.add_argument("--agent", metavar="AGENT_ID", help="role agent: the one agent it may act on")
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    problem = None
    if not TOKEN_NAME.match(args.name):
        problem = f"--name: must be letters, digits, _ . @ - (at most 64), got {args.name!r}"
    elif args.role == "agent" and not args.agent:
        problem = "--agent AGENT_ID is required for role agent"
    elif args.role != "agent" and args.agent:
        problem = f"--agent is only for role agent (role {args.role} acts on every agent)"
    elif args.agent and not AGENT_ID.match(args.agent):
        problem = f"--agent: agent IDs (工号) are 1-10 digits, got {args.agent!r}"
    if problem:
        print(f"ari-app token: {problem}", file=sys.stderr)
        return 2
    token = new_token()
    agent_line = f'agent_id = "{args.agent}"\n' if args.agent else ""
    print(f"Token for {args.name} (shown once; ari-app keeps only its sha256):\n\n  {token}\n\n"
          f"Add to the config file, then restart ari-app:\n\n"
          f'[[api.tokens]]\nname = "{args.name}"\nrole = "{args.role}"\n{agent_line}'
          f'sha256 = "{hash_token(token)}"')
    return 0


# -- callbacks, follow-up lists, leave and the duty rota (R-VM, R-CB, R-SLA24, R-VM-RR, R-LEAVE) -------------
_ENV_EPILOG = ("ARI_APP_API (default %s) and ARI_APP_TOKEN set the API and the token; prefer the environment "
               "to --token, which other users can see in the process list." % DEFAULT_API)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    parser.add_argument("--api", default=os.environ.get("ARI_APP_API", DEFAULT_API), help="the API's base URL")
    parser.add_argument("--token", default=default_token(), help="the API token")


def token_file() -> str:
    """Where the CLI finds a token when ARI_APP_TOKEN is not set: ARI_APP_TOKEN_FILE, else
    ~/.config/ari-app/token (the demo site, scripts/demo-site, writes its supervisor token there)."""
    return os.environ.get("ARI_APP_TOKEN_FILE") or os.path.expanduser("~/.config/ari-app/token")


def default_token() -> str | None:
    """ARI_APP_TOKEN, else the first word of the token file (if it is there and only its owner may read it)."""
    if os.environ.get("ARI_APP_TOKEN"):
        return os.environ["ARI_APP_TOKEN"]
    try:
        with open(token_file()) as f:
            if os.fstat(f.fileno()).st_mode & 0o077:
                print(f"ari-app: ignoring {token_file()}: readable by others (chmod 600 it)", file=sys.stderr)
                return None
            words = f.read().split()
    except OSError:
        return None
    return words[0] if words else None


def _call(prog: str, args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None,
          params: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; (0, data) or (exit code, None) with the message printed on stderr."""
    if not args.token:
        print(f"{prog}: no API token: set ARI_APP_TOKEN (or put it in {token_file()}, mode 0600)", file=sys.stderr)
        return 2, None
    api = args.api.rstrip("/")
    try:
        with httpx.Client(base_url=api, timeout=15.0,
                          headers={"Authorization": f"Bearer {args.token}"}) as client:
            response = client.request(method, path, json=body, params=params)
    except httpx.ConnectError:
        print(f"{prog}: cannot reach the API at {api}: is ari-app running?", file=sys.stderr)
        return 2, None
    except httpx.TimeoutException:
        print(f"{prog}: the API at {api} did not answer in time", file=sys.stderr)
        return 2, None
    except httpx.HTTPError as e:
        print(f"{prog}: cannot reach the API at {api}: {e}", file=sys.stderr)
        return 2, None
    if response.status_code >= 400:
        print(f"{prog}: {_error_of(response)}", file=sys.stderr)
        return (2 if response.status_code == 400 else 1), None
    return 0, response.json()


def _grid(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    table = [columns, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _when(epoch: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "-"


_TASK_COLUMNS = ("ID", "KIND", "TEAM", "STATE", "ASSIGNED", "CALLER", "CREATED", "DEADLINE", "OVERDUE", "TRIES",
                 "NOTE")


def _task_row(t: dict[str, Any]) -> tuple[str, ...]:
    return (str(t.get("id")), str(t.get("kind")), str(t.get("team")), str(t.get("state")),
            t.get("assigned") or "-", t.get("caller") or "-", _when(t.get("created_at")), _when(t.get("deadline")),
            "yes" if t.get("overdue") else "-", str(t.get("tries", 0)), t.get("note") or "-")


def _task_line(t: dict[str, Any]) -> str:
    by = f" by {t['closed_by']}" if t.get("closed_by") else ""
    return f"callback {t.get('id')}: {t.get('state')}{by}, assigned to {t.get('assigned') or 'nobody'}"


def callbacks_cli(argv: list[str]) -> int:
    prog = "ari-app callbacks"
    parser = argparse.ArgumentParser(prog=prog, epilog=_ENV_EPILOG,
                                     description="Voicemail and follow-up callback tasks, through the HTTP API.")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list tasks (caller numbers masked unless --reveal)")
    ls.add_argument("--state", help="open, in_progress, reached, no_answer, busy, failed, wrong_number, closed")
    ls.add_argument("--agent", metavar="AGENT_ID", help="only the tasks of this agent")
    ls.add_argument("--team", help="only the tasks of this team")
    ls.add_argument("--open", action="store_true", help="only open tasks (open and in progress)")
    ls.add_argument("--reveal", action="store_true", help="caller numbers in clear (supervisor, ops; audited)")
    _common(ls)
    for command, text in (("close", "close a task without a callback"), ("reopen", "open a finished task again")):
        p = sub.add_parser(command, help=text)
        p.add_argument("task_id", metavar="ID")
        _common(p)
    p = sub.add_parser("reassign", help="give an open task to another agent of its team")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("agent_id", metavar="AGENT")
    _common(p)
    p = sub.add_parser("check", help="run the voicemail duty check now (R-VM-CHECK): call the duty agents")
    p.add_argument("--team", help="only this team (default: every team)")
    _common(p)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if args.command == "check":
        code, data = _call(prog, args, "POST", "/callbacks/check", {"team": args.team} if args.team else {})
        if code == 0:
            print(_dump(data) if args.json else f"duty check ({args.team or 'every team'}): {data['message']}")
        return code
    if args.command == "list":
        params = {k: v for k, v in (("state", args.state), ("agent", args.agent), ("team", args.team)) if v}
        params.update({k: "1" for k in ("open", "reveal") if getattr(args, k)})
        code, data = _call(prog, args, "GET", "/callbacks", params=params)
        if code == 0:
            print(_dump(data) if args.json else _grid(_TASK_COLUMNS, [_task_row(t) for t in data]))
        return code
    if args.command == "reassign" and not AGENT_ID.match(args.agent_id):
        print(f"{prog}: AGENT: agent IDs (工号) are 1-10 digits, got {args.agent_id!r}", file=sys.stderr)
        return 2
    body = {"agent_id": args.agent_id} if args.command == "reassign" else None
    code, data = _call(prog, args, "POST", f"/callbacks/{args.task_id}/{args.command}", body)
    if code == 0:
        print(_dump(data) if args.json else _task_line(data))
    return code


def followups_cli(argv: list[str]) -> int:
    prog = "ari-app followups"
    parser = argparse.ArgumentParser(prog=prog, epilog=_ENV_EPILOG,
                                     description="Follow-up lists (回访): a CSV with the header number,note.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import a CSV file (number,note) as follow-up tasks of a team")
    imp.add_argument("file", metavar="FILE", help="the CSV file, UTF-8; - for standard input")
    imp.add_argument("--team", required=True, help="the team whose agents call the numbers")
    _common(imp)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8-sig") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"{prog}: cannot read {args.file}: {e}", file=sys.stderr)
        return 2
    code, data = _call(prog, args, "POST", "/followups", {"team": args.team, "csv": text})
    if code == 0:
        if args.json:
            print(_dump(data))
        else:
            print(f"imported {data.get('imported', 0)} follow-up task(s) for team {data.get('team')}")
            for error in data.get("errors") or ():
                print(f"skipped {error}")
    return code


_LEAVE_COLUMNS = ("AGENT", "TEAM", "DAY", "SHIFT", "OVERRIDDEN_BY", "SOURCE")
_DUTY_COLUMNS = ("TEAM", "DAY", "WORKING", "DUTY", "ON_LEAVE")


def _leave_row(e: dict[str, Any]) -> tuple[str, ...]:
    return (str(e.get("agent_id")), e.get("team") or "-", str(e.get("day")), e.get("shift") or "(whole day)",
            e.get("overridden_by") or "-", str(e.get("source", "-")))


def roster_cli(argv: list[str]) -> int:
    prog = "ari-app roster"
    parser = argparse.ArgumentParser(prog=prog, epilog=_ENV_EPILOG,
                                     description="Leave (R-LEAVE) and the voicemail duty rota (R-VM-RR).")
    sub = parser.add_subparsers(dest="command", required=True)
    leave = sub.add_parser("leave", help="list, add or cancel leave")
    leave.add_argument("action", choices=("list", "add", "cancel"))
    leave.add_argument("agent_id", nargs="?", metavar="AGENT")
    leave.add_argument("day", nargs="?", metavar="DAY", help="YYYY-MM-DD")
    leave.add_argument("--shift", help="one shift (default: the whole day)")
    leave.add_argument("--override", action="store_true",
                       help="add: over the one-per-shift limit (supervisor tokens only; logged)")
    _common(leave)
    duty = sub.add_parser("duty", help="the duty agent of each team")
    duty.add_argument("--day", help="YYYY-MM-DD (default: each team's current duty day)")
    _common(duty)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    if args.command == "duty":
        code, data = _call(prog, args, "GET", "/roster/duty", params={"day": args.day} if args.day else None)
        if code == 0:
            if args.json:
                print(_dump(data))
            else:
                rows = [(team, t.get("day") or "-", "yes" if t.get("working") else "no", t.get("agent") or "-",
                         ",".join(t.get("on_leave") or ()) or "-") for team, t in data.get("teams", {}).items()]
                print(f"mode: {data.get('mode')}\n" + _grid(_DUTY_COLUMNS, rows))
        return code
    if args.action == "list":
        if args.agent_id or args.day or args.shift or args.override:
            print(f"{prog}: leave list takes no AGENT, DAY, --shift or --override", file=sys.stderr)
            return 2
        code, data = _call(prog, args, "GET", "/roster/leave")
        if code == 0:
            print(_dump(data) if args.json else _grid(_LEAVE_COLUMNS, [_leave_row(e) for e in data]))
        return code
    problem = None
    if not args.agent_id or not args.day:
        problem = f"leave {args.action}: AGENT and DAY are required"
    elif not AGENT_ID.match(args.agent_id):
        problem = f"AGENT: agent IDs (工号) are 1-10 digits, got {args.agent_id!r}"
    elif args.override and args.action != "add":
        problem = "--override is only for leave add"
    if problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    body: dict[str, Any] = {"agent_id": args.agent_id, "day": args.day}
    if args.shift:
        body["shift"] = args.shift
    if args.action == "add":
        body["override"] = args.override
        code, data = _call(prog, args, "POST", "/roster/leave", body)
        if code == 0:
            what = f"shift {data.get('shift')}" if data.get("shift") else "the whole day"
            print(_dump(data) if args.json else
                  f"leave granted: agent {data.get('agent_id')} on {data.get('day')} ({what}): {data.get('reason')}")
        return code
    code, data = _call(prog, args, "DELETE", "/roster/leave", body)
    if code == 0:
        if args.json:
            print(_dump(data))
        else:
            for e in data.get("cancelled", ()):
                note = " (still in the roster file: remove it there too)" if e.get("source") == "roster_file" else ""
                print(f"leave cancelled: agent {e.get('agent_id')} on {e.get('day')} "
                      f"({e.get('shift') or 'whole day'}){note}")
    return code
