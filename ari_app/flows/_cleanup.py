"""Hanging up and destroying what a flow owns: gone already is fine, anything else is logged."""

from __future__ import annotations

import structlog

from ..ari import AriClient, AriError, AriNotFound

__all__ = ["destroy_bridge", "hangup"]

log = structlog.get_logger()


async def hangup(ari: AriClient, channel_id: str) -> None:
    try:
        await ari.hangup(channel_id)
    except AriNotFound:
        pass
    except AriError as e:
        log.warning("ari.hangup_failed", channel=channel_id, error=str(e))


async def destroy_bridge(ari: AriClient, bridge_id: str) -> None:
    try:
        await ari.destroy_bridge(bridge_id)
    except AriNotFound:
        pass
    except AriError as e:
        log.warning("ari.bridge_destroy_failed", bridge=bridge_id, error=str(e))
