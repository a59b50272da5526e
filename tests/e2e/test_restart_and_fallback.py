"""Reconnect and resync (issue 2): Asterisk restarts under a running service, the
service restarts under a waiting call, and the dialplan fallback when it is down."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import stat
import struct
import time
import wave

from conftest import PBX_ROOT, Service, pbx


async def test_same_service_process_reconnects_after_asterisk_restart_and_answers_next_call(service, ari):
    pid = service.pid
    r = pbx("down")
    assert r.returncode == 0
    await service.wait_for("ari.disconnected", timeout=10)
    r = pbx("up")
    assert r.returncode == 0, r.stderr
    await service.wait_for("ari.resynced", count=2, timeout=20)
    assert service.pid == pid and service.alive()

    await ari.call_queue("lab", talk_s=3)
    answered = await service.wait_for("call.answered", queue="lab", agent="2001", timeout=10)
    done = await service.wait_for("call.completed", call_id=answered["call_id"], timeout=10)
    assert done["hung_up_first"] == "caller"


async def test_waiting_call_survives_a_service_restart_and_is_served(asterisk, ari, tmp_path):
    first = Service(tmp_path).start()
    try:
        await first.wait_for("ari.resynced")
        await ari.call_queue("slow", talk_s=20)  # agent 2002 answers only after 6 s
        offered = await first.wait_for("call.offered", queue="slow")
        call_id = offered["call_id"]
    finally:
        first.stop(signal.SIGKILL)  # a crash, not a clean stop
    # The caller is still in Asterisk, held in its holding bridge, while no service runs.
    chans = {c["id"] for c in await ari.channels()}
    assert call_id in chans

    second = Service(tmp_path).start()
    try:
        resynced = await second.wait_for("call.resynced", call_id=call_id, timeout=10)
        assert resynced["state"] == "waiting"
        answered = await second.wait_for("call.answered", call_id=call_id, agent="2002", timeout=15)
        # its place in line was kept: the wait counts from when it first entered the queue
        assert answered["wait_s"] >= 6
        await second.wait_for("call.completed", call_id=call_id, timeout=25)
        chans, bridges = await ari.wait_empty(3)
        assert chans == [] and bridges == []
    finally:
        second.stop()
    assert not second.errors(), second.errors()[:3]


def rms(path) -> float:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        assert w.getsampwidth() == 2
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples))) / 32768


async def test_fallback_message_and_voicemail_when_service_is_down(asterisk, ari):
    apps = [a["name"] for a in await ari.get("/applications")]
    assert "callcenter" not in apps, "the service must not be connected for this test"
    vm_dir = PBX_ROOT / "var/spool/asterisk/recording/callcenter-fallback"
    before = set(os.listdir(vm_dir))
    rec = f"/tmp/e2e-fallback-{int(time.time() * 1000)}"
    started = time.time()
    await ari.call_queue("support", talk_s=25, exten="record",
                         variables={"E2E_FILE": f"{rec}.wav", "CALLERID(num)": "13812345678"})
    # the caller listens; the fallback plays its message, then records a voicemail until silence
    for _ in range(300):
        if not await ari.channels():
            break
        await asyncio.sleep(0.1)
    caller_side = PBX_ROOT / rec.lstrip("/")
    caller_side = caller_side.with_suffix(".wav")
    assert caller_side.exists(), "the caller-side recording was not written"
    level = rms(caller_side)
    assert level > 0.01, f"the caller heard silence (RMS {level:.4f}): no fallback message"

    new = sorted(set(os.listdir(vm_dir)) - before)
    assert len(new) == 1, f"expected one new voicemail, got {new}"
    m = re.fullmatch(r"support_(\d+)_(\d*)_([\w.]+)\.wav", new[0])
    assert m, f"voicemail name {new[0]!r} does not follow <queue>_<epoch>_<digits>_<uniqueid>.wav"
    assert abs(int(m.group(1)) - started) < 30
    mode = stat.S_IMODE(os.stat(vm_dir / new[0]).st_mode)
    assert mode & 0o007 == 0, f"voicemail is world-accessible: {oct(mode)} (R-PRIVACY)"
