"""R-SUPERVISE, the decisions: which feature codes supervise, and who may.

A supervisor listens (the agent's call, unheard), whispers (heard by the agent only) or barges
(joins the call). Only a supervisor may: an agent with ``role = "supervisor"`` logged in at the
phone (``*11`` and the PIN); a phone nobody is logged in at may not, whoever's desk it is. The flow
(``flows/supervise.py``) carries it out with snoop channels on the agent's channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["MODES", "Permission", "parse_code", "supervisor_at"]

RULE = "R-SUPERVISE"
MODES = ("listen", "whisper", "barge")
# Prompts (no new audio): refused for not being a supervisor.
PROMPT_NOT_LOGGED_IN = "not-logged-in"
PROMPT_NOT_SUPERVISOR = "login-failed"


def parse_code(code: str, prefixes: Mapping[str, str]) -> tuple[str, str] | None:
    """``*151001`` with ``{"listen": "*15", ...}`` → ``("listen", "1001")``; None when not a supervise code.

    The agent part is returned as dialled (maybe empty or not digits); the flow refuses those.
    """
    for mode in MODES:
        prefix = prefixes.get(mode, "")
        if prefix and code.startswith(prefix):
            return mode, code[len(prefix):]
    return None


@dataclass(frozen=True, slots=True)
class Permission:
    """Who may supervise from a phone: ``supervisor`` (an agent ID), or why not (``reason``, ``prompt``)."""
    supervisor: str | None
    reason: str = ""
    prompt: str = ""

    @property
    def allowed(self) -> bool:
        return self.supervisor is not None


def supervisor_at(interface: str, *, logged_in: str | None, agents: Mapping[str, Any]) -> Permission:
    """May the phone ``interface`` supervise?

    ``logged_in``: the agent logged in at that phone (or None); ``agents``: the configured agents
    (``config.AgentConfig``: ``role``). Only a supervisor logged in at the phone may: by phone with
    their PIN (``*11``), through the API, or ``auto_login`` in the config. A phone nobody is logged
    in at may not, even a supervisor's own desk phone (issue 17: an idle desk phone listened in
    without a PIN); an ordinary agent logged in there may not either.
    """
    if logged_in is None:
        return Permission(None, "not_logged_in", PROMPT_NOT_LOGGED_IN)
    cfg = agents.get(logged_in)
    if cfg is not None and getattr(cfg, "role", "agent") == "supervisor":
        return Permission(logged_in)
    return Permission(None, "not_a_supervisor", PROMPT_NOT_SUPERVISOR)
