"""REST side of ARI: `AriConfig` and `AriClient` (a bounded pool of keep-alive connections)."""

from __future__ import annotations

import asyncio
import base64
import json as json_module
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
import yarl

from ._exceptions import AriBadRequest, AriConflict, AriHTTPError, AriNotFound, AriUnavailable
from ._models import Bridge, Channel, Playback

__all__ = ["DEFAULT_BRIDGE_TYPE", "AriClient", "AriConfig"]

# Mixing first: "dtmf_events,mixing" is reported to leave native RTP bridging on (no DTMF events).
DEFAULT_BRIDGE_TYPE = "mixing,dtmf_events"

_ERRORS: dict[int, type[AriHTTPError]] = {
    400: AriBadRequest,
    404: AriNotFound,
    409: AriConflict,
    422: AriBadRequest,
}

Params = Mapping[str, str | int | float | Sequence[str] | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class AriConfig:
    url: str  # e.g. "http://127.0.0.1:8088/ari"
    username: str
    password: str = field(repr=False)
    app: str
    request_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    # Keep-alive connections to Asterisk's HTTP server, well below its session limit (http.conf
    # sessionlimit, 100 by default). Requests beyond them wait their turn, first come first served.
    max_connections: int = 16


def _seg(value: str) -> str:
    """One URL-quoted path segment ('/' included: ids may contain anything)."""
    return quote(str(value), safe="")


# ARI's allowMultiple parameters: Asterisk URL-decodes a value, then splits it on ","
_MULTI = frozenset({"channel", "eventSource", "media"})


def _query(params: Params | None, method: str = "", path: str = "") -> dict[str, str | int | float]:
    """Drop None, booleans as "true"/"false", each value URL-quoted whole (issue 17: "," "&" "=" "/" too);
    a list's elements quoted one by one and joined with "," (ARI splits allowMultiple on it). A list
    element, or a value of an allowMultiple parameter, that holds "," would name a second target:
    refused (``AriBadRequest``) before anything is sent."""
    out: dict[str, str | int | float] = {}
    for key, value in (params or {}).items():
        match value:
            case None:
                continue
            case bool():
                out[key] = "true" if value else "false"
            case int() | float():
                out[key] = value
            case str():
                if key in _MULTI and "," in value:
                    raise AriBadRequest(400, method, path, f"{key}: {value[:40]!r} holds ',' (one value only)")
                out[key] = quote(value, safe="")
            case _:
                items = [str(v) for v in value]
                if any("," in v for v in items):
                    raise AriBadRequest(400, method, path, f"{key}: a list element holds ',' (one value each)")
                out[key] = ",".join(quote(v, safe="") for v in items)
    return out


class _Gate:
    """At most ``limit`` holders; waiters served first come first served, urgent ones before the rest.

    Under load Asterisk answers slowly and requests queue here; a rule's timer (R-RING's ring cut-off,
    R-WAIT's apology) must not wait behind hundreds of set-up requests of other calls."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    def queued(self) -> int:
        return len(self._waiting[0]) + len(self._waiting[1])

    async def acquire(self, urgent: bool) -> None:
        if self._free > 0 and not self.queued():
            self._free -= 1
            return
        line = self._waiting[0 if urgent else 1]
        waiter = asyncio.get_running_loop().create_future()
        line.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a place just as we were cancelled: pass it on
            elif waiter in line:
                line.remove(waiter)
            raise

    def release(self) -> None:
        for line in self._waiting:
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the place goes straight to the next waiter
                    return
        self._free += 1


_urgent: ContextVar[bool] = ContextVar("ari_urgent", default=False)


class AriClient:
    """Typed helpers over the ARI REST API. Every method raises AriHTTPError subclasses
    for error statuses and AriUnavailable when Asterisk cannot be reached.

    At most ``config.max_connections`` requests are in flight, each on a keep-alive connection;
    the rest wait their turn in arrival order, those made under ``urgent()`` first. There is one sender
    (aiohttp); the unit tests drive it against a local HTTP server (tests/unit/fake_ari.py)."""

    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._limit = max(1, config.max_connections)
        self._gate = _Gate(self._limit)  # requests beyond the pool are served in arrival order (urgent first)
        self._base = config.url.rstrip("/")
        token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=config.request_timeout_s)
        self._session: aiohttp.ClientSession | None = None  # made in the running loop, on first use

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @staticmethod
    @contextmanager
    def urgent() -> Iterator[None]:
        """Requests made inside (in this task) go ahead of the other waiting ones: a rule's timer firing."""
        token = _urgent.set(True)
        try:
            yield
        finally:
            _urgent.reset(token)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ low level

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Any:
        """`path` is relative to config.url and already quoted. Returns parsed JSON, None if empty."""
        await self._gate.acquire(_urgent.get())
        try:
            status, reason, body = await self._send(method, path, _query(params, method, path), json)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriUnavailable(method, path, f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._gate.release()
        if 200 <= status < 300:
            return json_module.loads(body) if body else None
        text = body.decode("utf-8", "replace")
        try:
            message = str(json_module.loads(text).get("message", text))
        except (ValueError, AttributeError):
            message = text or reason
        raise _ERRORS.get(status, AriHTTPError)(status, method, path, message)

    async def _send(self, method: str, path: str, query: dict[str, str | int | float], body: Any
                    ) -> tuple[int, str, bytes]:
        """One request on aiohttp (C-accelerated HTTP parsing), on a keep-alive connection of the pool:
        (status, reason phrase, body). httpx + httpcore cost ~1 ms of CPU per request under load (URL
        parsing, and a pool that checks every connection's socket on every request): two thirds of the
        service's CPU (issue 7)."""
        if self._session is None:
            # keep-alive shorter than Asterisk's (http.conf session_keep_alive, 15 s): never reuse a
            # connection Asterisk is closing
            connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=5.0)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  auto_decompress=False)
        url = self._base + path
        if query:
            # values are quoted by _query already; the key is ours (a fixed name)
            url += "?" + "&".join(f"{quote(k, safe='')}={v}" for k, v in query.items())
        headers, data = self._headers, None
        if body is not None:
            data, headers = json_module.dumps(body).encode(), self._json_headers
        async with self._session.request(method, yarl.URL(url, encoded=True), data=data, headers=headers) as resp:
            return resp.status, resp.reason or "", await resp.read()

    # ------------------------------------------------------------------ channels

    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.request("GET", "/channels")]

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self.request("GET", f"/channels/{_seg(channel_id)}"))

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}", params={"reason": reason})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/ring")

    async def originate(
        self,
        endpoint: str,
        *,
        app: str,
        app_args: str = "",
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        timeout_s: int | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        originator: str | None = None,
    ) -> Channel:
        params: Params = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args or None,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "timeout": timeout_s,
            "callerId": caller_id,
            "originator": originator,
        }
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(await self.request("POST", "/channels", params=params, json=body))

    async def get_var(self, channel_id: str, name: str) -> str | None:
        """The variable's value, None on 404 (unset variable -- or no such channel)."""
        try:
            res = await self.request(
                "GET", f"/channels/{_seg(channel_id)}/variable", params={"variable": name}
            )
        except AriNotFound:
            return None
        return str(res["value"])

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        path = f"/channels/{_seg(channel_id)}/variable"
        await self.request("POST", path, params={"variable": name, "value": value})

    async def play(
        self, channel_id: str, media: str | Sequence[str], playback_id: str | None = None
    ) -> Playback:
        params: Params = {"media": media, "playbackId": playback_id}
        res = await self.request("POST", f"/channels/{_seg(channel_id)}/play", params=params)
        return Playback.from_json(res)

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/moh", params={"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/moh")

    async def hold(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/hold")

    async def mute(self, channel_id: str, direction: str = "both") -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/mute", params={"direction": direction})

    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/mute", params={"direction": direction})

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        params: Params = {"context": context, "extension": extension, "priority": priority, "label": label}
        await self.request("POST", f"/channels/{_seg(channel_id)}/continue", params=params)

    async def rtp_statistics(self, channel_id: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"/channels/{_seg(channel_id)}/rtp_statistics"))

    async def snoop(
        self,
        channel_id: str,
        *,
        app: str,
        spy: str = "none",
        whisper: str = "none",
        snoop_id: str | None = None,
        app_args: str = "",
    ) -> Channel:
        params: Params = {
            "app": app, "spy": spy, "whisper": whisper, "snoopId": snoop_id, "appArgs": app_args or None
        }
        res = await self.request("POST", f"/channels/{_seg(channel_id)}/snoop", params=params)
        return Channel.from_json(res)

    async def record(
        self,
        channel_id: str,
        name: str,
        format: str = "wav",
        *,
        max_duration_s: int = 0,
        max_silence_s: int = 0,
        if_exists: str = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> dict[str, Any]:
        """Start a LiveRecording; returns its JSON (name, format, state, target_uri)."""
        params: Params = {
            "name": name,
            "format": format,
            "maxDurationSeconds": max_duration_s,
            "maxSilenceSeconds": max_silence_s,
            "ifExists": if_exists,
            "beep": beep,
            "terminateOn": terminate_on,
        }
        return dict(await self.request("POST", f"/channels/{_seg(channel_id)}/record", params=params))

    # ------------------------------------------------------------------ recordings (R-VM)

    async def stored_recordings(self) -> list[str]:
        """Names of every stored recording (``callcenter/<task>``, ``callcenter-fallback/<file>``)."""
        return [str(r["name"]) for r in await self.request("GET", "/recordings/stored")]

    async def stored_recording_exists(self, name: str) -> bool:
        try:
            await self.request("GET", f"/recordings/stored/{_seg(name)}")
        except AriNotFound:
            return False
        return True

    async def live_recording_exists(self, name: str) -> bool:
        try:
            await self.request("GET", f"/recordings/live/{_seg(name)}")
        except AriNotFound:
            return False
        return True

    async def copy_stored_recording(self, name: str, destination: str) -> None:
        await self.request("POST", f"/recordings/stored/{_seg(name)}/copy",
                           params={"destinationRecordingName": destination})

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{_seg(name)}")

    async def dtmf(self, channel_id: str, dtmf: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/dtmf", params={"dtmf": dtmf})

    # ------------------------------------------------------------------ bridges

    async def create_bridge(
        self, bridge_id: str | None = None, *, type: str = DEFAULT_BRIDGE_TYPE, name: str | None = None
    ) -> Bridge:
        params: Params = {"type": type, "bridgeId": bridge_id, "name": name}
        return Bridge.from_json(await self.request("POST", "/bridges", params=params))

    async def add_channel(
        self,
        bridge_id: str,
        channel_ids: str | Sequence[str],
        *,
        absorb_dtmf: bool = False,
        role: str | None = None,
        mute: bool = False,
    ) -> None:
        params: Params = {"channel": channel_ids, "role": role, "absorbDTMF": absorb_dtmf, "mute": mute}
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/addChannel", params=params)

    async def remove_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        path = f"/bridges/{_seg(bridge_id)}/removeChannel"
        await self.request("POST", path, params={"channel": channel_ids})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_seg(bridge_id)}")

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.from_json(b) for b in await self.request("GET", "/bridges")]

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self.request("GET", f"/bridges/{_seg(bridge_id)}"))

    async def bridge_start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/moh", params={"mohClass": moh_class})

    async def bridge_stop_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_seg(bridge_id)}/moh")

    async def bridge_play(
        self, bridge_id: str, media: str | Sequence[str], playback_id: str | None = None
    ) -> Playback:
        params: Params = {"media": media, "playbackId": playback_id}
        res = await self.request("POST", f"/bridges/{_seg(bridge_id)}/play", params=params)
        return Playback.from_json(res)

    # ------------------------------------------------------------------ misc resources

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{_seg(playback_id)}")

    async def get_application(self, name: str | None = None) -> dict[str, Any]:
        return dict(await self.request("GET", f"/applications/{_seg(name or self.config.app)}"))

    async def info(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/asterisk/info"))

    async def list_endpoints(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/endpoints"))

    async def get_endpoint(self, tech: str, resource: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"/endpoints/{_seg(tech)}/{_seg(resource)}"))
