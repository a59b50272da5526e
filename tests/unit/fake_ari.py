"""A local HTTP server standing in for Asterisk's ARI, for AriClient's unit tests.

The client's only sender (aiohttp, the one production uses) talks to it over real TCP. Each test
programs it: canned replies (status, body, delay) served in order, 204 with no body when none is left;
``hold()``/``release()`` to keep every request waiting at the server; ``arrived(n)`` to wait until n
requests came in. It records every request (``requests``, ``last``) and the concurrency it saw.
The ``ari_server`` fixture (tests/unit/conftest.py) serves one per test.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the server received it."""

    method: str
    url: str  # scheme://host:port + the request target as sent
    raw_path: str  # the request target as sent, query string included
    query: dict[str, str]  # decoded
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def path(self) -> str:
        """The raw (still quoted) path, without the query string."""
        return self.raw_path.split("?")[0]


@dataclass(frozen=True, slots=True)
class _Canned:
    status: int
    body: Any
    delay: float


class FakeAri:
    def __init__(self) -> None:
        self.url = ""  # http://127.0.0.1:<port>/ari once serving
        self.requests: list[Seen] = []
        self.peers: set[tuple[str, int]] = set()  # client (host, port) pairs: one per TCP connection
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0  # every reply this late (a slow Asterisk), unless its own delay says otherwise
        self._replies: deque[_Canned] = deque()
        self._open = asyncio.Event()
        self._open.set()
        self._arrival = asyncio.Condition()

    # ------------------------------------------------------------------ programming it

    def reply(self, status: int = 204, body: Any = None, *, delay: float | None = None) -> None:
        """Queue the answer to the next request: no body (None), text (str) or JSON (anything else)."""
        self._replies.append(_Canned(status, body, self.delay if delay is None else delay))

    def hold(self) -> None:
        """Requests from now on wait at the server (recorded, not answered) until ``release()``."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def arrived(self, n: int) -> None:
        """Return once at least n requests have come in."""
        async with self._arrival:
            await self._arrival.wait_for(lambda: len(self.requests) >= n)

    # ------------------------------------------------------------------ what it saw

    @property
    def last(self) -> Seen:
        return self.requests[-1]

    @property
    def order(self) -> list[str]:
        """The ``n`` query parameter of each request, in arrival order."""
        return [r.query.get("n", "") for r in self.requests]

    # ------------------------------------------------------------------ serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername")[:2])  # type: ignore[union-attr]
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = await request.read()
            canned = self._replies.popleft() if self._replies else _Canned(204, None, self.delay)
            async with self._arrival:
                self.requests.append(Seen(
                    method=request.method, url=str(request.url), raw_path=request.raw_path,
                    query=dict(request.query), headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                ))
                self._arrival.notify_all()
            await self._open.wait()
            if canned.delay:
                await asyncio.sleep(canned.delay)
            if canned.body is None:
                return web.Response(status=canned.status)
            if isinstance(canned.body, str):
                return web.Response(status=canned.status, text=canned.body)
            return web.json_response(canned.body, status=canned.status)
        finally:
            self.in_flight -= 1

    @classmethod
    @asynccontextmanager
    async def serve(cls) -> AsyncIterator[FakeAri]:
        fake = cls()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", fake._handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        fake.url = str(server.make_url("/ari"))
        try:
            yield fake
        finally:
            fake.release()  # a test that held requests (a timeout) leaves no handler waiting
            await server.close()
