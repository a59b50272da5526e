"""A bare ARI queue loop: the floor for any ARI application (system 3 of the benchmark).

A caller entering Stasis(benchbare,queue,<name>) (dialplan bench-bare) is answered and, at once,
an idle agent is originated (Local/<agent>@bench-agent, channel id ``<caller>~b<n>``, into this app);
when the agent answers both go into a mixing bridge; when either side leaves the other is hung up
and the agent is idle again. No idle agent: the caller waits in line with music on hold. The
longest-idle agent is taken first. Nothing else: no store, no log per call, no rules.

Queue ``--sip-queue`` (benchsip: the benchmark's sipp phase) has its own agents, the SIP
endpoints PJSIP/<agent> of ``--sip-agents``; every other queue the Local agents of ``--agents``.

    python -m bench.bare_ari --agents 7001-7100 [--sip-agents 8001-8020] [--ring-timeout 15]
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
ANY = ""  # the pool of every queue without its own


class BareLoop:
    def __init__(
        self, base: str, user: str, password: str, pools: dict[str, list[str]], ring_timeout: int
    ) -> None:
        """pools: queue name (ANY: every other queue) -> its agents' endpoints (PJSIP/8001, ...)."""
        self.base = base.rstrip("/")
        self.user, self.password = user, password
        self.idle = {q: collections.deque(eps) for q, eps in pools.items()}  # left: idle longest
        self.waiting: dict[str, collections.deque[str]] = {q: collections.deque() for q in pools}
        self.pool_of: dict[str, str] = {}  # caller -> its queue's pool, while the caller is here
        self.leg_of: dict[str, str] = {}  # caller -> agent leg
        self.agent_of: dict[str, tuple[str, str]] = {}  # agent leg -> (pool, agent endpoint)
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
                agents = {q or "*": len(idle) for q, idle in self.idle.items()}
                print(json.dumps({"event": "bare.connected", "agents": agents}), flush=True)
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
                queue = args[1] if len(args) > 1 else ANY
                self.pool_of[cid] = queue if queue in self.idle else ANY
                self.offer_or_wait(cid)
            elif args[:1] == ["agent"] and cid in self.caller_of:
                self.answered.add(cid)
                self.spawn(self.connect(self.caller_of[cid], cid))
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            if cid in self.agent_of:
                self.agent_gone(cid)
            elif cid in self.pool_of:
                self.caller_gone(cid)

    def offer_or_wait(self, caller: str) -> None:
        pool = self.pool_of[caller]
        if self.idle[pool]:
            agent = self.idle[pool].popleft()
            self.seq += 1
            leg = f"{caller}~b{self.seq}"
            self.leg_of[caller], self.agent_of[leg], self.caller_of[leg] = leg, (pool, agent), caller
            self.spawn(self.originate(caller, leg, agent))
        else:
            self.waiting[pool].append(caller)
            self.spawn(self.rest("POST", f"/channels/{caller}/moh"))

    async def originate(self, caller: str, leg: str, agent: str) -> None:
        status = await self.rest(
            "POST",
            "/channels",
            endpoint=agent,
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
        pool, agent = self.agent_of.pop(leg)
        caller = self.caller_of.pop(leg)
        if self.leg_of.get(caller) == leg:
            del self.leg_of[caller]
            if leg in self.answered:  # the call is over: the caller goes too
                self.spawn(self.rest("DELETE", f"/channels/{caller}"))
                self.spawn(self.rest("DELETE", f"/bridges/{caller}~br"))
            else:  # not answered (ring timeout, originate failed): back to the head of the line
                self.waiting[pool].appendleft(caller)
        self.answered.discard(leg)
        self.idle[pool].append(agent)
        while self.waiting[pool] and self.idle[pool]:
            self.offer_or_wait(self.waiting[pool].popleft())

    def caller_gone(self, caller: str) -> None:
        pool = self.pool_of.pop(caller)
        leg = self.leg_of.pop(caller, None)
        if leg is not None:
            self.spawn(self.rest("DELETE", f"/channels/{leg}"))
        else:
            try:
                self.waiting[pool].remove(caller)
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
    p.add_argument("--agents", default="7001-7100", help="Local/<id>@bench-agent, every queue's")
    p.add_argument("--sip-agents", default="", help="PJSIP/<id>, only --sip-queue's (e.g. 8001-8020)")
    p.add_argument("--sip-queue", default="benchsip")
    p.add_argument("--ring-timeout", type=int, default=15)
    a = p.parse_args(argv)
    pools = {ANY: [f"Local/{agent}@bench-agent" for agent in agent_range(a.agents)]}
    if a.sip_agents:
        pools[a.sip_queue] = [f"PJSIP/{agent}" for agent in agent_range(a.sip_agents)]
    loop = BareLoop(a.ari, a.user, a.password, pools, a.ring_timeout)

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
