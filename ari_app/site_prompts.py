"""Site prompts: voice prompts a site renders from its own service config (R-XFER-NAME, R-GREET).

Two sources, both in the config ari-app reads:

* ``[agents.<id>] name = "张伟"`` with ``name_pinyin = "zhang1 wei3"``: the agent's name prompt
  ``agent-name-<id>``, which the caller hears on a transfer (R-XFER-NAME) and, naming the target, in
  the transfer prompt (R-XFER-CONSENT). An agent without ``name`` has no name prompt and none is
  ever asked for.
* ``[site_prompts.<id>] zh = "湖北哲科服务热线"``, ``pinyin = "…"`` (and optional ``en``): the site's own
  texts, e.g. an organisation's name for a queue's ``greeting_org`` or ``queue-<name>`` for a queue
  that has no name in prompts/manifest.toml.

``scripts/make-prompts --site CONFIG --out DIR`` renders them into ``DIR/<lang>/<id>.wav`` (a studio
recording at ``DIR/studio/<lang>/<id>.wav`` replaces the synthetic one); ``scripts/pbx`` and the
Asterisk image's entrypoint install them next to the built-in prompts (``sound:callcenter/<id>``).

Pinyin, as in the manifest: Debian's espeak-ng has no Mandarin character dictionary, so a text with
Chinese characters needs tone-numbered pinyin (1-4, 5 = neutral), one syllable per character or
digit. It is asked for rather than guessed: surnames are often read otherwise than the common
character (单 Shàn, 曾 Zēng, 仇 Qiú). A text without Chinese characters ("Agent 1001") is read by the
English voice in both languages.

Stdlib only, like the core modules it uses (``core/announce.py`` names an agent's prompt): ``scripts/make-prompts``
imports it from the repository (no ari_app install or venv needed).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .core.announce import AGENT_NAME_PREFIX, agent_name_prompt

__all__ = ["ID_RE", "SitePrompt", "collect", "pinyin_error"]

ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HANZI_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff0-9]")
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
PINYIN_SYLLABLE_RE = re.compile(r"[a-zü:]+[1-5]", re.IGNORECASE)
ENTRY_KEYS = {"zh", "pinyin", "en"}


@dataclass(frozen=True, kw_only=True)
class SitePrompt:
    prompt_id: str
    zh: str  # the text as spoken (what a studio recording says)
    pinyin: str  # what the Mandarin voice reads; "" when zh has no Chinese characters
    en: str  # the English text (also what is read when pinyin is "")


def pinyin_error(zh: str, pinyin: str) -> str | None:
    """Why ``pinyin`` cannot be read for ``zh`` (None: it can). No Chinese characters: none needed."""
    if not CJK_RE.search(zh):
        return None
    if not pinyin.strip():
        return "missing: Chinese characters need tone-numbered pinyin (e.g. \"zhang1 wei3\")"
    if re.search(r"[a-z0-9]", PINYIN_SYLLABLE_RE.sub("", pinyin), re.IGNORECASE):
        return f"every syllable needs a tone number 1-5: {pinyin!r}"
    chars, syllables = len(HANZI_RE.findall(zh)), len(PINYIN_SYLLABLE_RE.findall(pinyin))
    if chars != syllables:
        return f"{syllables} syllables for {chars} characters of {zh!r}"
    return None


def _english(zh: str, pinyin: str) -> str:
    """The English reading: the text itself, or the pinyin without tone numbers ("zhang wei")."""
    if not CJK_RE.search(zh):
        return zh
    return " ".join(re.sub(r"[1-5]$", "", s) for s in pinyin.replace(",", " ").split())


def collect(data: Mapping[str, Any], builtin: Collection[str] = ()) -> tuple[list[SitePrompt], list[str]]:
    """The site prompts of a parsed config, and what is wrong with them (config paths in each message).

    ``builtin``: the prompt ids of prompts/manifest.toml; a site prompt may not take one of them (a studio
    recording replaces a built-in prompt, see scripts/make-prompts).
    """
    found: list[SitePrompt] = []
    errors: list[str] = []
    agents = data.get("agents")
    for agent_id, a in (agents.items() if isinstance(agents, Mapping) else ()):
        if not isinstance(a, Mapping) or "name" not in a:
            if isinstance(a, Mapping) and "name_pinyin" in a:
                errors.append(f"agents.{agent_id}.name_pinyin: set without name")
            continue
        name, pinyin = a.get("name"), a.get("name_pinyin", "")
        if not isinstance(name, str) or not name.strip() or not isinstance(pinyin, str):
            continue  # the config's own check names a bad type
        why = pinyin_error(name, pinyin)
        if why:
            errors.append(f"agents.{agent_id}.name_pinyin: {why}")
            continue
        found.append(SitePrompt(prompt_id=agent_name_prompt(str(agent_id)), zh=name.strip(),
                                pinyin=pinyin.strip() if CJK_RE.search(name) else "",
                                en=_english(name.strip(), pinyin)))
    table = data.get("site_prompts", {})
    if not isinstance(table, Mapping):
        return found, [*errors, f"site_prompts: must be a table of [site_prompts.<id>], got {table!r}"]
    for pid, entry in table.items():
        path = f"site_prompts.{pid}"
        if not ID_RE.match(pid):
            errors.append(f"{path}: ids are lower-case letters, digits and dashes")
            continue
        if pid.startswith(AGENT_NAME_PREFIX):
            errors.append(f"{path}: {AGENT_NAME_PREFIX}<id> is an agent's name: set [agents.<id>] name")
            continue
        if pid in builtin:
            errors.append(f"{path}: a built-in prompt (prompts/manifest.toml); replace it with a studio "
                          f"recording at prompts/studio/<lang>/{pid}.wav")
            continue
        if not isinstance(entry, Mapping):
            errors.append(f"{path}: must be a table with zh, pinyin and en")
            continue
        bad = [f"{path}.{k}: unknown key (zh, pinyin, en)" for k in sorted(entry.keys() - ENTRY_KEYS)]
        bad += [f"{path}.{k}: must be a non-empty string" for k in sorted(ENTRY_KEYS & entry.keys())
                if not isinstance(entry[k], str) or not entry[k].strip()]
        if "zh" not in entry:
            bad.append(f"{path}.zh: missing")
        if bad:
            errors += bad
            continue
        zh, pinyin = entry["zh"].strip(), entry.get("pinyin", "").strip()
        why = pinyin_error(zh, pinyin)
        if why:
            errors.append(f"{path}.pinyin: {why}")
            continue
        found.append(SitePrompt(prompt_id=pid, zh=zh, pinyin=pinyin if CJK_RE.search(zh) else "",
                                en=entry.get("en", "").strip() or _english(zh, pinyin)))
    return found, errors
