"""Serving the control API (``listening``, ``serve``) within its limits (issue 17).

An idle connection, or one whose request line and headers are not all in, is closed after
``ApiSettings.keepalive_s`` (15 s, not a config key; aiohttp's own default is 3630 s); request lines and
header fields are at most 8190 bytes and ``MAX_HEADERS`` headers; bodies at most ``MAX_BODY`` bytes, read within
``_input.BODY_TIMEOUT_S``; at most ``max_connections`` open connections, the next ones answered 503 and
closed at once (a listen backlog of 128 waits before that).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from aiohttp import web

from ._controller import Controller
from ._server import build_app
from ._settings import MAX_HEADERS, ApiSettings

__all__ = ["listening", "serve"]

log = structlog.get_logger()


@asynccontextmanager
async def listening(controller: Controller, settings: ApiSettings) -> AsyncIterator[str]:
    """Serve the API inside the block; yields its base URL (with the real port if ``listen_port`` is 0)."""
    # issue 17: an idle connection, or one whose request line and headers are not all in, is closed
    # after keepalive_s (aiohttp's default is 3630 s); header lines and fields are bounded by aiohttp
    runner = web.AppRunner(build_app(controller, settings), access_log=None, shutdown_timeout=2.0,
                           keepalive_timeout=settings.keepalive_s, max_headers=MAX_HEADERS,
                           max_line_size=8190, max_field_size=8190)
    await runner.setup()
    server = None
    try:
        server = await asyncio.get_running_loop().create_server(
            _Admission(runner.server, settings.max_connections), settings.listen_host, settings.listen_port,
            backlog=128, reuse_address=True)
        host, port = server.sockets[0].getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        log.info("api.listening", url=url, tokens=len(settings.tokens))
        if not settings.tokens:
            log.warning("api.no_tokens", hint="every route but /health, /health/live (and /metrics from "
                                              "loopback, if allowed) answers 401; see `ari-app token new`")
        if settings.allow_remote:
            log.warning("api.remote_allowed", host=settings.listen_host,
                        hint="plain HTTP: put a TLS proxy in front when it leaves the machine")
        yield url
    finally:
        if server is not None:
            server.close()  # no new connections; the runner closes the open ones
        await runner.cleanup()
        log.info("api.stopped")


class _Admission:
    """The listening socket's protocol factory: a connection beyond ``limit`` open ones is answered
    503 and closed (issue 17), one ``api.connections_full`` warning per 10 s while it lasts."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self.server, self.limit, self._warned, self.refused = server, limit, 0.0, 0

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self.server.connections) < self.limit:
            return self.server()
        self.refused += 1
        if time.monotonic() - self._warned >= 10.0:
            self._warned = time.monotonic()
            log.warning("api.connections_full", limit=self.limit, refused=self.refused)
        return _Refuse(self.limit)


class _Refuse(asyncio.Protocol):
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        body = json.dumps({"error": f"too many connections (at most {self.limit} at once); try again"}).encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(head + body)
        transport.close()


async def serve(controller: Controller, settings: ApiSettings) -> None:
    """Run the API until cancelled, then close its socket and connections."""
    async with listening(controller, settings):
        await asyncio.get_running_loop().create_future()
