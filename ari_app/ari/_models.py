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


def _str(kind: str, d: dict[str, Any], key: str, where: str = "") -> str:
    """An optional string field: absent or null -> ""; any other type is an error naming the field."""
    value = d.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{kind}: field '{where}{key}' is not a string ({type(value).__name__})")
    return value


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
        k = "Channel"
        return cls(
            id=ident,
            name=_str(k, d, "name"),
            state=_str(k, d, "state"),
            caller_number=_str(k, caller, "number", "caller."),
            caller_name=_str(k, caller, "name", "caller."),
            connected_number=_str(k, connected, "number", "connected."),
            connected_name=_str(k, connected, "name", "connected."),
            context=_str(k, dialplan, "context", "dialplan."),
            exten=_str(k, dialplan, "exten", "dialplan."),
            priority=int(dialplan.get("priority") or 0),
            app_name=_str(k, dialplan, "app_name", "dialplan."),
            app_data=_str(k, dialplan, "app_data", "dialplan."),
            creationtime=_str(k, d, "creationtime"),
            language=_str(k, d, "language"),
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
        channels = d.get("channels") or []
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ValueError("Bridge: field 'channels' is not a list of channel IDs")
        k = "Bridge"
        return cls(
            id=ident,
            technology=_str(k, d, "technology"),
            bridge_type=_str(k, d, "bridge_type"),
            bridge_class=_str(k, d, "bridge_class"),
            channels=tuple(channels),
            name=_str(k, d, "name"),
            creator=_str(k, d, "creator"),
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
        k = "Playback"
        return cls(
            id=ident,
            media_uri=_str(k, d, "media_uri"),
            target_uri=_str(k, d, "target_uri"),
            state=_str(k, d, "state"),
        )
