"""``AmiLink``: one AMI connection kept up forever, with a watchdog that notices a dead link.

A TCP connection to a frozen Asterisk (or through a dead NAT, a hung proxy)
stays "open" for a long time, and panoramisk's own ping only sends, it never
waits for the answer. So the link pings itself: every ``ping_every_s`` one
``Ping`` action, which must be answered within ``ping_timeout_s``. No answer,
an error, or the connection closing: the connection is closed, logged once
as ``ami.disconnected`` with the reason, and a new one is made after a
back-off (``reconnect_min_s`` doubling up to ``reconnect_max_s``).

The connection itself comes from ``connect`` (default: panoramisk, see
``_panoramisk.py``); tests pass a fake. Nothing here raises out of ``run()``
but cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog

from ..config import AmiSettings

__all__ = ["AmiConnection", "AmiError", "AmiLink", "ConnectFn", "EventHandler"]

log = structlog.get_logger()

EventHandler = Callable[[Mapping[str, Any]], None]


class AmiError(Exception):
    """AMI refused us (login) or answered nonsense."""


class AmiConnection(Protocol):
    """One logged-in AMI connection."""

    async def action(self, fields: Mapping[str, str]) -> Mapping[str, Any]:
        """Send one action; its response (``{"Response": "Success", ...}``)."""
        ...

    async def wait_closed(self) -> str:
        """Returns (with the reason) when the peer or the transport closed the connection."""
        ...

    def close(self) -> None: ...


# connect(settings, handlers by event name, event classes for the login's Events header)
ConnectFn = Callable[[AmiSettings, Mapping[str, EventHandler], tuple[str, ...]], Awaitable[AmiConnection]]
SleepFn = Callable[[float], Awaitable[Any]]


def _default_connect(settings: AmiSettings, handlers: Mapping[str, EventHandler],
                     classes: tuple[str, ...]) -> Awaitable[AmiConnection]:
    from ._panoramisk import connect

    return connect(settings, handlers, classes)


class AmiLink:
    """Run ``run()`` as a task; ``handlers`` (event name → callable) get each event's fields.

    ``classes`` are the AMI event classes to receive (the login's ``Events:``, e.g. ``cdr``).
    A handler must not block; one that raises is logged and the link goes on."""

    def __init__(self, settings: AmiSettings, handlers: Mapping[str, EventHandler], *,
                 classes: tuple[str, ...] = ("cdr",), connect: ConnectFn | None = None,
                 sleep: SleepFn = asyncio.sleep) -> None:
        self.settings = settings
        self._handlers = {name: self._guard(name, fn) for name, fn in handlers.items()}
        self._classes = classes
        self._connect: ConnectFn = connect or _default_connect
        self._sleep = sleep
        self.connected = asyncio.Event()  # set while a connection is logged in
        self.connections = 0  # connections made so far

    def backoff_delay(self, attempt: int) -> float:
        """Delay before reconnect attempt n (1-based): min * 2**(n-1), capped at max."""
        s = self.settings
        return min(s.reconnect_max_s, s.reconnect_min_s * 2 ** min(attempt - 1, 32))

    async def run(self) -> None:
        """Connect, watch, reconnect; until cancelled. Never raises otherwise."""
        s = self.settings
        where = {"host": s.host, "port": s.port}
        attempt = 0
        outage = False  # a connect already failed since the last connection (log it once)
        while True:
            try:
                async with asyncio.timeout(s.ping_timeout_s):
                    conn = await self._connect(s, self._handlers, self._classes)
            except Exception as exc:  # refused, timed out, login refused, a broken adapter
                if not outage:
                    log.warning("ami.connect_failed", **where, error=_describe(exc))
                outage = True
                error: str | None = _describe(exc)
            else:
                outage, attempt, error = False, 0, None
                self.connections += 1
                self.connected.set()
                log.info("ami.connected", **where, connection=self.connections)
                try:
                    reason = await self._watch(conn)
                except Exception as exc:  # a bug in the watchdog or the adapter: reconnect all the same
                    reason = f"watchdog failed: {exc!r}"
                finally:
                    self.connected.clear()
                    with contextlib.suppress(Exception):
                        conn.close()
                log.warning("ami.disconnected", **where, reason=reason, connection=self.connections)
            attempt += 1
            delay = self.backoff_delay(attempt)
            log.info("ami.reconnecting", **where, attempt=attempt, delay=delay,
                     **({"error": error} if error else {}))
            await self._sleep(delay)

    async def _watch(self, conn: AmiConnection) -> str:
        """Ping until the link is dead; returns why it is."""
        s = self.settings
        closed = asyncio.ensure_future(conn.wait_closed())
        try:
            while True:
                done, _ = await asyncio.wait({closed}, timeout=s.ping_every_s)
                if closed in done:
                    return _closed_reason(closed)
                ping = asyncio.ensure_future(conn.action({"Action": "Ping"}))
                done, _ = await asyncio.wait({closed, ping}, timeout=s.ping_timeout_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if ping not in done:
                    ping.cancel()
                    if closed in done:
                        return _closed_reason(closed)
                    return f"no answer to Ping within {s.ping_timeout_s:g} s"
                try:
                    response = ping.result()
                except Exception as exc:
                    return f"Ping failed: {_describe(exc)}"
                if str(response.get("Response", "")).lower() != "success":
                    why = response.get("Message") or response.get("Response") or "no response"
                    return f"Ping refused: {why}"
        finally:
            closed.cancel()

    def _guard(self, name: str, fn: EventHandler) -> EventHandler:
        def handle(fields: Mapping[str, Any]) -> None:
            try:
                fn(fields)
            except Exception:
                log.exception("ami.handler_failed", ami_event=name)
        return handle


def _closed_reason(closed: asyncio.Future[str]) -> str:
    try:
        return closed.result() or "connection closed"
    except Exception as exc:
        return f"connection closed: {_describe(exc)}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
