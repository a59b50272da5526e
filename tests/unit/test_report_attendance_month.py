"""``ari-app report attendance-monthly`` (R-SHIFT, issue 18): the seed's monthly columns per agent from a real
SQLite store — days worked, lates, early leaves, personal leave (事假), absences (旷工), excused (第十一条) and
the rule behind each. On the old code (099d431) the kind does not exist (usage error, exit 2)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ari_app.__main__ import main
from ari_app.core.agents import AgentLogEntry
from ari_app.core.lateness import Excuse
from ari_app.core.roster import LeaveEntry
from ari_app.store import open_store

SH = ZoneInfo("Asia/Shanghai")
CONFIG = """
[ari]
password = "x"
[service]
store = "{store}"
[queues.q]
[agents.1001]
interface = "PJSIP/1001"
queues = ["q"]
[agents.1002]
interface = "PJSIP/1002"
queues = ["q"]
"""
# November 2026: 21 working days (Mon-Fri) on the default shift 08:45-17:30
LATE = {("1001", 3): (9, 0), ("1001", 4): (9, 20), ("1001", 5): (9, 30), ("1001", 6): (9, 16),
        ("1002", 10): (10, 0), ("1002", 11): (9, 45)}  # 1002: 75 min (excused below) and exactly 60 min


def at(d: date, hh: int, mm: int) -> float:
    return datetime.combine(d, time(hh, mm), tzinfo=SH).timestamp()


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    store_path = tmp_path / "state.db"
    s = open_store(str(store_path))
    log = []
    d = date(2026, 11, 1)
    while d.month == 11:
        if d.weekday() < 5:
            for agent in ("1001", "1002"):
                if (agent, d.day) == ("1002", 20):
                    continue  # on leave
                hh, mm = LATE.get((agent, d.day), (8, 40))
                out = (17, 0) if (agent, d.day) == ("1001", 25) else (17, 31)  # 30 min early on the 25th
                log += [AgentLogEntry(agent_id=agent, at=at(d, hh, mm), event="state", state="available"),
                        AgentLogEntry(agent_id=agent, at=at(d, *out), event="state", state="logged_out")]
        d += timedelta(days=1)
    s.append_agent_log(log)
    s.add_leave(LeaveEntry(agent_id="1002", day=date(2026, 11, 20), kind="sick"))
    s.add_excuse(Excuse(agent_id="1002", day=date(2026, 11, 10), reason="班车晚点", by="sup-li"))
    s.close()
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(store=store_path))
    return path


def test_r_shift_the_monthly_attendance_columns(cfg_path, capsys):
    assert main(["report", "attendance-monthly", "--config", str(cfg_path), "--month", "2026-11",
                 "--format", "csv"]) == 0
    rows = {r["agent"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    got = {a: (r["days_worked"], r["lates"], r["early_leaves"], r["personal_leave_days"], r["absences"],
               r["excused"]) for a, r in rows.items()}
    # 1001: four lates (15, 35, 45, 31 min) and one early leave of 30 min: the first three make 旷工 1 day,
    # the 4th (31 min) 1 day of 事假, the early leave (30 min 0 s, 含30分钟) half a day
    # 1002: 75 min late on the 10th excused (第十一条); exactly 60 min on the 11th is 事假 1 day (not 超过一小时);
    # sick leave on the 20th is not counted
    assert got == {"1001": ("21", "4", "1", "1.5", "1.0", "0"), "1002": ("20", "1", "0", "1.0", "0.0", "1")}
    assert "2026-11-11 late 迟到 60 min → personal leave 事假 > 30 min → 1 day (第1条: 30分钟以上按事假1天)" \
        in rows["1002"]["rules"]
    assert "2026-11-10 late 迟到 75 min excused, not counted (第十一条)" in rows["1002"]["rules"]
    assert "3 in a month → absence 旷工 1 day instead of their personal leave" in rows["1001"]["rules"]


def test_r_shift_the_monthly_table_lists_the_rules_and_one_agent(cfg_path, capsys):
    assert main(["report", "attendance-monthly", "--config", str(cfg_path), "--month", "2026-11",
                 "--agent", "1002"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Monthly attendance 月度考勤 2026-11\n")
    [line] = [x for x in out.splitlines() if x.startswith("1002")]
    assert line.split() == ["1002", "q", "20", "1", "0", "1", "0", "1"]
    assert "  1002: 2026-11-10 late 迟到 75 min excused, not counted (第十一条)" in out
    assert not any(x.startswith("1001") for x in out.splitlines())


def test_r_shift_a_bad_month_is_a_usage_error(cfg_path, capsys):
    assert main(["report", "attendance-monthly", "--config", str(cfg_path), "--month", "2026-13"]) == 2
    assert "'2026-13': expected a month YYYY-MM" in capsys.readouterr().err


def test_r_leave_a_swapped_away_agent_is_swapped_not_absent_in_the_daily_attendance(cfg_path, capsys):
    from ari_app import config as config_mod
    from ari_app.core.roster import SwapEntry

    s = open_store(config_mod.load(str(cfg_path)).store_url)
    s.add_swap([SwapEntry(swap_id="sw-1", agent_id="1002", day=date(2026, 11, 30), shift=None, taker="1001")])
    s.close()
    assert main(["report", "attendance", "--config", str(cfg_path), "--date", "2026-11-30", "--format", "csv"]) == 0
    rows = [(r["agent"], r["status"]) for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    assert ("1002", "swapped") in rows
