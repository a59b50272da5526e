"""`make demo`: calls you can watch without a SIP phone, against the running demo site (`make run`).

SIPp phones (agents 1001, 1002, 1003) and callers (tests/e2e/sipp.py) play five scenes, and each
scene prints what the service logs as it happens (var/demo/service.log, which `make run` writes):

  1. an answered call with the greeting (R-GREET; R-RING within three rings)
  2. a missed offer (R-RING: 1002 never answers, 15 s) and the 10 s apology (R-WAIT)
  3. an attended transfer (R-XFER-*): 1001 hands the caller to 1003 once 1003 answered
  4. a voicemail (R-VM) that becomes a callback: the duty agent checked now (R-VM-CHECK), called
     agent first, then the customer (R-CB)
  5. the day's figures: `ari-app report daily`

Needs the demo open (`make run DEMO_OPEN=1` outside business hours). Agents are logged in and
out through the API with the demo's supervisor token (var/demo/tokens).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from sipp import SippCaller, SippPhone  # noqa: E402  (the tests' SIPp tooling)

DEMO = Path(os.environ.get("DEMO_DIR", REPO / "var" / "demo"))
API = os.environ.get("ARI_APP_API", "http://127.0.0.1:8090")
ARI = "http://127.0.0.1:8088/ari"
ARI_AUTH = ("callcenter", "callcenter-dev")
AGENTS = ("1001", "1002", "1003", "1004", "1005")
CUSTOMER = "13800138000"  # the demo's customers (Local/{number}@e2e-customer): 138… answer
SHOWN = {
    "call.entered": "queue", "call.queued": "queue position", "call.offered": "agent",
    "call.announced": "purpose wait_s rule", "call.offer_missed": "agent ring_s rule", "call.answered": "agent",
    "call.completed": "agent wait_s talk_s hung_up_first", "call.diverted": "reason destination",
    "agent.logged_in": "agent", "agent.logged_out": "agent", "agent.paused": "agent reason",
    "transfer.requested": "agent target", "transfer.consulting": "target", "transfer.completed": "target",
    "voicemail.committed": "queue task_id", "callback.created": "team task_id", "callback.assigned": "agent",
    "callback.check_requested": "team by called", "callback.calling_agent": "agent tasks",
    "callback.agent_answered": "agent", "callback.attempt": "agent outcome", "call.recording_started": "recording",
    "call.prompt": "purpose", "call.bridged": "agent",
}


class Log:
    """The service's JSON lines, from where the demo started; prints the SHOWN ones as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size
        self.seen: list[dict] = []
        self.t0 = time.monotonic()

    def poll(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        for raw in data[:cut].splitlines():
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            self.seen.append(ev)
            name = ev.get("event", "")
            if name in SHOWN:
                fields = " ".join(f"{k}={ev[k]}" for k in SHOWN[name].split() if ev.get(k) not in (None, ""))
                print(f"  {time.monotonic() - self.t0:6.1f}s  {name:<26} {fields}", flush=True)

    async def follow(self) -> None:
        """Print the lines as they come, while the scenes wait for calls to end."""
        while True:
            self.poll()
            await asyncio.sleep(0.2)

    def mark(self) -> None:
        """A new scene: what came before is not waited for any more."""
        self.poll()
        self.seen.clear()

    async def wait(self, event: str, timeout: float = 30, **match) -> dict:
        end = time.monotonic() + timeout
        while True:
            self.poll()
            for ev in self.seen:
                if ev.get("event") == event and all(ev.get(k) == v for k, v in match.items()):
                    self.seen.remove(ev)
                    return ev
            if time.monotonic() > end:
                raise SystemExit(f"demo: no {event} {match or ''} within {timeout:.0f} s: see {self.path}")
            await asyncio.sleep(0.2)


def token() -> str:
    for line in (DEMO / "tokens").read_text().splitlines():
        name, role, tok = line.split()
        if role == "supervisor":
            return tok
    raise SystemExit(f"demo: no supervisor token in {DEMO / 'tokens'}")


class Api:
    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=API, headers={"Authorization": f"Bearer {token()}"}, timeout=15)

    async def agent(self, agent: str, command: str, quiet: bool = False) -> None:
        r = await self.http.post(f"/agents/{agent}/{command}")
        if r.status_code >= 400 and not quiet:
            raise SystemExit(f"demo: {command} {agent}: {r.status_code} {r.text}")

    async def post(self, path: str, body: dict) -> dict:
        r = await self.http.post(path, json=body)
        if r.status_code >= 400:
            raise SystemExit(f"demo: POST {path}: {r.status_code} {r.text}")
        return r.json()

    async def put(self, path: str) -> dict:
        r = await self.http.put(path)
        if r.status_code >= 400:
            raise SystemExit(f"demo: PUT {path}: {r.status_code} {r.text}")
        return r.json()


def scene(log: Log, n: int, title: str) -> None:
    log.mark()
    print(f"\n== {n}. {title}", flush=True)


async def main() -> int:
    log_path = DEMO / "service.log"
    try:
        health = httpx.get(f"{API}/health", timeout=3)
    except httpx.HTTPError:
        health = None
    if health is None or health.status_code != 200 or not log_path.exists():
        print("demo: the demo site is not running: start it with `make run` (outside business hours: "
              "`make run DEMO_OPEN=1`) and run `make demo` in another terminal", file=sys.stderr)
        return 1
    # calls an interrupted earlier run left in the demo's PBX (its phones gone without a BYE) would keep
    # those phones busy: the demo PBX is the demo's own, so they are hung up first
    async with httpx.AsyncClient(base_url=ARI, auth=ARI_AUTH, timeout=10) as ari:
        left = (await ari.get("/channels")).json()
        for ch in left:
            await ari.delete(f"/channels/{ch['id']}")
        if left:
            print(f"demo: hung up {len(left)} channels an earlier run left behind", flush=True)
    log, api = Log(log_path), Api()
    follower = asyncio.create_task(log.follow())
    for agent in AGENTS:  # a clean floor: everybody logged out
        await api.agent(agent, "logout", quiet=True)
    async with SippPhone("1001", "dev-1001", answer_after_s=2), \
            SippPhone("1002", "dev-1002", never_answer=True), \
            SippPhone("1003", "dev-1003", answer_after_s=2):
        scene(log, 1, "An answered call: agent 1001 takes it within three rings, the caller hears the greeting")
        await api.agent("1001", "login")
        async with SippCaller("caller1", "dev-caller1", "600", duration_s=15) as caller:
            answered = await log.wait("call.answered", agent="1001", timeout=60)
            if answered.get("queue") != "support":
                raise SystemExit(f"demo: unexpected answer {answered}")
            await caller.wait()
        await log.wait("call.completed", call_id=answered["call_id"], timeout=20)

        scene(log, 2, "A missed offer and the 10 s apology: 1002 never answers; after 15 s the call goes on")
        await api.agent("1001", "logout")
        await api.agent("1002", "login")
        async with SippCaller("caller2", "dev-caller2", "600", duration_s=32) as caller:  # from the queue's answer
            entered = await log.wait("call.entered", timeout=20)
            diverted = [e for e in log.seen if e.get("event") == "call.diverted"]
            if diverted:
                raise SystemExit("demo: the queue is closed now: restart the demo with `make run DEMO_OPEN=1`")
            await log.wait("call.announced", call_id=entered["call_id"], purpose="apology", timeout=20)
            await log.wait("call.offer_missed", agent="1002", timeout=20)
            await api.agent("1001", "login")
            await log.wait("call.answered", call_id=entered["call_id"], agent="1001", timeout=30)
            await caller.wait()
        await log.wait("call.completed", call_id=entered["call_id"], timeout=20)
        await api.agent("1002", "logout")

        scene(log, 3, "An attended transfer: the agent consults a colleague; the caller is handed over once the colleague answered")
        await api.agent("1003", "login")
        await api.agent("1001", "logout")
        await api.agent("1001", "login")  # 1001 free again, 1003 logged in after it: 1001 is offered first
        async with SippCaller("caller3", "dev-caller3", "600", duration_s=40) as caller:
            answered = await log.wait("call.answered", timeout=40)
            await log.wait("call.bridged", call_id=answered["call_id"], timeout=30)  # after the greeting
            await asyncio.sleep(2)
            xfer = await api.post("/transfers", {"agent_id": answered["agent"],
                                                 "target": "1003" if answered["agent"] == "1001" else "1001"})
            await log.wait("transfer.consulting", call_id=answered["call_id"], timeout=30)
            await asyncio.sleep(2)
            await api.put(f"/transfers/{xfer['transfer_id']}/complete")
            await caller.wait()
        await log.wait("call.completed", call_id=answered["call_id"], timeout=20)
        for agent in ("1003",):
            await api.agent(agent, "logout")

        scene(log, 4, "A voicemail becomes a callback: the duty agent (1001) is called first, then the customer")
        await api.agent("1001", "logout")  # the duty agent is called whether logged in or not
        async with httpx.AsyncClient(base_url=ARI, auth=ARI_AUTH, timeout=10) as ari:
            r = await ari.post("/channels", params={
                "endpoint": "Local/690@from-callers", "context": "e2e-vm-direct", "extension": "direct",
                "priority": "1", "callerId": CUSTOMER, "formats": "ulaw"}, json={"variables": {"E2E_SPEAK": "6"}})
            r.raise_for_status()
        committed = await log.wait("voicemail.committed", timeout=60)
        await log.wait("callback.assigned", task_id=committed["task_id"], timeout=20)
        result = await api.post("/callbacks/check", {"team": "support"})
        print(f"  supervisor: {result['message']}", flush=True)
        await log.wait("callback.attempt", timeout=120)

    await asyncio.sleep(1)
    follower.cancel()
    scene(log, 5, "The day's figures (ari-app report daily)")
    r = subprocess.run([str(REPO / ".venv/bin/ari-app"), "report", "daily", "--config", "config.toml"],
                       cwd=DEMO, capture_output=True, text=True, timeout=120)
    print(r.stdout or r.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
