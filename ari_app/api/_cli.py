"""``ari-app agent …`` (a client of the HTTP API) and ``ari-app token new``.

Exit codes: 0 done, 1 refused by the service (401, 403, 404, 409, 5xx),
2 usage error, bad input (400) or the API cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import httpx

from ._settings import AGENT_ID, ROLES, TOKEN_NAME, hash_token, new_token

__all__ = ["DEFAULT_API", "agent_cli", "token_cli"]

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
    parser.add_argument("--token", default=os.environ.get("ARI_APP_TOKEN"), help="the API token")
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
        raise _Usage("no API token: set ARI_APP_TOKEN (or pass --token)")
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
