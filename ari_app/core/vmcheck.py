"""R-VM-CHECK rounds: which teams check their voicemail together, and when.

The seed: "在正常工作日内，每家有限公司每天听取三次语音信箱留言内容。每天同时四家有限公司为
一轮次接听语音信箱留言，把所有有限公司分成6个轮次，每轮次有限公司按照时间间隔10分钟接听一次留言。"
— each company (team) checks three times a working day; four companies share a round; six
rounds, 10 minutes apart.

A *round* is a list of teams sharing one offset: round i (0-based) checks
``i * round_gap_s`` after ``check_start``, then every ``check_every_s``
(``check_times``). Without rounds every team is a round of its own, the
teams ``stagger_s`` apart in roster order (``core.callbacks.stagger``, the
behaviour before rounds existed). The rounds must fit in one check period:
``len(rounds) * round_gap_s <= check_every_s``, so round 1's next check
comes at least one gap after the last round's (the check load stays spread
evenly: the seed's 6 × 10 min in 2 h leaves an hour free).

Pure: no clock, no I/O; times are epoch seconds the caller computes.
"""

from __future__ import annotations

from typing import Iterable, Sequence

__all__ = ["ROUND_GAP_S", "check_times", "round_errors", "round_offsets"]

ROUND_GAP_S = 600.0  # the seed: "每轮次…按照时间间隔10分钟"


def round_offsets(rounds: Sequence[Sequence[str]], gap_s: float = ROUND_GAP_S) -> dict[str, float]:
    """team → its round's offset after ``check_start`` (round i: ``i * gap_s``)."""
    return {team: i * gap_s for i, teams in enumerate(rounds) for team in teams}


def round_errors(rounds: Sequence[Sequence[str]], *, gap_s: float, check_every_s: float,
                 teams: Iterable[str] | None = None, key: str = "callbacks.rounds",
                 gap_key: str = "callbacks.round_gap_s") -> list[str]:
    """Why ``rounds`` cannot be used, one message per problem ([] = fine). With ``teams`` (the roster's),
    a team no round lists, or a round's team not in the roster, is an error too."""
    errors: list[str] = []
    known = None if teams is None else list(teams)
    if not rounds:
        return [f"{key}: must list at least one round (leave it out for one team per round, stagger_s apart)"]
    if not gap_s > 0:
        errors.append(f"{gap_key}: must be > 0, got {gap_s!r}")
    first: dict[str, int] = {}
    for i, members in enumerate(rounds):
        if not members:
            errors.append(f"{key}[{i}]: an empty round (a round lists one team or more)")
        for team in members:
            if team in first:
                where = "this round" if first[team] == i else f"{key}[{first[team]}]"
                errors.append(f"{key}[{i}]: team {team!r} is already in {where} (a team checks in one round)")
                continue
            first[team] = i
            if known is not None and team not in known:
                errors.append(f"{key}[{i}]: unknown team {team!r} (teams: {', '.join(known)})")
    if known is not None:
        missing = [t for t in known if t not in first]
        if missing:
            errors.append(f"{key}: no round lists {', '.join(repr(t) for t in missing)} "
                          "(with rounds set, every team of the roster needs one)")
    n = len(rounds)
    if gap_s > 0 and n * gap_s > check_every_s:
        last = (n - 1) * gap_s
        when = ("before" if check_every_s < last else "at the same time as" if check_every_s == last
                else f"only {check_every_s - last:g} s after")
        errors.append(f"{gap_key}: {n} rounds × {gap_s:g} s = {n * gap_s:g} s is longer than check_every_s "
                      f"({check_every_s:g}): round 1's next check (+{check_every_s:g} s) would come {when} "
                      f"round {n}'s (+{last:g} s); use fewer rounds (teams can share one), a shorter "
                      "round_gap_s or a longer check_every_s")
    return errors


def check_times(first: float, every_s: float, spans: Iterable[tuple[float, float]], *,
                per_day: int = 0) -> list[float]:
    """One working day's check times: ``first + k * every_s`` (k = 0, 1, …) that fall in one of the
    day's shift ``spans`` [start, end), up to the end of the last span; only the first ``per_day``
    of them when ``per_day`` > 0 (the seed's three a day)."""
    spans = list(spans)
    if not spans:
        return []
    end = max(e for _, e in spans)
    out: list[float] = []
    t = first
    while t < end and (per_day <= 0 or len(out) < per_day):
        if any(s <= t < e for s, e in spans):
            out.append(t)
        t += every_s
    return out
