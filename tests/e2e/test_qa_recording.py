"""R-QA recording against the real Asterisk: the recording notice, one file per call across an
attended transfer, not world-readable (R-PRIVACY), the store row, nothing left behind; the snoop
survives a service restart (resync adopts it); retention deletes old recordings through ARI.

The service runs with tests/e2e/config.toml plus a ``[recording]`` section. Agent 3001 (queue
"xfer", a Local channel) answers and transfers to 3002 through the API, as in test_transfer.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from conftest import PBX_ROOT, Service, ari_time, config_with

MEDIA = "sound:callcenter/"
SPOOL = PBX_ROOT / "var" / "spool" / "asterisk" / "recording"
RECORDING = """
[recording]
enabled = true
notice = true
format = "wav"
retention_days = 30
name = "qa/{date}/{call_id}"
"""


def recording_config(tmp_path: Path) -> Path:
    """tests/e2e/config.toml with [recording]."""
    return config_with(tmp_path, RECORDING)


@pytest.fixture
async def recording_service(asterisk, ari, tmp_path):
    svc = Service(tmp_path, config=recording_config(tmp_path)).start()
    await svc.wait_for("ari.resynced")
    yield svc
    svc.stop()
    assert not svc.errors(), f"service logged errors: {svc.errors()[:3]}"


@pytest.fixture
async def qa_cleanup(ari):
    """Recordings the test made (qa/…) are deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        await ari.delete("/recordings/stored/" + name.replace("/", "%2F"))


def stored_row(workdir: Path, call_id: str) -> tuple[str, float] | None:
    with sqlite3.connect(workdir / "state.db") as db:
        row = db.execute("SELECT name, started_at FROM call_recordings WHERE call_id = ?",
                         (call_id,)).fetchone()
    return (row[0], row[1]) if row else None


def wav_seconds(path: Path) -> float:
    out = subprocess.run(["sox", "--i", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


async def connected(service, ari):
    caller = await ari.call_queue("xfer", talk_s=90)
    answered = await service.wait_for("call.answered", queue="xfer", agent="3001", timeout=10)
    call_id = answered["call_id"]
    await service.wait_for("call.bridged", call_id=call_id, timeout=15)
    return call_id, caller["id"]


async def transfer_to_3002(service, api, watcher, call_id):
    r = await api.post("/transfers", json={"agent_id": "3001", "target": "3002"})
    assert r.status_code == 201, r.text
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    r = await api.put(f"/transfers/{r.json()['transfer_id']}/complete")
    assert r.status_code == 200, r.text
    return await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~t1",
                              bridge__id=f"{call_id}~talk", timeout=15)


async def test_one_recording_per_call_across_an_attended_transfer(recording_service, ari, api, watcher,
                                                                   qa_cleanup, tmp_path):
    """R-QA: the recording notice first, then one recording of the call across an attended transfer."""
    svc = recording_service
    call_id, caller = await connected(svc, ari)
    # the notice, heard in full before the caller is bridged with the agent
    notice = await watcher.wait("PlaybackFinished", playback__target_uri=f"channel:{call_id}",
                                playback__media_uri=MEDIA + "recording-notice")
    assert notice["playback"]["state"] == "done"
    first_bridge = (await watcher.wait("ChannelEnteredBridge", channel__id=call_id,
                                       bridge__id=f"{call_id}~talk"))
    assert ari_time(notice) <= ari_time(first_bridge)
    started = await svc.wait_for("call.recording_started", call_id=call_id, timeout=5)
    name = started["recording"]
    qa_cleanup.append(name)
    assert started["rule"] == "R-QA"
    await asyncio.sleep(2)  # the caller talks with 3001 ...
    await transfer_to_3002(svc, api, watcher, call_id)
    await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~a1")
    await asyncio.sleep(2)  # ... then with 3002
    await ari.delete(f"/channels/{caller}")
    gone = await watcher.wait("ChannelDestroyed", channel__id=call_id, timeout=5)
    finished = await svc.wait_for("call.recording_finished", call_id=call_id, timeout=10)
    assert finished["recording"] == name and finished["state"] == "done", finished
    done = await svc.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done["agent"] == "3002"

    # nothing left in Asterisk: no channel (the snoop neither), no bridge
    chans, bridges = await ari.wait_empty(3)
    assert chans == [] and bridges == []
    assert len(svc.events("call.recording_started", call_id=call_id)) == 1

    # exactly one recording of the call, named by the day it started
    row = stored_row(tmp_path, call_id)
    assert row is not None, "the store has the call's recording"
    day = datetime.fromtimestamp(row[1]).date()
    assert row[0] == name == f"qa/{day.isoformat()}/{call_id}"
    assert [n for n in await ari.recordings() if call_id in n] == [name]

    # it covers both agents' talk: from the first bridge to the hang-up
    path = SPOOL / f"{name}.wav"
    expected = ari_time(gone) - ari_time(first_bridge)
    seconds = wav_seconds(path)
    assert abs(seconds - expected) <= 1.5, (seconds, expected)
    assert expected > 4  # 2 s with each agent at least, and the transfer between
    info = await ari.get("/recordings/stored/" + name.replace("/", "%2F"))
    assert info["format"] == "wav"

    # R-PRIVACY: not world-readable (Asterisk runs with umask 027), nor its directory
    assert os.stat(path).st_mode & 0o007 == 0, oct(os.stat(path).st_mode)
    assert os.stat(path.parent).st_mode & 0o007 == 0, oct(os.stat(path.parent).st_mode)


async def test_the_recording_goes_on_across_a_service_restart_and_old_ones_expire(asterisk, ari, watcher,
                                                                                  qa_cleanup, tmp_path):
    config = recording_config(tmp_path)
    first = Service(tmp_path, config=config).start()
    try:
        await first.wait_for("ari.resynced")
        call_id, caller = await connected(first, ari)
        started = await first.wait_for("call.recording_started", call_id=call_id, timeout=5)
        name = started["recording"]
        qa_cleanup.append(name)
        first_bridge = await watcher.wait("ChannelEnteredBridge", channel__id=call_id,
                                          bridge__id=f"{call_id}~talk")
    finally:
        first.stop(signal.SIGKILL)
    # two copies of a recording, one dated beyond retention_days (30), one within it (a copy's name has no
    # dot: ARI's copy takes what follows a dot for a file extension)
    today, copy_id = date.today(), "e2e-" + call_id.replace(".", "-")
    old, kept = f"qa/{today - timedelta(days=31)}/{copy_id}", f"qa/{today - timedelta(days=30)}/{copy_id}"
    for copy in (old, kept):
        await ari.post("/recordings/stored/" + name.replace("/", "%2F") + "/copy",
                       destinationRecordingName=copy)
        qa_cleanup.append(copy)

    second = Service(tmp_path, config=config, log_name="second.log").start()
    try:
        resynced = await second.wait_for("call.resynced", call_id=call_id, timeout=10)
        assert resynced["state"] == "connected"
        retention = await second.wait_for("recording.retention", timeout=10)
        assert retention["deleted"] >= 1
        expired = second.events("recording.expired")
        assert old in [e["recording"] for e in expired] and kept not in [e["recording"] for e in expired]
        stored = await ari.recordings()
        assert old not in stored and kept in stored and name in stored
        assert not second.events("call.orphan_hungup")  # the snoop is the call's, not an orphan
        assert not second.events("call.recording_started", call_id=call_id)  # no second recording
        await asyncio.sleep(1)
        await ari.delete(f"/channels/{caller}")
        gone = await watcher.wait("ChannelDestroyed", channel__id=call_id, timeout=5)
        finished = await second.wait_for("call.recording_finished", call_id=call_id, timeout=10)
        assert finished["recording"] == name and finished["state"] == "done", finished
        chans, bridges = await ari.wait_empty(3)
        assert chans == [] and bridges == []
    finally:
        second.stop()
    assert not second.errors(), second.errors()[:3]
    seconds = wav_seconds(SPOOL / f"{name}.wav")
    expected = ari_time(gone) - ari_time(first_bridge)
    assert abs(seconds - expected) <= 1.5, (seconds, expected)
