"""What the caller hears from the agent side: the greeting on answer (R-GREET) and a transfer's
prompts (R-XFER-CONSENT, R-XFER-NAME). Pure: prompt ids in, prompt ids out.

Site prompts are prompts a site renders from its own config (``scripts/make-prompts --site``, see
``ari_app/site_prompts.py``): each agent's name (``agent-name-<id>``, from ``[agents.<id>] name``) and
the site's own texts (``[site_prompts.<id>]``, e.g. an organisation's name ``org-hotline`` or a
queue's name ``queue-<name>``). The core asks for one only when the site has it (``available``): an
agent without a configured name is announced by its ID alone.
"""

from __future__ import annotations

from collections.abc import Collection

from . import prompts

__all__ = ["agent_name_prompt", "greeting", "org_name", "queue_name", "agent_name", "transfer_connected", "transfer_hold"]

DEFAULT_ORG = "org-callcenter"  # 客户服务中心: the organisation's name when a queue names none


AGENT_NAME_PREFIX = "agent-name-"  # the one place it is written (site_prompts.py renders these)


def agent_name_prompt(agent_id: str) -> str:
    """The site prompt id of an agent's name (姓名): ``agent-name-<id>``."""
    return f"{AGENT_NAME_PREFIX}{agent_id}"


def agent_name(agent_id: str | None, available: Collection[str]) -> str | None:
    """The agent's name prompt, or None when the site has none (no ``name`` configured)."""
    if agent_id is None:
        return None
    pid = agent_name_prompt(agent_id)
    return pid if pid in available else None


def queue_name(queue: str, available: Collection[str] = ()) -> str | None:
    """The queue's name prompt ``queue-<name>``: a built-in one (prompts/manifest.toml) or the site's."""
    pid = f"queue-{queue}"
    return pid if pid in prompts.PROMPT_IDS or pid in available else None


def org_name(org: str, available: Collection[str] = ()) -> str:
    """The queue's organisation prompt when Asterisk has it (built in, or a site prompt found installed);
    otherwise the built-in ``org-callcenter``, never a gap in the greeting."""
    return org if org in prompts.PROMPT_IDS or org in available else DEFAULT_ORG


def greeting(agent_id: str, *, org: str = DEFAULT_ORG, time_of_day: str | None = None,
             available: Collection[str] = ()) -> tuple[str, ...]:
    """R-GREET, the seed's "您好，中国××(工号)为您服务！":

    您好 (``hello``), the organisation's name (``org``, see org_name()), 工号 and the ID digit by digit
    (1 is 幺), 为您服务. ``time_of_day`` (greet-morning … greet-evening) takes the place of 您好 when the
    queue wants it ("早上好，客户服务中心工号幺零二四为您服务"), as the seed's "早上/中午/下午好，欢迎致电…" does.
    """
    return (time_of_day or "hello", org_name(org, available), *prompts.agent_id_announcement(agent_id))


def transfer_hold(where: str | None) -> tuple[str, ...]:
    """R-XFER-CONSENT: "正在为您转接到<where>，请稍候"; without a name prompt "正在为您转接，请稍候"."""
    return ("xfer-to", where, "please-wait") if where else ("xfer-please-hold",)


def transfer_connected(agent_id: str | None, name: str | None) -> tuple[str, ...]:
    """R-XFER-NAME: "为您接通的是<name>，工号幺零二四，不好意思让您久等了".

    No name prompt: the ID alone; no agent (an extension): "不好意思让您久等了" alone.
    """
    if agent_id is None:
        return ("xfer-sorry-wait",)
    who = (name,) if name else ()
    return ("xfer-connected-to", *who, "agent-id-prefix", *prompts.digits(agent_id), "xfer-sorry-wait")
