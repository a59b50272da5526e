"""The ``[api]`` table: where the API listens and who may use it.

Tokens are stored hashed: the config holds the hex sha256 of each token
(``ari-app token new`` makes one). Tokens are random and at least 32
characters, so a plain sha256 is enough; comparison is constant-time.

    [api]
    listen_host = "127.0.0.1"      # loopback only, unless allow_remote = true
    listen_port = 8090

    [[api.tokens]]
    name = "alice"                 # shown in the audit log
    role = "agent"                 # agent | supervisor | ops | metrics (GET /metrics only)
    agent_id = "1001"              # role agent only: the one agent it may act on
    sha256 = "9f86d0…"             # 64 hex digits

``GET /metrics`` (Prometheus) needs a token of a role in ``METRICS_ROLES`` (a ``metrics``
token may read nothing else); with ``metrics_loopback_without_token = true`` a scraper on the
same machine (127.0.0.1, ::1) needs none, unless the request came through a proxy (it
carries ``Forwarded``, ``X-Forwarded-*``, ``X-Real-IP`` or ``Via``: then a token is needed).

Limits (issue 17): ``max_connections`` open connections at once (more are answered 503 and
closed), an idle or unfinished request closed after ``keepalive_s``, a body within
``BODY_TIMEOUT_S`` (``_input``) and at most ``MAX_BODY`` bytes, headers as aiohttp bounds them
(lines and fields of 8190 bytes, ``MAX_HEADERS`` headers).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

__all__ = ["METRICS_ROLES", "ROLES", "ApiSettings", "ApiToken", "hash_token", "new_token", "parse_api"]

ROLES = ("agent", "supervisor", "ops", "metrics")
METRICS_ROLES = ("supervisor", "ops", "metrics")  # token roles that may read GET /metrics
MAX_BODY = 64 * 1024  # bytes of a request body (413 beyond)
MAX_HEADERS = 64  # headers of a request (400 beyond)
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
AGENT_ID = re.compile(r"^[0-9]{1,10}\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


@dataclass(frozen=True, kw_only=True)
class ApiToken:
    name: str
    role: str
    sha256: str
    agent_id: str | None = None

    def may_act_on(self, agent_id: str) -> bool:
        return self.role != "agent" or self.agent_id == agent_id


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8090
    allow_remote: bool = False
    tokens: tuple[ApiToken, ...] = ()
    metrics_loopback_without_token: bool = False  # GET /metrics from 127.0.0.1 / ::1 needs no token
    max_connections: int = 64  # open connections at once; more are answered 503 and closed
    keepalive_s: float = 15.0  # an idle connection, or one whose request is not complete, is closed after it

    def authenticate(self, token: str) -> ApiToken | None:
        """The configured token whose hash matches ``token``, or None."""
        digest = hash_token(token)
        found = None
        for t in self.tokens:  # no early exit: the time taken does not depend on which one matched
            if hmac.compare_digest(t.sha256, digest):
                found = t
        return found


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_KINDS = {str: "a string", int: "an integer", bool: "true or false"}


def _get(table: dict[str, Any], key: str, kind: type, default: Any, path: str, errors: list[str]) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        errors.append(f"{path}.{key}: must be {_KINDS[kind]}, got {value!r}")
        return default
    return value


def _unknown(table: dict[str, Any], known: set[str], path: str, errors: list[str]) -> None:
    from ..config import toml_key  # an odd key name quoted: the error stays one line

    errors.extend(f"{path}.{toml_key(key)}: unknown key" for key in table if key not in known)


def parse_api(table: dict[str, Any], errors: list[str], *,
              agents: Collection[str] | None = None) -> ApiSettings:
    """Validate the ``[api]`` table, appending one line per problem to ``errors``.

    ``agents``, if given, are the configured agent IDs that ``agent_id`` must name.
    """
    d = ApiSettings()
    if not isinstance(table, dict):
        errors.append(f"api: must be a table, got {table!r}")
        return d
    _unknown(table, {"listen_host", "listen_port", "allow_remote", "tokens",
                     "metrics_loopback_without_token", "max_connections"}, "api", errors)
    metrics_open = _get(table, "metrics_loopback_without_token", bool, False, "api", errors)
    allow_remote = _get(table, "allow_remote", bool, False, "api", errors)
    host = _get(table, "listen_host", str, d.listen_host, "api", errors)
    if not allow_remote and not _is_loopback(host):
        errors.append("api.listen_host: must be a loopback address (127.0.0.1, ::1) unless "
                      f"allow_remote = true, got {host!r}")
        host = d.listen_host
    max_connections = _get(table, "max_connections", int, d.max_connections, "api", errors)
    if not 1 <= max_connections <= 10_000:
        errors.append(f"api.max_connections: must be 1-10000, got {max_connections!r}")
        max_connections = d.max_connections
    port = _get(table, "listen_port", int, d.listen_port, "api", errors)
    if not 1 <= port <= 65535:
        errors.append(f"api.listen_port: must be 1-65535, got {port!r}")
        port = d.listen_port

    raw = table.get("tokens", [])
    if not isinstance(raw, list):
        errors.append(f"api.tokens: must be a list of tables ([[api.tokens]]), got {raw!r}")
        raw = []
    tokens: list[ApiToken] = []
    names: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for i, t in enumerate(raw):
        path = f"api.tokens[{i}]"
        if not isinstance(t, dict):
            errors.append(f"{path}: must be a table, got {t!r}")
            continue
        n = len(errors)
        _unknown(t, {"name", "role", "sha256", "agent_id"}, path, errors)
        for key in ("name", "role", "sha256"):
            if key not in t:
                errors.append(f"{path}.{key}: missing")
        name = _get(t, "name", str, "", path, errors)
        if name and not TOKEN_NAME.match(name):
            errors.append(f"{path}.name: must be letters, digits, _ . @ - (at most 64), got {name!r}")
        elif name in names:
            errors.append(f"{path}.name: {name!r} is already used by {names[name]}")
        role = _get(t, "role", str, "", path, errors)
        if isinstance(t.get("role"), str) and role not in ROLES:
            errors.append(f"{path}.role: must be one of {', '.join(ROLES)}, got {t['role']!r}")
        sha = _get(t, "sha256", str, "", path, errors).lower()
        if isinstance(t.get("sha256"), str) and not _SHA256.match(sha):
            # Never echo it: a token pasted here by mistake must not end up in a log.
            errors.append(f"{path}.sha256: must be 64 hex digits (the token's sha256, from "
                          f"`ari-app token new`), got {len(sha)} characters")
        elif sha in hashes:
            errors.append(f"{path}.sha256: same token as {hashes[sha]}")
        agent_id = _get(t, "agent_id", str, None, path, errors)
        if role == "agent" and "agent_id" not in t:
            errors.append(f"{path}.agent_id: missing (role agent acts on one agent, "
                          'e.g. agent_id = "1001")')
        elif role in ("supervisor", "ops", "metrics") and "agent_id" in t:
            errors.append(f"{path}.agent_id: only for role agent (role {role} acts on every agent)")
        elif agent_id is not None and not AGENT_ID.match(agent_id):
            errors.append(f"{path}.agent_id: agent IDs (工号) are 1-10 digits, got {agent_id!r}")
        elif agent_id is not None and agents is not None and agent_id not in agents:
            errors.append(f"{path}.agent_id: unknown agent {agent_id!r}")
        if name:
            names.setdefault(name, path)
        if sha:
            hashes.setdefault(sha, path)
        if len(errors) == n:
            tokens.append(ApiToken(name=name, role=role, sha256=sha, agent_id=agent_id))
    return ApiSettings(listen_host=host, listen_port=port, allow_remote=allow_remote, tokens=tuple(tokens),
                       metrics_loopback_without_token=metrics_open, max_connections=max_connections)
