"""R-SUPERVISE against the real Asterisk, judged by AUDIO (and R-PRIVACY: every use audited).

Agent 4001 (Local/4001@e2e-sup-agent) takes a call in queue "supervise". It says nothing but a
steady 1400 Hz tone and records what it RECEIVES; the caller (e2e-sup-caller) is silent -- it
streams digital silence, as a phone streams RTP -- and records what it receives. The supervisor
sends a steady 1000 Hz tone: a Local channel into e2e-sup-tone (which also records what the
supervisor receives) called through POST /supervise, or a SIPp phone (1020, supervisor 4901's
configured phone) that dials the feature code and sends a 1000 Hz RTP stream. The WAVs (16-bit,
8 kHz) are analysed here in pure Python (Goertzel, 50 ms blocks, exactly 50 cycles of 1000 Hz and
70 of 1400 Hz per block) over the supervision window only, placed by the ARI events' own
timestamps (checked: the tone starts and stops within 0.3 s of where they say):

* listen  — neither the caller nor the agent receives 1000 Hz; the supervisor receives 1400 Hz;
* whisper — the agent receives 1000 Hz; the caller's 1000 Hz level is >= 30 dB below the agent's;
* barge   — both receive 1000 Hz.

Every test ends with nothing left in GET /channels and /bridges, and an ``audit.supervise``
line (supervisor, agent, mode, call_id, start, end).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import statistics
import sys
import time
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

import pytest

import sipp
from conftest import PBX_ROOT, ari_time
from sipp import SippCaller

AGENT = "4001"
SUPERVISOR = "4901"  # role supervisor, configured phone PJSIP/1020
TONE_HZ, AGENT_HZ = 1000, 1400
RATE, BLOCK = 8000, 400  # 50 ms blocks: 1000 Hz and 1400 Hz fall on exact Goertzel bins
HEARD_DBFS = -40.0  # a tone "received": above this (the tones arrive near -16 dBFS)
SILENT_DBFS = -55.0  # a tone "not received": every 50 ms block below this
MARGIN_S = 0.4  # trimmed off each end of the supervision window (event vs. media timing)
SUPERVISE_S = 4.0  # how long the supervisor stays


# -- audio: pure Python (no numpy) ---------------------------------------------------------------------
def read_wav(path: Path) -> array:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE), path
        samples = array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def tone_dbfs(samples: array, freq: float) -> list[float]:
    """The RMS level (dBFS) of ``freq`` in each 50 ms block (Goertzel)."""
    k = round(BLOCK * freq / RATE)
    coeff = 2 * math.cos(2 * math.pi * k / BLOCK)
    out = []
    for start in range(0, len(samples) - BLOCK + 1, BLOCK):
        s1 = s2 = 0.0
        for x in samples[start:start + BLOCK]:
            s1, s2 = x + coeff * s1 - s2, s1
        power = max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)
        rms = math.sqrt(2 * power) / BLOCK  # amplitude 2|X|/N, RMS amplitude/sqrt(2)
        out.append(20 * math.log10(max(rms, 1e-6) / 32768))
    return out


SPAN_S = 0.3  # the tone starts and stops within this of the window's ends (as mapped from ARI events)


@dataclass
class Heard:
    """What one party received during the supervision window."""
    who: str
    tone: list[float]  # 1000 Hz, dBFS per block, window only
    other: list[float]  # 1400 Hz, same blocks
    file_s: float
    # where 1000 Hz is heard anywhere in the file: (first, last) block, in seconds from the
    # window's start and end as mapped from the ARI events (0, 0: exactly then); None: nowhere
    tone_span: tuple[float, float] | None

    @property
    def tone_level(self) -> float:
        return statistics.median(self.tone)

    @property
    def tone_max(self) -> float:
        return max(self.tone)

    @property
    def other_level(self) -> float:
        return statistics.median(self.other)

    def received(self) -> bool:
        """The tone throughout the window, and only then."""
        return (self.tone_level > HEARD_DBFS and self.tone_span is not None
                and all(abs(x) <= SPAN_S for x in self.tone_span))

    def not_received(self) -> bool:
        """No block of the window, nor of the whole call, has the tone."""
        return self.tone_max < SILENT_DBFS and self.tone_span is None

    def __str__(self) -> str:
        span = "nowhere" if self.tone_span is None else "{:+.2f} s / {:+.2f} s".format(*self.tone_span)
        return (f"{self.who}: 1 kHz median {self.tone_level:.1f} dBFS (max {self.tone_max:.1f}), "
                f"1.4 kHz median {self.other_level:.1f} dBFS over {len(self.tone) * BLOCK / RATE:.2f} s "
                f"(file {self.file_s:.2f} s; 1 kHz from/to vs. window start/end: {span})")


def heard(who: str, path: Path, file_end: float, window: tuple[float, float]) -> Heard:
    """The window's blocks of a recording that ran until ``file_end`` (an ARI timestamp).

    Media flows without a gap from the talk bridge on until the hang-up, so the file's last sample
    is at ``file_end`` and a moment ``t`` is at ``duration - (file_end - t)``.
    """
    samples = read_wav(path)
    duration = len(samples) / RATE
    start, end = duration - (file_end - window[0]), duration - (file_end - window[1])
    assert start >= -0.2 and end - start >= 1.0 + 2 * MARGIN_S, (who, duration, start, end)
    start = max(start, 0.0)  # the supervisor's own recording starts with the window
    part = samples[int((start + MARGIN_S) * RATE):int((end - MARGIN_S) * RATE)]
    whole = tone_dbfs(samples, TONE_HZ)
    loud = [i for i, level in enumerate(whole) if level > HEARD_DBFS]
    span = (loud[0] * BLOCK / RATE - start, (loud[-1] + 1) * BLOCK / RATE - end) if loud else None
    return Heard(who, tone_dbfs(part, TONE_HZ), tone_dbfs(part, AGENT_HZ), duration, span)


# -- helpers -----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _remove_recordings():
    """This test's WAVs go afterwards (E2E_KEEP_WAV=1 keeps them for a look)."""
    started = time.time() - 1
    yield
    if not os.environ.get("E2E_KEEP_WAV"):
        for f in (PBX_ROOT / "tmp").glob("e2e-sup-*.wav"):
            with contextlib.suppress(OSError):
                if f.stat().st_mtime >= started:
                    f.unlink()


@dataclass
class Call:
    call_id: str
    caller_leg: str  # the caller's Local;1, which records what the caller receives
    caller_file: Path


async def connected_call(service, ari) -> Call:
    tag = f"{random.randrange(10**7, 10**8)}"
    caller = await ari.call_queue("supervise", context="e2e-sup-caller", exten=tag)
    answered = await service.wait_for("call.answered", queue="supervise", agent=AGENT, timeout=10)
    await service.wait_for("call.bridged", call_id=answered["call_id"], timeout=10)
    await asyncio.sleep(1.0)  # some call before the supervisor comes
    return Call(answered["call_id"], caller["id"], PBX_ROOT / "tmp" / f"e2e-sup-caller-{tag}-heard.wav")


def agent_file(call: Call) -> Path:
    return PBX_ROOT / "tmp" / f"e2e-sup-agent-{AGENT}-{call.call_id}-heard.wav"


async def end_call(service, ari, call: Call) -> None:
    """The caller hangs up; the agent is hung up by the service; nothing may be left."""
    await asyncio.sleep(1.0)  # some call after the supervisor left
    await ari.delete(f"/channels/{call.caller_leg}")
    await service.wait_for("call.completed", call_id=call.call_id, timeout=10)
    chans, bridges = await ari.wait_empty(5)
    assert not chans and not bridges, f"left: {[c['name'] for c in chans]} {[b['id'] for b in bridges]}"


def local_end(watcher, name_prefix: str) -> float:
    """When the Local;2 channel whose name starts with ``name_prefix`` hung up (its recording's end)."""
    ev = [e for e in watcher.find("ChannelHangupRequest") + watcher.find("ChannelDestroyed")
          if e["channel"]["name"].startswith(name_prefix) and e["channel"]["name"].endswith(";2")]
    assert ev, f"no hang-up of {name_prefix}…;2 seen"
    return min(ari_time(e) for e in ev)


def hangup_time(watcher, channel_id: str) -> float:
    ev = watcher.find("ChannelHangupRequest", channel__id=channel_id) + watcher.find(
        "ChannelDestroyed", channel__id=channel_id)
    assert ev, f"no hang-up of {channel_id} seen"
    return min(ari_time(e) for e in ev)


async def supervision_window(watcher, sup: str, mode: str, call: Call) -> tuple[float, float]:
    """From the supervisor's audio joining (both channels in the bridge) to the supervisor leaving."""
    if mode == "barge":
        joined = [await watcher.wait("ChannelEnteredBridge", channel__id=sup,
                                     bridge__id=f"{call.call_id}~talk")]
        left_bridge = f"{call.call_id}~talk"
    else:
        joined = [await watcher.wait("ChannelEnteredBridge", channel__id=c, bridge__id=f"{sup}~sup")
                  for c in (sup, f"{sup}~snoop")]
        left_bridge = f"{sup}~sup"
    left = await watcher.wait("ChannelLeftBridge", channel__id=sup, bridge__id=left_bridge, timeout=15)
    return max(ari_time(e) for e in joined), ari_time(left)


async def supervise_by_api(api, service, mode: str) -> tuple[str, str]:
    tag = str(("listen", "whisper", "barge").index(mode) + 41)  # issue 17: one of 4901's configured phones
    r = await api.post("/supervise", json={"agent_id": AGENT, "mode": mode,
                                           "interface": f"Local/{tag}@e2e-sup-tone"})
    assert r.status_code == 202, r.text
    body = r.json()
    sup = body["supervisor_channel"]
    await service.wait_for("supervise.started", supervisor_channel=sup, timeout=10)
    return sup, tag


def audit_of(service, sup: str, mode: str, call: Call, supervisor: str) -> dict:
    lines = service.events("audit.supervise", supervisor_channel=sup)
    assert len(lines) == 1, lines
    a = lines[0]
    assert (a["supervisor"], a["agent"], a["mode"], a["call_id"], a["rule"]) == (
        supervisor, AGENT, mode, call.call_id, "R-SUPERVISE"), a
    assert a["end"] > a["start"] and a["duration_s"] >= SUPERVISE_S - 1, a
    return a


async def run_by_api(service, ari, watcher, api, mode: str) -> tuple[Heard, Heard, Heard, dict]:
    call = await connected_call(service, ari)
    sup, tag = await supervise_by_api(api, service, mode)
    await asyncio.sleep(SUPERVISE_S)
    await ari.delete(f"/channels/{sup}")  # the supervisor hangs up: snoop and bridge go too
    audit = await service.wait_for("audit.supervise", supervisor_channel=sup, timeout=5)
    assert audit["ended"] == "supervisor_hung_up", audit
    for _ in range(20):  # the call goes on, without any supervision left
        names = [c["id"] for c in await ari.channels()] + [b["id"] for b in await ari.bridges()]
        if not any(n.startswith(sup) for n in names):
            break
        await asyncio.sleep(0.1)
    assert not any(n.startswith(sup) for n in names), names
    assert call.call_id in names and f"{call.call_id}~talk" in names, names
    window = await supervision_window(watcher, sup, mode, call)
    await end_call(service, ari, call)
    caller = heard("caller", call.caller_file, hangup_time(watcher, call.caller_leg), window)
    agent = heard("agent", agent_file(call), local_end(watcher, f"Local/{AGENT}@e2e-sup-agent"), window)
    supervisor = heard("supervisor", PBX_ROOT / "tmp" / f"e2e-sup-tone-{tag}-heard.wav",
                       local_end(watcher, f"Local/{tag}@e2e-sup-tone"), window)
    print(f"\n{mode}: window {window[1] - window[0]:.2f} s\n  {caller}\n  {agent}\n  {supervisor}")
    return caller, agent, supervisor, audit_of(service, sup, mode, call, "e2e-supervisor")


# -- the three modes through the API --------------------------------------------------------------------
async def test_r_supervise_listen_nobody_but_the_supervisor_hears_anything(service, ari, watcher, api):
    caller, agent, supervisor, _ = await run_by_api(service, ari, watcher, api, "listen")
    assert caller.not_received(), caller
    assert agent.not_received(), agent
    # the supervisor hears the call: the agent's 1400 Hz (and nothing of its own tone)
    assert supervisor.other_level > HEARD_DBFS, supervisor
    # the call itself went on: the caller heard the agent all along
    assert caller.other_level > HEARD_DBFS, caller


async def test_r_supervise_whisper_only_the_agent_hears_the_supervisor(service, ari, watcher, api):
    caller, agent, supervisor, _ = await run_by_api(service, ari, watcher, api, "whisper")
    assert agent.received(), agent
    assert caller.not_received(), caller
    assert agent.tone_level - caller.tone_level >= 30, (caller, agent)
    assert supervisor.other_level > HEARD_DBFS, supervisor  # and the supervisor hears the call


async def test_r_supervise_barge_caller_and_agent_both_hear_the_supervisor(service, ari, watcher, api):
    caller, agent, supervisor, _ = await run_by_api(service, ari, watcher, api, "barge")
    assert caller.received(), caller
    assert agent.received(), agent
    assert supervisor.other_level > HEARD_DBFS, supervisor


# -- the feature code from a SIP phone --------------------------------------------------------------------
def tone_alaw(seconds: float = 1.0) -> bytes:
    """A-law samples of a 1000 Hz tone (about -12 dBFS), whole cycles so it loops cleanly."""
    return bytes(sipp._lin2alaw(int(8000 * math.sin(2 * math.pi * TONE_HZ * i / RATE)))
                 for i in range(int(RATE * seconds)))


SUPERVISOR_PIN = "490100"  # tests/e2e/config.toml [agents.4901] pin_hash


async def supervisor_logs_in(service) -> None:
    """Issue 17: a supervisor's phone supervises only while the supervisor is logged in there (*11, PIN)."""
    async with SippCaller("1020", "dev-1020", "*11", duration_s=None, dtmf=f"{SUPERVISOR}#{SUPERVISOR_PIN}#",
                          dtmf_at_s=2) as dial:
        login = await service.wait_for("agent.logged_in", agent=SUPERVISOR, timeout=20)
        assert login["interface"] == "PJSIP/1020" and login["source"] == "phone", login
        assert await dial.wait(20) == 0, dial.report()


async def test_r_supervise_whisper_by_feature_code_from_the_supervisors_sip_phone(
        service, ari, watcher, monkeypatch):
    await supervisor_logs_in(service)
    call = await connected_call(service, ari)
    monkeypatch.setattr(sipp, "_alaw_speech", tone_alaw)  # the phone's RTP: 1000 Hz, not speech
    async with SippCaller("1020", "dev-1020", f"*16{AGENT}", duration_s=SUPERVISE_S + 1) as phone:
        await phone.wait_answered(10)
        started = await service.wait_for("supervise.started", via="phone", timeout=10)
        assert (started["supervisor"], started["agent"], started["mode"]) == (SUPERVISOR, AGENT, "whisper")
        sup = started["supervisor_channel"]
        assert await phone.wait(30) == 0, phone.report()  # the phone hangs up (BYE) after its time
    audit = await service.wait_for("audit.supervise", supervisor_channel=sup, timeout=5)
    assert audit["ended"] == "supervisor_hung_up" and audit["via"] == "phone", audit
    window = await supervision_window(watcher, sup, "whisper", call)
    await end_call(service, ari, call)
    caller = heard("caller", call.caller_file, hangup_time(watcher, call.caller_leg), window)
    agent = heard("agent", agent_file(call), local_end(watcher, f"Local/{AGENT}@e2e-sup-agent"), window)
    print(f"\nwhisper by *16 from SIP 1020: window {window[1] - window[0]:.2f} s\n  {caller}\n  {agent}")
    assert agent.received(), agent
    assert caller.not_received(), caller
    assert agent.tone_level - caller.tone_level >= 30, (caller, agent)
    audit_of(service, sup, "whisper", call, SUPERVISOR)


async def test_r_supervise_the_call_ends_and_the_supervisor_is_hung_up(service, ari, watcher, api):
    call = await connected_call(service, ari)
    sup, _ = await supervise_by_api(api, service, "listen")
    await asyncio.sleep(1)
    await ari.delete(f"/channels/{call.caller_leg}")  # the caller hangs up: agent, snoop, supervisor go
    audit = await service.wait_for("audit.supervise", supervisor_channel=sup, timeout=5)
    assert audit["ended"] == "call_ended", audit
    await watcher.wait("ChannelDestroyed", channel__id=sup, timeout=5)
    chans, bridges = await ari.wait_empty(5)
    assert not chans and not bridges, f"left: {[c['name'] for c in chans]} {[b['id'] for b in bridges]}"


async def test_r_supervise_barge_ends_with_the_call(service, ari, watcher, api):
    call = await connected_call(service, ari)
    sup, _ = await supervise_by_api(api, service, "barge")
    await asyncio.sleep(1)
    await ari.delete(f"/channels/{call.caller_leg}")
    audit = await service.wait_for("audit.supervise", supervisor_channel=sup, timeout=5)
    assert audit["ended"] == "call_ended", audit
    chans, bridges = await ari.wait_empty(5)
    assert not chans and not bridges, f"left: {[c['name'] for c in chans]} {[b['id'] for b in bridges]}"


# -- refusals ------------------------------------------------------------------------------------------------
async def test_r_supervise_an_ordinary_agents_phone_is_refused(service, ari, watcher):
    call = await connected_call(service, ari)
    # agent 1001 (role agent) is logged in at PJSIP/1001: it may not listen to 4001's call
    async with SippCaller("1001", "dev-1001", f"*15{AGENT}", duration_s=None) as phone:
        assert await phone.wait(20) == 0, phone.report()  # "工号或密码错误", then the service hangs up
    refused = await service.wait_for("supervise.refused", timeout=5)
    assert (refused["reason"], refused["interface"], refused["agent"]) == (
        "not_a_supervisor", "PJSIP/1001", AGENT)
    played = await watcher.wait("PlaybackStarted",
                                playback__target_uri=f"channel:{refused['supervisor_channel']}")
    assert played["playback"]["media_uri"] == "sound:callcenter/login-failed"
    assert service.events("supervise.started") == []
    assert not [c for c in await ari.channels() if "~snoop" in c["id"]]
    assert service.events("audit.supervise") == []
    await end_call(service, ari, call)


async def test_r_supervise_the_supervisors_idle_phone_is_refused_without_a_login(service, ari, watcher):
    """Issue 17: nobody is logged in at PJSIP/1020, supervisor 4901's configured phone: whoever dials
    *15 there hears "not logged in" and is hung up; nothing is snooped."""
    call = await connected_call(service, ari)
    async with SippCaller("1020", "dev-1020", f"*15{AGENT}", duration_s=None) as phone:
        assert await phone.wait(20) == 0, phone.report()
    refused = await service.wait_for("supervise.refused", timeout=5)
    assert (refused["reason"], refused["interface"], refused["supervisor"]) == ("not_logged_in", "PJSIP/1020", None)
    played = await watcher.wait("PlaybackStarted",
                                playback__target_uri=f"channel:{refused['supervisor_channel']}")
    assert played["playback"]["media_uri"] == "sound:callcenter/not-logged-in"
    assert service.events("supervise.started") == [] and service.events("audit.supervise") == []
    assert not [c for c in await ari.channels() if "~snoop" in c["id"]]
    await end_call(service, ari, call)


async def test_r_supervise_no_live_call_prompt_and_409(service, ari, watcher, api):
    # the supervisor's phone: agent 4001 is idle, so there is nothing to listen to
    await supervisor_logs_in(service)
    async with SippCaller("1020", "dev-1020", f"*17{AGENT}", duration_s=None) as phone:
        assert await phone.wait(20) == 0, phone.report()
    refused = await service.wait_for("supervise.refused", timeout=5)
    assert (refused["reason"], refused["supervisor"], refused["mode"]) == (
        "no_live_call", SUPERVISOR, "barge")
    played = await watcher.wait("PlaybackStarted",
                                playback__target_uri=f"channel:{refused['supervisor_channel']}")
    assert played["playback"]["media_uri"] == "sound:callcenter/invalid-number"
    # the API: 409, and nobody is called
    r = await api.post("/supervise", json={"agent_id": AGENT, "mode": "listen",
                                           "interface": "Local/41@e2e-sup-tone"})
    assert r.status_code == 409 and "not on a live call" in r.json()["error"], r.text
    r = await api.post("/supervise", json={"agent_id": "9999", "mode": "listen", "interface": "PJSIP/1020"})
    assert r.status_code == 404, r.text
    # issue 17: a dial string that is no supervisor's configured phone is refused before anything is dialled
    r = await api.post("/supervise", json={"agent_id": AGENT, "mode": "listen",
                                           "interface": "Local/49@e2e-sup-tone"})
    assert r.status_code == 400 and "is not a supervisor's phone" in r.json()["error"], r.text
    chans, bridges = await ari.wait_empty(3)
    assert not chans and not bridges
    assert service.events("audit.api", action="supervise", status=409)
