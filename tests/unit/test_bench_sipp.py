"""The benchmark's sipp phase, its pure parts: SIP callers and agent legs from ARI events
(bench/track.py), the bare loop's SIP queue (bench/bare_ari.py), SIPp's statistics, the
report's rows (bench/run.py) and the bench PJSIP endpoints (bench/asterisk/pjsip_bench.conf)."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

from bench import run, sipp
from bench.bare_ari import ANY, BareLoop
from bench.track import Tracker

REPO = Path(__file__).resolve().parents[2]


def _ev(kind, ts, **kw):
    return {"type": kind, "timestamp": f"1970-01-01T00:00:{ts:06.3f}+0000", **kw}


def _sip_call(t: Tracker, cid: str, n: int, agent: str, t0: float, leg_id: str | None = None) -> None:
    """A SIPp caller's channel entering the service's Stasis, its agent leg ringing and answering."""
    caller = {"id": cid, "name": f"PJSIP/benchcaller-{n:08x}"}
    leg = {"id": leg_id or f"{cid}~a1", "name": f"PJSIP/{agent}-{n + 100:08x}", "state": "Ring"}
    for ev in [
        _ev("ChannelCreated", t0, channel=caller),
        _ev("ChannelDialplan", t0 + 0.002, channel=caller, dialplan_app="Stasis"),
        _ev("ChannelCreated", t0 + 0.012, channel=leg),
        _ev("ChannelStateChange", t0 + 0.5, channel={**leg, "state": "Up"}),
    ]:
        t.on_ari(ev)


def test_tracker_adopts_sip_callers_only_while_a_phase_is_named():
    t = Tracker()
    t.on_ari(_ev("ChannelCreated", 1.0, channel={"id": "1700.1", "name": "PJSIP/benchcaller-00000001"}))
    assert t.callers == {}  # no phase: not the benchmark's
    t.adopt = "service:sipp"
    _sip_call(t, "1700.2", 2, "8003", 2.0)
    t.on_ari(_ev("ChannelCreated", 2.1, channel={"id": "1700.9", "name": "PJSIP/1001-00000009"}))
    assert list(t.callers) == ["1700.2"]  # an agent phone's own call is no caller
    t.adopt = None
    t.on_ari(_ev("ChannelDestroyed", 5.5, channel={"id": "1700.2~a1"}))
    t.on_ari(_ev("ChannelDestroyed", 5.6, channel={"id": "1700.2"}))
    c = t.callers["1700.2"]
    assert c.phase == "service:sipp" and c.own == c.id
    assert c.entered == pytest.approx(2.002)
    leg = t.first_leg(c)
    assert leg.agent == "8003" and not leg.never
    assert leg.created - c.entered == pytest.approx(0.010)
    assert leg.destroyed == pytest.approx(5.5)
    assert c.served == pytest.approx(2.5)
    assert c.ended == pytest.approx(5.6) and c.gone == pytest.approx(5.6)  # one channel, both halves
    assert c.failed is None
    assert t.active("service:sipp") == []


def test_tracker_sip_caller_gone_before_an_agent_and_app_queue_leg_by_dial():
    t = Tracker()
    t.adopt = "appqueue:sipp"
    a = {"id": "1700.3", "name": "PJSIP/benchcaller-00000003"}
    peer = {"id": "1700.4", "name": "PJSIP/8011-00000004"}
    t.on_ari(_ev("ChannelCreated", 3.0, channel=a))
    t.on_ari(_ev("ChannelDialplan", 3.001, channel=a, dialplan_app="Queue"))
    t.on_ari(_ev("ChannelCreated", 3.003, channel=peer))
    t.on_ari(_ev("Dial", 3.004, caller={"id": "1700.3"}, peer=peer, dialstatus=""))
    b = {"id": "1700.5", "name": "PJSIP/benchcaller-00000005"}
    t.on_ari(_ev("ChannelCreated", 3.1, channel=b))
    t.on_ari(_ev("ChannelDestroyed", 3.2, channel=b))
    assert t.first_leg(t.callers["1700.3"]).agent == "8011"
    assert t.first_leg(t.callers["1700.3"]).created == pytest.approx(3.003)
    assert t.callers["1700.5"].failed == "hung up before an agent answered"


def test_bare_loop_gives_the_sip_queue_its_own_agents():
    loop = BareLoop(
        "http://x/ari", "u", "p", {ANY: ["Local/7001@bench-agent"], "benchsip": ["PJSIP/8001"]}, 15
    )
    loop.spawn = lambda coro: coro.close()  # type: ignore[method-assign]  # no REST here

    def start(cid: str, *args: str) -> None:
        loop.on_event({"type": "StasisStart", "channel": {"id": cid}, "args": list(args)})

    start("c1", "queue", "benchsip")
    start("c2", "queue", "benchsip")
    start("c3", "queue", "bench")  # no pool of its own: the Local agents
    assert loop.agent_of == {"c1~b1": ("benchsip", "PJSIP/8001"), "c3~b2": (ANY, "Local/7001@bench-agent")}
    assert list(loop.waiting["benchsip"]) == ["c2"]
    loop.on_event({"type": "ChannelDestroyed", "channel": {"id": "c1~b1"}})  # rang out: c1 first again
    assert loop.agent_of["c1~b3"] == ("benchsip", "PJSIP/8001")
    assert list(loop.waiting["benchsip"]) == ["c2"]
    loop.on_event({"type": "StasisEnd", "channel": {"id": "c2"}})  # c2 hangs up while waiting
    assert list(loop.waiting["benchsip"]) == [] and "c2" not in loop.pool_of


def test_sipp_counts_from_the_last_statistics_line(tmp_path: Path):
    stat = tmp_path / "stat.csv"
    stat.write_text(
        "StartTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C);\n"
        "x;10;8;0;0;0;\n"
        "x;75;72;3;1;2;\n"
    )
    assert sipp.sipp_counts(stat) == {
        "created": 75,
        "successful": 72,
        "failed": 3,
        "failed_by": {"FailedMaxUDPRetrans": 1, "FailedUnexpectedMessage": 2},
    }
    assert sipp.sipp_counts(tmp_path / "none.csv")["failed"] is None


def test_bench_pjsip_defines_every_sip_agent_and_the_caller():
    conf = (REPO / "bench/asterisk/pjsip_bench.conf").read_text()
    sections = re.findall(r"^\[([^\]]+)\]\((\S+?)\)$", conf, flags=re.MULTILINE)
    by_name: dict[str, list[str]] = {}
    for name, template in sections:
        by_name.setdefault(name, []).append(template)
    agents = sipp.agent_ids(sipp.AGENTS_MAX)
    for name in [*agents, sipp.CALLER]:
        assert by_name.get(name) == ["bench-sip-endpoint", "bench-sip-auth", "phone-aor"], name
    assert set(by_name) - {"bench-sip-endpoint", "bench-sip-auth"} == {*agents, sipp.CALLER}
    assert f"password = {sipp.PASSWORD}" in conf
    assert "#tryinclude pjsip_bench.conf" in (REPO / "asterisk-config/pjsip.conf").read_text()
    dialplan = (REPO / "bench/asterisk/extensions_bench.conf").read_text()
    for system, queue in run.SIP_QUEUE.items():
        assert re.search(rf"^exten => {system},1,Goto\([a-z-]+,{queue},1\)$", dialplan, flags=re.MULTILINE)


def test_service_config_puts_the_sip_agents_in_their_own_queue(tmp_path: Path):
    from ari_app import config

    s = run.Settings(agents=3, probe_callers=1)
    path = tmp_path / "bench.toml"
    path.write_text(run.service_config(s, sip_agents=4))
    cfg = config.load(path)
    sip = {k: a for k, a in cfg.agents.items() if a.interface.startswith("PJSIP/")}
    assert sorted(sip) == ["8001", "8002", "8003", "8004"]
    assert all(a.interface == f"PJSIP/{k}" and list(a.queues) == ["benchsip"] for k, a in sip.items())
    assert cfg.queues["benchsip"].ring_target_s == cfg.queues["bench"].ring_target_s == s.ring_s
    path.write_text(run.service_config(s))
    assert "benchsip" not in config.load(path).queues


def _sipp_system(label: str, p50: float, failures: dict[str, int], ami: bool = False) -> dict:
    lat = {"n": 70, "p50": p50, "p95": p50 * 2, "p99": p50 * 3, "max": p50 * 4}
    f = {
        "calls": 75,
        "failed": sum(failures.values()),
        "failures": failures,
        "enter_to_agent_leg_s": lat,
        "sipp": {"created": 75, "successful": 75 - sum(failures.values()), "failed": 0, "failed_by": {}},
        "cpu": {"app_per_1000_calls_s": 10.0, "asterisk_per_1000_calls_s": 40.0},
    }
    if ami:
        f["ami_join_to_agent_called_s"] = {"n": 75, "p50": 0.0005, "p95": 0.001, "p99": 0.002, "max": 0.003}
    return {"label": label, "sipp": f}


def test_sipp_rows_and_the_sip_only_report():
    res = {
        "run": {
            "started": "today",
            "commit": "abc",
            "command": "python -m bench --phases sipp",
            "duration_s": 99,
        },
        "machine": {
            "cpu": "x",
            "cores": 2,
            "ram_gib": 1,
            "os": "d",
            "debian": "12",
            "kernel": "k",
            "python": "3",
            "loadavg_start": 1.0,
        },
        "asterisk": "Asterisk 22",
        "settings": asdict(run.Settings()),
        "systems": {
            "service": _sipp_system("service (ari_app)", 0.010, {"no agent within 5 s": 2}),
            "appqueue": _sipp_system("app_queue", 0.002, {}, ami=True),
            "bare": _sipp_system("bare ARI loop", 0.004, {}),
        },
    }
    rows = run.sipp_rows(res)
    assert [r["system"] for r in rows] == [
        "service (ari_app)",
        "app_queue",
        "bare ARI loop",
        "service / bare ARI loop",
        "service / app_queue",
    ]
    assert rows[0]["p50"] == pytest.approx(10.0) and rows[0]["failed"] == 2
    assert rows[0]["why"] == "no agent within 5 s: 2" and rows[0]["sipp"] == "73 / 0"
    assert rows[1]["cpu_app"] == "(in Asterisk)"
    assert rows[3]["p50"] == "2.50×" and rows[4]["p99"] == "5.00×"
    md = run.markdown(res)
    assert "## Real SIP (SIPp)" in md and "## Ramp" not in md and "## Scale" not in md
    assert "| service / app_queue |  |  | 5.00× | 5.00× | 5.00× |" in md
    assert "(AMI `QueueCallerJoin` → `AgentCalled`, SIP): p50 0.5 ms, p95 1.0 ms, p99 2.0 ms (n = 75)." in md
    assert run.table_rows(res) == []  # no Local phases: no main table rows


def test_the_e2e_sipp_helpers_the_bench_uses_are_there(tmp_path: Path):
    """bench/sipp.py loads tests/e2e/sipp.py by path: a rename there must fail here, not in make bench."""
    mod = sipp.e2e()
    proc = mod.SippProcess("x", "uas.xml", ["-p", "5999"], tmp_path, remote=False)
    assert proc.argv[:3] == [mod.SIPP, "-sf", str(mod.SCENARIOS / "uas.xml")] and proc.dir == tmp_path / "x"
    for scenario in ("register.xml", "uas.xml", "uac.xml"):
        assert (mod.SCENARIOS / scenario).is_file()
    assert mod.write_rtp_pcap(tmp_path / "rtp.pcap", 1.0) == pytest.approx(1.0)
    assert isinstance(mod.free_udp_ports(4), int) and mod.PBX_HOST == "127.0.0.1"
