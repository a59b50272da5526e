"""R-KPI targets (既定标准) in ``ari-app report daily|monthly``: breached figures marked, and listed with the
queue or agent under "Targets not met 未能达到既定标准" (table) or in the ``targets_not_met`` column (CSV).

SPEC.md Targets (revised 2026-12): "Reports flag every breach with the queue or agent (the monthly report
lists them: 未能达到既定标准的原因)". The day is test_report's: queue q answers 4 of 6 (66.7 %), service
level 50 %, AHT 61 s; agent 1001 occupancy 210/2600 s, no outbound call; 1002 unused."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ari_app.__main__ import main

import test_report
from test_report import cfg_path  # noqa: F401  (the fixture: test_report's day in a real SQLite store)

TARGETS = """
[targets.queues.q]
answer_rate = ">= 90%"
service_level = {min = 0.5}
aht_s = "<= 60"
abandon_rate = 0.5
[targets.agents]
outbound = 3
occupancy = "50%"
"""


@pytest.fixture
def with_targets(cfg_path: Path) -> Path:  # noqa: F811
    cfg_path.write_text(cfg_path.read_text() + TARGETS)
    return cfg_path


def _lines(text: str) -> list[str]:
    return [line.split() for line in text.splitlines()]


def test_daily_table_marks_the_breached_figures_and_lists_them(with_targets, capsys):
    assert main(["report", "daily", "--config", str(with_targets), "--date", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    rows = {" ".join(line.split()[:2]): line for line in out.splitlines()}
    assert "66.7%!" in rows["Answer rate"]  # 4/6 < 90 %
    assert "50.0%!" not in rows["Service level"] and "50.0%" in rows["Service level"]  # at its target: met
    assert "61.0!" in rows["Average handle"]  # 61 s > 60 s
    assert "!" not in rows["Abandon rate"]
    head, listed = out.split("! Targets not met 未能达到既定标准\n")
    table = [line.split() for line in listed.strip().splitlines()[1:]]
    assert table == [
        ["queue", "q", "Answer", "rate", "接通率", ">=", "90.0%", "66.7%"],
        ["queue", "q", "Average", "handle", "time", "(s)", "平均处理时长(秒)", "<=", "60", "s", "61", "s"],
        ["agent", "1001", "Occupancy", "工作效率", ">=", "50.0%", "8.1%"],
        ["agent", "1001", "Outbound", "calls", "呼出量", ">=", "3/day", "0/day"],
        ["agent", "1002", "Occupancy", "工作效率", ">=", "50.0%", "3.4%"],
        ["agent", "1002", "Outbound", "calls", "呼出量", ">=", "3/day", "0/day"],
    ]


def test_daily_csv_has_the_breaches_per_row(with_targets, capsys):
    assert main(["report", "daily", "--config", str(with_targets), "--date", "2026-11-26", "--format", "csv"]) == 0
    rows = {(r["kind"], r["name"]): r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows[("queue", "q")]["targets_not_met"] == "answer_rate 0.6667 >= 0.9; aht_s 61 <= 60"
    assert rows[("agent", "1001")]["targets_not_met"] == "occupancy 0.0808 >= 0.5; outbound 0 >= 3"
    assert rows[("total", "all")]["targets_not_met"] == ""


def test_monthly_lists_the_breaches_and_a_per_day_count_is_per_day_worked(with_targets, capsys):
    assert main(["report", "monthly", "--config", str(with_targets), "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    listed = out.split("! Targets not met 未能达到既定标准\n")[1]
    # one day worked in the month: outbound 0 per day over 1 day; the month's answer rate is the day's
    assert ["agent", "1001", "Outbound", "calls", "呼出量", ">=", "3/day", "0/day"] in _lines(listed)
    assert ["queue", "q", "Answer", "rate", "接通率", ">=", "90.0%", "66.7%"] in _lines(listed)


def test_a_queue_filter_lists_only_that_queue(with_targets, capsys):
    assert main(["report", "monthly", "--config", str(with_targets), "--month", "2026-11", "--queue", "q",
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["kind"], r["name"], r["targets_not_met"]) for r in rows] == [
        ("queue", "q", "answer_rate 0.6667 >= 0.9; aht_s 61 <= 60")]


def test_no_targets_no_section(cfg_path, capsys):  # noqa: F811
    assert main(["report", "daily", "--config", str(cfg_path), "--date", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    assert "Targets not met" not in out and "!" not in out
    assert test_report.BASE  # the fixture's day (imported, not redefined)
