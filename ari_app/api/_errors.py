"""Errors a ``Controller`` raises to refuse an API command.

    ApiError
    ├── BadRequest        → 400: the input is malformed (the message names the field)
    ├── NotFound          → 404: no such task, team, agent, leave entry (the message says which)
    │   └── UnknownAgent  → 404: no such agent in the configuration
    └── CommandRefused    → 409: the agent's or the task's state does not allow it (the message says why)
"""

from __future__ import annotations

__all__ = ["ApiError", "BadRequest", "CommandRefused", "NotFound", "UnknownAgent"]


class ApiError(Exception):
    """Base class of the errors the API turns into an HTTP status."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    pass


class NotFound(ApiError):
    pass


class UnknownAgent(NotFound):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id}")
        self.agent_id = agent_id


class CommandRefused(ApiError):
    pass
