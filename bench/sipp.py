"""Real SIP for the benchmark's sipp phase: SIPp agents and a SIPp caller.

The SIPp processes, scenarios and RTP streams are the e2e tests' (tests/e2e/sipp.py,
tests/e2e/sipp/{register,uas,uac}.xml), used as they are:

* ``SipAgents``: agents 8001.. (bench/asterisk/pjsip_bench.conf), registered one after the other
  from ONE UDP port (register.xml, Contact ``sip:<agent>@127.0.0.1:<port>``), then ONE uas.xml
  process on that port answers every INVITE after ``answer_s``, sends RTP and hangs up (BYE)
  ``handle_s`` after the answer. Asterisk stores the REGISTER's source address (rewrite_contact)
  with the Contact's user part, so PJSIP/8001 is INVITEd at ``sip:8001@127.0.0.1:<port>``: any
  number of agents for one process, and SIPp takes each INVITE as a new call. (A REGISTER
  scenario cannot take the INVITEs itself, hence register first, then the UAS on the same port.)
* ``run_callers``: one uac.xml process (endpoint benchcaller, digest auth) places ``calls`` calls
  at ``rate`` per second to the system under test (extension service, appqueue or bare of
  context bench-sipp); each call sends RTP and waits for Asterisk's BYE (the agent hung up, the
  system ends the caller's call). SIPp's own call counts come from its statistics file.

Every SIPp process is a child killed (SIGTERM, then SIGKILL) by ``stop()`` / on the way out of
``run_callers``; the e2e module also kills leftovers at exit. Their files (SIP messages, errors,
scenario logs) stay in one directory per process under the run's work directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .clients import Ari

REPO = Path(__file__).resolve().parent.parent
E2E_SIPP = REPO / "tests" / "e2e" / "sipp.py"
CALLER = "benchcaller"  # bench/asterisk/pjsip_bench.conf
PASSWORD = "bench-sip"  # every bench SIP endpoint's (pjsip_bench.conf, template bench-sip-auth)
AGENT_BASE = 8000  # agents 8001..
AGENTS_MAX = 40  # as many as pjsip_bench.conf defines
REGISTER_EXPIRES = 3600  # no refresh: longer than any run; unregistered at the end

__all__ = ["AGENTS_MAX", "AGENT_BASE", "CALLER", "SipAgents", "agent_ids", "check_sipp", "run_callers"]


def agent_ids(n: int) -> list[str]:
    return [str(AGENT_BASE + i) for i in range(1, n + 1)]


_e2e: ModuleType | None = None


def e2e() -> ModuleType:
    """tests/e2e/sipp.py (SippProcess, free_udp_ports, write_rtp_pcap), loaded by path: the e2e
    tests import it as the top-level module ``sipp``, which is not on the bench's path."""
    global _e2e
    if _e2e is None:
        spec = importlib.util.spec_from_file_location("bench_e2e_sipp", E2E_SIPP)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load the SIPp helpers {E2E_SIPP}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _e2e = module
    return _e2e


def check_sipp() -> None:
    """A clear error before anything starts when SIPp is missing."""
    binary = e2e().SIPP
    if shutil.which(binary) is None:
        raise RuntimeError(
            f"SIPp ({binary!r}) not found: install it (apt-get install sip-tester, or set SIPP=/path/to/sipp), "
            "or skip the SIP phase with --phases local"
        )


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


class SipAgents:
    """Agents 8001..8000+n as one SIPp UAS (see the module doc); ``start()``, then ``stop()``."""

    def __init__(self, n: int, handle_s: float, answer_s: float, workdir: Path) -> None:
        if not 1 <= n <= AGENTS_MAX:
            raise ValueError(f"SIP agents: 1..{AGENTS_MAX} (bench/asterisk/pjsip_bench.conf), got {n}")
        self.ids = agent_ids(n)
        self.handle_s, self.answer_s = handle_s, answer_s
        self.workdir = workdir / "sipp-agents"
        self.port = 0
        self.media_port = 0
        self.uas: Any = None  # e2e SippProcess
        self.registered: list[str] = []

    async def _register(self, agent: str, expires: int, timeout_s: float = 5.0) -> tuple[int | None, Any]:
        mod = e2e()
        proc = mod.SippProcess(
            f"{'register' if expires else 'unregister'}-{agent}",
            "register.xml",
            [
                "-p", str(self.port), "-mp", str(self.media_port), "-m", "1",
                "-key", "user", agent, "-key", "contact", str(self.port), "-key", "expires", str(expires),
                "-au", agent, "-ap", PASSWORD, "-timeout", f"{int(timeout_s)}s", "-timeout_error",
            ],
            self.workdir,
        )  # fmt: skip
        await proc.start()
        try:
            rc: int | None = await proc.wait(timeout_s + 5)
        except TimeoutError:
            rc = None
        finally:
            await proc.stop()
        return rc, proc

    async def start(self, ari: Ari) -> None:
        mod = e2e()
        self.port = mod.free_udp_ports(1)
        self.media_port = mod.free_udp_ports(4)  # sipp binds media_port and media_port + 2
        for agent in self.ids:
            rc, proc = await self._register(agent, REGISTER_EXPIRES)
            if rc != 0:
                raise RuntimeError(
                    f"SIP agent {agent}: REGISTER failed (sipp exit {rc}). Is the PBX up with PBX_BENCH=1 "
                    "(bench/asterisk/pjsip_bench.conf installed: `PBX_BENCH=1 scripts/pbx up`)?\n"
                    + proc.report(20)
                )
            self.registered.append(agent)
        self.uas = mod.SippProcess(
            "uas-agents",
            "uas.xml",
            [
                "-p", str(self.port), "-mp", str(self.media_port),
                "-key", "me", "benchagent", "-key", "refer_to", "none", "-key", "pbx_host", mod.PBX_HOST,
                "-set", "answer_ms", _ms(self.answer_s), "-set", "hangup_ms", _ms(self.handle_s),
                "-set", "refer_ms", "-1",
            ],
            self.workdir,
            remote=False,
        )  # fmt: skip
        audio_s = mod.write_rtp_pcap(self.uas.pcap, self.handle_s + 5)
        self.uas.argv += ["-set", "audio_ms", _ms(audio_s)]
        await self.uas.start()
        await asyncio.sleep(0.3)
        self.check()
        await self._wait_online(ari)

    def check(self) -> None:
        """RuntimeError if the agents' UAS is not running (any more)."""
        if self.uas is None or not self.uas.alive():
            report = self.uas.report(20) if self.uas is not None else "(not started)"
            raise RuntimeError(f"the SIP agents' UAS sipp is not running\n{report}")

    async def _wait_online(self, ari: Ari, timeout_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        states: dict[str, str] = {}
        while loop.time() < end:
            for agent in self.ids:
                if states.get(agent) != "online":
                    status, body = await ari.request("GET", f"/endpoints/PJSIP/{agent}")
                    states[agent] = (
                        body.get("state", "?") if status == 200 and isinstance(body, dict) else str(status)
                    )
            if all(v == "online" for v in states.values()):
                return
            await asyncio.sleep(0.2)
        bad = {k: v for k, v in states.items() if v != "online"}
        raise RuntimeError(f"SIP agents registered but not online in ARI after {timeout_s:g} s: {bad}")

    async def stop(self) -> None:
        """Stop the UAS, then unregister every agent from its port (best effort)."""
        if self.uas is not None:
            await self.uas.stop()
        for agent in reversed(self.registered):
            with contextlib.suppress(Exception):
                await self._register(agent, 0, timeout_s=2)
        self.registered.clear()


async def run_callers(
    name: str, system: str, rate: float, calls: int, workdir: Path, timeout_s: float
) -> dict[str, Any]:
    """One SIPp UAC placing ``calls`` calls at ``rate``/s to ``system``; returns when all are over
    (or after ``timeout_s``: SIPp is stopped) with SIPp's exit status and call counts."""
    mod = e2e()
    proc = mod.SippProcess(
        name,
        "uac.xml",
        [
            "-s", system, "-p", str(mod.free_udp_ports(1)), "-mp", str(mod.free_udp_ports(4)),
            "-m", str(calls), "-r", f"{rate:g}", "-l", str(calls),
            "-key", "me", CALLER, "-au", CALLER, "-ap", PASSWORD, "-set", "duration_ms", "-1",
            "-trace_stat", "-stf", "stat.csv", "-fd", "1",
        ],
        workdir,
    )  # fmt: skip
    audio_s = mod.write_rtp_pcap(proc.pcap, 30)  # played again every audio_ms while the call lasts
    proc.argv += ["-set", "audio_ms", _ms(audio_s)]
    await proc.start()
    timed_out = False
    try:
        rc: int | None = await proc.wait(timeout_s)
    except TimeoutError:
        rc, timed_out = None, True
    finally:
        await proc.stop()
    return {"exit": rc, "timed_out": timed_out, **sipp_counts(proc.dir / "stat.csv"), "dir": str(proc.dir)}


def sipp_counts(path: Path) -> dict[str, Any]:
    """SIPp's cumulative counts from its last statistics line (-trace_stat): calls created,
    successful, failed, and the failure kinds that are not zero."""
    try:
        rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
    except OSError:
        return {"created": None, "successful": None, "failed": None, "failed_by": {}}
    if len(rows) < 2:
        return {"created": None, "successful": None, "failed": None, "failed_by": {}}
    last = dict(zip(rows[0], rows[-1]))

    def count(key: str) -> int | None:
        try:
            return int(last[key])
        except (KeyError, ValueError):
            return None

    return {
        "created": count("OutgoingCall(C)"),
        "successful": count("SuccessfulCall(C)"),
        "failed": count("FailedCall(C)"),
        "failed_by": {
            k.removesuffix("(C)"): int(v)
            for k, v in last.items()
            if k.startswith("Failed")
            and k.endswith("(C)")
            and k != "FailedCall(C)"
            and v.isdigit()
            and int(v)
        },
    }
