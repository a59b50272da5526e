"""The benchmark (issue 7): the service against Asterisk's own app_queue and a bare ARI loop.

One run, one Asterisk, the same Local-channel agents and ring timeout for the three systems, one
after the other: the service (``ari-app run`` with a generated config), app_queue (queue
``benchaq`` of bench/asterisk/queues.conf, members added over AMI) and the bare ARI loop
(bench/bare_ari.py). For each system, phases:

* warm-up: a few calls, not counted;
* steady: callers at ``--steady-rate`` per second, agents hang up after ``--steady-handle`` s, so
  an agent is always idle: time from the caller entering the queue to the agent leg existing;
* ramp: rising arrival rates, ``--ramp-step-s`` each; the highest with no failed call (a caller
  not answered by an agent within ``--deadline`` s, or any error);
* scale: ``--scale-callers`` callers at ``--scale-rate`` per second for ``--agents`` agents with
  a long handle time, so hundreds wait; for the service ``--probe-callers`` more callers ring
  agents that never answer (queue ``bring``): the ring cut-off (R-RING) and the 10 s apology
  (R-WAIT) under that load;
* sipp (real SIP, bench/sipp.py): a SIPp caller places ``--sipp-calls`` calls at ``--sipp-rate``
  per second into the system's SIP queue, whose agents are ``--sipp-agents`` SIPp phones
  (PJSIP/8001.., bench/asterisk/pjsip_bench.conf: registered, they ring ``--sipp-answer`` s,
  answer with RTP and hang up after ``--sipp-handle`` s): the same latency (entering the queue →
  agent leg) and the failed calls, after a few SIP warm-up calls. The agents stay registered for
  the whole run: the service's generated config, app_queue's queue ``benchaqsip`` and the bare
  loop's queue ``benchsip`` all have them.

``--phases local`` runs warm-up, steady, scale and ramp only; ``--phases sipp`` warm-up and sipp
only (e.g. ``flock -o /tmp/pbx-e2e.lock .venv/bin/python -m bench --phases sipp --out /tmp/b``).

Times are Asterisk's (ARI event timestamps, AMI ``Timestamp``), never the driver's clock. CPU is
utime+stime from /proc/<pid>/stat, peak RSS VmHWM from /proc/<pid>/status. Results:
``<out>/bench.json`` and ``<out>/bench.md``; stdout gets one table.

Run it holding the shared PBX lock: ``make bench``
(or ``flock -o /tmp/pbx-e2e.lock .venv/bin/python -m bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import sipp, stats
from .clients import Ami, Ari, find_asterisk_pid, proc_cpu, proc_rss
from .track import Caller, Tracker, max_concurrent, redispatch_gaps

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SYSTEMS = ("service", "appqueue", "bare")
PHASES = ("local", "sipp")  # local: warm-up, steady, scale, ramp with Local channels; sipp: real SIP
LABELS = {"service": "service (ari_app)", "appqueue": "app_queue", "bare": "bare ARI loop"}
ENDPOINTS = {
    "service": "Local/bench@callcenter-queue",
    "appqueue": "Local/benchaq@bench-appqueue",
    "bare": "Local/bench@bench-bare",
}
PROBE_ENDPOINT = "Local/bring@callcenter-queue"
SIP_QUEUE = {"service": "benchsip", "appqueue": "benchaqsip", "bare": "benchsip"}  # extensions_bench.conf
SIP_WARMUP_CALLS = 3
API_PORT = 18091
AGENT_BASE = 7000  # agents 7001..; ring probe agents (never answer) 7901..
NEVER_BASE = 7900


def log(msg: str, **fields: Any) -> None:
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"bench: {msg} {extra}".rstrip(), file=sys.stderr, flush=True)


@dataclass
class Settings:
    agents: int = 100
    ring_s: int = 15
    warmup_calls: int = 10
    steady_rate: float = 5.0
    steady_s: float = 30.0
    steady_handle: float = 2.0
    ramp: list[float] = field(default_factory=lambda: [5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0])
    ramp_step_s: float = 6.0
    ramp_handle: float = 0.2  # + Answer()'s 0.5 s: at 100 calls/s ~75 agents busy, so agents never run out
    scale_callers: int = 300
    scale_rate: float = 30.0
    scale_handle: float = 15.0  # 300 callers in 10 s, 100 agents busy 15.5 s: 200 wait
    probe_callers: int = 10
    probe_ring_s: int = 4
    apology_s: float = 10.0
    deadline: float = 5.0
    scale_deadline: float = 60.0  # a waiting caller without an agent after this long failed
    sipp_rate: float = 3.0
    sipp_calls: int = 75
    sipp_agents: int = 20  # at most sipp.AGENTS_MAX
    sipp_handle: float = 3.0  # after the answer: 3 calls/s × (0.5 + 3 + teardown) keeps ~8 agents idle
    sipp_answer: float = 0.5  # the SIPp agent rings this long


def service_config(s: Settings, sip_agents: int = 0) -> str:
    """The service's bench config: tests/e2e/config.toml's shape, bench queues and agents; with
    ``sip_agents``, queue benchsip (bench's settings) and the SIPp agents PJSIP/8001.. in it."""

    def bench_queue(name: str) -> list[str]:
        return [
            f"[queues.{name}]",
            f"ring_target_s = {s.ring_s}",
            f"originate_timeout_s = {s.ring_s + 5}",
            "wrap_up_s = 0",
            'strategy = "longest_idle"',
            "greeting = false",
            f"wait_apology_s = {s.apology_s:g}",
            "announce_every_s = 600",
            "max_wait_s = 900",
        ]

    lines = [
        "# generated by bench/run.py (make bench); not for production",
        "[ari]",
        'url = "http://127.0.0.1:8088/ari"',
        'username = "callcenter"',
        'password = "callcenter-dev"',
        'app = "callcenter"',
        "reconnect_min_s = 0.2",
        "reconnect_max_s = 1",
        "[service]",
        'store = "state.db"',
        'log_level = "info"',
        'moh_class = "default"',
        "[api]",
        f"listen_port = {API_PORT}",
        "metrics_loopback_without_token = true",
        "[metrics]",
        "enabled = true",
        "loop_lag_interval_s = 0.1",
        "[busy]",
        "missed_resume_s = 1            # a probe agent that missed is offered again after 1 s",
        *bench_queue("bench"),
        "[queues.bring]                    # R-RING probe: agents that never answer",
        f"ring_target_s = {s.probe_ring_s}",
        f"originate_timeout_s = {s.probe_ring_s + 4}",
        'strategy = "round_robin"',
        "greeting = false",
        f"wait_apology_s = {s.apology_s:g}",
        "announce_every_s = 600",
        "max_wait_s = 900",
    ]
    for i in range(1, s.agents + 1):
        lines += [
            f"[agents.{AGENT_BASE + i}]",
            f'interface = "Local/{AGENT_BASE + i}@bench-agent"',
            'queues = ["bench"]',
            "auto_login = true",
        ]
    for i in range(1, s.probe_callers + 1):
        lines += [
            f"[agents.{NEVER_BASE + i}]",
            f'interface = "Local/{NEVER_BASE + i}@bench-never"',
            'queues = ["bring"]',
            "auto_login = true",
        ]
    if sip_agents:
        lines += bench_queue(SIP_QUEUE["service"])
        for agent in sipp.agent_ids(sip_agents):
            lines += [
                f"[agents.{agent}]",
                f'interface = "PJSIP/{agent}"',
                f'queues = ["{SIP_QUEUE["service"]}"]',
                "auto_login = true",
            ]
    return "\n".join(lines) + "\n"


# -- the machine --------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu"] = re.search(r"model name\s*:\s*(.*)", cpu).group(1).strip()  # type: ignore[union-attr]
    except (OSError, AttributeError):
        info["cpu"] = "unknown"
    try:
        mem = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"MemTotal:\s*(\d+)", mem).group(1))  # type: ignore[union-attr]
        info["ram_gib"] = round(kib / 2**20, 1)
    except (OSError, AttributeError):
        info["ram_gib"] = None
    try:
        info["debian"] = Path("/etc/debian_version").read_text().strip()
        pretty = re.search(r'PRETTY_NAME="([^"]*)"', Path("/etc/os-release").read_text())
        info["os"] = pretty.group(1) if pretty else ""
    except OSError:
        info["debian"] = info["os"] = "unknown"
    info["loadavg_start"] = os.getloadavg()[0]
    return info


def pbx(*args: str, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(
        [str(REPO / "scripts" / "pbx"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if r.returncode != 0:
        raise RuntimeError(f"scripts/pbx {' '.join(args)}: {r.stderr.strip()[-400:]}")
    return r.stdout


def pbx_up() -> str:
    """scripts/pbx provision (reused when built), PBX_BENCH=1 scripts/pbx up (installs bench/asterisk/*.conf),
    app_queue loaded; the Asterisk version. Under the PBX lock, like everything here."""
    pbx("provision")
    pbx("up", env={"PBX_BENCH": "1"})
    if not re.search(
        r"^app_queue\.so\s.*\s(?<!Not )Running\s", pbx("cli", "module show like app_queue.so"), re.M
    ):
        # queues.conf was missing when Asterisk started, so app_queue declined ("Not Running"): load it now
        pbx("cli", "module unload app_queue.so")
        pbx("cli", "module load app_queue.so")
    for queue in ("benchaq", SIP_QUEUE["appqueue"]):
        if f"{queue} has " not in pbx("cli", f"queue show {queue}"):  # not "No such command 'queue show …'"
            raise RuntimeError(f"app_queue has no queue {queue} (bench/asterisk/queues.conf not installed?)")
    return pbx("cli", "core show version").strip()


# -- one benchmark run ------------------------------------------------------------------------------
class Bench:
    def __init__(
        self, s: Settings, ari: Ari, tracker: Tracker, tag: str, phases: tuple[str, ...] = PHASES
    ) -> None:
        self.s, self.ari, self.t, self.tag, self.phases = s, ari, tracker, tag, phases
        self.sip_agents: sipp.SipAgents | None = None  # running for the whole run (sipp phase)
        self.seq = 0
        self.asterisk_pid: int | None = None
        self.app_pid: int | None = None
        self.rss_peak: dict[str, int] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.bridges_left = 0

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- callers ------------------------------------------------------------------------------------
    async def call(self, system: str, phase: str, probe: bool = False) -> None:
        self.seq += 1
        own = f"{self.tag}-{system[:3]}-{self.seq}"
        caller = Caller(id=own + "-q", own=own, phase=phase, probe=probe)
        self.t.add(caller)
        endpoint = PROBE_ENDPOINT if probe else ENDPOINTS[system]
        params = {
            "endpoint": endpoint,
            "context": "bench-caller",
            "extension": "wait",
            "priority": 1,
            "channelId": own,
            "otherChannelId": caller.id,
            "timeout": 900,
            "callerId": f"bench <1380000{self.seq % 10000:04d}>",
            # a phone's codec: a Local channel left to choose takes a high-rate slin, and then every
            # caller's music on hold is resampled (50 such callers took both cores)
            "formats": "ulaw",
        }
        try:
            status, body = await self.ari.request("POST", "/channels", params=params)
        except Exception as e:  # noqa: BLE001 - any failure to originate is a failed call
            status, body = 0, repr(e)
        if status >= 300 or status == 0:
            caller.failed = f"originate {status}: {str(body)[:80]}"
            caller.gone = time.time()

    async def hangup(self, channel_id: str) -> None:
        try:
            await self.ari.request("DELETE", f"/channels/{channel_id}")
        except Exception:  # noqa: BLE001
            pass

    async def arrivals(self, system: str, phase: str, rate: float, n: int) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(self.call(system, phase)))
        await asyncio.gather(*tasks)

    async def watchdog(self, phase: str, deadline: float, release: float) -> None:
        """Fail and hang up callers with no agent within the deadline, or not released after the call."""
        while True:
            await asyncio.sleep(0.25)
            now = time.time()
            for c in self.t.active(phase):
                if c.probe or c.failed is not None:
                    continue
                if c.served is None and c.entered is not None and now - c.entered > deadline:
                    c.failed = f"no agent within {deadline:g} s"
                    self.spawn(self.hangup(c.own))
                elif c.served is not None and now - c.served > release:
                    c.failed = "not released after the agent hung up"
                    self.spawn(self.hangup(c.own))

    async def set_handle(self, seconds: float) -> None:
        status, body = await self.ari.request(
            "POST", "/asterisk/variable", params={"variable": "BENCH_HANDLE_S", "value": f"{seconds:g}"}
        )
        if status >= 300:
            raise RuntimeError(f"setting BENCH_HANDLE_S: {status} {body}")

    async def phase(
        self,
        system: str,
        name: str,
        rate: float,
        n: int,
        handle: float,
        deadline: float,
        probes: int = 0,
        arrive: Callable[[], Awaitable[None]] | None = None,
    ) -> list[Caller]:
        """One phase: n callers at rate/s (Local channels, or ``arrive()``: the SIPp caller), the
        watchdog failing callers without an agent within ``deadline``; its callers once all are gone."""
        await self.quiet_app()
        await self.set_handle(handle)
        watch = asyncio.get_running_loop().create_task(self.watchdog(name, deadline, handle + 15))
        try:
            for _ in range(probes):
                self.spawn(self.call(system, name, probe=True))
            await (arrive() if arrive is not None else self.arrivals(system, name, rate, n))
            limit = time.time() + deadline + handle + 30
            while time.time() < limit and any(not c.probe for c in self.t.active(name)):
                await asyncio.sleep(0.2)
            for c in self.t.active(name):
                if not c.probe and c.failed is None:
                    c.failed = "still up at the end of the phase"
                await self.hangup(c.own)
            limit = time.time() + 10
            while time.time() < limit and self.t.active(name):
                await asyncio.sleep(0.1)
        finally:
            watch.cancel()
        callers = [c for c in self.t.callers.values() if c.phase == name]
        failed = sum(1 for c in callers if c.failed and not c.probe)
        log(
            f"{system} {name}",
            calls=sum(1 for c in callers if not c.probe),
            failed=failed,
            why=json.dumps(_failures(callers), ensure_ascii=False) if failed else "",
        )
        await asyncio.sleep(0.5)  # agents' last legs gone
        return callers

    async def sample_rss(self, system: str) -> None:
        while True:
            for who, pid in (("asterisk", self.asterisk_pid), ("app", self.app_pid)):
                kib = proc_rss(pid, "VmRSS")
                if kib is not None:
                    key = f"{system}.{who}"
                    self.rss_peak[key] = max(self.rss_peak.get(key, 0), kib)
            await asyncio.sleep(0.5)

    # -- the systems --------------------------------------------------------------------------------
    async def run_system(self, system: str, workdir: Path) -> dict[str, Any]:
        s = self.s
        proc: subprocess.Popen[bytes] | None = None
        ami: Ami | None = None
        out: dict[str, Any] = {"system": system, "label": LABELS[system]}
        sip_agents = s.sipp_agents if "sipp" in self.phases else 0
        members = [
            ("benchaq", f"Local/{AGENT_BASE + i}@bench-agent", str(AGENT_BASE + i))
            for i in range(1, s.agents + 1)
        ]
        members += [(SIP_QUEUE["appqueue"], f"PJSIP/{a}", a) for a in sipp.agent_ids(sip_agents)]
        if system == "service":
            cfg = workdir / "bench.toml"
            cfg.write_text(service_config(s, sip_agents))
            proc = await start_service(cfg, workdir)
        elif system == "bare":
            proc = await start_bare(s, workdir, sip_agents)
        else:
            ami = Ami("127.0.0.1", 5038, "bench", "bench-dev")  # bench/asterisk/manager_bench.conf
            ami.on_event = self.t.on_ami
            await ami.connect("agent")
            for queue, interface, name in members:
                r = await ami.action(
                    "QueueAdd", Queue=queue, Interface=interface, MemberName=name, Penalty="0"
                )
                if r.get("Response") != "Success":
                    raise RuntimeError(f"AMI QueueAdd {interface} to {queue}: {r.get('Message')}")
        self.app_pid = proc.pid if proc else None
        out["asterisk_idle_cpu"] = await self.settle()
        rss_task = asyncio.get_running_loop().create_task(self.sample_rss(system))
        try:
            await self.phase(system, f"{system}:warmup", 5, s.warmup_calls, 0.5, 10)
            if "sipp" in self.phases:
                out["sipp"] = await self.run_sipp(system, workdir)
            if "local" in self.phases:
                await self.run_local(system, out)
            out["app_vmhwm_kib"] = proc_rss(self.app_pid, "VmHWM")
        finally:
            rss_task.cancel()
            if proc is not None:
                stop_process(proc)
                out["log_warnings"] = log_warnings(
                    workdir / ("service.log" if system == "service" else "bare.log")
                )
            if ami is not None:
                for queue, interface, _ in members:
                    await ami.action("QueueRemove", Queue=queue, Interface=interface)
                await ami.close()
            await self.cleanup()
        out["rss_sampled_kib"] = {
            k.split(".", 1)[1]: v for k, v in self.rss_peak.items() if k.startswith(system + ".")
        }
        return out

    async def run_local(self, system: str, out: dict[str, Any]) -> None:
        """The Local-channel phases after the warm-up: steady, scale, ramp; CPU and metrics around them."""
        s = self.s
        metrics_before = await scrape_metrics() if system == "service" else None
        cpu0 = self.cpu()
        t0 = time.time()
        probes = s.probe_callers if system == "service" else 0  # timer precision: the service only
        out["steady"] = await self.phase(
            system,
            f"{system}:steady",
            s.steady_rate,
            round(s.steady_rate * s.steady_s),
            s.steady_handle,
            s.deadline,
            probes=probes,
        )
        out["scale"] = await self.phase(
            system,
            f"{system}:scale",
            s.scale_rate,
            s.scale_callers,
            s.scale_handle,
            s.scale_deadline,
            probes=probes,
        )
        out["ramp"] = []  # last: its top step may overload the system
        for rate in s.ramp:
            callers = await self.phase(
                system,
                f"{system}:ramp{rate:g}",
                rate,
                round(rate * s.ramp_step_s),
                s.ramp_handle,
                s.deadline,
            )
            out["ramp"].append((rate, callers))
            if any(c.failed for c in callers):
                break
        out["cpu"] = self.cpu_since(cpu0)
        out["elapsed_s"] = time.time() - t0
        if system == "service":
            try:
                out["metrics"] = (metrics_before, await scrape_metrics(timeout_s=60))
            except Exception as e:  # noqa: BLE001 - an overloaded service may not answer
                log("GET /metrics failed", error=repr(e))
                out["metrics"] = (metrics_before, None)

    async def run_sipp(self, system: str, workdir: Path) -> dict[str, Any]:
        """The sipp phase: a few SIP warm-up calls (not counted), then ``--sipp-calls`` SIPp callers
        at ``--sipp-rate``/s to the SIPp agents; their callers, SIPp's own counts and the CPU."""
        s = self.s
        agents = self.sip_agents
        if agents is None:
            raise RuntimeError("the sipp phase needs the SIP agents started (Bench.sip_agents)")
        agents.check()
        if system == "service":
            await wait_service_agents(SIP_QUEUE["service"], s.sipp_agents)

        async def calls(name: str, n: int) -> tuple[list[Caller], dict[str, Any]]:
            counts: dict[str, Any] = {}

            async def arrive() -> None:
                counts.update(
                    await sipp.run_callers(
                        name.replace(":", "-"),
                        system,
                        s.sipp_rate,
                        n,
                        workdir,
                        timeout_s=n / s.sipp_rate + s.deadline + s.sipp_answer + s.sipp_handle + 30,
                    )
                )

            self.t.adopt = name
            try:
                callers = await self.phase(
                    system, name, s.sipp_rate, n, s.sipp_answer + s.sipp_handle, s.deadline, arrive=arrive
                )
            finally:
                self.t.adopt = None
            agents.check()
            return callers, counts

        await calls(f"{system}:sipp-warmup", min(SIP_WARMUP_CALLS, s.sipp_calls))
        cpu0 = self.cpu()
        t0 = time.time()
        callers, counts = await calls(f"{system}:sipp", s.sipp_calls)
        return {
            "callers": callers,
            "sipp": counts,
            "cpu": self.cpu_since(cpu0),
            "elapsed_s": time.time() - t0,
        }

    async def settle(self, limit_s: float = 20.0) -> float | None:
        """Wait (at most limit_s) until Asterisk is quiet: its CPU share over 2 s below 10 %; that share."""
        end = time.time() + limit_s
        share = None
        while time.time() < end:
            a = proc_cpu(self.asterisk_pid)
            await asyncio.sleep(2)
            b = proc_cpu(self.asterisk_pid)
            if a is None or b is None:
                return None
            share = (b - a) / 2
            if share < 0.10:
                break
        log("Asterisk idle CPU", share=f"{share:.1%}" if share is not None else "n/a")
        return share

    async def quiet_app(self, limit_s: float = 60.0) -> None:
        """Before a phase: wait (at most limit_s) until the system's own process has caught up with
        the last phase (under 15 % of a core over 1 s), so one phase's backlog is not the next one's."""
        end = time.time() + limit_s
        waited = 0.0
        while time.time() < end and self.app_pid is not None:
            a = proc_cpu(self.app_pid)
            await asyncio.sleep(1)
            b = proc_cpu(self.app_pid)
            if a is None or b is None or b - a < 0.15:
                break
            waited += 1
        if waited:
            log("waited for the system to catch up", seconds=waited)

    def cpu(self) -> dict[str, float | None]:
        return {
            "asterisk": proc_cpu(self.asterisk_pid),
            "app": proc_cpu(self.app_pid),
            "driver": proc_cpu(os.getpid()),
        }

    def cpu_since(self, before: dict[str, float | None]) -> dict[str, float | None]:
        now = self.cpu()
        return {k: (now[k] - v) if now[k] is not None and v is not None else None for k, v in before.items()}

    async def cleanup(self) -> int:
        """Hang up every channel the benchmark made (callers, agent legs) and destroy the bridges a
        system left behind; how many channels there were."""
        status, chans = await self.ari.request("GET", "/channels")
        mine = [
            c["id"]
            for c in chans or []
            if c["id"].startswith(self.tag + "-")
            or c["id"] in self.t.callers  # the SIPp caller's
            or re.match(r"(Local/\d+@bench-(agent|never)|PJSIP/benchcaller|PJSIP/80\d\d)-", c.get("name", ""))
        ]
        for cid in mine:
            await self.hangup(cid)
        if mine:
            await asyncio.sleep(1)
        status, bridges = await self.ari.request("GET", "/bridges")
        left = [
            b["id"]
            for b in bridges or []
            if b["id"].startswith(self.tag + "-") or b["id"].partition("~")[0] in self.t.callers
        ]
        for bid in left:
            await self.ari.request("DELETE", "/bridges/" + quote(bid, safe=""))
        if left:
            log("bridges left behind, destroyed", count=len(left))
        self.bridges_left += len(left)
        return len(mine)


async def http_get(url: str, timeout_s: float = 10) -> tuple[int, str]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
            return r.status, await r.text()


async def scrape_metrics(timeout_s: float = 10) -> str:
    status, text = await http_get(f"http://127.0.0.1:{API_PORT}/metrics", timeout_s)
    if status != 200:
        raise RuntimeError(f"GET /metrics: {status}")
    return text


async def start_service(cfg: Path, workdir: Path) -> subprocess.Popen[bytes]:
    check = subprocess.run(
        [sys.executable, "-m", "ari_app", "check-config", str(cfg)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"bench config refused: {check.stdout}{check.stderr}")
    logf = open(workdir / "service.log", "wb")
    profile = os.environ.get("BENCH_PROFILE_SERVICE")  # a file: run the service under cProfile (diagnosis)
    wrap = ["-m", "cProfile", "-o", profile] if profile else []
    proc = subprocess.Popen(
        [sys.executable, *wrap, "-m", "ari_app", "run", "--config", str(cfg)],
        cwd=workdir,
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    limit = time.time() + 30
    while time.time() < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited ({proc.returncode}); log: {workdir / 'service.log'}")
        try:
            status, text = await http_get(f"http://127.0.0.1:{API_PORT}/metrics")
            available = available_agents(text, "bench")
            if status == 200 and "callcenter_ari_connected 1" in text and available:
                await asyncio.sleep(1)
                log("service up", pid=proc.pid, agents_available=available)
                return proc
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        await asyncio.sleep(0.3)
    stop_process(proc)
    raise RuntimeError(f"the service did not come up in 30 s; log: {workdir / 'service.log'}")


def available_agents(metrics: str, queue: str) -> int:
    """The service's available agents of a queue, from its /metrics text (0 if not there)."""
    m = re.search(
        rf'callcenter_queue_agents\{{queue="{re.escape(queue)}",state="available"\}} (\d+)', metrics
    )
    return int(m.group(1)) if m else 0


async def wait_service_agents(queue: str, n: int, limit_s: float = 15.0) -> None:
    """Wait until the service has n available agents in the queue (the SIP agents: device state
    from their registrations); a warning, not an error, if it has not: the calls then say why."""
    end = time.time() + limit_s
    available = 0
    while time.time() < end:
        status, text = await http_get(f"http://127.0.0.1:{API_PORT}/metrics")
        available = available_agents(text, queue) if status == 200 else 0
        if available >= n:
            return
        await asyncio.sleep(0.3)
    log(f"warning: the service has {available} of {n} agents available in queue {queue}")


async def start_bare(s: Settings, workdir: Path, sip_agents: int = 0) -> subprocess.Popen[bytes]:
    logf = open(workdir / "bare.log", "wb")
    sip = sipp.agent_ids(sip_agents)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bare_ari",
            "--agents",
            f"{AGENT_BASE + 1}-{AGENT_BASE + s.agents}",
            "--ring-timeout",
            str(s.ring_s),
            *(["--sip-agents", f"{sip[0]}-{sip[-1]}", "--sip-queue", SIP_QUEUE["bare"]] if sip else []),
        ],
        cwd=REPO,
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    limit = time.time() + 15
    while time.time() < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"the bare loop exited ({proc.returncode}); log: {workdir / 'bare.log'}")
        if b"bare.connected" in (workdir / "bare.log").read_bytes():
            log("bare loop up", pid=proc.pid)
            return proc
        await asyncio.sleep(0.2)
    stop_process(proc)
    raise RuntimeError("the bare loop did not connect in 15 s")


def log_warnings(path: Path) -> dict[str, int]:
    """How often each warning or error event is in a JSON-lines log (the service's own account)."""
    counts: collections.Counter[str] = collections.Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("level") in ("warning", "error", "critical"):
            counts[str(rec.get("event"))] += 1
    return dict(counts.most_common())


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- figures -------------------------------------------------------------------------------------
def _latency(t: Tracker, callers: list[Caller]) -> list[float]:
    out = []
    for c in callers:
        leg = t.first_leg(c)
        if c.entered is not None and leg is not None and not c.probe:
            out.append(leg.created - c.entered)
    return out


def _failures(callers: list[Caller]) -> dict[str, int]:
    return dict(collections.Counter(c.failed for c in callers if c.failed and not c.probe))


def _timers(t: Tracker, s: Settings, callers: list[Caller]) -> dict[str, Any]:
    """R-RING and R-WAIT as Asterisk saw them: the probe callers' rings of agents that never answer
    (leg created → the service's hang-up request), every caller's apology (entered → PlaybackStarted)."""
    rings = [t.legs[lid] for c in callers if c.probe for lid in c.legs]
    rung = [leg for leg in rings if leg.never and leg.up is None and leg.destroyed is not None]
    cut = [(leg.hangup or leg.destroyed) - leg.created - s.probe_ring_s for leg in rung]
    gone = [leg.destroyed - leg.created - s.probe_ring_s for leg in rung]
    apology = [c.apology - c.entered - s.apology_s for c in callers if c.apology is not None and c.entered]
    missing = sum(
        1
        for c in callers
        if c.apology is None
        and c.entered is not None
        and ((c.served or c.ended or c.gone or 0) - c.entered) > s.apology_s + 1
    )
    early = sum(
        1
        for c in callers
        if c.apology is not None
        and c.entered is not None
        and c.served is not None
        and c.served < c.entered + s.apology_s
    )
    return {
        "ring_cutoff_error_s": stats.summary(cut),
        "ring_target_s": s.probe_ring_s,
        "ring_leg_destroyed_error_s": stats.summary(gone),
        "apology_error_s": stats.summary(apology),
        "apology_target_s": s.apology_s,
        "apology_missing": missing,
        "apology_after_answer": early,
    }


def _answered(callers: list[Caller]) -> dict[str, Any]:
    return stats.summary(
        c.served - c.entered for c in callers if c.served is not None and c.entered is not None
    )


def _ami_join_to_called(callers: list[Caller]) -> dict[str, Any]:
    """app_queue's own view: AMI QueueCallerJoin → the first AgentCalled."""
    return stats.summary(
        c.ami_called - c.ami_join for c in callers if c.ami_join is not None and c.ami_called is not None
    )


def _cpu_figures(cpu: dict[str, float | None], calls: int, elapsed_s: float) -> dict[str, Any]:
    return {
        "calls": calls,
        "elapsed_s": elapsed_s,
        "app_s": cpu["app"],
        "asterisk_s": cpu["asterisk"],
        "driver_s": cpu["driver"],
        "app_per_1000_calls_s": stats.per_thousand(cpu["app"], calls),
        "asterisk_per_1000_calls_s": stats.per_thousand(cpu["asterisk"], calls),
        "total_per_1000_calls_s": stats.per_thousand((cpu["app"] or 0) + (cpu["asterisk"] or 0), calls),
    }


def figures(t: Tracker, s: Settings, raw: dict[str, Any]) -> dict[str, Any]:
    """One system's figures: the Local phases' (steady, ramp, scale, ...) and the sipp phase's
    (key ``sipp``), each when it ran."""
    f: dict[str, Any] = {"label": raw["label"]}
    if "steady" in raw:
        local_figures(t, s, raw, f)
    if "sipp" in raw:
        f["sipp"] = sipp_figures(t, s, raw["system"], raw["sipp"])
    f["log_warnings"] = raw.get("log_warnings", {})
    f["asterisk_idle_cpu_share"] = raw.get("asterisk_idle_cpu")
    f["rss"] = {
        "app_vmhwm_kib": raw.get("app_vmhwm_kib"),
        "sampled_max_vmrss_kib": raw.get("rss_sampled_kib"),
    }
    return f


def sipp_figures(t: Tracker, s: Settings, system: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The sipp phase: every call SIPp was asked for is counted; one that never became a channel
    in Asterisk (a SIP failure before the dialplan) is a failure too."""
    callers = [c for c in raw["callers"] if not c.probe]
    fails = _failures(callers)
    missing = max(0, s.sipp_calls - len(callers))
    if missing:
        fails["no channel in Asterisk (SIP failure)"] = missing
    f: dict[str, Any] = {
        "calls": s.sipp_calls,
        "rate_per_s": s.sipp_rate,
        "agents": s.sipp_agents,
        "channels": len(callers),
        "failed": sum(fails.values()),
        "failures": fails,
        "answered_by_agent": sum(1 for c in callers if c.served is not None),
        "enter_to_agent_leg_s": stats.summary(_latency(t, callers)),
        "enter_to_agent_answered_s": _answered(callers),
        "sipp": raw["sipp"],
        "cpu": _cpu_figures(raw["cpu"], len(callers), raw["elapsed_s"]),
    }
    if system == "appqueue":
        f["ami_join_to_agent_called_s"] = _ami_join_to_called(callers)
    return f


def local_figures(t: Tracker, s: Settings, raw: dict[str, Any], f: dict[str, Any]) -> None:
    system = raw["system"]
    steady = raw["steady"]
    f["steady"] = {
        "calls": len(steady),
        "failed": _failures(steady),
        "enter_to_agent_leg_s": stats.summary(_latency(t, steady)),
        "enter_to_agent_answered_s": _answered(steady),
    }
    if system == "appqueue":
        f["steady"]["ami_join_to_agent_called_s"] = _ami_join_to_called(steady)
    ramp = []
    max_ok = None
    for rate, callers in raw["ramp"]:
        lat = stats.summary(_latency(t, callers))
        fails = _failures(callers)
        ramp.append(
            {
                "rate_per_s": rate,
                "calls": len(callers),
                "failed": sum(fails.values()),
                "failures": fails,
                "enter_to_agent_leg_p50_s": lat["p50"],
                "enter_to_agent_leg_p99_s": lat["p99"],
            }
        )
        if not fails and (max_ok is None or rate > max_ok):
            max_ok = rate
        if fails:
            break
    f["ramp"] = ramp
    f["max_rate_no_failure_per_s"] = max_ok
    f["ramp_top_reached"] = bool(ramp) and ramp[-1]["failed"] == 0 and ramp[-1]["rate_per_s"] == max(s.ramp)
    scale = [c for c in raw["scale"] if not c.probe]
    waits = [
        (c.entered, c.served or c.ended or c.gone)
        for c in scale
        if c.entered is not None and (c.served or c.ended or c.gone)
    ]
    scale_legs = [t.legs[lid] for c in scale for lid in c.legs]
    first = min((c.entered for c in scale if c.entered is not None), default=None)
    last = max((c.gone for c in scale if c.gone is not None), default=None)
    f["scale"] = {
        "callers": len(scale),
        "agents": s.agents,
        "failed": _failures(scale),
        "max_waiting": max_concurrent(waits),
        "answered": sum(1 for c in scale if c.served is not None),
        "agent_freed_to_next_leg_s": stats.summary(
            redispatch_gaps(scale_legs, {c.id: c.entered for c in scale if c.entered is not None})
        ),
        "wait_s": stats.summary(e - s_ for s_, e in waits),
        "drain_s": (last - first) if first is not None and last is not None else None,
    }
    if system == "service":
        f["timers"] = {"steady": _timers(t, s, raw["steady"]), "scale": _timers(t, s, raw["scale"])}
        before, after = raw["metrics"]
        b0, _ = stats.parse_histogram(before or "", "callcenter_event_loop_lag_seconds")
        b1, n1 = stats.parse_histogram(after or "", "callcenter_event_loop_lag_seconds")
        lag = stats.diff_buckets(b1, b0)
        f["loop_lag"] = {
            "samples": lag[-1][1] if lag else 0,
            "p50_s": stats.histogram_quantile(0.5, lag),
            "p99_s": stats.histogram_quantile(0.99, lag),
            "buckets": [[("+Inf" if b == float("inf") else b), c] for b, c in lag],
        }
    calls = len(steady) + sum(len(c) for _, c in raw["ramp"]) + len(raw["scale"])
    f["cpu"] = _cpu_figures(raw["cpu"], calls, raw["elapsed_s"])


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1000


def table_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    sysf = res["systems"]
    for system in SYSTEMS:
        if "steady" not in sysf.get(system, {}):
            continue
        f = sysf[system]
        lat = f["steady"]["enter_to_agent_leg_s"]
        rate = f["max_rate_no_failure_per_s"]
        rows.append(
            {
                "system": f["label"],
                "p50": _ms(lat["p50"]),
                "p95": _ms(lat["p95"]),
                "p99": _ms(lat["p99"]),
                "rate": (f"≥ {rate:g}" if f["ramp_top_reached"] else f"{rate:g}")
                if rate is not None
                else f"< {min(res['settings']['ramp']):g}",
                "cpu_app": f["cpu"]["app_per_1000_calls_s"] if system != "appqueue" else "(in Asterisk)",
                "cpu_ast": f["cpu"]["asterisk_per_1000_calls_s"],
                "cpu_total": f["cpu"]["total_per_1000_calls_s"],
                "lag": _ms(f["loop_lag"]["p99_s"]) if "loop_lag" in f else "n/a",
                "rss": f["rss"]["app_vmhwm_kib"] / 1024 if f["rss"]["app_vmhwm_kib"] else "n/a",
                "scale": f"{f['scale']['max_waiting']} / {f['scale']['agents']}, "
                f"{sum(f['scale']['failed'].values())} failed",
            }
        )
    for other in ("bare", "appqueue"):
        if "steady" in sysf.get("service", {}) and "steady" in sysf.get(other, {}):
            a, b = sysf["service"], sysf[other]
            la, lb = a["steady"]["enter_to_agent_leg_s"], b["steady"]["enter_to_agent_leg_s"]
            x = _times
            rows.append(
                {
                    "system": f"service / {LABELS[other]}",
                    "p50": x(stats.ratio(la["p50"], lb["p50"])),
                    "p95": x(stats.ratio(la["p95"], lb["p95"])),
                    "p99": x(stats.ratio(la["p99"], lb["p99"])),
                    "rate": _rate_ratio(a, b),
                    "cpu_app": x(
                        stats.ratio(a["cpu"]["app_per_1000_calls_s"], b["cpu"]["app_per_1000_calls_s"])
                    )
                    if other == "bare"
                    else "",
                    "cpu_ast": x(
                        stats.ratio(
                            a["cpu"]["asterisk_per_1000_calls_s"], b["cpu"]["asterisk_per_1000_calls_s"]
                        )
                    ),
                    "cpu_total": x(
                        stats.ratio(a["cpu"]["total_per_1000_calls_s"], b["cpu"]["total_per_1000_calls_s"])
                    ),
                    "lag": "",
                    "rss": x(stats.ratio(a["rss"]["app_vmhwm_kib"], b["rss"]["app_vmhwm_kib"]))
                    if other == "bare"
                    else "",
                    "scale": "",
                }
            )
    return rows


def _times(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}×"


def _rate_ratio(a: dict[str, Any], b: dict[str, Any]) -> str:
    """The max-rate ratio; a system that passed the ramp's top step only has a lower bound."""
    r = stats.ratio(a["max_rate_no_failure_per_s"], b["max_rate_no_failure_per_s"])
    if r is None:
        return "n/a"
    if a["ramp_top_reached"] and b["ramp_top_reached"]:
        return "both ≥ top step"
    if b["ramp_top_reached"]:
        return f"≤ {r:.2f}×"
    if a["ramp_top_reached"]:
        return f"≥ {r:.2f}×"
    return f"{r:.2f}×"


MAIN_COLUMNS = [
    ("system", "system", ""),
    ("p50", "enter → agent leg p50 ms", ".1f"),
    ("p95", "p95 ms", ".1f"),
    ("p99", "p99 ms", ".1f"),
    ("rate", "max calls/s, no failure", ""),
    ("cpu_app", "app CPU s / 1000 calls", ".2f"),
    ("cpu_ast", "Asterisk CPU s / 1000 calls", ".2f"),
    ("cpu_total", "app + Asterisk", ".2f"),
    ("lag", "event-loop lag p99 ms", ".1f"),
    ("rss", "peak RSS MiB", ".1f"),
    ("scale", "scale: most waiting / agents", ""),
]


def main_table(res: dict[str, Any]) -> str:
    return stats.markdown_table(MAIN_COLUMNS, table_rows(res))


SIPP_COLUMNS = [
    ("system", "system (SIP)", ""),
    ("calls", "calls", "d"),
    ("failed", "failed", "d"),
    ("p50", "enter → agent leg p50 ms", ".1f"),
    ("p95", "p95 ms", ".1f"),
    ("p99", "p99 ms", ".1f"),
    ("cpu_app", "app CPU s / 1000 calls", ".2f"),
    ("cpu_ast", "Asterisk CPU s / 1000 calls", ".2f"),
    ("sipp", "SIPp: successful / failed", ""),
    ("why", "failures", ""),
]


def sipp_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The sipp phase's table: one row per system, then the service's latency ratios."""
    sysf = {k: v["sipp"] for k, v in res["systems"].items() if "sipp" in v}
    rows = []
    for system in SYSTEMS:
        if system not in sysf:
            continue
        f, counts = sysf[system], sysf[system]["sipp"]
        lat = f["enter_to_agent_leg_s"]
        rows.append(
            {
                "system": res["systems"][system]["label"],
                "calls": f["calls"],
                "failed": f["failed"],
                "p50": _ms(lat["p50"]),
                "p95": _ms(lat["p95"]),
                "p99": _ms(lat["p99"]),
                "cpu_app": f["cpu"]["app_per_1000_calls_s"] if system != "appqueue" else "(in Asterisk)",
                "cpu_ast": f["cpu"]["asterisk_per_1000_calls_s"],
                "sipp": f"{_count(counts.get('successful'))} / {_count(counts.get('failed'))}",
                "why": ", ".join(f"{k}: {v}" for k, v in f["failures"].items()),
            }
        )
    for other in ("bare", "appqueue"):
        if "service" in sysf and other in sysf:
            la, lb = sysf["service"]["enter_to_agent_leg_s"], sysf[other]["enter_to_agent_leg_s"]
            rows.append(
                {
                    "system": f"service / {LABELS[other]}",
                    **{k: _times(stats.ratio(la[k], lb[k])) for k in ("p50", "p95", "p99")},
                    **{k: "" for k in ("calls", "failed", "cpu_app", "cpu_ast", "sipp", "why")},
                }
            )
    return rows


def _count(n: int | None) -> str:
    return "n/a" if n is None else str(n)


def sipp_table(res: dict[str, Any]) -> str:
    return stats.markdown_table(SIPP_COLUMNS, sipp_rows(res))


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [
        f"# Benchmark: the service vs app_queue vs a bare ARI loop ({res['run']['started']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']} (Debian {m['debian']}), "
        f"kernel {m['kernel']}, Python {m['python']}; load average {m['loadavg_start']:.2f} at the start, "
        f"{m.get('loadavg_end', 0):.2f} at the end (other work shares the machine).  ",
        f"Asterisk: `{res['asterisk']}`.  ",
        f"Commit `{res['run']['commit']}`, command `{res['run']['command']}`, "
        f"{res['run']['duration_s']:.0f} s.",
        "",
    ]
    if any("steady" in f for f in res["systems"].values()):
        out += local_markdown(res)
    if any("sipp" in f for f in res["systems"].values()):
        out += sipp_markdown(res)
    return "\n".join(out)


def local_markdown(res: dict[str, Any]) -> list[str]:
    """The Local-channel phases' sections of bench.md."""
    s = res["settings"]
    out = [
        f"Same Asterisk, same {s['agents']} Local-channel agents (answer at once), ring timeout "
        f"{s['ring_s']} s, one system after the other. Latency: the caller entering the queue "
        "(ARI `ChannelDialplan` to Stasis/Queue) to the agent leg existing (`ChannelCreated`), "
        "Asterisk's timestamps, in the steady "
        f"phase ({s['steady_rate']:g} calls/s, handle {s['steady_handle']:g} s: an agent always idle). Max "
        f"rate: ramp {', '.join(f'{r:g}' for r in s['ramp'])} calls/s, {s['ramp_step_s']:g} s each, handle "
        f"{s['ramp_handle']:g} s; a failure is a caller without an answered agent leg within "
        f"{s['deadline']:g} s or any error; the ramp stops at the first failing step. CPU: "
        "utime+stime of the process over the measured phases (warm-up excluded) ÷ calls. Scale: "
        f"{s['scale_callers']} callers at {s['scale_rate']:g}/s for {s['agents']} agents, handle "
        f"{s['scale_handle']:g} s.",
        "",
        main_table(res),
        "",
    ]
    svc = res["systems"].get("service")
    if svc and "timers" in svc:
        rows = []
        for phase, what in (
            ("steady", f"steady, {s['steady_rate']:g} calls/s"),
            ("scale", f"scale, {s['scale_callers']} callers"),
        ):
            tm = svc["timers"][phase]
            rows += [
                {
                    "timer": f"ring cut-off (R-RING, ring_target_s = {tm['ring_target_s']}), {what}",
                    **{k: _ms(tm["ring_cutoff_error_s"][k]) for k in ("p50", "p99", "max")},
                    "n": tm["ring_cutoff_error_s"]["n"],
                    "how": "agent leg ChannelCreated → ChannelHangupRequest, − target",
                },
                {
                    "timer": f"wait apology (R-WAIT, {tm['apology_target_s']:g} s), {what}",
                    **{k: _ms(tm["apology_error_s"][k]) for k in ("p50", "p99", "max")},
                    "n": tm["apology_error_s"]["n"],
                    "how": f"ChannelDialplan(Stasis) → PlaybackStarted(wait-apology), − target; "
                    f"{tm['apology_missing']} missing, {tm['apology_after_answer']} after an answer",
                },
            ]
        out += [
            "## Timer precision of the service",
            "",
            f"{s['probe_callers']} more callers ring agents that never answer (queue `bring`) during the "
            "steady and the scale phase. Positive: late; negative: early.",
            "",
            stats.markdown_table(
                [
                    ("timer", "timer", ""),
                    ("p50", "late p50 ms", ".1f"),
                    ("p99", "late p99 ms", ".1f"),
                    ("max", "max ms", ".1f"),
                    ("n", "n", "d"),
                    ("how", "measured", ""),
                ],
                rows,
            ),
            "",
        ]
    ramp_rows = []
    for system in SYSTEMS:
        f = res["systems"].get(system)
        for step in (f or {}).get("ramp", []):
            ramp_rows.append(
                {
                    "system": f["label"],
                    "rate": step["rate_per_s"],
                    "calls": step["calls"],
                    "failed": step["failed"],
                    "p50": _ms(step["enter_to_agent_leg_p50_s"]),
                    "p99": _ms(step["enter_to_agent_leg_p99_s"]),
                    "why": ", ".join(f"{k}: {v}" for k, v in step["failures"].items()),
                }
            )
    out += [
        "## Ramp",
        "",
        stats.markdown_table(
            [
                ("system", "system", ""),
                ("rate", "calls/s", "g"),
                ("calls", "calls", "d"),
                ("failed", "failed", "d"),
                ("p50", "enter → leg p50 ms", ".1f"),
                ("p99", "p99 ms", ".1f"),
                ("why", "failures", ""),
            ],
            ramp_rows,
        ),
        "",
    ]
    scale_rows = []
    for system in SYSTEMS:
        f = res["systems"].get(system)
        if f and "scale" in f:
            sc = f["scale"]
            scale_rows.append(
                {
                    "system": f["label"],
                    "callers": sc["callers"],
                    "waiting": sc["max_waiting"],
                    "answered": sc["answered"],
                    "failed": sum(sc["failed"].values()),
                    "p50": _ms(sc["agent_freed_to_next_leg_s"]["p50"]),
                    "p99": _ms(sc["agent_freed_to_next_leg_s"]["p99"]),
                    "n": sc["agent_freed_to_next_leg_s"]["n"],
                    "drain": sc["drain_s"],
                    "rss_ast": (f["rss"]["sampled_max_vmrss_kib"] or {}).get("asterisk", 0) / 1024,
                }
            )
    out += [
        "## Scale",
        "",
        stats.markdown_table(
            [
                ("system", "system", ""),
                ("callers", "callers", "d"),
                ("waiting", "most waiting", "d"),
                ("answered", "answered", "d"),
                ("failed", "failed", "d"),
                ("p50", "agent free → next leg p50 ms", ".1f"),
                ("p99", "p99 ms", ".1f"),
                ("n", "n", "d"),
                ("drain", "first in → last out s", ".1f"),
                ("rss_ast", "Asterisk RSS max MiB", ".0f"),
            ],
            scale_rows,
        ),
        "",
        "app_queue's own view (AMI `QueueCallerJoin` → `AgentCalled`, steady phase): "
        + _ami_line(res["systems"].get("appqueue", {}).get("steady", {})),
        "",
        f"A scale caller fails when no agent answers within {s['scale_deadline']:g} s or when it is not "
        "hung up within 15 s after its agent hung up. "
        "The driver (bench/run.py) runs on the same 2 cores and receives every channel event through ARI "
        "(subscribed to every channel, filtered): its cost to Asterisk is in every system's Asterisk "
        "CPU alike. Agents answer with `Answer()`, which keeps the channel in the dialplan 0.5 s more, "
        "so the handle time is the configured one + 0.5 s. The service's ring probe (its queue `bring`, "
        f"{s['probe_callers']} callers) runs only in the service's steady and scale phases.",
        "",
    ]
    return out


def sipp_markdown(res: dict[str, Any]) -> list[str]:
    """The sipp phase's section of bench.md."""
    s = res["settings"]
    return [
        "## Real SIP (SIPp)",
        "",
        (
            f"The same Asterisk and systems with SIP phones: one SIPp caller places {s['sipp_calls']} calls at "
            f"{s['sipp_rate']:g} calls/s (PCMA with RTP) into each system's queue; the agents are "
            f"{s['sipp_agents']} registered SIPp phones (PJSIP endpoints, `direct_media = no`) that ring "
            f"{s['sipp_answer']:g} s, answer with RTP and hang up {s['sipp_handle']:g} s later; ring timeout "
            f"{s['ring_s']} s. Latency: the caller entering the queue (ARI `ChannelDialplan` to Stasis/Queue) to "
            "the agent leg existing (`ChannelCreated`), Asterisk's timestamps; a failure is a call without an answered agent leg within "
            f"{s['deadline']:g} s, any error, or a call SIPp was asked for that never became a channel. "
            f"{SIP_WARMUP_CALLS} SIP warm-up calls per system are not counted. CPU: over the measured calls "
            "÷ calls; the SIPp processes' own CPU is not in it (they share the 2 cores)."
        ),
        "",
        sipp_table(res),
        "",
        "app_queue's own view (AMI `QueueCallerJoin` → `AgentCalled`, SIP): "
        + _ami_line(res["systems"].get("appqueue", {}).get("sipp", {})),
        "",
    ]


def _ami_line(f: dict[str, Any]) -> str:
    """app_queue's AMI latency of a phase's figures (steady, sipp), or n/a."""
    if "ami_join_to_agent_called_s" not in f:
        return "n/a"
    a = f["ami_join_to_agent_called_s"]
    fmt = lambda v: "n/a" if v is None else f"{v * 1000:.1f} ms"  # noqa: E731
    return f"p50 {fmt(a['p50'])}, p95 {fmt(a['p95'])}, p99 {fmt(a['p99'])} (n = {a['n']})."


# -- main ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Settings]:
    d = Settings()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated, of " + ", ".join(SYSTEMS))
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated, of local (warm-up, steady, scale, ramp with Local channels) and sipp "
        "(real SIP with SIPp); --phases local skips SIPp",
    )
    p.add_argument("--out", default=str(HERE / "results"), help="where bench.json and bench.md go")
    p.add_argument("--quick", action="store_true", help="a small run (20 agents, short phases) to try things")
    p.add_argument("--no-pbx-up", action="store_true", help="do not run PBX_BENCH=1 scripts/pbx up first")
    for name, value in asdict(d).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, list):
            p.add_argument(flag, default=",".join(f"{v:g}" for v in value), help=f"default {value}")
        else:
            p.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    a = p.parse_args(argv)
    if a.quick:
        for k, v in {
            "agents": 20,
            "steady_s": 10,
            "ramp": "10,20",
            "ramp_step_s": 4,
            "scale_callers": 60,
            "scale_rate": 30,
            "scale_handle": 12,
            "probe_callers": 3,
            "warmup_calls": 5,
            "sipp_calls": 30,
            "sipp_agents": 15,
        }.items():
            if getattr(a, k) == p.get_default(k):  # what was not given on the command line
                setattr(a, k, v)
    settings = Settings(
        **{
            k: ([float(x) for x in str(getattr(a, k)).split(",")] if isinstance(v, list) else getattr(a, k))
            for k, v in asdict(d).items()
        }
    )
    problems = []
    if settings.agents < 1 or settings.agents > 899:
        problems.append(f"--agents: must be 1..899, got {settings.agents}")
    if settings.probe_callers > 99:
        problems.append(f"--probe-callers: must be 0..99, got {settings.probe_callers}")
    if not 1 <= settings.sipp_agents <= sipp.AGENTS_MAX:
        problems.append(
            f"--sipp-agents: must be 1..{sipp.AGENTS_MAX} (bench/asterisk/pjsip_bench.conf), got {settings.sipp_agents}"
        )
    if settings.sipp_calls < 1:
        problems.append(f"--sipp-calls: must be >= 1, got {settings.sipp_calls}")
    if settings.sipp_answer < 0:
        problems.append(f"--sipp-answer: must be >= 0, got {settings.sipp_answer}")
    for name in (
        "steady_rate",
        "scale_rate",
        "steady_s",
        "ramp_step_s",
        "deadline",
        "sipp_rate",
        "sipp_handle",
    ):
        if getattr(settings, name) <= 0:
            problems.append(f"--{name.replace('_', '-')}: must be > 0, got {getattr(settings, name)}")
    if any(r <= 0 for r in settings.ramp):
        problems.append(f"--ramp: every rate must be > 0, got {settings.ramp}")
    bad = [x for x in a.systems.split(",") if x not in SYSTEMS]
    if bad:
        problems.append(f"--systems: unknown {', '.join(bad)} (known: {', '.join(SYSTEMS)})")
    bad = [x for x in a.phases.split(",") if x not in PHASES]
    if bad:
        problems.append(f"--phases: unknown {', '.join(bad)} (known: {', '.join(PHASES)})")
    if problems:
        p.error("; ".join(problems))
    return a, settings


async def amain(a: argparse.Namespace, s: Settings) -> int:
    started = time.time()
    # SIGTERM (e.g. `timeout`) cancels the run like Ctrl-C: the finally blocks stop SIPp and the systems
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    info = machine()
    systems = [x for x in a.systems.split(",")]
    phases = tuple(x for x in PHASES if x in a.phases.split(","))
    if "sipp" in phases:
        sipp.check_sipp()
    version = pbx("cli", "core show version").strip() if a.no_pbx_up else pbx_up()
    log("PBX up", version=version.split()[1] if version else "?")
    asterisk_pid = find_asterisk_pid(os.environ.get("PBX_ROOT", "/var/lib/ari-app/pbx"))
    if asterisk_pid is None:
        raise RuntimeError("no Asterisk process found in the PBX root")
    tracker = Tracker()
    ari = Ari("http://127.0.0.1:8088/ari", "callcenter", "callcenter-dev")
    tag = f"bn{int(started) % 100000}"
    bench = Bench(s, ari, tracker, tag, phases)
    bench.asterisk_pid = asterisk_pid
    status, chans = await ari.request("GET", "/channels")
    if chans:
        log("warning: channels already up before the run", count=len(chans))
    await ari.subscribe(tracker.on_ari)
    results: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="ari-app-bench-"))
    try:
        if "sipp" in phases:
            bench.sip_agents = sipp.SipAgents(s.sipp_agents, s.sipp_handle, s.sipp_answer, workdir)
            await bench.sip_agents.start(ari)
            log("SIP agents registered", agents=s.sipp_agents, port=bench.sip_agents.port)
        for system in systems:
            log(f"system {system}")
            raw = await bench.run_system(system, workdir)
            results[system] = figures(tracker, s, raw)
    finally:
        if bench.sip_agents is not None:
            await bench.sip_agents.stop()
        leftover = await bench.cleanup()
        status, chans = await ari.request("GET", "/channels")
        await ari.close()
    info["loadavg_end"] = os.getloadavg()[0]
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    res = {
        "run": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
            "duration_s": time.time() - started,
            "commit": commit,
            "command": "python -m bench " + " ".join(sys.argv[1:]),
            "ari_events_seen_by_driver": ari.events,
            "channels_left_hung_up": leftover,
            "channels_after": len(chans or []),
        },
        "machine": info,
        "asterisk": version,
        "settings": asdict(s),
        "systems": results,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    (out / "bench.md").write_text(markdown(res))
    if "local" in phases:
        print(main_table(res))
    if "sipp" in phases:
        print(("\n" if "local" in phases else "") + sipp_table(res))
    print(
        f"\n(details: {out / 'bench.md'}, {out / 'bench.json'}; logs in {workdir}; "
        f"channels left after the run: {len(chans or [])})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    a, s = parse_args(argv)
    if a.quick and a.out == str(HERE / "results"):
        a.out = "/tmp/ari-app-bench-quick"
    return asyncio.run(amain(a, s))
