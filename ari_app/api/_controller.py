"""What the HTTP API needs from the service: the ``Controller`` protocol.

The server never touches the core directly; ``app.Service`` implements this
and forwards commands to the core's inbox (one owner, no locks).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["COMMANDS", "Controller", "agent_snapshot"]

COMMANDS = ("login", "logout", "pause", "resume")


class Controller(Protocol):
    def agents(self) -> list[dict[str, Any]]:
        """A JSON-ready snapshot of every agent (see ``agent_snapshot``), in agent-ID order."""
        ...

    def ari_connected(self) -> bool: ...

    async def agent_command(self, agent_id: str, command: str, **args: Any) -> dict[str, Any]:
        """Carry out ``command`` (one of ``COMMANDS``) and return the agent's new snapshot.

        ``login`` may get ``interface=``, ``pause`` gets ``reason=``. Raises
        ``UnknownAgent`` (→ 404) or ``CommandRefused`` (→ 409, its message shown to the caller).
        """
        ...


class TransferController(Protocol):
    async def transfer_start(self, agent_id: str, target: str) -> dict[str, Any]:
        """Start a transfer of the agent's connected call; returns {transfer_id, call_id, state}.
        Raises ``UnknownAgent`` or ``CommandRefused`` (no call, target unknown, one already running)."""
        ...

    async def transfer_command(self, transfer_id: str, command: str, token: Any) -> dict[str, Any]:
        """complete | cancel; raises ``CommandRefused`` (e.g. complete while the target rings)."""
        ...


def agent_snapshot(agent: Any) -> dict[str, Any]:
    """The API's view of one agent, from anything shaped like ``core.agents.Agent``."""
    return {
        "agent_id": agent.agent_id,
        "state": str(agent.state),
        "since": agent.since,
        "reason": agent.reason,
        "interface": agent.interface,
        "queues": list(agent.queues),
        "calls_taken": agent.calls_taken,
    }
