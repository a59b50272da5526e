"""Issue 18 on both backends: leave kinds (R-LEAVE 第5条 sick leave), shift swaps (R-LEAVE 换班) and excused
lateness (R-SHIFT 第十一条). On the old code (099d431, schema v5) none of these columns or tables exist."""

from __future__ import annotations

from datetime import date

from ari_app.core.lateness import Excuse
from ari_app.core.roster import LeaveEntry, SwapEntry

WED, SAT = date(2026, 12, 9), date(2026, 12, 12)


def test_leave_keeps_its_kind(repo):
    sick = LeaveEntry(agent_id="1001", day=WED, kind="sick")
    plain = LeaveEntry(agent_id="1002", day=WED, shift="day", overridden_by="sup-li")
    repo.add_leave(sick)
    repo.add_leave(plain)
    assert repo.leave() == [sick, plain]
    assert [e.kind for e in repo.leave()] == ["sick", "personal"]


def test_swaps_are_kept_per_swap_and_removed_together(repo):
    there = SwapEntry(swap_id="ex-1", agent_id="1001", day=WED, shift=None, taker="3001")
    back = SwapEntry(swap_id="ex-1", agent_id="3001", day=SAT, shift="day", taker="1001", overridden_by="sup-li")
    other = SwapEntry(swap_id="sw-2", agent_id="1002", day=WED, shift="day", taker="3002")
    repo.add_swap([there, back])
    repo.add_swap([other, there])  # a repeat changes nothing
    assert repo.swaps() == [there, other, back]
    assert type(repo.swaps()[0].day) is date
    assert repo.remove_swap("ex-1") == 2
    assert repo.remove_swap("ex-1") == 0
    assert repo.swaps() == [other]


def test_excuses_by_day_range_and_a_second_replaces_the_first(repo):
    bus = Excuse(agent_id="1001", day=WED, reason="班车晚点", by="sup-li", at=1.5)
    snow = Excuse(agent_id="1002", day=SAT, reason="暴雪", by="sup-wang", at=2.0)
    repo.add_excuse(bus)
    repo.add_excuse(snow)
    assert repo.excuses(WED, SAT) == [bus, snow]
    assert repo.excuses(date(2026, 12, 10), date(2026, 12, 11)) == []
    assert repo.excuses(SAT, SAT) == [snow]
    again = Excuse(agent_id="1001", day=WED, reason="地震", by="sup-wang", at=3.0)
    repo.add_excuse(again)
    assert repo.excuses(WED, WED) == [again]
    assert type(repo.excuses(WED, WED)[0].day) is date


def test_leave_kept_at_v5_is_personal_leave_after_v6(url, backend, raw, monkeypatch):
    from ari_app.store import open_store, postgres, sqlite

    module = sqlite if backend == "sqlite" else postgres
    monkeypatch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:5])
    old = open_store(url)
    assert old.schema_version == 5
    old.close()
    raw("INSERT INTO agent_leave (agent_id, day, shift, overridden_by) VALUES ('1001', '2026-12-09', '', NULL)")
    monkeypatch.undo()
    s = open_store(url)
    assert s.schema_version == 6
    assert s.leave() == [LeaveEntry(agent_id="1001", day=WED, kind="personal")]
    assert s.swaps() == [] and s.excuses(WED, WED) == []
    s.close()
