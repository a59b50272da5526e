"""The SIPp test phones themselves (tests/e2e/sipp.py, tests/e2e/sipp/*.xml), without
the call-center service: a caller reaches agent phone 1001 through the test-only
dialplan (e2e-dial-1001 in tests/e2e/asterisk/extensions_e2e.conf), RTP flows
both ways through Asterisk, DTMF from either phone arrives, CANCEL and BYE work
from both sides, and no sipp is left running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
import pytest
import websockets

import sipp
from sipp import SippCaller, SippPhone

pytestmark = pytest.mark.e2e

ARI_URL = "http://127.0.0.1:8088/ari"
ARI_WS = "ws://127.0.0.1:8088/ari/events"
ARI_AUTH = ("callcenter", "callcenter-dev")
APP = "e2e-tools"  # a test-only ARI app, never the service's "callcenter"


class AriWatcher:
    """HTTP + the event websocket of the test app, subscribed to some endpoints."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=ARI_URL, auth=ARI_AUTH, timeout=10)
        self.events: list[dict[str, Any]] = []
        self._ws = None
        self._reader: asyncio.Task | None = None

    async def start(self, *endpoints: str) -> "AriWatcher":
        self._ws = await websockets.connect(f"{ARI_WS}?app={APP}&api_key={ARI_AUTH[0]}:{ARI_AUTH[1]}")
        self._reader = asyncio.create_task(self._read())
        for ep in endpoints:  # channel events (DTMF...) of every channel of these endpoints
            r = await self.http.post(f"/applications/{APP}/subscription",
                                     params={"eventSource": f"endpoint:{ep}"})
            r.raise_for_status()
        return self

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                self.events.append(json.loads(raw))

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws:
            await self._ws.close()
        await self.http.aclose()

    async def channels(self, prefix: str) -> list[dict]:
        r = await self.http.get("/channels")
        r.raise_for_status()
        return [c for c in r.json() if c["name"].startswith(prefix)]

    async def wait_channel_up(self, prefix: str, timeout: float = 10) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            up = [c for c in await self.channels(prefix) if c["state"] == "Up"]
            if up:
                return up[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no channel {prefix}* Up within {timeout} s")

    async def rtp(self, channel_id: str) -> dict:
        r = await self.http.get(f"/channels/{channel_id}/rtp_statistics")
        r.raise_for_status()
        return r.json()

    def dtmf(self, channel_id: str) -> str:
        return "".join(e["digit"] for e in self.events
                       if e.get("type") == "ChannelDtmfReceived" and e["channel"]["id"] == channel_id)

    async def wait_dtmf(self, channel_id: str, digits: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.dtmf(channel_id) != digits and time.monotonic() < end:
            await asyncio.sleep(0.05)

    async def wait_no_channels(self, timeout: float = 5) -> list[str]:
        end = time.monotonic() + timeout
        while True:
            r = await self.http.get("/channels")
            names = [c["name"] for c in r.json() if c["name"].startswith(("PJSIP/1001-", "PJSIP/caller1-"))]
            if not names or time.monotonic() > end:
                return names
            await asyncio.sleep(0.1)


@pytest.fixture
async def ari_watch(asterisk):
    watcher = await AriWatcher().start("PJSIP/caller1", "PJSIP/1001")
    yield watcher
    await watcher.close()


def _logs(*who) -> str:
    return "\n\n".join(w.report() for w in who)


async def test_call_to_agent_phone_carries_rtp_both_ways_and_dtmf_from_both_phones(ari_watch, tmp_path):
    phone = SippPhone("1001", "dev-1001", answer_after_s=1, dtmf="7", dtmf_at_s=2, workdir=tmp_path)
    caller = SippCaller("caller1", "dev-caller1", "e2e-dial-1001", duration_s=10, dtmf="5#", dtmf_at_s=4,
                        workdir=tmp_path)
    async with phone:
        async with caller:
            await caller.wait_answered(timeout=15)
            caller_ch = await ari_watch.wait_channel_up("PJSIP/caller1-")
            agent_ch = await ari_watch.wait_channel_up("PJSIP/1001-")

            # DTMF: the agent's "7" at 2 s, the caller's "5", "#" at 4 s and 4.3 s after answer
            await ari_watch.wait_dtmf(caller_ch["id"], "5#", timeout=8)
            await ari_watch.wait_dtmf(agent_ch["id"], "7", timeout=2)
            assert ari_watch.dtmf(caller_ch["id"]) == "5#", "caller DTMF lost\n" + _logs(caller, phone)
            assert ari_watch.dtmf(agent_ch["id"]) == "7", "agent DTMF lost\n" + _logs(phone, caller)

            # RTP, read after the digits (one SSRC: the counters did not restart at the DTMF)
            await asyncio.sleep(1)
            for ch in (caller_ch, agent_ch):
                stats = await ari_watch.rtp(ch["id"])
                assert stats["rxcount"] > 50 and stats["txcount"] > 50, (
                    f"{ch['name']}: rtp_statistics {stats}\n" + _logs(caller, phone))
                assert stats["rxploss"] == 0, f"{ch['name']}: packets lost {stats}"

            rc = await caller.wait()
            assert rc == 0, f"caller sipp exit {rc}\n" + _logs(caller, phone)
        assert any("hung up (BYE sent)" in line for line in caller.log_lines()), caller.report()
        await phone.wait_for("BYE from Asterisk", timeout=5)
        assert phone.count("answered") == 1, phone.report()
        assert await ari_watch.wait_no_channels() == []
    assert not phone.uas.alive()
    assert sipp.running_pids() == set(), "sipp processes left running"


async def test_agent_phone_hangs_up_and_caller_answers_the_bye(ari_watch, tmp_path):
    async with SippPhone("1001", "dev-1001", answer_after_s=0.5, hangup_after_s=3, workdir=tmp_path) as phone:
        async with SippCaller("caller1", "dev-caller1", "e2e-dial-1001", duration_s=None, timeout_s=30,
                              workdir=tmp_path) as caller:
            rc = await caller.wait(timeout=30)
            assert rc == 0, f"caller sipp exit {rc}\n" + _logs(caller, phone)
        assert any("BYE from Asterisk, 200 sent" in line for line in caller.log_lines()), caller.report()
        assert phone.count("hung up (BYE sent)") == 1, phone.report()
    assert sipp.running_pids() == set()


async def test_unanswered_phone_takes_cancel_and_then_the_next_calls(ari_watch, tmp_path):
    async with SippPhone("1001", "dev-1001", never_answer=True, workdir=tmp_path) as phone:
        for n in (1, 2):
            r = await ari_watch.http.post("/channels",
                                          params={"endpoint": "PJSIP/1001", "app": APP, "timeout": 2})
            r.raise_for_status()
            await phone.wait_for("CANCEL while ringing, 487 sent", count=n, timeout=10)
            assert await ari_watch.wait_no_channels() == [], phone.report()
        assert phone.count("INVITE") == 2 and phone.count("answered") == 0, phone.report()
        assert phone.uas.alive()
    # unregistered on exit
    async with httpx.AsyncClient(base_url=ARI_URL, auth=ARI_AUTH) as http:
        state = (await http.get("/endpoints/PJSIP/1001")).json()["state"]
    assert state == "offline", f"PJSIP/1001 still {state} after the phone stopped\n{phone.report()}"


async def test_caller_dtmf_reaches_dialplan_read(ari_watch, tmp_path):
    """e2e-read: Read() collects the caller's digits up to '#', then hands them to the test app."""
    async with SippCaller("caller1", "dev-caller1", "e2e-read", duration_s=None, dtmf="42#", dtmf_at_s=1,
                          timeout_s=30, workdir=tmp_path) as caller:
        end = time.monotonic() + 15
        start = None
        while start is None and time.monotonic() < end:
            start = next((e for e in ari_watch.events if e.get("type") == "StasisStart"), None)
            await asyncio.sleep(0.05)
        assert start is not None, "no StasisStart from e2e-read\n" + caller.report()
        assert start["args"] == ["read", "42"], f"{start['args']}\n{caller.report()}"
        await ari_watch.http.delete(f"/channels/{start['channel']['id']}")
        rc = await caller.wait(timeout=10)
        assert rc == 0, f"caller sipp exit {rc}\n" + caller.report()
    assert any("BYE from Asterisk" in line for line in caller.log_lines()), caller.report()
