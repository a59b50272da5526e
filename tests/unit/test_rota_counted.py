"""issue 17, item 3: the duty rota (R-VM-RR) is counted, not walked day by day, past the last day that
has a holiday, an extra working day or leave; ``GET /roster/duty`` takes days within a year of today.

The counted rota must give exactly what the day-by-day walk of 09ab527 gives (the reference below, a
copy of that loop): a property test over random teams, shifts, calendars, leave and pointers. On
09ab527 ``test_a_far_day_is_counted_fast`` walks 2.9 million days per team (about 17 s each, and
9999-12-31 ends in an OverflowError): it fails its time limit.
"""

from __future__ import annotations

import time as clock
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ari_app.core.callbacks import CallbackRules, Callbacks, RotaPointer
from ari_app.core.roster import LeaveEntry, Roster, Shift, Team

START = date(2025, 3, 3)


def reference(cb: Callbacks, team: str, p: RotaPointer, day: date) -> RotaPointer:
    """09ab527's walk, for the cases ``_advance`` walks (the pointer is before ``day``)."""
    d = day if p.day is None else p.day + timedelta(days=1)
    last, pick = p.last_agent, None
    while d <= day:
        if cb.roster.works_on(team, d):
            pick = cb._next_after(team, last, lambda a, d=d: not cb.roster.on_leave(a, d))
            last = pick or last
        d += timedelta(days=1)
    return RotaPointer(last_agent=last, day=day, duty=pick)


days = st.integers(0, 120).map(lambda n: START + timedelta(days=n))


@st.composite
def rotas(draw):
    agents = tuple(sorted(draw(st.sets(st.sampled_from(["1001", "1002", "1003", "1010", "2001"]), min_size=1))))
    shifts = tuple(Shift(name=f"s{i}", weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))))
                   for i in range(draw(st.integers(1, 2))))
    leave = draw(st.lists(st.builds(lambda a, d: LeaveEntry(agent_id=a, day=d), st.sampled_from(agents), days),
                          max_size=6))
    roster = Roster([Team(name="t", agents=agents, shifts=shifts)], holidays=draw(st.lists(days, max_size=4)),
                    extra_workdays=draw(st.lists(days, max_size=3)), leave=leave)
    pointer = draw(st.one_of(st.just(RotaPointer()), st.builds(
        lambda a, d, duty: RotaPointer(last_agent=a, day=d, duty=duty),
        st.one_of(st.none(), st.sampled_from(agents)), days, st.one_of(st.none(), st.sampled_from(agents)))))
    target = START + timedelta(days=draw(st.integers(0, 800)))
    return roster, pointer, target


@given(rotas())
def test_counted_rota_is_the_walked_rota(case):
    roster, pointer, target = case
    cb = Callbacks(CallbackRules(), roster, now=0.0)
    if pointer.day is not None and pointer.day >= target:
        return  # not a walk: the same code as before
    assert cb._advance("t", pointer, target) == reference(cb, "t", pointer, target)


def test_working_days_counts_by_weekday():
    roster = Roster([Team(name="t", agents=("1001",), shifts=(Shift(weekdays=frozenset({0, 2})),))])
    for first in range(7):
        for n in range(30):
            a = START + timedelta(days=first)
            b = a + timedelta(days=n - 1)
            walked = sum((a + timedelta(days=i)).weekday() in {0, 2} for i in range(n))
            assert roster.working_days("t", a, b) == walked


def test_a_far_day_is_counted_fast():
    roster = Roster([Team(name="t", agents=("1001", "1002", "1003"))], leave=[LeaveEntry(agent_id="1002",
                                                                                       day=START)])
    cb = Callbacks(CallbackRules(), roster, now=0.0)
    began = clock.perf_counter()
    p = cb._advance("t", RotaPointer(last_agent="1001", day=START), date(9999, 12, 31))  # a Friday
    assert clock.perf_counter() - began < 0.5
    assert p.day == date(9999, 12, 31) and p.duty in ("1001", "1002", "1003")
    assert roster.plain_from() == START + timedelta(days=1)
