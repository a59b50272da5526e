"""The driver's connections: ARI (REST and a subscribeAll event stream), AMI, and /proc readings."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Callable
from typing import Any

import aiohttp

from .stats import cpu_seconds, rss_kib

__all__ = ["Ami", "Ari", "find_asterisk_pid", "proc_cpu", "proc_rss"]

# The only event types the driver needs (ARI's per-application event filter): less for Asterisk to send.
DRIVER_EVENTS = (
    "ChannelCreated",
    "ChannelDialplan",
    "ChannelStateChange",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "Dial",
    "PlaybackStarted",
)


class Ari:
    def __init__(self, base: str, user: str, password: str, app: str = "benchdrv") -> None:
        self.base = base.rstrip("/")
        self.user, self.password, self.app = user, password, app
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.session = aiohttp.ClientSession(
            headers={"Authorization": "Basic " + auth}, connector=aiohttp.TCPConnector(limit=30)
        )  # Asterisk: 100 HTTP sessions
        self.events = 0
        self._task: asyncio.Task[None] | None = None

    async def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, params=params, json=body) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text

    async def subscribe(self, on_event: Callable[[dict[str, Any]], None]) -> None:
        """The driver's own app subscribed to every channel (``channel:``), filtered to DRIVER_EVENTS.

        Not ``subscribeAll``: that adds every bridge, endpoint and device state, and once left
        Asterisk 22's device-state forwarding of the app stuck (GET /applications hung)."""
        ws = await self.session.ws_connect(
            f"{self.base.replace('http', 'ws', 1)}/events?app={self.app}&subscribeAll=false", max_msg_size=0
        )
        status, body = await self.request(
            "POST", f"/applications/{self.app}/subscription", params={"eventSource": "channel:"}
        )
        if status != 200:
            raise RuntimeError(f"ARI subscription to every channel: {status} {body}")
        status, body = await self.request(
            "PUT",
            f"/applications/{self.app}/eventFilter",
            body={"allowed": [{"type": t} for t in DRIVER_EVENTS]},
        )
        if status != 200:
            raise RuntimeError(f"ARI eventFilter: {status} {body}")

        async def pump() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                self.events += 1
                on_event(json.loads(msg.data))

        self._task = asyncio.get_running_loop().create_task(pump())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.session.close()


class Ami:
    """A minimal AMI client: login, actions with ActionID, events to a callback."""

    def __init__(self, host: str, port: int, user: str, secret: str) -> None:
        self.host, self.port, self.user, self.secret = host, port, user, secret
        self.on_event: Callable[[dict[str, str]], None] = lambda ev: None
        self._pending: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._seq = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, events: str = "agent") -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        await self._reader.readline()  # "Asterisk Call Manager/…"
        self._task = asyncio.get_running_loop().create_task(self._pump())
        r = await self.action("Login", Username=self.user, Secret=self.secret, Events=events)
        if r.get("Response") != "Success":
            raise RuntimeError(f"AMI login: {r.get('Message')}")

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        assert self._writer is not None
        self._seq += 1
        aid = f"bench-{self._seq}"
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._pending[aid] = fut
        lines = [f"Action: {name}", f"ActionID: {aid}", *(f"{k}: {v}" for k, v in fields.items())]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        return await asyncio.wait_for(fut, 10)

    async def _pump(self) -> None:
        assert self._reader is not None
        msg: dict[str, str] = {}
        while True:
            line = await self._reader.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            if text:
                key, _, value = text.partition(":")
                msg[key.strip()] = value.strip()
                continue
            if "Response" in msg and msg.get("ActionID") in self._pending:
                self._pending.pop(msg["ActionID"]).set_result(msg)
            elif "Event" in msg:
                self.on_event(msg)
            msg = {}

    async def close(self) -> None:
        if self._writer is not None:
            try:
                await asyncio.wait_for(self.action("Logoff"), 2)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                pass
            self._writer.close()
        if self._task is not None:
            self._task.cancel()


def find_asterisk_pid(root: str) -> int | None:
    """The Asterisk running in the PBX chroot (as scripts/pbx finds it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "asterisk":
                    continue
            if os.readlink(f"/proc/{entry}/root") == root:
                return int(entry)
        except OSError:
            continue
    return None


def proc_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            return cpu_seconds(f.read(), os.sysconf("SC_CLK_TCK"))
    except OSError:
        return None


def proc_rss(pid: int | None, key: str = "VmHWM") -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            return rss_kib(f.read(), key)
    except OSError:
        return None
