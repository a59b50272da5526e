"""What the HTTP API needs from the service: the ``Controller`` protocol.

The server never touches the core directly; ``app.Service`` implements this
and forwards commands to the core's inbox (one owner, no locks).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["COMMANDS", "Controller", "agent_snapshot"]

COMMANDS = ("login", "logout", "pause", "resume", "hold", "unhold")  # hold/unhold: the agent's call (R-HOLD)
SUPERVISE_MODES = ("listen", "whisper", "barge")  # R-SUPERVISE (flows/supervise.py MODES)
SUPERVISE_ROLES = ("supervisor", "ops")  # token roles that may supervise


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


class SuperviseController(Protocol):
    async def supervise(self, agent_id: str, mode: str, interface: str, *, supervisor: str) -> dict[str, Any]:
        """R-SUPERVISE: call ``interface`` and, on answer, attach it to the agent's live call in ``mode``.

        Returns at once (before the answer): ``{agent_id, mode, interface, call_id, supervisor_channel}``.
        Raises ``UnknownAgent`` (→ 404) or ``CommandRefused`` (→ 409: no live call, the call failed).
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


class CallbacksController(Protocol):
    def callbacks(self) -> Any:
        """The callbacks desk (``flows.desk.CallbackDesk``, its ``DeskAdmin`` methods) or None when
        ``[callbacks]`` is not configured (the routes then answer 404). Its methods raise
        ``BadRequest`` (→ 400), ``NotFound`` (→ 404) or ``CommandRefused`` (→ 409)."""
        ...


class PhonesController(Protocol):
    def phones(self) -> Any:
        """issue 17: the configured phones (``_phones.PhoneBook``) the API may name in ``login`` and
        ``supervise``; a controller without it accepts no ``interface`` at all."""
        ...


class MetricsController(Protocol):
    def metrics(self) -> Any:
        """The service's metrics (``events.metrics.Metrics``: ``render() -> bytes`` in the Prometheus text
        format) or None when ``[metrics] enabled = false`` (``GET /metrics`` then answers 404)."""
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
