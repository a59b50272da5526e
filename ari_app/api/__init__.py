"""The HTTP control API for agents, supervisors and ops, and its command-line client.

The service implements ``Controller``; ``serve`` runs the API until cancelled;
``parse_api`` reads the config's ``[api]`` table; ``agent_cli``, ``callbacks_cli``,
``followups_cli``, ``roster_cli`` and ``token_cli`` are ``ari-app agent …``, ``ari-app callbacks …``,
``ari-app followups import``, ``ari-app roster …`` and ``ari-app token new``.
"""

from ._cli import DEFAULT_API, agent_cli, callbacks_cli, followups_cli, roster_cli, token_cli
from ._controller import COMMANDS, Controller, agent_snapshot
from ._errors import ApiError, BadRequest, CommandRefused, NotFound, UnknownAgent
from ._phones import PhoneBook
from ._serve import listening, serve
from ._server import build_app
from ._settings import METRICS_ROLES, ROLES, ApiSettings, ApiToken, hash_token, new_token, parse_api

__all__ = [
    "COMMANDS",
    "DEFAULT_API",
    "METRICS_ROLES",
    "ROLES",
    "ApiError",
    "ApiSettings",
    "BadRequest",
    "ApiToken",
    "CommandRefused",
    "Controller",
    "NotFound",
    "PhoneBook",
    "UnknownAgent",
    "agent_cli",
    "agent_snapshot",
    "build_app",
    "callbacks_cli",
    "followups_cli",
    "hash_token",
    "listening",
    "new_token",
    "parse_api",
    "roster_cli",
    "serve",
    "token_cli",
]
