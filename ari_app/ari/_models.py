"""Typed views of the ARI resources the call flows use (see rest-api/*.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

__all__ = ["Bridge", "Channel", "Playback"]


def _require_id(kind: str, d: Any) -> str:
    if not isinstance(d, dict):
        raise ValueError(f"{kind}: expected a JSON object, got {type(d).__name__}")
    ident = d.get("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError(f"{kind}: missing required field 'id'")
    return ident


def _obj(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, kw_only=True, slots=True)
class Channel:
    id: str
    name: str = ""
    state: str = ""
    caller_number: str = ""
    caller_name: str = ""
    connected_number: str = ""
    connected_name: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Any) -> Self:
        ident = _require_id("Channel", d)
        caller, connected, dialplan = _obj(d, "caller"), _obj(d, "connected"), _obj(d, "dialplan")
        return cls(
            id=ident,
            name=d.get("name", ""),
            state=d.get("state", ""),
            caller_number=caller.get("number", ""),
            caller_name=caller.get("name", ""),
            connected_number=connected.get("number", ""),
            connected_name=connected.get("name", ""),
            context=dialplan.get("context", ""),
            exten=dialplan.get("exten", ""),
            priority=int(dialplan.get("priority") or 0),
            app_name=dialplan.get("app_name", ""),
            app_data=dialplan.get("app_data", ""),
            creationtime=d.get("creationtime", ""),
            language=d.get("language", ""),
            channelvars={str(k): str(v) for k, v in _obj(d, "channelvars").items()},
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Bridge:
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    channels: tuple[str, ...] = ()
    name: str = ""
    creator: str = ""

    @classmethod
    def from_json(cls, d: Any) -> Self:
        ident = _require_id("Bridge", d)
        return cls(
            id=ident,
            technology=d.get("technology", ""),
            bridge_type=d.get("bridge_type", ""),
            bridge_class=d.get("bridge_class", ""),
            channels=tuple(d.get("channels") or ()),
            name=d.get("name", ""),
            creator=d.get("creator", ""),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Playback:
    id: str
    media_uri: str = ""
    target_uri: str = ""  # "channel:<id>" or "bridge:<id>"
    state: str = ""  # queued, playing, continuing, done, failed

    @classmethod
    def from_json(cls, d: Any) -> Self:
        ident = _require_id("Playback", d)
        return cls(
            id=ident,
            media_uri=d.get("media_uri", ""),
            target_uri=d.get("target_uri", ""),
            state=d.get("state", ""),
        )
