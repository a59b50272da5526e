"""R-KPI targets in the reports: which rows of a period missed their targets (``core.targets``).

The agents' teams come from the roster (``roster_file.make_roster``: the roster file, else one team per
queue); the roster is read only when some team has targets of its own.
"""

from __future__ import annotations

from typing import Mapping

from ..config import Config
from ..core.figures import Figures
from ..core.targets import Breach, active, breaches

__all__ = ["ActiveDays", "judge", "team_of"]


def team_of(cfg: Config) -> dict[str, str]:
    """Agent → team, for ``[targets.teams.<team>]``."""
    if not cfg.targets.set.teams:
        return {}
    from ..roster_file import make_roster

    roster = make_roster(cfg)
    return {agent: team for team in roster.teams for agent in roster.members(team)}


class ActiveDays:
    """Counts, day by day, the days each queue and agent was active (per-day targets of a month)."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str], int] = {}

    def add(self, by_queue: Mapping[str, Figures], by_agent: Mapping[str, Figures]) -> None:
        for kind, rows in (("queue", by_queue), ("agent", by_agent)):
            for name, f in rows.items():
                if active(f):
                    self.days[(kind, name)] = self.days.get((kind, name), 0) + 1


def judge(cfg: Config, by_queue: Mapping[str, Figures], by_agent: Mapping[str, Figures], *,
          days: ActiveDays | None = None, queue: str | None = None, agent: str | None = None,
          live_only: bool = False, teams: Mapping[str, str] | None = None) -> list[Breach]:
    """The period's breaches, of the rows a report shows (``--queue``/``--agent`` as in ``_rows``)."""
    targets = cfg.targets.set
    if not targets:
        return []
    found = breaches(by_queue, by_agent, targets, team_of=team_of(cfg) if teams is None else teams,
                     days=days.days if days is not None else None, live_only=live_only)
    return [b for b in found
            if (agent is None or (b.kind == "agent" and b.name == agent))
            and (queue is None or (b.kind == "queue" and b.name == queue))]
