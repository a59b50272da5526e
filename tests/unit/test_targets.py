"""R-KPI targets (既定标准), the pure core (core/targets.py) and the config's [targets] (config_targets.py).

SPEC.md "The figures (R-KPI), exactly", Targets (revised 2026-12): "Each figure may have a target per queue
or team (e.g. answer rate ≥ 90 %, outbound per day ≥ N per agent). Reports flag every breach with the queue
or agent …". Seed (R-KPI): 接通率、工作效率、及时应答率、平均处理时长、日呼出量."""

from __future__ import annotations

import pytest

from ari_app import config as config_mod
from ari_app.core.figures import Figures
from ari_app.core.targets import TARGETABLE, Direction, Target, TargetSet, actual, breaches, parse_target

BASE = """
[ari]
password = "x"
[queues.support]
[queues.sales]
[agents.1001]
interface = "PJSIP/1001"
queues = ["support"]
[agents.2001]
interface = "PJSIP/2001"
queues = ["sales"]
"""


def _t(figure: str, raw) -> Target:
    return parse_target(figure, raw)


def queue_fig(offered: int, answered: int, abandoned: int = 0, **kw) -> Figures:
    return Figures(entered=offered, offered=offered, answered=answered, abandoned=abandoned, **kw)


# -- the table: the direction is the figure's ------------------------------------------------------------
def test_every_targetable_figure_is_a_figure_and_the_seed_figures_have_the_right_direction():
    assert set(TARGETABLE) <= set(Figures().as_dict())
    assert TARGETABLE["answer_rate"].direction is Direction.MIN  # 接通率
    assert TARGETABLE["service_level"].direction is Direction.MIN  # 及时应答率
    assert TARGETABLE["occupancy"].direction is Direction.MIN  # 工作效率
    assert TARGETABLE["aht_s"].direction is Direction.MAX  # 平均处理时长
    assert TARGETABLE["outbound"].direction is Direction.MIN and TARGETABLE["outbound"].per_day  # 日呼出量
    assert TARGETABLE["abandon_rate"].direction is Direction.MAX


@pytest.mark.parametrize("raw", [0.9, ">= 0.9", ">=90%", "≥ 90 %", {"min": 0.9}, "0.9", "90%"])
def test_every_form_of_a_target_is_the_same_target(raw):
    assert _t("answer_rate", raw) == Target(figure="answer_rate", direction=Direction.MIN, value=0.9)


@pytest.mark.parametrize("figure, raw, message", [
    ("answer_rate", {"max": 0.9}, "answer_rate takes a minimum (>=)"),
    ("answer_rate", "<= 90%", "answer_rate takes a minimum (>=)"),
    ("aht_s", ">= 300", "aht_s takes a maximum (<=)"),
    ("answer_rate", 1.5, "is a ratio: 0..1"),
    ("answer_rate", "120%", "is a ratio: 0..1"),
    ("aht_s", "300%", "aht_s is not a ratio"),
    ("outbound", -1, "must be >= 0"),
    ("answer_rate", "about ninety", "expected e.g. \">= 90%\""),
    ("answer_rate", {"min": 0.9, "max": 1}, "must be {min = <value>}"),
    ("answer_rate", {"min": "x"}, "must be a number"),
    ("answer_rate", True, "must be a number"),
    ("answer_rate", float("nan"), "must be a number"),
    ("handle_time", 1, "unknown figure 'handle_time'"),
])
def test_a_bad_target_says_what_is_wrong(figure, raw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")
                       .replace("}", r"\}")):
        parse_target(figure, raw)


# -- judging ------------------------------------------------------------------------------------------------
# (offered, answered, target, breach?): at the boundary a target is met.
ANSWER_RATE = [
    (10, 9, ">= 90%", False),  # exactly 90 %: met
    (10, 8, ">= 90%", True),
    (200, 180, "90%", False),  # 90 % of more calls: met
    (3, 2, ">= 66.7%", True),  # 66.67 % is below 66.7 %
    (100, 89, 0.9, True),
    (0, 0, 0.9, False),  # no offered calls: nothing to judge, no breach
    (7, 7, "100%", False),
]


@pytest.mark.parametrize("offered, answered, target, breached", ANSWER_RATE)
def test_answer_rate_boundary_table(offered, answered, target, breached):
    ts = TargetSet(queues={"support": {"answer_rate": _t("answer_rate", target)}})
    found = breaches({"support": queue_fig(offered, answered)}, {}, ts)
    assert bool(found) is breached
    if breached:
        b, = found
        assert (b.kind, b.name, b.figure, b.actual) == ("queue", "support", "answer_rate", answered / offered)


def test_abandon_rate_and_aht_are_maximums_met_at_their_value():
    ts = TargetSet(queues={"support": {"abandon_rate": _t("abandon_rate", "<= 10%"), "aht_s": _t("aht_s", 120)}})
    at = queue_fig(10, 9, abandoned=1, talk_s=1080.0)  # 1 of 10 abandoned, 1080 s / 9 answered = 120 s
    assert breaches({"support": at}, {}, ts) == []
    over = queue_fig(10, 8, abandoned=2, talk_s=1000.0)  # 20 %, 125 s
    assert [(b.figure, b.actual) for b in breaches({"support": over}, {}, ts)] == [
        ("abandon_rate", 0.2), ("aht_s", 125.0)]


def test_min_calls_keeps_a_ratio_of_too_few_calls_unjudged():
    one_abandoned = queue_fig(1, 0, abandoned=1)
    ts = TargetSet(queues={"support": {"abandon_rate": _t("abandon_rate", 0.1)}}, min_calls=5)
    assert breaches({"support": one_abandoned}, {}, ts) == []
    assert breaches({"support": queue_fig(5, 0, abandoned=5)}, {}, ts)[0].actual == 1.0


# (outbound, logged in s, target, breach?): outbound per day per agent, judged on a day worked only
OUTBOUND = [
    (20, 3600.0, 20, False),  # exactly N: met
    (19, 3600.0, 20, True),
    (0, 3600.0, 20, True),  # worked, dialled nobody
    (0, 0.0, 20, False),  # a day off (not logged in, no call): not judged
    (3, 0.0, 2, False),  # dialled without logging in: a day worked
]


@pytest.mark.parametrize("outbound, logged_in_s, target, breached", OUTBOUND)
def test_outbound_per_day_per_agent_table(outbound, logged_in_s, target, breached):
    ts = TargetSet(agents={"outbound": _t("outbound", target)})
    found = breaches({}, {"1001": Figures(outbound=outbound, logged_in_s=logged_in_s)}, ts)
    assert [(b.name, b.actual) for b in found] == ([("1001", float(outbound))] if breached else [])


def test_outbound_of_a_month_is_per_day_worked_and_a_team_overrides_the_default():
    ts = TargetSet(agents={"outbound": _t("outbound", 20)}, teams={"sales": {"outbound": _t("outbound", 40)}})
    by_agent = {"1001": Figures(outbound=400, logged_in_s=1.0), "2001": Figures(outbound=400, logged_in_s=1.0)}
    days = {("agent", "1001"): 20, ("agent", "2001"): 20}  # 20 per day each
    found = breaches({}, by_agent, ts, team_of={"2001": "sales"}, days=days)
    assert [(b.name, b.actual, b.target.value, b.days) for b in found] == [("2001", 20.0, 40.0, 20)]


def test_live_only_leaves_the_daily_minimums_to_the_report():
    ts = TargetSet(agents={"outbound": _t("outbound", 20), "busy_overruns": _t("busy_overruns", 0)})
    f = Figures(outbound=0, logged_in_s=100.0, busy_overruns=1)
    assert [b.figure for b in breaches({}, {"1001": f}, ts)] == ["outbound", "busy_overruns"]
    assert [b.figure for b in breaches({}, {"1001": f}, ts, live_only=True)] == ["busy_overruns"]


def test_a_queue_figure_is_not_judged_on_an_agent_row():
    assert actual("answer_rate", queue_fig(0, 0)) is None
    assert actual("occupancy", Figures()) is None  # no time logged in


# -- the config ---------------------------------------------------------------------------------------------
def test_config_reads_targets_in_every_form():
    cfg = config_mod.parse(config_mod.tomllib.loads(BASE + """
[targets]
min_calls = 20
live_every_s = 30
[targets.queues.support]
answer_rate = ">= 90%"
abandon_rate = {max = 0.05}
aht_s = 300
[targets.agents]
outbound = 20
[targets.teams.sales]
outbound = ">= 40"
"""))
    t = cfg.targets
    assert t.live_every_s == 30 and t.set.min_calls == 20
    assert t.set.queues["support"]["answer_rate"].value == 0.9
    assert t.set.queues["support"]["abandon_rate"].direction is Direction.MAX
    assert t.set.for_agent("sales")["outbound"].value == 40 and t.set.for_agent("support")["outbound"].value == 20


def test_no_targets_section_is_no_targets():
    cfg = config_mod.parse(config_mod.tomllib.loads(BASE))
    assert not cfg.targets.set and cfg.targets.live_every_s == 60


def test_config_errors_name_the_key():
    with pytest.raises(config_mod.ConfigError) as e:
        config_mod.parse(config_mod.tomllib.loads(BASE + """
[targets]
min_calls = 0
live_every_s = 1
colour = "red"
[targets.queues.support]
answer_rate = {max = 0.9}
bogus = 1
outbound = 3
occupancy = 0.5
[targets.queues.nosuch]
answer_rate = 0.9
[targets.agents]
abandon_rate = 0.1
aht_s = "<= 300 s"
[targets.teams.night]
outbound = 1
"""))
    errors = e.value.errors
    for line in (
        "targets.min_calls: must be >= 1, got 0",
        "targets.live_every_s: must be 0 (not live) or 30-3600 seconds (each check re-reads today's records), "
        "got 1",
        "targets.colour: unknown key",
        "targets.queues.support.answer_rate: answer_rate takes a minimum (>=): it is a breach below the "
        "target, got max",
        "targets.queues.support.outbound: outbound is counted per agent, not per queue; set it under "
        "[targets.agents] or [targets.teams.<team>]",
        "targets.queues.support.occupancy: occupancy is counted per agent, not per queue; set it under "
        "[targets.agents] or [targets.teams.<team>]",
        "targets.queues.nosuch: unknown queue 'nosuch' (queues: support, sales)",
        "targets.agents.abandon_rate: abandon_rate is counted per queue, not per agent; set it under "
        "[targets.queues.<queue>]",
        "targets.teams.night: unknown team 'night' (teams: support, sales)",
    ):
        assert line in errors, (line, errors)
    assert any(x.startswith("targets.queues.support.bogus: unknown figure 'bogus'") for x in errors)
    assert any(x.startswith("targets.agents.aht_s: expected e.g. \"<= 300\"") for x in errors)


def test_config_targets_does_not_import_config():
    """config imports config_targets; config_targets importing config back was an import cycle."""
    import subprocess
    import sys

    code = "import sys, ari_app.config_targets; print('ari_app.config' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    from ari_app.config_targets import TargetsConfig

    assert config_mod.TargetsConfig is TargetsConfig  # still config's name for it
