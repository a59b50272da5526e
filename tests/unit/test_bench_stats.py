"""The benchmark's pure arithmetic (bench/stats.py, bench/track.py), checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from bench import stats
from bench.track import Caller, Leg, Tracker, max_concurrent, redispatch_gaps


def test_percentile_interpolates_between_closest_ranks():
    xs = [10, 1, 4, 2, 3]  # sorted 1 2 3 4 10
    assert stats.percentile(xs, 0) == 1
    assert stats.percentile(xs, 50) == 3
    assert stats.percentile(xs, 100) == 10
    assert stats.percentile(xs, 90) == pytest.approx(4 + 0.6 * 6)  # rank 3.6
    assert stats.percentile([7.0], 99) == 7.0
    assert stats.percentile([], 50) is None
    with pytest.raises(ValueError, match="0..100, got 101"):
        stats.percentile([1], 101)


def test_summary_of_a_hundred_values():
    s = stats.summary(float(i) for i in range(1, 101))
    assert s["n"] == 100
    assert s["p50"] == pytest.approx(50.5)
    assert s["p95"] == pytest.approx(95.05)
    assert s["p99"] == pytest.approx(99.01)
    assert s["max"] == 100
    assert stats.summary([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}


def test_ari_timestamps_are_epoch_seconds_with_milliseconds():
    assert stats.ari_time("1970-01-01T00:00:01.250+0000") == 1.25
    assert stats.ari_time("2026-11-27T08:03:09.177+0800") == pytest.approx(
        stats.ari_time("2026-11-27T00:03:09.177+0000")
    )


def test_cpu_seconds_counts_fields_after_the_command_name():
    # the command name may hold spaces and ')' ; utime=150, stime=50 ticks
    line = "4242 (ari (app) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 100 0 0"
    assert stats.cpu_seconds(line) == 2.0
    assert stats.cpu_seconds(line, ticks_per_s=50) == 4.0


def test_rss_from_proc_status():
    text = "Name:\tpython\nVmPeak:\t  300 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n"
    assert stats.rss_kib(text) == 81234
    assert stats.rss_kib(text, "VmRSS") == 70000
    assert stats.rss_kib("Name: x\n") is None


METRICS = """# HELP callcenter_event_loop_lag_seconds lag
# TYPE callcenter_event_loop_lag_seconds histogram
callcenter_event_loop_lag_seconds_bucket{le="0.001"} 50.0
callcenter_event_loop_lag_seconds_bucket{le="0.005"} 90.0
callcenter_event_loop_lag_seconds_bucket{le="0.01"} 99.0
callcenter_event_loop_lag_seconds_bucket{le="+Inf"} 100.0
callcenter_event_loop_lag_seconds_count 100.0
callcenter_event_loop_lag_seconds_sum 0.4
"""


def test_histogram_parse_and_quantile_like_prometheus():
    buckets, count = stats.parse_histogram(METRICS, "callcenter_event_loop_lag_seconds")
    assert buckets == [(0.001, 50.0), (0.005, 90.0), (0.01, 99.0), (math.inf, 100.0)]
    assert count == 100
    assert stats.histogram_quantile(0.5, buckets) == pytest.approx(
        0.001
    )  # rank 50: the top of the first bucket
    assert stats.histogram_quantile(0.7, buckets) == pytest.approx(0.001 + 0.004 * 20 / 40)
    assert stats.histogram_quantile(0.99, buckets) == pytest.approx(0.01)
    assert stats.histogram_quantile(0.999, buckets) == 0.01  # in +Inf: the last finite bound
    assert stats.histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None


def test_histogram_difference_between_two_scrapes():
    before = [(0.001, 40.0), (0.005, 40.0), (math.inf, 41.0)]
    after = [(0.001, 50.0), (0.005, 90.0), (math.inf, 100.0)]
    assert stats.diff_buckets(after, before) == [(0.001, 10.0), (0.005, 50.0), (math.inf, 59.0)]


def test_per_thousand_and_ratio():
    assert stats.per_thousand(3.0, 1500) == 2.0
    assert stats.per_thousand(None, 10) is None
    assert stats.per_thousand(1.0, 0) is None
    assert stats.ratio(3.0, 1.5) == 2.0
    assert stats.ratio(1.0, 0) is None
    assert stats.ratio(None, 1.0) is None


def test_markdown_table_formats_numbers_strings_and_missing_values():
    cols = [("name", "system", ""), ("p50", "p50 ms", ".1f"), ("n", "n", "d")]
    table = stats.markdown_table(
        cols, [{"name": "service", "p50": 12.345, "n": 7}, {"name": "ratio", "p50": "2.00×"}]
    )
    assert table.splitlines() == [
        "| system | p50 ms | n |",
        "|---|---:|---:|",
        "| service | 12.3 | 7 |",
        "| ratio | 2.00× | n/a |",
    ]


def test_max_concurrent_waiting_callers():
    assert max_concurrent([]) == 0
    assert (
        max_concurrent([(0, 10), (1, 2), (1.5, 3), (2, 4)]) == 3
    )  # at 1.5: the first three; 2 ends as 4 starts
    assert max_concurrent([(0, 1), (1, 2)]) == 1


def test_redispatch_counts_only_callers_that_were_already_waiting():
    legs = [
        Leg("c1~a1", "c1", "7001", False, created=0.0, destroyed=10.0),
        Leg("c2~a1", "c2", "7001", False, created=10.2, destroyed=20.0),  # c2 waited since 5: 0.2 s
        Leg("c3~a1", "c3", "7001", False, created=30.0, destroyed=31.0),
    ]  # c3 came at 25, agent idle: no
    assert redispatch_gaps(legs, {"c1": 0.0, "c2": 5.0, "c3": 25.0}) == [pytest.approx(0.2)]


def _ev(kind, ts, **kw):
    return {"type": kind, "timestamp": f"1970-01-01T00:00:{ts:06.3f}+0000", **kw}


def test_tracker_follows_a_service_call_from_events():
    t = Tracker()
    t.add(Caller(id="bn1-ser-1-q", own="bn1-ser-1", phase="p"))
    ch = {"id": "bn1-ser-1-q", "name": "Local/bench@callcenter-queue-00000001;2"}
    leg = {"id": "bn1-ser-1-q~a1", "name": "Local/7001@bench-agent-0000000a;1", "state": "Ring"}
    for ev in [
        _ev("ChannelDialplan", 1.0, channel=ch, dialplan_app="Stasis"),
        _ev("ChannelCreated", 1.025, channel=leg),
        _ev(
            "ChannelCreated",
            1.026,
            channel={"id": "bn1-ser-1-q~a1;2", "name": "Local/7001@bench-agent-0000000a;2"},
        ),
        _ev("ChannelStateChange", 1.03, channel={**leg, "state": "Up"}),
        _ev(
            "PlaybackStarted",
            1.5,
            playback={"target_uri": "channel:bn1-ser-1-q", "media_uri": "sound:callcenter/wait-apology"},
        ),
        _ev("ChannelDestroyed", 4.0, channel=leg),
        _ev("ChannelDestroyed", 4.1, channel={"id": "bn1-ser-1"}),
    ]:
        t.on_ari(ev)
    c = t.callers["bn1-ser-1-q"]
    assert c.entered == pytest.approx(1.0)
    assert c.legs == ["bn1-ser-1-q~a1"]  # the ;2 half is not an agent leg
    assert t.first_leg(c).created - c.entered == pytest.approx(0.025)
    assert t.first_leg(c).agent == "7001"
    assert c.served == pytest.approx(1.03)
    assert c.apology == pytest.approx(1.5)
    assert c.gone == pytest.approx(4.1) and c.failed is None


def test_tracker_app_queue_leg_by_dial_and_a_caller_lost_before_an_agent():
    t = Tracker()
    t.add(Caller(id="x-q", own="x", phase="p"))
    t.add(Caller(id="y-q", own="y", phase="p"))
    peer = {"id": "1700.5", "name": "Local/7002@bench-agent-0000000b;1"}
    t.on_ari(_ev("ChannelDialplan", 2.0, channel={"id": "x-q"}, dialplan_app="Queue"))
    t.on_ari(_ev("ChannelCreated", 2.004, channel=peer))
    t.on_ari(_ev("Dial", 2.006, caller={"id": "x-q"}, peer=peer, dialstatus=""))
    t.on_ari(_ev("Dial", 2.5, caller={"id": "x-q"}, peer=peer, dialstatus="ANSWER"))
    t.on_ami({"Event": "QueueCallerJoin", "Uniqueid": "x-q", "Timestamp": "2.0005"})
    t.on_ami({"Event": "AgentCalled", "Uniqueid": "x-q", "Timestamp": "2.0035"})
    t.on_ari(_ev("ChannelDestroyed", 3.0, channel={"id": "y"}))
    x = t.callers["x-q"]
    assert t.first_leg(x).created == pytest.approx(2.004)  # the leg's own creation, not the Dial event
    assert len(x.legs) == 1
    assert x.ami_called - x.ami_join == pytest.approx(0.003)
    assert t.callers["y-q"].failed == "hung up before an agent answered"
