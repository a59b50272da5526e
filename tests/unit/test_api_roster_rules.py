"""Issue 18 through the HTTP API: the seed's leave rules (R-LEAVE), shift swaps (换班) and excused lateness
(R-SHIFT 第十一条). A real ``CallbackDesk`` with a real SQLite store; the clock stands at Monday 2026-12-07
10:00 Asia/Shanghai. On the old code (099d431) there is no /roster/swap, no /attendance/excuse, and leave
has no rules but one-per-shift (a third leave day, a same-day request were granted): every test fails there.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from ari_app import api
from ari_app.core.callbacks import CallbackRules
from ari_app.core.lateness import Excuse
from ari_app.core.roster import Roster, Shift, SwapEntry, Team
from ari_app.flows.desk import CallbackDesk
from ari_app.store.sqlite import Store
from api_auth import SETTINGS, auth

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH).timestamp()  # Monday


class Controller:
    def __init__(self, desk: CallbackDesk) -> None:
        self.desk = desk

    def agents(self) -> list[dict]:
        return []

    def ari_connected(self) -> bool:
        return True

    def callbacks(self) -> CallbackDesk:
        return self.desk


@pytest.fixture
async def desk(tmp_path):
    store = Store(tmp_path / "roster.db")
    roster = Roster([Team(name="day", agents=("1001", "1002", "1003")),
                     Team(name="weekend", agents=("3001", "3002"),
                          shifts=(Shift(name="day", weekdays=frozenset({5, 6})),))])

    async def hold(agent: str) -> bool:
        return False

    d = CallbackDesk(rules=CallbackRules(), roster=roster, store=store, ari=object(), app="test",
                     publish=lambda name, fields: None, dispatch=lambda item: None, register=lambda c, f: None,
                     agent_interface=lambda agent: None, hold_agent=hold, release_agent=lambda agent: None,
                     agent_busy=lambda agent: False, trunk=None, keys=None, clock=lambda: NOW)
    runner = asyncio.create_task(d.run())
    yield d
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    store.close()


@pytest.fixture
async def client(desk):
    async with TestClient(TestServer(api.build_app(Controller(desk), SETTINGS))) as c:
        yield c


async def post(client, path, body, who="sam", method="POST"):
    r = await client.request(method, path, json=body, headers=auth(who))
    return r.status, await r.json()


# -- leave: each refusal names its rule ---------------------------------------------------------------------------
async def test_leave_refusals_name_the_seed_s_rule_and_a_supervisor_overrides_them(client, desk):
    with capture_logs() as logs:
        # 第5条 须提前一天办理 (急症除外): today, personal leave is refused; sick leave is not
        status, got = await post(client, "/roster/leave", {"agent_id": "1001", "day": "2026-12-07"})
        assert status == 409 and "(R-LEAVE 第5条: 请假或换班(急症除外)须提前一天办理)" in got["error"]
        assert (await post(client, "/roster/leave", {"agent_id": "1001", "day": "2026-12-07", "kind": "sick"}))[0] == 200
        # 第2条 一个月内允许请假两天
        assert (await post(client, "/roster/leave", {"agent_id": "1001", "day": "2026-12-09"}))[0] == 200
        status, got = await post(client, "/roster/leave", {"agent_id": "1001", "day": "2026-12-10"})
        assert (status, got) == (409, {"error": "agent 1001 would have 3 leave days in 2026-12 (2026-12-07, "
                                                "2026-12-09, 2026-12-10); at most 2 a month (R-LEAVE 第2条: "
                                                "一个月内允许请假两天)"})
        status, got = await post(client, "/roster/leave", {"agent_id": "1001", "day": "2026-12-10", "override": True})
        assert status == 200 and (got["overridden_by"], got["rules_overridden"]) == ("sam", ["two_leave_days"])
    events = [(x["event"], x.get("rules")) for x in logs if x["event"].startswith("roster.")]
    assert events == [("roster.leave_refused", ["a_day_ahead"]), ("roster.leave_granted", None),
                      ("roster.leave_granted", None), ("roster.leave_refused", ["two_leave_days"]),
                      ("roster.leave_granted", None), ("roster.leave_override", ["two_leave_days"])]
    assert [(e.day.isoformat(), e.kind, e.overridden_by) for e in desk.store.leave()] == [
        ("2026-12-07", "sick", None), ("2026-12-09", "personal", None), ("2026-12-10", "personal", "sam")]
    status, got = await post(client, "/roster/leave", {"agent_id": "1002", "day": "2026-12-09", "kind": "vacation"})
    assert (status, got) == (400, {"error": 'kind: must be personal or sick, got "vacation"'})


# -- swaps ---------------------------------------------------------------------------------------------------------
async def test_a_swap_is_granted_kept_listed_seen_by_the_duty_rota_and_cancelled(client, desk):
    status, got = await post(client, "/roster/swap", {"agent_id": "1001", "day": "2026-12-08", "taker": "3001"},
                             who="olga")
    assert status == 200 and got["granted"] is True
    swap_id = got["swap_id"]
    entry = SwapEntry(swap_id=swap_id, agent_id="1001", day=date(2026, 12, 8), shift=None, taker="3001")
    assert desk.store.swaps() == [entry]
    r = await client.get("/roster/swaps", headers=auth("olga"))
    assert await r.json() == [{"swap_id": swap_id, "agent_id": "1001", "day": "2026-12-08", "shift": None,
                               "taker": "3001", "overridden_by": None}]
    r = await client.get("/roster/duty?day=2026-12-08", headers=auth("sam"))
    assert (await r.json())["teams"]["day"]["agent"] == "1002"  # 1001 handed the day away: skipped (R-VM-RR)
    # 第3条: a second agent of the team may not take leave in that shift
    status, got = await post(client, "/roster/leave", {"agent_id": "1002", "day": "2026-12-08"})
    assert status == 409 and "already has 1001 on leave or swapping away in shift 'day'" in got["error"]
    assert "one agent per team per shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班)" in got["error"]  # cites it
    assert (await post(client, "/roster/swap", {"swap_id": swap_id}, method="DELETE")) == (
        200, {"cancelled": [{"swap_id": swap_id, "agent_id": "1001", "day": "2026-12-08", "shift": None,
                             "taker": "3001", "overridden_by": None}]})
    assert desk.store.swaps() == [] and not desk.roster.off("1001", "2026-12-08")
    assert (await post(client, "/roster/swap", {"swap_id": swap_id}, method="DELETE"))[0] == 404


async def test_swap_refusals_name_the_rule_and_the_override_is_logged(client, desk):
    with capture_logs() as logs:
        # 第6条 换班后严禁连续上班: 1002 already works the day shift on Tuesday
        status, got = await post(client, "/roster/swap", {"agent_id": "1001", "day": "2026-12-08", "taker": "1002"})
        assert status == 409 and got["error"].endswith("(R-LEAVE 第6条: 换班后严禁连续上班)")
        status, got = await post(client, "/roster/swap", {"agent_id": "1001", "day": "2026-12-08", "taker": "1002",
                                                          "override": True}, who="olga")
        assert (status, got) == (403, {"error": "token olga (role ops) may not override the swap rules (supervisor "
                                                "only, R-LEAVE)"})
        status, got = await post(client, "/roster/swap", {"agent_id": "1001", "day": "2026-12-08", "taker": "1002",
                                                          "override": True})
        assert status == 200 and (got["overridden_by"], got["rules_overridden"]) == ("sam", ["no_consecutive"])
        # 第5条: today is too late for a swap
        status, got = await post(client, "/roster/swap", {"agent_id": "1003", "day": "2026-12-07", "taker": "3001"})
        assert status == 409 and "(R-LEAVE 第5条" in got["error"]
    events = [(x["event"], x.get("rules"), x.get("supervisor")) for x in logs if x["event"].startswith("roster.")]
    assert events == [("roster.swap_refused", ["no_consecutive"], None), ("roster.swap_granted", None, None),
                      ("roster.swap_override", ["no_consecutive"], "sam"),
                      ("roster.swap_refused", ["a_day_ahead"], None)]
    assert [e.overridden_by for e in desk.store.swaps()] == ["sam"]


@pytest.mark.parametrize("body, status, message", [
    ({"agent_id": "1001", "day": "2026-12-08"}, 400,
     'taker: missing (e.g. {"agent_id": "1001", "day": "2026-12-09", "taker": "3001"})'),
    ({"agent_id": "1001", "day": "2026-12-08", "taker": "9999"}, 404,
     "unknown agent 9999 (in no team of the callbacks roster)"),
    ({"agent_id": "1001", "day": "2026-12-08", "taker": "1001"}, 400,
     "taker: an agent cannot swap with itself (1001)"),
    ({"agent_id": "1001", "day": "2026-12-08", "taker": "3001", "back_day": "12/12"}, 400,
     'back_day: must be a date as YYYY-MM-DD, got "12/12"'),
    ({"agent_id": "1001", "day": "2026-12-08", "taker": "3001", "shift": "night"}, 400,
     "team 'day' has no shift 'night'"),
    ({"agent_id": "1001", "day": "2026-12-08", "taker": "3001", "color": "red"}, 400,
     "color: unknown field (expected agent_id, back_day, back_shift, day, override, shift, taker)"),
])
async def test_swap_bad_requests(client, body, status, message):
    assert await post(client, "/roster/swap", body) == (status, {"error": message})


async def test_swaps_need_a_desk_role(client):
    assert (await post(client, "/roster/swap", {"agent_id": "1001", "day": "2026-12-08", "taker": "3001"},
                       who="alice")) == (403, {"error": "token alice (role agent) may not change the swaps"})


# -- excused lateness (R-SHIFT 第十一条) -------------------------------------------------------------------------
async def test_a_supervisor_excuses_a_day_s_lateness_stored_and_audited(client, desk):
    with capture_logs() as logs:
        status, got = await post(client, "/attendance/excuse",
                                 {"agent_id": "1002", "day": "2026-12-07", "reason": "班车晚点"})
    assert status == 200 and (got["agent_id"], got["day"], got["reason"], got["by"]) == (
        "1002", "2026-12-07", "班车晚点", "sam")
    assert desk.store.excuses(date(2026, 12, 1), date(2026, 12, 31)) == [
        Excuse(agent_id="1002", day=date(2026, 12, 7), reason="班车晚点", by="sam", at=NOW)]
    [audit] = [x for x in logs if x["event"] == "audit.api"]
    assert (audit["action"], audit["status"], audit["reason"], audit["token"]) == (
        "attendance_excuse", 200, "班车晚点", "sam")
    assert any(x["event"] == "attendance.excused" and x["rule"] == "R-SHIFT" for x in logs)


@pytest.mark.parametrize("who, body, status, message", [
    ("olga", {"agent_id": "1002", "day": "2026-12-07", "reason": "x"}, 403,
     "token olga (role ops) may not excuse lateness (supervisor only, R-SHIFT 第十一条)"),
    ("sam", {"agent_id": "1002", "day": "2026-12-07"}, 400,
     'reason: missing (e.g. {"agent_id": "1001", "day": "2026-12-09", "reason": "班车晚点"})'),
    ("sam", {"agent_id": "1002", "day": "2026-12-07", "reason": "  "}, 400,
     "reason: must be 1-200 characters of text on one line, saying why (e.g. 班车晚点)"),
    ("sam", {"agent_id": "1002", "day": "2026-12-07", "reason": "a\nb"}, 400,
     "reason: must be 1-200 characters of text on one line, saying why (e.g. 班车晚点)"),
    ("sam", {"agent_id": "1002", "day": "2026-12-07", "reason": "x" * 201}, 400,
     "reason: must be 1-200 characters of text on one line, saying why (e.g. 班车晚点)"),
    ("sam", {"agent_id": "1002", "day": "2026-12-20", "reason": "x"}, 400,
     "day: an excusal is for a day already worked, at most 366 days ago (today is 2026-12-07), got 2026-12-20"),
    ("sam", {"agent_id": "9999", "day": "2026-12-07", "reason": "x"}, 404,
     "unknown agent 9999 (in no team of the callbacks roster)"),
])
async def test_excuse_bad_requests_lose_nothing(client, desk, who, body, status, message):
    assert await post(client, "/attendance/excuse", body, who=who) == (status, {"error": message})
    assert desk.store.excuses(date(2026, 1, 1), date(2027, 12, 31)) == []
