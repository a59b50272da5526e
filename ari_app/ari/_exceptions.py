"""Exceptions raised by the ARI client.

    AriError
    ├── AriHTTPError            Asterisk answered with a 4xx/5xx status
    │   ├── AriBadRequest       400, 422: bad or missing parameters
    │   ├── AriNotFound         404: channel, bridge, variable... does not exist
    │   └── AriConflict         409: wrong state (e.g. channel not in Stasis)
    ├── AriUnavailable          transport failure: refused, reset, timeout
    └── MalformedEvent          (also a ValueError) websocket event we cannot parse
"""

from __future__ import annotations

__all__ = [
    "AriBadRequest",
    "AriConflict",
    "AriError",
    "AriHTTPError",
    "AriNotFound",
    "AriUnavailable",
    "MalformedEvent",
]


class AriError(Exception):
    """Base class of every error raised by this package."""


class AriHTTPError(AriError):
    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class AriBadRequest(AriHTTPError):
    pass


class AriNotFound(AriHTTPError):
    pass


class AriConflict(AriHTTPError):
    pass


class AriUnavailable(AriError):
    def __init__(self, method: str, path: str, reason: str) -> None:
        super().__init__(f"{method} {path}: Asterisk unavailable ({reason})")
        self.method = method
        self.path = path
        self.reason = reason


class MalformedEvent(AriError, ValueError):
    pass
