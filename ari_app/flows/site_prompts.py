"""The site's prompts Asterisk really has (R-XFER-NAME, R-GREET), asked at every ARI connect.

An agent's name prompt (``agent-name-<id>``) or a site text (``[site_prompts.<id>]``) is rendered by
``scripts/make-prompts --site`` and installed by scripts/pbx or the Asterisk image; a site that set a
``name`` but did not render and install it would have the caller hear a gap (or lose the rest of the
announcement). So each configured one is looked up (``GET /sounds/callcenter%2F<id>``); the core is
told only of those present, and each missing one is logged once per connect with the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import structlog

from ..ari import AriError, AriNotFound
from ..core.prompts import MEDIA_PREFIX

__all__ = ["present"]

log = structlog.get_logger()
SOUND_DIR = MEDIA_PREFIX.removeprefix("sound:")  # "callcenter/"


async def present(ari: Any, prompt_ids: Iterable[str]) -> frozenset[str]:
    """The ids of ``prompt_ids`` Asterisk has a sound for. When Asterisk cannot say (an error other than
    404), the id is kept: better a name that may play than none at all."""
    found: set[str] = set()
    missing: list[str] = []
    for pid in prompt_ids:
        try:
            await ari.request("GET", f"/sounds/{quote(SOUND_DIR + pid, safe='')}")
        except AriNotFound:
            missing.append(pid)
            continue
        except AriError as e:
            log.warning("prompts.site_check_failed", prompt=pid, error=str(e))
        found.add(pid)
    if missing:
        log.warning("prompts.site_missing", prompts=missing,
                    hint="render them with scripts/make-prompts --site CONFIG --out DIR and install DIR "
                         "(scripts/pbx: PBX_SITE_PROMPTS=DIR; the Asterisk image: site/prompts/)")
    return frozenset(found)
