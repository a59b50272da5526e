"""The transfer key of the SIPp agent phone (SippPhone(refer_to=...), tests/e2e/sipp/uas.xml)
against the real Asterisk, without the call-center service.

A test-only ARI app "e2e-refer" (its own websocket here) plays the service's part:
it originates the agent phone PJSIP/1007 and a peer (Local/e2e-echo@e2e-tools, or a
second phone) into the app, sets PJSIP_TRANSFER_HANDLING()=ari-only on the agent's
channel, bridges them, and when the phone's blind REFER arrives as an ARI
ChannelTransfer event it reports progress with
POST /channels/{agent}/transfer_progress?states=... . Asterisk turns each state into
a NOTIFY (message/sipfrag) to the phone, which logs it (phone.notifies()).

What Asterisk 22 does (asserted below):
- With ari-only, REFER -> 202 Accepted and a ChannelTransfer event, and NO NOTIFY at
  all until the app calls transfer_progress (no automatic "100 Trying").
- channel_progress    -> NOTIFY active,     "SIP/2.0 100 Trying" (again at each call)
  channel_answered    -> NOTIFY terminated, "SIP/2.0 200 OK"
  channel_unavailable -> NOTIFY terminated, "SIP/2.0 503 Service Unavailable"
  channel_declined    -> NOTIFY terminated, "SIP/2.0 603 Decline"
  No state gives 180 Ringing; any other value is HTTP 400 "Invalid states value".
  After the terminated NOTIFY further transfer_progress calls answer 204 and send nothing.
- Each accepted transfer_progress also comes back to the app as another ChannelTransfer
  event, with "state" set (the REFER's own event has none): the app must not take
  those for new transfers.
- Asterisk does nothing to the call by itself: the phone stays in the bridge until
  the app hangs it up (transfer done) or the call goes on (transfer failed).
- PJSIP_TRANSFER_HANDLING()=ari-only works set by ARI after the answer (POST
  /channels/{id}/variable, HTTP 204; it is write-only: reading it is HTTP 500) and as
  an originate variable.
- Without ari-only on the channel that RECEIVES the REFER (the agent's), Asterisk
  handles the REFER itself: 202, "100 Trying" and the final NOTIFY back to back
  (here "404 Not Found": 1008 is not an extension of from-agents), and no
  ChannelTransfer. Setting it on the bridged peer (the queue caller) does not help.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, Callable

import httpx
import pytest
import websockets

import sipp
from sipp import SippPhone

pytestmark = pytest.mark.e2e

ARI_URL = "http://127.0.0.1:8088/ari"
ARI_WS = "ws://127.0.0.1:8088/ari/events"
ARI_AUTH = ("callcenter", "callcenter-dev")
APP = "e2e-refer"  # a test-only ARI app, never the service's "callcenter"
AGENT, AGENT_PW, TARGET = "1007", "dev-1007", "1008"
REFER_AT_S = 2.0


class ReferApp:
    """The test's ARI app: HTTP + its event websocket, each event stamped with its arrival time."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=ARI_URL, auth=ARI_AUTH, timeout=10)
        self.events: list[dict[str, Any]] = []
        self.channels: list[str] = []
        self.bridges: list[str] = []
        self._ws = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "ReferApp":
        self._ws = await websockets.connect(f"{ARI_WS}?app={APP}&api_key={ARI_AUTH[0]}:{ARI_AUTH[1]}")
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                event = json.loads(raw)
                event["_t"] = time.time()
                self.events.append(event)

    async def close(self) -> None:
        for ch in self.channels:
            await self.http.delete(f"/channels/{ch}")
        for br in self.bridges:
            await self.http.delete(f"/bridges/{br}")
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws:
            await self._ws.close()
        await self.http.aclose()

    def find(self, type_: str, pred: Callable[[dict], bool] = lambda e: True) -> list[dict]:
        return [e for e in self.events if e.get("type") == type_ and pred(e)]

    async def wait(self, type_: str, pred: Callable[[dict], bool] = lambda e: True, timeout: float = 10,
                   why: str = "") -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.find(type_, pred)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no ARI {type_} within {timeout} s {why}; events: "
                             + ", ".join(e.get("type", "?") for e in self.events[-20:]))

    async def originate(self, endpoint: str, variables: dict[str, str] | None = None) -> dict:
        r = await self.http.post("/channels", params={"endpoint": endpoint, "app": APP},
                                 json={"variables": variables} if variables else None)
        r.raise_for_status()
        channel = r.json()
        self.channels.append(channel["id"])
        return channel

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        r = await self.http.post(f"/channels/{channel_id}/variable",
                                 params={"variable": name, "value": value})
        assert r.status_code == 204, f"set {name} on {channel_id}: {r.status_code} {r.text}"

    async def bridge(self, *channel_ids: str) -> str:
        r = await self.http.post("/bridges", params={"type": "mixing"})
        r.raise_for_status()
        bridge_id = r.json()["id"]
        self.bridges.append(bridge_id)
        r = await self.http.post(f"/bridges/{bridge_id}/addChannel",
                                 params={"channel": ",".join(channel_ids)})
        assert r.status_code == 204, r.text
        return bridge_id

    async def progress(self, channel_id: str, state: str) -> float:
        """transfer_progress; returns the time just before the request."""
        t = time.time()
        r = await self.http.post(f"/channels/{channel_id}/transfer_progress", params={"states": state})
        assert r.status_code == 204, f"transfer_progress {state}: {r.status_code} {r.text}"
        return t

    async def channel(self, channel_id: str) -> dict | None:
        r = await self.http.get(f"/channels/{channel_id}")
        return r.json() if r.status_code == 200 else None


@pytest.fixture
async def refer_app(asterisk):
    app = await ReferApp().start()
    yield app
    await app.close()


async def _agent_call(app: ReferApp, phone: SippPhone, peer_endpoint: str = "Local/e2e-echo@e2e-tools",
                      ari_only_on: str = "agent") -> tuple[dict, dict, str]:
    """The agent phone answers a call from the app and is bridged with a peer, as an
    agent with a queue caller. ari_only_on: where PJSIP_TRANSFER_HANDLING()=ari-only is set:
    "agent" (POST /channels/{id}/variable after StasisStart), "agent-originate" (in the
    originate's variables), "peer", or "" (nowhere). Returns (agent, peer, bridge id)."""
    peer = await app.originate(peer_endpoint)
    agent = await app.originate(f"PJSIP/{phone.username}", {"PJSIP_TRANSFER_HANDLING()": "ari-only"}
                                if ari_only_on == "agent-originate" else None)
    for ch in (agent, peer):  # StasisStart: the channel answered
        await app.wait("StasisStart", lambda e, i=ch["id"]: e["channel"]["id"] == i, timeout=15,
                       why=f"for {ch['name']}\n{phone.report()}")
    if ari_only_on == "agent":
        # a write-only function: GET .../variable?variable=PJSIP_TRANSFER_HANDLING() is HTTP 500
        await app.set_var(agent["id"], "PJSIP_TRANSFER_HANDLING()", "ari-only")
    elif ari_only_on == "peer":
        await app.set_var(peer["id"], "PJSIP_TRANSFER_HANDLING()", "ari-only")
    bridge_id = await app.bridge(agent["id"], peer["id"])
    return agent, peer, bridge_id


async def _wait_transfer(app: ReferApp, phone: SippPhone, agent: dict) -> dict:
    transfer = await app.wait("ChannelTransfer", lambda e: "state" not in e, timeout=REFER_AT_S + 10,
                              why=f"(the phone's REFER)\n{phone.report()}")
    await phone.wait_for("REFER accepted (202)", timeout=2)
    assert transfer["referred_by"]["source_channel"]["id"] == agent["id"], transfer
    assert transfer["refer_to"]["requested_destination"]["destination"] == TARGET, transfer
    return transfer


def _frags(phone: SippPhone) -> list[str]:
    return [frag for _, _, frag in phone.notifies()]


@pytest.mark.parametrize("ari_only_on", ["agent", "agent-originate"])
async def test_blind_refer_answered_notifies_100_then_200_only_after_channel_answered(refer_app, tmp_path,
                                                                                      ari_only_on):
    async with SippPhone(AGENT, AGENT_PW, answer_after_s=0.5, refer_to=TARGET, refer_at_s=REFER_AT_S,
                         workdir=tmp_path) as phone:
        agent, peer, bridge_id = await _agent_call(refer_app, phone, ari_only_on=ari_only_on)
        transfer = await _wait_transfer(refer_app, phone, agent)
        assert transfer["referred_by"]["connected_channel"]["id"] == peer["id"], transfer
        assert transfer["referred_by"]["bridge"]["id"] == bridge_id, transfer

        # ari-only: Asterisk sends no NOTIFY of its own, it waits for the app
        await asyncio.sleep(1.5)
        assert phone.notifies() == [], phone.report()

        t_progress = await refer_app.progress(agent["id"], "channel_progress")
        trying = await phone.wait_notify(lambda n: n[2] == "SIP/2.0 100 Trying", timeout=5)
        assert trying[0] >= t_progress and trying[1].startswith("active"), trying

        await asyncio.sleep(2)  # the target "rings": nothing final yet
        assert not any(n[1].startswith("terminated") for n in phone.notifies()), phone.notifies()

        t_answer = await refer_app.progress(agent["id"], "channel_answered")
        final = await phone.wait_notify(lambda n: n[1].startswith("terminated"), timeout=5)
        notifies = phone.notifies()
        assert _frags(phone) == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"], phone.report()
        assert final == notifies[-1] and final[2] == "SIP/2.0 200 OK" and final[0] >= t_answer, notifies
        assert all(t < t_answer for t, _, frag in notifies if frag != "SIP/2.0 200 OK"), notifies
        assert all(t >= t_answer for t, _, frag in notifies if " 200 " in frag), notifies

        # every accepted state comes back to the app as a ChannelTransfer with "state"
        # (the event may come a moment after the NOTIFY)
        await refer_app.wait("ChannelTransfer", lambda e: e.get("state") == "channel_answered", timeout=3)
        echoes = [e["state"] for e in refer_app.find("ChannelTransfer", lambda e: "state" in e)]
        assert echoes == ["channel_progress", "channel_answered"], echoes

        # after the final NOTIFY the dialog stays up until the app hangs the agent up
        await asyncio.sleep(1)
        assert (await refer_app.channel(agent["id"]) or {}).get("state") == "Up"
        assert phone.count("BYE from Asterisk") == 0, phone.report()
        await refer_app.http.delete(f"/channels/{agent['id']}")
        await phone.wait_for("BYE from Asterisk", timeout=5)
        assert phone.count("REFER to 1008 sent") == 1, phone.report()
    assert sipp.running_pids() == set()


@pytest.mark.parametrize("state, sipfrag", [
    ("channel_unavailable", "SIP/2.0 503 Service Unavailable"),
    ("channel_declined", "SIP/2.0 603 Decline"),
])
async def test_blind_refer_failed_notifies_failure_and_the_call_goes_on(refer_app, tmp_path, state, sipfrag):
    hangup_after_s = 11.0  # the agent hangs up itself in the end
    async with SippPhone(AGENT, AGENT_PW, answer_after_s=0.5, refer_to=TARGET, refer_at_s=REFER_AT_S,
                         hangup_after_s=hangup_after_s, workdir=tmp_path) as phone:
        agent, _peer, _bridge = await _agent_call(refer_app, phone)
        await _wait_transfer(refer_app, phone, agent)

        await refer_app.progress(agent["id"], "channel_progress")
        await phone.wait_notify(lambda n: n[2] == "SIP/2.0 100 Trying", timeout=5)
        await asyncio.sleep(2)
        t_fail = await refer_app.progress(agent["id"], state)
        final = await phone.wait_notify(lambda n: n[1].startswith("terminated"), timeout=5)
        assert final[2] == sipfrag and final[0] >= t_fail, phone.notifies()
        assert _frags(phone) == ["SIP/2.0 100 Trying", sipfrag], phone.report()
        assert not any(" 200 " in frag for frag in _frags(phone)), phone.notifies()
        echo = await refer_app.wait("ChannelTransfer",
                                    lambda e: e.get("state") not in (None, "channel_progress"))
        # Asterisk 22.10 reports channel_unavailable back as "channel_declined"
        assert echo["state"] in (state, "channel_declined"), echo

        # a late state after the terminated NOTIFY: 204, and no NOTIFY
        await refer_app.progress(agent["id"], "channel_answered")

        # the call goes on: still up, RTP still flowing from the phone, no BYE
        stats0 = (await refer_app.http.get(f"/channels/{agent['id']}/rtp_statistics")).json()
        await asyncio.sleep(1.5)
        stats1 = (await refer_app.http.get(f"/channels/{agent['id']}/rtp_statistics")).json()
        assert stats1["rxcount"] > stats0["rxcount"] + 40, (stats0, stats1)
        assert (await refer_app.channel(agent["id"]) or {}).get("state") == "Up"
        assert phone.count("BYE from Asterisk") == 0 and phone.count("hung up") == 0, phone.report()
        assert _frags(phone) == ["SIP/2.0 100 Trying", sipfrag], phone.report()

        # then the agent hangs up (hangup_after_s after the answer)
        await phone.wait_for("hung up (BYE sent)", timeout=hangup_after_s + 2)
        await refer_app.wait("StasisEnd", lambda e: e["channel"]["id"] == agent["id"], timeout=5)
    assert sipp.running_pids() == set()


async def test_without_ari_only_on_the_agent_asterisk_handles_the_refer_itself(refer_app, tmp_path):
    """PJSIP_TRANSFER_HANDLING() belongs on the channel that receives the REFER: set on
    the bridged peer only (a second phone here, a queue caller in the service), the
    agent's REFER is Asterisk's own blind transfer, two NOTIFYs back to back."""
    async with SippPhone("1009", "dev-1009", answer_after_s=0.3, workdir=tmp_path / "peer"), \
            SippPhone(AGENT, AGENT_PW, answer_after_s=0.5, refer_to=TARGET, refer_at_s=REFER_AT_S,
                      workdir=tmp_path / "agent") as phone:
        agent, _peer, _bridge = await _agent_call(refer_app, phone, peer_endpoint="PJSIP/1009",
                                                  ari_only_on="peer")
        final = await phone.wait_notify(lambda n: n[1].startswith("terminated"), timeout=REFER_AT_S + 10)
        assert phone.count("REFER accepted (202)") == 1, phone.report()
        assert _frags(phone) == ["SIP/2.0 100 Trying", "SIP/2.0 404 Not Found"], phone.report()
        assert final[0] - phone.notifies()[0][0] < 0.5, phone.notifies()  # no app in between
        assert refer_app.find("ChannelTransfer") == [], "a ChannelTransfer without ari-only on the agent"
        # both NOTIFYs answered, nothing unexpected for the scenario, the call still up
        assert "Unexpected" not in phone.uas.messages.read_text(), phone.report()
        assert (await refer_app.channel(agent["id"]) or {}).get("state") == "Up"
        await refer_app.http.delete(f"/channels/{agent['id']}")
        await phone.wait_for("BYE from Asterisk", timeout=5)
    assert sipp.running_pids() == set()


async def test_phone_without_refer_to_never_sends_refer(refer_app, tmp_path):
    async with SippPhone(AGENT, AGENT_PW, answer_after_s=0.3, refer_at_s=0.5, workdir=tmp_path) as phone:
        agent, _peer, _bridge = await _agent_call(refer_app, phone)
        await asyncio.sleep(2)
        assert phone.count("REFER") == 0 and phone.notifies() == [], phone.report()
        assert refer_app.find("ChannelTransfer") == []
        await refer_app.http.delete(f"/channels/{agent['id']}")
        await phone.wait_for("BYE from Asterisk", timeout=5)
