"""The site's prompts Asterisk really has (R-XFER-NAME, R-GREET), asked at every ARI connect.

An agent's name prompt (``agent-name-<id>``) or a site text (``[site_prompts.<id>]``) is rendered by
``scripts/make-prompts --site`` and installed by scripts/pbx or the Asterisk image; a site that set a
``name`` but did not render and install it would have the caller hear a gap (or lose the rest of the
announcement). So each configured one is looked up (``GET /sounds/callcenter%2F<id>``); the core is
told only of those present, and each missing one is logged once per connect with the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import structlog

from ..ari import AriError, AriNotFound
from ..core.prompts import MEDIA_PREFIX

__all__ = ["present"]

log = structlog.get_logger()
SOUND_DIR = MEDIA_PREFIX.removeprefix("sound:")  # "callcenter/"


CHECKS_AT_ONCE = 16  # lookups in flight at a time: a site with hundreds of named agents resyncs promptly


async def present(ari: Any, prompt_ids: Iterable[str]) -> frozenset[str]:
    """The ids of ``prompt_ids`` Asterisk has a sound for. When Asterisk cannot say (an error other than
    404), the id is kept: better a name that may play than none at all."""
    ids = list(prompt_ids)
    gate = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def has(pid: str) -> bool:
        async with gate:
            try:
                await ari.request("GET", f"/sounds/{quote(SOUND_DIR + pid, safe='')}")
            except AriNotFound:
                return False
            except AriError as e:
                log.warning("prompts.site_check_failed", prompt=pid, error=str(e))
            return True

    there = await asyncio.gather(*(has(pid) for pid in ids))
    missing = [pid for pid, ok in zip(ids, there) if not ok]
    if missing:
        log.warning("prompts.site_missing", prompts=missing,
                    hint="render them with scripts/make-prompts --site CONFIG --out DIR and install DIR "
                         "(scripts/pbx: PBX_SITE_PROMPTS=DIR; the Asterisk image: site/prompts/)")
    return frozenset(pid for pid, ok in zip(ids, there) if ok)
