"""An AMI connection made with panoramisk, owned by ``AmiLink``.

panoramisk's ``Manager`` parses the protocol, matches responses to actions
and dispatches events; that is what we use it for. Its own reconnect loop
(``connection_lost`` → ``call_later(connect)``) and its ping (which sends and
never checks the answer) are turned off here: ``AmiLink`` owns both, so
there is exactly one reconnect loop and it notices a dead link.

The TCP connection is opened in the running loop and handed to the
Manager; the login is our own action, so its answer (or its absence) is
awaited with the link's timeout.

panoramisk's logger is silenced: its lines would carry the login secret
(``Fail to send <Action ... Secret=...>``) and customers' numbers (every
message at debug level, R-PRIVACY); the link logs what matters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from ..config import AmiSettings
from ._link import AmiError, EventHandler

__all__ = ["connect"]

_QUIET = logging.getLogger("ari_app.ami.panoramisk")
_QUIET.setLevel(logging.CRITICAL + 1)
_QUIET.propagate = False


class _Manager(Manager):
    """panoramisk's Manager without its own reconnect and ping."""

    def __init__(self, lost: asyncio.Future[str], **config: Any) -> None:
        super().__init__(**config)
        self._lost = lost

    def ping(self) -> None:
        """Off: AmiLink pings and waits for the answer."""

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        if not self._lost.done():
            self._lost.set_result(_lost_reason(exc))


def _lost_reason(exc: Any) -> str:
    if exc is None:
        return "closed by Asterisk"
    if isinstance(exc, Mapping) and str(exc.get("Event", "")).lower() == "shutdown":
        return f"Asterisk shut down ({exc.get('Shutdown') or 'no reason'})"
    if isinstance(exc, BaseException):
        return f"connection lost: {type(exc).__name__}: {exc}"
    return "connection lost"


class _Connection:
    def __init__(self, manager: _Manager, lost: asyncio.Future[str]) -> None:
        self._manager, self._lost = manager, lost

    async def action(self, fields: Mapping[str, str]) -> Mapping[str, Any]:
        if self._manager.protocol is None or self._manager.protocol.closed:
            raise AmiError("not connected")
        future = self._manager.send_action(dict(fields))
        # shield: cancelling a wait (the watchdog's timeout) must not cancel panoramisk's own future,
        # which it would later try to resolve
        return await asyncio.shield(future)

    async def wait_closed(self) -> str:
        return await asyncio.shield(self._lost)

    def close(self) -> None:
        self._manager.close()
        if not self._lost.done():
            self._lost.set_result("closed by us")


async def connect(settings: AmiSettings, handlers: Mapping[str, EventHandler],
                  classes: tuple[str, ...]) -> _Connection:
    """Open, hand to panoramisk, log in; raises OSError or AmiError (login refused)."""
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()
    manager = _Manager(lost, host=settings.host, port=settings.port, loop=loop, log=_QUIET,
                       encoding="utf8", ping_delay=3600, ping_interval=3600)
    for name, handler in handlers.items():
        manager.register_event(name, lambda _manager, message, handler=handler: handler(message))
    transport, protocol = await loop.create_connection(AMIProtocol, settings.host, settings.port)
    conn = _Connection(manager, lost)
    try:
        made: asyncio.Future[Any] = loop.create_future()
        made.set_result((transport, protocol))
        manager.connection_made(made)  # panoramisk's set-up of the protocol, without its login
        response = await conn.action({"Action": "Login", "Username": settings.username,
                                      "Secret": settings.password, "Events": ",".join(classes) or "off"})
        if str(response.get("Response", "")).lower() != "success":
            raise AmiError(f"login refused for user {settings.username!r}: "
                           f"{response.get('Message') or response.get('Response') or 'no answer'}")
    except BaseException:
        conn.close()
        raise
    return conn
