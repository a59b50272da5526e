"""Websocket side of ARI: `EventStream` keeps one /ari/events connection up, forever."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import structlog
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from ._client import AriConfig
from ._events import Event, UnknownEvent, parse_event

__all__ = ["EventStream", "events_url"]

log = structlog.get_logger()


class WebSocketLike(Protocol):
    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def close(self) -> None: ...


ConnectFn = Callable[[str], Awaitable[WebSocketLike]]
SleepFn = Callable[[float], Awaitable[Any]]


def events_url(config: AriConfig) -> str:
    """http(s)://host:port/ari -> ws(s)://host:port/ari/events?app=..&subscribeAll=false&api_key=u:p"""
    url = urlsplit(config.url)
    scheme = {"http": "ws", "https": "wss"}.get(url.scheme, url.scheme)
    query = urlencode(
        {"app": config.app, "subscribeAll": "false", "api_key": f"{config.username}:{config.password}"}
    )
    return urlunsplit((scheme, url.netloc, url.path.rstrip("/") + "/events", query, ""))


def _excerpt(message: str | bytes, limit: int = 200) -> str:
    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


class EventStream:
    """Connects, awaits `on_connect()` (resync) before delivering that connection's events
    to `on_event` (sync, must only route), and reconnects with exponential back-off.

    `connect`, `sleep` and `jitter` (maps the back-off delay to the delay slept, e.g.
    `lambda d: random.uniform(0, d)` for full jitter; None = no jitter) are injectable for tests.
    """

    def __init__(
        self,
        config: AriConfig,
        on_event: Callable[[Event], None],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        *,
        connect: ConnectFn | None = None,
        sleep: SleepFn = asyncio.sleep,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self._config = config
        self._on_event = on_event
        self._on_connect = on_connect
        self._connect: ConnectFn = connect or self._default_connect
        self._sleep = sleep
        self._jitter = jitter
        self.connected = asyncio.Event()  # set while a connection is up and resynced
        self.connections = 0  # websocket connections opened so far
        self._unknown_types: set[str] = set()  # event types logged as unknown (once each)

    def _default_connect(self, url: str) -> Awaitable[WebSocketLike]:
        # A roomy receive queue: events keep arriving while on_connect resyncs, and Asterisk
        # drops a client whose socket does not drain (websocket write timeout).
        return ws_connect(
            url, open_timeout=self._config.request_timeout_s, close_timeout=2, max_queue=4096, max_size=2**24
        )

    def backoff_delay(self, attempt: int) -> float:
        """Delay before reconnect attempt n (1-based): min * 2**(n-1), capped at max."""
        cfg = self._config
        delay = min(cfg.reconnect_max_s, cfg.reconnect_min_s * 2 ** min(attempt - 1, 32))
        return self._jitter(delay) if self._jitter else delay

    async def run(self) -> None:
        """Run until cancelled. Never raises for connection or event problems."""
        url = events_url(self._config)
        where = {"app": self._config.app, "host": urlsplit(url).netloc}
        attempt = 0
        while True:
            try:
                ws = await self._connect(url)
            except Exception as exc:
                log.warning("ari.connect_failed", **where, error=repr(exc))
            else:
                self.connections += 1
                log.info("ari.connected", **where, connection=self.connections)
                try:
                    if self._on_connect is not None:
                        await self._on_connect()  # events of this connection wait in the socket
                    self.connected.set()
                    attempt = 0
                    async for message in ws:
                        self._handle(message)
                    log.warning("ari.disconnected", **where, reason="closed by peer")
                except ConnectionClosed as exc:
                    log.warning("ari.disconnected", **where, reason=str(exc))
                except Exception as exc:  # on_connect failed, or a broken fake/transport
                    log.warning("ari.disconnected", **where, reason=repr(exc), exc_info=True)
                finally:
                    self.connected.clear()
                    with contextlib.suppress(Exception):
                        await ws.close()
            attempt += 1
            delay = self.backoff_delay(attempt)
            log.info("ari.reconnecting", **where, attempt=attempt, delay=delay)
            await self._sleep(delay)

    def _handle(self, message: str | bytes) -> None:
        obj: Any = None
        try:
            obj = json.loads(message)
            event = parse_event(obj)
        except Exception as exc:  # bad JSON, bad UTF-8, MalformedEvent...
            # R-PRIVACY (issue 17): what was wrong, never the frame's content (a caller's number is in it)
            etype = obj.get("type") if isinstance(obj, dict) else None
            log.warning("ari.event_malformed", error=str(exc), size=len(message),
                        event_type=_excerpt(etype, 64) if isinstance(etype, str) else None)
            return
        if isinstance(event, UnknownEvent) and _excerpt(event.type, 64) not in self._unknown_types:
            # delivered all the same (as UnknownEvent, raw kept); said once per type, not per event
            self._unknown_types.add(_excerpt(event.type, 64))
            log.info("ari.event_unknown", event_type=_excerpt(event.type, 64))
        try:
            self._on_event(event)
        except Exception:
            log.exception("ari.handler_failed", key="on_event", event_type=event.type)
