"""A bare ARI queue loop: the floor for any ARI application (system 3 of the benchmark).

A caller entering Stasis(benchbare,queue,<name>) (dialplan bench-bare) is answered and, at once,
an idle agent is originated (Local/<agent>@bench-agent, channel id ``<caller>~b<n>``, into this app);
when the agent answers both go into a mixing bridge; when either side leaves the other is hung up
and the agent is idle again. No idle agent: the caller waits in line with music on hold. The
longest-idle agent is taken first. Nothing else: no store, no log per call, no rules.

    python -m bench.bare_ari --agents 7001-7100 [--ring-timeout 15]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import signal
import sys

import aiohttp

APP = "benchbare"


class BareLoop:
    def __init__(self, base: str, user: str, password: str, agents: list[str], ring_timeout: int) -> None:
        self.base = base.rstrip("/")
        self.user, self.password = user, password
        self.idle: collections.deque[str] = collections.deque(agents)  # left: idle longest
        self.waiting: collections.deque[str] = collections.deque()
        self.leg_of: dict[str, str] = {}  # caller -> agent leg
        self.agent_of: dict[str, str] = {}  # agent leg -> agent
        self.caller_of: dict[str, str] = {}  # agent leg -> caller
        self.answered: set[str] = set()  # agent legs that answered
        self.ring_timeout = ring_timeout
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.seq = 0

    async def rest(self, method: str, path: str, **params: str | int) -> int:
        assert self.session is not None
        async with self.session.request(method, self.base + path, params=params) as r:
            await r.read()
            return r.status

    def spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        auth = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        ws_url = self.base.replace("http", "ws", 1) + f"/events?app={APP}&subscribeAll=false"
        async with aiohttp.ClientSession(
            headers={"Authorization": "Basic " + auth}, connector=aiohttp.TCPConnector(limit=20)
        ) as self.session:
            async with self.session.ws_connect(ws_url, max_msg_size=0) as ws:
                print(json.dumps({"event": "bare.connected", "agents": len(self.idle)}), flush=True)
                if ready is not None:
                    ready.set()
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    self.on_event(json.loads(msg.data))

    # -- events: state changes here are synchronous, the REST calls run as tasks --------------
    def on_event(self, ev: dict) -> None:
        kind = ev.get("type")
        ch = ev.get("channel") or {}
        cid = ch.get("id", "")
        if kind == "StasisStart":
            args = ev.get("args") or []
            if args[:1] == ["queue"]:
                self.spawn(self.rest("POST", f"/channels/{cid}/answer"))
                self.offer_or_wait(cid)
            elif args[:1] == ["agent"] and cid in self.caller_of:
                self.answered.add(cid)
                self.spawn(self.connect(self.caller_of[cid], cid))
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            if cid in self.agent_of:
                self.agent_gone(cid)
            elif cid in self.leg_of or cid in self.waiting:
                self.caller_gone(cid)

    def offer_or_wait(self, caller: str) -> None:
        if self.idle:
            agent = self.idle.popleft()
            self.seq += 1
            leg = f"{caller}~b{self.seq}"
            self.leg_of[caller], self.agent_of[leg], self.caller_of[leg] = leg, agent, caller
            self.spawn(self.originate(caller, leg, agent))
        else:
            self.waiting.append(caller)
            self.spawn(self.rest("POST", f"/channels/{caller}/moh"))

    async def originate(self, caller: str, leg: str, agent: str) -> None:
        status = await self.rest(
            "POST",
            "/channels",
            endpoint=f"Local/{agent}@bench-agent",
            app=APP,
            appArgs="agent",
            channelId=leg,
            timeout=self.ring_timeout,
        )
        if status >= 300:
            self.agent_gone(leg)

    async def connect(self, caller: str, leg: str) -> None:
        bridge = caller + "~br"
        await self.rest("POST", "/bridges", type="mixing", bridgeId=bridge)
        await self.rest("POST", f"/bridges/{bridge}/addChannel", channel=f"{caller},{leg}")

    def agent_gone(self, leg: str) -> None:
        agent = self.agent_of.pop(leg)
        caller = self.caller_of.pop(leg)
        if self.leg_of.get(caller) == leg:
            del self.leg_of[caller]
            if leg in self.answered:  # the call is over: the caller goes too
                self.spawn(self.rest("DELETE", f"/channels/{caller}"))
                self.spawn(self.rest("DELETE", f"/bridges/{caller}~br"))
            else:  # not answered (ring timeout, originate failed): back to the head of the line
                self.waiting.appendleft(caller)
        self.answered.discard(leg)
        self.idle.append(agent)
        while self.waiting and self.idle:
            self.offer_or_wait(self.waiting.popleft())

    def caller_gone(self, caller: str) -> None:
        leg = self.leg_of.pop(caller, None)
        if leg is not None:
            self.spawn(self.rest("DELETE", f"/channels/{leg}"))
        else:
            try:
                self.waiting.remove(caller)
            except ValueError:
                pass


def agent_range(spec: str) -> list[str]:
    """'7001-7100' or '7001,7002' -> agent ids."""
    out: list[str] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(str(i) for i in range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ari", default="http://127.0.0.1:8088/ari")
    p.add_argument("--user", default="callcenter")
    p.add_argument("--password", default="callcenter-dev")
    p.add_argument("--agents", default="7001-7100")
    p.add_argument("--ring-timeout", type=int, default=15)
    a = p.parse_args(argv)
    loop = BareLoop(a.ari, a.user, a.password, agent_range(a.agents), a.ring_timeout)

    async def go() -> None:
        task = asyncio.ensure_future(loop.run())
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
