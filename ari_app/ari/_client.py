"""REST side of ARI: `AriConfig` and `AriClient` (one pooled httpx.AsyncClient)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from ._exceptions import AriBadRequest, AriConflict, AriHTTPError, AriNotFound, AriUnavailable
from ._models import Bridge, Channel, Playback

__all__ = ["AriClient", "AriConfig", "DEFAULT_BRIDGE_TYPE"]

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


def _seg(value: str) -> str:
    """One URL-quoted path segment ('/' included: ids may contain anything)."""
    return quote(str(value), safe="")


def _query(params: Params | None) -> dict[str, str | int | float]:
    """Drop None, booleans as "true"/"false", lists comma-joined (ARI splits allowMultiple on ',')."""
    out: dict[str, str | int | float] = {}
    for key, value in (params or {}).items():
        match value:
            case None:
                continue
            case bool():
                out[key] = "true" if value else "false"
            case str() | int() | float():
                out[key] = value
            case _:
                out[key] = ",".join(value)
    return out


class AriClient:
    """Typed helpers over the ARI REST API. Every method raises AriHTTPError subclasses
    for error statuses and AriUnavailable when Asterisk cannot be reached."""

    def __init__(self, config: AriConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            auth=(config.username, config.password),
            timeout=config.request_timeout_s,
            transport=transport,
            # well below Asterisk's HTTP session limit (http.conf sessionlimit, 100): httpx's own 100 took all
            # of them under load, and after a crash Asterisk refused the restarted service (issue 7)
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

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
        try:
            resp = await self._http.request(method, path, params=_query(params), json=json)
        except httpx.TransportError as exc:
            raise AriUnavailable(method, path, f"{type(exc).__name__}: {exc}") from exc
        if resp.is_success:
            return resp.json() if resp.content else None
        try:
            message = str(resp.json().get("message", resp.text))
        except (ValueError, AttributeError):
            message = resp.text or resp.reason_phrase
        raise _ERRORS.get(resp.status_code, AriHTTPError)(resp.status_code, method, path, message)

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
