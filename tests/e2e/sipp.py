"""SIP test phones for the e2e tests: SIPp processes driven from asyncio.

    async with SippPhone("1001", "dev-1001", answer_after_s=1) as phone:   # agent phone
        async with SippCaller("caller1", "dev-caller1", "600", duration_s=20, dtmf="1#",
                              dtmf_at_s=5) as caller:
            await caller.wait_answered()
            ...                                   # ARI checks while the call is up
            rc = await caller.wait()
            assert rc == 0, caller.report() + phone.report()
        assert phone.count("answered") == 1, phone.report()
    assert not sipp.running_pids()

Scenarios live in tests/e2e/sipp/ (register.xml, uas.xml, uac.xml); see their headers.

The transfer key of an agent phone (blind REFER, then the NOTIFYs it gets):

    async with SippPhone("1007", "dev-1007", refer_to="1008", refer_at_s=2) as phone:
        ...                                       # a call reaches 1007 and is answered
        await phone.wait_for("REFER accepted (202)")
        final = await phone.wait_notify(lambda n: n[1].startswith("terminated"), timeout=20)
        phone.notifies()  # [(epoch s, "active;expires=...", "SIP/2.0 100 Trying"), ...]

How a phone works: PJSIP rewrites the Contact of a REGISTER to the packet's
source address (rewrite_contact=yes), so the REGISTER must leave from the very
port the UAS listens on. SippPhone therefore registers first from that port
(a short sipp run with a long Expires), then starts the UAS sipp on the same
port, and on exit stops the UAS and unregisters (Expires: 0) from that port.

Media: each sipp process gets its own rtp.pcap (written by write_rtp_pcap into
its working directory, where the scenarios find it): one RTP stream, PCMA in
20 ms packets (the speech of /usr/share/sip-tester/g711a.pcap, looped), one
SSRC, with the DTMF digits as RFC 4733 events (payload 101) inside the stream
at their times. Playing the sip-tester dtmf_2833_*.pcap files next to the
audio pcap instead switches the SSRC for every digit, and Asterisk restarts
the channel's rtp_statistics counters at each SSRC change.

Every sipp is a child process (no -bg) killed on exit; its files (SIP
messages, unexpected messages, scenario <log> lines, screens, rtp.pcap) stay
in one directory per process under `workdir` (a fresh temp dir unless given),
and `report()` returns their tails for assertion messages.

By hand: `python tests/e2e/sipp.py pcap OUT.pcap --seconds 60 --dtmf 12# --dtmf-at 5`.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import math
import os
import random
import re
import signal
import socket
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

SCENARIOS = Path(__file__).resolve().parent / "sipp"
SIPP = os.environ.get("SIPP", "sipp")
PBX_HOST = "127.0.0.1"
PBX_SIP_PORT = 5060
LOCAL_IP = "127.0.0.1"
# A network namespace to run every sipp in (`ip netns exec NETNS sipp ...`): the LAN of the
# deployment test (tests/deploy/), whose phones and provider live at other addresses than 127.0.0.1.
NETNS = os.environ.get("SIPP_NETNS") or None
ARI_URL = os.environ.get("ARI_URL", "http://127.0.0.1:8088/ari")
ARI_AUTH = (os.environ.get("ARI_USER", "callcenter"), os.environ.get("ARI_PASSWORD", "callcenter-dev"))

# Ports we hand out: above Asterisk's RTP range (10000-20000), below the
# kernel's ephemeral range (32768+). Never given out twice by one process.
_PORT_RANGE = (21000, 32000)
_given_ports: set[int] = set()
_live_pids: set[int] = set()


def running_pids() -> set[int]:
    """pids of the sipp processes started here and not yet stopped or reaped."""
    return set(_live_pids)


def _kill_leftovers() -> None:  # last resort if a test never reached __aexit__
    for pid in list(_live_pids):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


atexit.register(_kill_leftovers)


def _udp_free(port: int) -> bool:
    if NETNS:  # a namespace a test made: only our own sipps bind there, and _given_ports tracks those
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((LOCAL_IP, port))
        except OSError:
            return False
    return True


def free_udp_ports(count: int = 1) -> int:
    """The first of `count` consecutive UDP ports, free on 127.0.0.1 right now."""
    for _ in range(500):
        base = random.randrange(_PORT_RANGE[0], _PORT_RANGE[1] - count)
        ports = range(base, base + count)
        if any(p in _given_ports for p in ports):
            continue
        if all(_udp_free(p) for p in ports):
            _given_ports.update(ports)
            return base
    raise RuntimeError("no free UDP ports")


def _ms(seconds: float | None) -> str:
    return "-1" if seconds is None else str(int(seconds * 1000))


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no file)"
    # the tick loops' ontimeout jumps are logged as errors: noise, drop them
    text = re.sub(r"[0-9-]+\t[0-9:.]+\t[0-9.]+: Call-Id: [^,]*, receive timeout on message [^\n]*?"
                  r"jumping to label \d+?(?=[0-9]{4}-[0-9]{2}-[0-9]{2}\t|\s|$)", "", text)
    # rtp.pcap is meant to be found in sipp's working directory: not news
    text = re.sub(r"[0-9-]+\t[0-9:.]+\t[0-9.]+: SIPp now prefers looking for pcap files next to the"
                  r" scenario\. rtp\.pcap couldn't be found next to the scenario, falling back to using"
                  r" the current working directory", "", text)
    text = re.sub(r"(?<=[^\n])(?=[0-9]{4}-[0-9]{2}-[0-9]{2}\t)", "\n", text)  # sipp omits newlines there
    return "\n".join(text.splitlines()[-lines:])


SIP_TESTER_AUDIO = Path("/usr/share/sip-tester/g711a.pcap")
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
RTP_PT_PCMA, RTP_PT_EVENT = 8, 101
_FRAME_MS, _FRAME_SAMPLES = 20, 160
_DTMF_EVENT_FRAMES = 8  # each digit lasts 160 ms, then 3 end packets


def _pcap_packets(path: Path):
    data = path.read_bytes()
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def _alaw_speech() -> bytes:
    """A-law samples: the payloads of sip-tester's g711a.pcap (speech, ~7 s), or a 1 kHz tone."""
    try:
        payload = b"".join(pkt[14 + 20 + 8 + 12:] for pkt in _pcap_packets(SIP_TESTER_AUDIO))
        if len(payload) >= _FRAME_SAMPLES:
            return payload
    except OSError:
        pass
    return bytes(_lin2alaw(int(8000 * math.sin(2 * math.pi * 1000 * i / 8000))) for i in range(8000))


def _lin2alaw(sample: int) -> int:
    """G.711 A-law of one 16-bit sample (as in the reference g711.c)."""
    s = sample >> 3
    mask = 0xD5 if s >= 0 else 0x55
    if s < 0:
        s = -s - 1
    for seg, seg_end in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)):
        if s <= seg_end:
            return ((seg << 4) | ((s >> (1 if seg < 2 else seg)) & 0xF)) ^ mask
    return 0x7F ^ mask


def write_rtp_pcap(path: Path | str, seconds: float, dtmf: str = "", dtmf_at_s: float = 2.0,
                   dtmf_gap_s: float = 0.3) -> float:
    """Write one RTP stream as a pcap for SIPp's play_pcap_audio; returns its length in s.

    PCMA, 20 ms packets, one SSRC, continuous sequence numbers and timestamps;
    `dtmf` digits (0-9*#A-D) as RFC 4733 events (payload 101), the first at
    `dtmf_at_s`, then one every `dtmf_gap_s` (at least 0.24 s); no audio
    packets while an event is sent, as phones do.
    """
    speech = _alaw_speech()
    frames = max(1, int(seconds * 1000 / _FRAME_MS))
    gap = max(int(round(dtmf_gap_s * 1000 / _FRAME_MS)), _DTMF_EVENT_FRAMES + 4)
    starts = {}
    for i, digit in enumerate(dtmf):
        if digit.upper() not in DTMF_EVENTS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        starts[int(round(dtmf_at_s * 1000 / _FRAME_MS)) + i * gap] = DTMF_EVENTS[digit.upper()]
    frames = max(frames, max(starts, default=0) + _DTMF_EVENT_FRAMES + 4)
    ssrc, seq, ts0 = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    event: tuple[int, int, int] | None = None  # (code, first frame, rtp timestamp)
    for n in range(frames):
        ts = (ts0 + n * _FRAME_SAMPLES) & 0xFFFFFFFF
        if n in starts:
            event = (starts[n], n, ts)
        marker = 0
        if event is not None:
            code, first, ev_ts = event
            k = n - first
            end = k >= _DTMF_EVENT_FRAMES - 1
            duration = min(k + 1, _DTMF_EVENT_FRAMES) * _FRAME_SAMPLES
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)
            pt, ts, marker = RTP_PT_EVENT, ev_ts, int(k == 0)
            if k >= _DTMF_EVENT_FRAMES + 1:  # the end packet goes out 3 times
                event = None
        else:
            off = (n * _FRAME_SAMPLES) % (len(speech) - _FRAME_SAMPLES + 1)
            payload, pt = speech[off:off + _FRAME_SAMPLES], RTP_PT_PCMA
        rtp = struct.pack("!BBHII", 0x80, (marker << 7) | pt, seq, ts, ssrc) + payload
        seq = (seq + 1) & 0xFFFF
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1")) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        t_us = n * _FRAME_MS * 1000
        out.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)) + frame)
    Path(path).write_bytes(b"".join(out))
    return frames * _FRAME_MS / 1000


class SippProcess:
    """One sipp child process. Its working directory `dir` (workdir/name) holds
    its log files and, for call scenarios, its rtp.pcap."""

    def __init__(self, name: str, scenario: str, args: list[str], workdir: Path, *,
                 remote: bool = True, local_ip: str | None = None) -> None:
        self.name = name
        self.dir = workdir / name
        self.out = self.dir / "sipp.out"
        self.messages = self.dir / "messages.log"
        self.errors = self.dir / "errors.log"
        self.logs = self.dir / "logs.log"
        self.screen = self.dir / "screen.log"
        self.pcap = self.dir / "rtp.pcap"
        self.argv = [*(["ip", "netns", "exec", NETNS] if NETNS else []),
                     SIPP, *([f"{PBX_HOST}:{PBX_SIP_PORT}"] if remote else []),
                     "-sf", str(SCENARIOS / scenario), "-i", local_ip or LOCAL_IP, "-nostdin", "-f", "5",
                     "-trace_msg", "-message_file", str(self.messages),
                     "-trace_err", "-error_file", str(self.errors),
                     "-trace_logs", "-log_file", str(self.logs),
                     "-trace_screen", "-screen_file", str(self.screen),
                     *args]
        self.proc: asyncio.subprocess.Process | None = None
        self._out_fh = None
        self.dir.mkdir(parents=True, exist_ok=True)

    async def start(self) -> "SippProcess":
        self._out_fh = open(self.out, "ab")
        self._out_fh.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._out_fh.flush()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=self.dir, stdin=asyncio.subprocess.DEVNULL,
            stdout=self._out_fh, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        _live_pids.add(self.proc.pid)
        return self

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None, f"{self.name}: not started"
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is not None:
                self._reap()
        return rc

    async def stop(self, grace_s: float = 2.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace_s`; always reaps the process."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        self._reap()
        return self.proc.returncode

    def _reap(self) -> None:
        if self.proc is not None:
            _live_pids.discard(self.proc.pid)
        if self._out_fh is not None:
            self._out_fh.close()
            self._out_fh = None

    def log_lines(self) -> list[str]:
        """The scenario's <log> lines ("uas: INVITE", "answered", "BYE from Asterisk", "hung up", ...)."""
        try:
            return self.logs.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def report(self, lines: int = 40) -> str:
        rc = "running" if self.alive() else f"exit {self.returncode}"
        parts = [f"=== sipp {self.name} ({rc}); files in {self.dir}",
                 "$ " + " ".join(self.argv),
                 f"--- {self.messages.name} (tail)", _tail(self.messages, lines * 2),
                 f"--- {self.errors.name} (tail, tick timeouts removed)", _tail(self.errors, lines),
                 f"--- {self.logs.name} (tail)", _tail(self.logs, lines // 2)]
        if self.screen.exists():
            parts += [f"--- {self.screen.name} (tail)", _tail(self.screen, lines)]
        return "\n".join(parts)


# uas.xml's log line for each NOTIFY it answered
_NOTIFY_LOG = re.compile(r"uas: NOTIFY t_ms=(?P<t_ms>[0-9.]+) call=(?P<call>[0-9]*) cseq=(?P<cseq>[0-9]*)"
                         r" event=(?P<event>.*?) state=(?P<state>.*?) sipfrag=(?P<frag>.*)$")


def _workdir(workdir: Path | str | None, prefix: str) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix=f"sipp-{prefix}-"))
    path = Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    return path


class SippPhone:
    """A registered SIP phone (an agent's) that answers calls, with RTP and optional DTMF.

    username/password: PJSIP endpoint and digest credentials (e.g. "1001", "dev-1001").
    port: its SIP UDP port (a free one if None).
    answer_after_s: ring this long before the 200 OK; never_answer=True: ring until CANCEL.
    hangup_after_s: hang up (BYE) this long after answering; None: wait for Asterisk's BYE.
    dtmf/dtmf_at_s/dtmf_gap_s: digits (0-9*#) it sends in every call, from dtmf_at_s after answering.
    expires: registration lifetime in s (not refreshed; the default outlives any test).
    refer_to/refer_at_s: the "transfer key": refer_at_s after answering, every call sends one
    blind REFER (Refer-To: <sip:REFER_TO@127.0.0.1>, Referred-By) in its dialog, answers
    every NOTIFY with 200 and logs it (notifies(), wait_notify()); the call then goes on
    until Asterisk's BYE (or hangup_after_s). The log has "REFER to X sent",
    "REFER accepted (202)" or "REFER rejected: SIP/2.0 403 ..." / "REFER not answered".
    It takes any number of calls while the context is open; count()/wait_for() watch them.
    """

    scenario = "uas.xml"  # a path relative to tests/e2e/sipp/, or absolute

    def __init__(self, username: str, password: str, port: int | None = None, *,
                 answer_after_s: float = 1.0, never_answer: bool = False, hangup_after_s: float | None = None,
                 dtmf: str = "", dtmf_at_s: float = 2.0, dtmf_gap_s: float = 0.3, expires: int = 3600,
                 audio_s: float = 300.0, workdir: Path | str | None = None,
                 online_timeout_s: float = 10.0, refer_to: str | None = None,
                 refer_at_s: float = 3.0, local_ip: str | None = None) -> None:
        self.username, self.password = username, password
        self.local_ip = local_ip
        self.port = port or free_udp_ports(1)
        self.media_port = free_udp_ports(4)  # sipp binds media_port and media_port + 2
        self.answer_after_s = None if never_answer else answer_after_s
        self.hangup_after_s, self.expires = hangup_after_s, expires
        self.dtmf, self.dtmf_at_s, self.dtmf_gap_s, self.audio_s = dtmf, dtmf_at_s, dtmf_gap_s, audio_s
        self.workdir = _workdir(workdir, f"phone-{username}")
        self.online_timeout_s = online_timeout_s
        if refer_to is not None and not re.fullmatch(r"[A-Za-z0-9._+*#-]+", refer_to):
            raise ValueError(f"refer_to must be a SIP user part, not {refer_to!r}")
        self.refer_to, self.refer_at_s = refer_to, refer_at_s
        self.uas: SippProcess | None = None
        self.registrations: list[SippProcess] = []

    # -- registration ------------------------------------------------------
    async def _register(self, expires: int, timeout_s: float = 10.0) -> SippProcess:
        name = f"{'register' if expires else 'unregister'}-{self.username}-{len(self.registrations)}"
        proc = SippProcess(name, "register.xml", [
            "-p", str(self.port), "-mp", str(self.media_port), "-m", "1",
            "-key", "user", self.username, "-key", "contact", str(self.port), "-key", "expires", str(expires),
            "-au", self.username, "-ap", self.password, "-timeout", f"{int(timeout_s)}s", "-timeout_error"],
            self.workdir, local_ip=self.local_ip)
        self.registrations.append(proc)
        await proc.start()
        try:
            rc = await proc.wait(timeout_s + 5)
        except asyncio.TimeoutError:
            await proc.stop()
            rc = -1
        if rc != 0:
            raise AssertionError(f"{name} failed (sipp exit {rc})\n{proc.report()}")
        return proc

    async def _wait_online(self) -> None:
        end = time.monotonic() + self.online_timeout_s
        state = "?"
        async with httpx.AsyncClient(base_url=ARI_URL, auth=ARI_AUTH, timeout=5) as http:
            while time.monotonic() < end:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    r = await http.get(f"/endpoints/PJSIP/{self.username}")
                    if r.status_code == 200:
                        state = r.json().get("state", "?")
                        if state == "online":
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"PJSIP/{self.username} is {state!r} in ARI, not online, after registering\n"
                             + self.report())

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> "SippPhone":
        # Register first, from the UAS port (rewrite_contact: Asterisk keeps the source port).
        await self._register(self.expires)
        self.uas = SippProcess(f"uas-{self.username}", self.scenario, [
            "-p", str(self.port), "-mp", str(self.media_port), "-key", "me", self.username,
            "-key", "refer_to", self.refer_to or "none", "-key", "pbx_host", PBX_HOST,
            "-set", "answer_ms", _ms(self.answer_after_s), "-set", "hangup_ms", _ms(self.hangup_after_s),
            "-set", "refer_ms", _ms(self.refer_at_s if self.refer_to is not None else None)],
            self.workdir, remote=False, local_ip=self.local_ip)
        audio_s = write_rtp_pcap(self.uas.pcap, self.audio_s, self.dtmf, self.dtmf_at_s, self.dtmf_gap_s)
        self.uas.argv += ["-set", "audio_ms", _ms(audio_s)]
        await self.uas.start()
        await asyncio.sleep(0.3)
        if not self.uas.alive():
            raise AssertionError(f"the UAS sipp of {self.username} exited at once\n{self.uas.report()}")
        await self._wait_online()
        return self

    async def stop(self, unregister: bool = True) -> None:
        """Stop the UAS, then unregister from its port (best effort)."""
        if self.uas is not None:
            await self.uas.stop()
        if unregister and self.registrations:
            with contextlib.suppress(AssertionError):
                await self._register(0, timeout_s=3)

    async def __aenter__(self) -> "SippPhone":
        try:
            return await self.start()
        except BaseException:
            await self.stop(unregister=bool(self.registrations))
            raise

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- observation -------------------------------------------------------
    def log_lines(self) -> list[str]:
        return self.uas.log_lines() if self.uas else []

    def count(self, what: str) -> int:
        """How many calls reached a step, by the scenario's log lines: "INVITE",
        "answered", "BYE from Asterisk", "hung up", "CANCEL while ringing", "played again",
        "REFER to", "REFER accepted", "REFER rejected", "REFER not answered", "NOTIFY"."""
        return sum(what in line for line in self.log_lines())

    async def wait_for(self, what: str, count: int = 1, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while self.count(what) < count:
            if self.uas is not None and not self.uas.alive():
                raise AssertionError(f"phone {self.username}: the UAS sipp exited\n{self.report()}")
            if time.monotonic() > end:
                raise AssertionError(f"phone {self.username}: {count}x {what!r} not within {timeout} s\n"
                                     + self.report())
            await asyncio.sleep(0.05)

    def notifies(self, event: str | None = "refer") -> list[tuple[float, str, str]]:
        """The NOTIFYs the phone answered, oldest first: (epoch seconds, Subscription-State
        header value, first line of the message/sipfrag body), e.g.
        (1795709014.84, "active;expires=598", "SIP/2.0 100 Trying"). Only those whose Event
        header is `event`, parameters aside (REFER progress by default; None: all). A NOTIFY
        logged twice (a retransmission: same call and CSeq) counts once."""
        out, seen = [], set()
        for line in self.log_lines():
            m = _NOTIFY_LOG.search(line)
            if not m or (event is not None and m["event"].split(";")[0].strip().lower() != event):
                continue
            if (m["call"], m["cseq"]) in seen:  # a retransmission (see "NOTIFY" in uas.xml)
                continue
            seen.add((m["call"], m["cseq"]))
            out.append((float(m["t_ms"]) / 1000, m["state"].strip(), m["frag"].strip()))
        return out

    async def wait_notify(self, predicate: Callable[[tuple[float, str, str]], bool] = lambda n: True,
                          timeout: float = 15.0, event: str | None = "refer") -> tuple[float, str, str]:
        """The first NOTIFY (as in notifies()) for which predicate(notify) is true, waiting
        up to `timeout` s for it; AssertionError with the logs if none comes."""
        end = time.monotonic() + timeout
        while True:
            found = next((n for n in self.notifies(event) if predicate(n)), None)
            if found is not None:
                return found
            if self.uas is not None and not self.uas.alive():
                raise AssertionError(f"phone {self.username}: the UAS sipp exited\n{self.report()}")
            if time.monotonic() > end:
                raise AssertionError(f"phone {self.username}: no such NOTIFY within {timeout} s; got "
                                     f"{self.notifies(event)}\n{self.report()}")
            await asyncio.sleep(0.05)

    def report(self, lines: int = 40) -> str:
        procs = ([self.uas] if self.uas else []) + self.registrations[-2:]
        return "\n".join(p.report(lines) for p in procs)


class SippCaller:
    """One call from a test caller (caller1..3, context from-callers) to `extension`.

    duration_s: hang up this long after the answer; None: wait for Asterisk's BYE.
    dtmf/dtmf_at_s/dtmf_gap_s: digits (0-9*#) sent in the RTP stream (RFC 4733),
    the first dtmf_at_s after the answer.
    timeout_s: sipp gives up (exit non-zero) after this long in all (default duration + 60 s).
    `await caller.wait()` starts the call if needed and returns sipp's exit status:
    0 the call ran through the scenario, 1 it failed (404/486/480..., timeout),
    anything else a sipp error. report() has the logs for assertion messages.
    Use as `async with` (or call stop()) so that sipp is killed if the test fails early.
    """

    scenario = "uac.xml"  # a path relative to tests/e2e/sipp/, or absolute

    def __init__(self, username: str, password: str, extension: str, port: int | None = None, *,
                 duration_s: float | None = 10.0, dtmf: str = "", dtmf_at_s: float = 3.0,
                 dtmf_gap_s: float = 0.3,
                 timeout_s: float | None = None, audio_s: float | None = None,
                 workdir: Path | str | None = None, local_ip: str | None = None) -> None:
        self.username, self.password, self.extension = username, password, extension
        self.port = port or free_udp_ports(1)
        self.media_port = free_udp_ports(4)
        self.duration_s, self.dtmf, self.dtmf_at_s, self.dtmf_gap_s = duration_s, dtmf, dtmf_at_s, dtmf_gap_s
        self.timeout_s = timeout_s or (duration_s if duration_s is not None else 300) + 60
        self.workdir = _workdir(workdir, f"caller-{username}")
        self.proc = SippProcess(f"uac-{username}-{extension}", self.scenario, [
            "-s", extension, "-p", str(self.port), "-mp", str(self.media_port), "-m", "1",
            "-key", "me", username, "-au", username, "-ap", password, "-set", "duration_ms", _ms(duration_s),
            "-timeout", f"{int(self.timeout_s)}s", "-timeout_error"], self.workdir, local_ip=local_ip)
        if audio_s is None:
            audio_s = min(duration_s + 2, 300) if duration_s is not None else 300
        real_s = write_rtp_pcap(self.proc.pcap, audio_s, dtmf, dtmf_at_s, dtmf_gap_s)
        self.proc.argv += ["-set", "audio_ms", _ms(real_s)]

    async def start(self) -> "SippCaller":
        if self.proc.proc is None:
            await self.proc.start()
        return self

    async def wait(self, timeout: float | None = None) -> int:
        """sipp's exit status once the call is over (starts the call if needed)."""
        await self.start()
        try:
            return await self.proc.wait(timeout if timeout is not None else self.timeout_s + 10)
        except asyncio.TimeoutError:
            await self.proc.stop()
            raise

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc.alive()

    def answered(self) -> bool:
        return any("answered" in line for line in self.proc.log_lines())

    async def wait_answered(self, timeout: float = 15.0) -> None:
        await self.start()
        end = time.monotonic() + timeout
        while not self.answered():
            if not self.alive() or time.monotonic() > end:
                raise AssertionError(f"call {self.username} -> {self.extension} not answered"
                                     f" within {timeout} s\n{self.report()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.proc.stop()

    async def __aenter__(self) -> "SippCaller":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def log_lines(self) -> list[str]:
        return self.proc.log_lines()

    def report(self, lines: int = 40) -> str:
        return self.proc.report(lines)


def _main() -> None:
    parser = argparse.ArgumentParser(description="e2e SIPp helpers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    pc = sub.add_parser("pcap", help="write an rtp.pcap for uas.xml/uac.xml (run sipp with it in its cwd)")
    pc.add_argument("out")
    pc.add_argument("--seconds", type=float, default=300)
    pc.add_argument("--dtmf", default="")
    pc.add_argument("--dtmf-at", type=float, default=2.0)
    pc.add_argument("--dtmf-gap", type=float, default=0.3)
    args = parser.parse_args()
    if args.cmd == "pcap":
        length = write_rtp_pcap(args.out, args.seconds, args.dtmf, args.dtmf_at, args.dtmf_gap)
        print(f"{args.out}: {length:.2f} s; pass -set audio_ms {int(length * 1000)}")


if __name__ == "__main__":
    _main()
