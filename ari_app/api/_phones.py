"""Which phones the API may name (issue 17, item 1): only configured ones, never a caller's string.

An agent's phones are ``[agents.<id>] interface`` and its ``phones`` list. ``POST /agents/{id}/login``
with ``interface`` logs the agent in at one of them: an agent token only at its own agent's phones,
a supervisor or ops token at any agent's configured phone. ``POST /supervise`` calls only a phone of an
agent with ``role = "supervisor"``. Everything else is refused before the service is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhoneBook"]


@dataclass(frozen=True)
class PhoneBook:
    own: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # agent ID → its configured phones
    supervisor: frozenset[str] = frozenset()  # the phones of agents with role "supervisor"

    @property
    def configured(self) -> frozenset[str]:
        return frozenset(p for phones in self.own.values() for p in phones)

    @classmethod
    def from_agents(cls, agents: Mapping[str, Any]) -> PhoneBook:
        """From ``config.AgentConfig``-like objects (``interface``, optional ``phones`` and ``role``)."""
        own: dict[str, tuple[str, ...]] = {}
        supervisor: set[str] = set()
        for agent_id, a in agents.items():
            phones = tuple(dict.fromkeys(p for p in (a.interface, *getattr(a, "phones", ())) if p))
            own[agent_id] = phones
            if getattr(a, "role", "agent") == "supervisor":
                supervisor.update(phones)
        return cls(own=own, supervisor=frozenset(supervisor))
