"""``[targets]`` (R-KPI 既定标准): the config's targets, checked key by key.

    [targets]
    min_calls = 20          # a ratio or average is judged over at least this many calls (default 1)
    live_every_s = 60       # how often the running service judges today's figures (0 = not live, else >= 30)
    [targets.queues.support]
    answer_rate = ">= 90%"  # or 0.9, or {min = 0.9}: answer rate is a minimum whatever the form
    abandon_rate = {max = 0.05}
    aht_s = 300
    [targets.agents]        # every agent
    outbound = 20           # outbound calls per day worked
    [targets.teams.sales]   # the team's agents: overrides [targets.agents] figure by figure
    outbound = 40

Which figures take a minimum and which a maximum is ``core.targets.TARGETABLE``; an error names the key
(``targets.queues.support.answer_rate: answer_rate takes a minimum (>=) …``). The defaults are
``core.targets``' (``MIN_CALLS``, ``LIVE_EVERY_S``, ``LIVE_MIN_GAP_S``).

This module does not import ``config`` (``config`` imports it): ``parse_targets`` is given config's reader
of the ``[targets]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from .core.targets import LIVE_EVERY_S, LIVE_MIN_GAP_S, MIN_CALLS, TARGETABLE, Target, TargetSet, parse_target
from .pbx_site import toml_key

__all__ = ["TargetsConfig", "parse_targets", "team_names"]


@dataclass(frozen=True, kw_only=True)
class TargetsConfig:
    """``[targets]`` (R-KPI 既定标准): parsed here; judged by ``core.targets``, live by ``events.kpi``."""
    set: TargetSet = field(default_factory=TargetSet)
    live_every_s: float = LIVE_EVERY_S  # how often the running service judges today's figures (0 = not live)


class Reader(Protocol):
    """What ``parse_targets`` needs of config's table reader (``config._Reader``)."""

    def get(self, key: str, kind: type, default: Any, *, check: Any = None, must: str = "") -> Any: ...

    def table_of(self, key: str) -> Mapping[str, Any]: ...

    def finish(self) -> None: ...


def team_names(callbacks: Any, queues: Iterable[str], agents: Mapping[str, Any]) -> tuple[str, ...]:
    """The teams agents belong to: the roster's ([callbacks]), else one per queue that is some agent's first."""
    if callbacks is not None:
        return tuple(callbacks.teams)
    firsts = {a.queues[0] for a in agents.values() if a.queues}
    return tuple(q for q in queues if q in firsts)


def _figures(data: Mapping[str, Any], path: str, scope: str, errors: list[str]) -> dict[str, Target]:
    out: dict[str, Target] = {}
    for figure, raw in data.items():
        key = f"{path}.{toml_key(figure)}"
        try:
            target = parse_target(figure, raw)
        except ValueError as e:
            errors.append(f"{key}: {e}")
            continue
        scopes = TARGETABLE[figure].scopes
        if scope not in scopes:
            where = ("[targets.queues.<queue>]" if scope == "agent"
                     else "[targets.agents] or [targets.teams.<team>]")
            errors.append(f"{key}: {figure} is counted per {' and per '.join(scopes)}, not per {scope}; "
                          f"set it under {where}")
            continue
        out[figure] = target
    return out


def _named_tables(tables: Mapping[str, Any], section: str, what: str, known: list[str], scope: str,
                  errors: list[str]) -> dict[str, dict[str, Target]]:
    """``[targets.queues.<queue>]`` or ``[targets.teams.<team>]``: each a table of figure = target."""
    out: dict[str, dict[str, Target]] = {}
    for name, table in tables.items():
        path = f"targets.{section}.{toml_key(name)}"
        if name not in known:
            errors.append(f"{path}: unknown {what} {name!r} ({section}: {', '.join(known) or 'none'})")
        elif not isinstance(table, dict):
            errors.append(f"{path}: must be a table of figure = target, got {table!r}")
        else:
            out[name] = _figures(table, path, scope, errors)
    return out


def parse_targets(r: Reader, errors: list[str], *, queues: Iterable[str],
                  teams: Iterable[str]) -> TargetsConfig:
    """``r``: config's reader of the ``[targets]`` table (it records its errors in ``errors`` too)."""
    min_calls = r.get("min_calls", int, MIN_CALLS, check=lambda v: v >= 1, must=">= 1")
    live_every_s = r.get("live_every_s", float, LIVE_EVERY_S,
                         check=lambda v: v == 0 or LIVE_MIN_GAP_S <= v <= 3600,
                         must=f"0 (not live) or {LIVE_MIN_GAP_S:g}-3600 seconds (each check re-reads today's records)")
    by_queue = _named_tables(r.table_of("queues"), "queues", "queue", list(queues), "queue", errors)
    agents = _figures(r.table_of("agents"), "targets.agents", "agent", errors)
    by_team = _named_tables(r.table_of("teams"), "teams", "team", list(teams), "agent", errors)
    r.finish()
    return TargetsConfig(set=TargetSet(queues=by_queue, agents=agents, teams=by_team, min_calls=min_calls),
                         live_every_s=live_every_s)
