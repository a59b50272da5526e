"""``ari-app report``: the figures of the store's facts as table, CSV and a chart (R-KPI), attendance
(R-SHIFT) and the QA sample (R-QA). The fixture is test_figures' hand-computed day, shifted to
2026-11-26 09:00 in Shanghai and written to a real SQLite store."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ari_app import config as config_mod
from ari_app.__main__ import main
from ari_app.core.agents import AgentLogEntry
from ari_app.core.comply import ComplianceRecord
from ari_app.core.timeline import TimelineEntry
from ari_app.report import daily, monthly
from ari_app.store import open_store

from test_figures import CALLS, LOG

BASE = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()

CONFIG = """
[ari]
password = "x"
[service]
store = "{store}"
[queues.q]
ring_target_s = 15
[agents.1001]
interface = "PJSIP/1001"
queues = ["q"]
[agents.1002]
interface = "PJSIP/1002"
queues = ["q"]
"""


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    store_path = tmp_path / "state.db"
    s = open_store(str(store_path))
    s.append_facts([(cid, TimelineEntry(at=BASE + e.at, fact=e.fact, agent=e.agent, detail=e.detail))
                    for cid, entries in CALLS.items() for e in entries])
    s.append_agent_log([AgentLogEntry(agent_id=e.agent_id, at=BASE + e.at, event=e.event, state=e.state,
                                      reason=e.reason) for e in LOG])
    for cid, agent, broken in (("c1", "1001", False), ("c2", "1001", True), ("c8", "1001", False)):
        s.save_compliance(ComplianceRecord(call_id=cid, queue="q", agent=agent, entered_at=BASE + 100,
                                           ended_at=BASE + 200, checks={"R-HANGUP": not broken}))
        s.save_recording(cid, f"qa/2026-11-26/{cid}", BASE + 101)
    s.close()
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(store=store_path))
    return path


def test_daily_csv_has_the_hand_computed_figures(cfg_path, capsys):
    assert main(["report", "daily", "--config", str(cfg_path), "--date", "2026-11-26", "--format", "csv"]) == 0
    rows = {(r["kind"], r["name"]): r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    q = rows[("queue", "q")]
    assert (q["offered"], q["answered"], q["abandoned"], q["short_abandons"], q["missed_offers"]) == (
        "6", "4", "1", "1", "1")
    assert float(q["answer_rate"]) == pytest.approx(4 / 6, abs=1e-4)
    assert float(q["service_level"]) == 0.5 and float(q["ring_compliance"]) == 0.75
    assert float(q["aht_s"]) == pytest.approx(61.0)
    # the whole day: 1001 is logged in from 08:58:20 to 09:58:20 (3600 s), paused 1000 s
    assert float(rows[("agent", "1001")]["occupancy"]) == pytest.approx(210 / 2600, abs=1e-4)
    assert rows[("total", "all")]["busy_overruns"] == "1"


def test_the_day_before_is_empty_and_a_queue_filter_keeps_one_row(cfg_path, capsys):
    cfg = config_mod.load(str(cfg_path))
    store = open_store(cfg.store_url)
    assert daily(store, cfg, "2026-11-25").rows[-1].figures.offered == 0
    only = daily(store, cfg, "2026-11-26", queue="q")
    assert [(r.kind, r.name) for r in only.rows] == [("queue", "q")]
    store.close()


def test_table_names_every_figure_in_both_languages(cfg_path, capsys):
    assert main(["report", "daily", "--config", str(cfg_path), "--date", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    for label in ("Answer rate 接通率", "Service level 及时应答率", "Ring compliance 三声接听率",
                  "Average handle time (s) 平均处理时长(秒)", "Occupancy 工作效率", "Outbound calls 呼出量",
                  "Missed offers 未接振铃", "Busy overruns 示忙超时", "Callbacks overdue 回拨超时"):
        assert label in out
    assert "66.7%" in out and "50.0%" in out  # answer rate, service level of queue q


def test_monthly_chart_figure_has_title_axes_with_units_and_legend(cfg_path):
    from ari_app.report.chart import figure

    cfg = config_mod.load(str(cfg_path))
    store = open_store(cfg.store_url)
    report = monthly(store, cfg, "2026-11")
    store.close()
    assert len(report.by_day) == 30 and report.by_day[25].figures.offered == 6  # the 26th
    fig = figure(report)
    ax, ax2 = fig.axes
    assert ax.get_title() == "Monthly figures 每月指标 2026-11"
    assert ax.get_xlabel() == "Day of month 日"
    assert ax.get_ylabel() == "Calls 通话数 (calls)" and ax2.get_ylabel() == "Rate 比率 (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Offered 呼入量", "Answered 接通量", "Abandoned 放弃量", "Answer rate 接通率", "Service level 及时应答率"]
    bars = [p.get_height() for p in ax.containers[0]]
    assert bars[25] == 6 and sum(bars) == 6
    from matplotlib import font_manager

    drawn_with = font_manager.findfont(ax.title.get_fontproperties(), fallback_to_default=False)
    assert drawn_with.endswith(("wqy-microhei.ttc", ".otf", ".ttc")), drawn_with  # a CJK font, not DejaVu


@pytest.mark.filterwarnings("error::UserWarning")  # a missing glyph warns: here it fails the test


def test_png_is_written(cfg_path, tmp_path, capsys):
    out = tmp_path / "d.png"
    assert main(["report", "daily", "--config", str(cfg_path), "--date", "2026-11-26", "--format", "png",
                 "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_qa_sample_lists_broken_calls_and_random_ones_with_recordings(cfg_path, capsys):
    assert main(["report", "qa", "--config", str(cfg_path), "--month", "2026-11", "--per-agent", "1",
                 "--seed", "3", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["call_id"], r["why"]) for r in rows if r["why"] not in ("random", "best", "worst")] == [
        ("c2", "R-HANGUP")]
    randoms = [r for r in rows if r["why"] == "random"]
    assert len(randoms) == 1 and randoms[0]["call_id"] in ("c1", "c8")
    assert randoms[0]["recording"] == f"qa/2026-11-26/{randoms[0]['call_id']}"


def test_r_qa_the_monthly_list_names_each_agents_best_and_worst_recorded_call(cfg_path, capsys):
    # the seed: "每月挑选优秀录音以及不合格的录音针对每个客户服务代表的服务质量进行点评"
    args = ["report", "qa", "--config", str(cfg_path), "--month", "2026-11", "--per-agent", "0"]
    assert main(args + ["--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    picks = [(r["agent"], r["why"], r["call_id"], r["recording"], r["score"]) for r in rows
             if r["why"] in ("best", "worst")]
    assert picks == [("1001", "best", "c1", "qa/2026-11-26/c1", "kept 1 of 1"),  # c1 and c8 tie: the earlier id
                     ("1001", "worst", "c2", "qa/2026-11-26/c2", "kept 0 of 1; broke R-HANGUP")]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "Score 合规" in table.splitlines()[0]
    [best] = [line for line in table.splitlines() if "优秀 excellent" in line]
    [worst] = [line for line in table.splitlines() if "不合格 failed" in line]
    assert best.split()[:2] == ["1001", "c1"] and best.endswith("kept 1 of 1")
    assert worst.split()[:2] == ["1001", "c2"] and worst.endswith("kept 0 of 1; broke R-HANGUP")


def test_attendance_report_runs_on_the_store(cfg_path, capsys):
    assert main(["report", "attendance", "--config", str(cfg_path), "--date", "2026-11-26",
                 "--format", "csv"]) == 0
    rows = {r["agent"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    # 1001 is in 08:58:20-09:58:20: 800 s late, and gone 7.5 h early: absent; 1002 is in 09:00:50-09:17:30
    assert (rows["1001"]["late_s"], rows["1001"]["early_s"], rows["1001"]["status"]) == ("800", "27100", "absent")
    assert (rows["1002"]["late_s"], rows["1002"]["status"]) == ("950", "absent")
    assert set(rows) == {"1001", "1002"}


@pytest.mark.parametrize("argv, message", [
    (["daily", "--date", "2026-13-01"], "expected a day YYYY-MM-DD"),
    (["monthly", "--month", "26-11"], "expected a day YYYY-MM-DD or a month YYYY-MM"),
    (["daily", "--queue", "nope"], "--queue 'nope': not a queue of the config (q)"),
    (["attendance", "--format", "png"], "--format png: only for daily and monthly"),
])
def test_bad_input_is_a_clear_usage_error(cfg_path, capsys, argv, message):
    assert main(["report", *argv, "--config", str(cfg_path)]) == 2
    assert message in capsys.readouterr().err
