"""Errors a ``Controller`` raises to refuse an API command.

    ApiError
    ├── UnknownAgent      → 404: no such agent in the configuration
    └── CommandRefused    → 409: the agent's state does not allow it (the message says why)
"""

from __future__ import annotations

__all__ = ["ApiError", "CommandRefused", "UnknownAgent"]


class ApiError(Exception):
    """Base class of the errors the API turns into an HTTP status."""


class UnknownAgent(ApiError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id}")
        self.agent_id = agent_id


class CommandRefused(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
