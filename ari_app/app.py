"""Wiring: the ARI stream, the per-call dispatcher, the core's task, the store.

* The ARI event stream routes each event by call (``flows.inbound.call_key``)
  to an ``OrderedDispatcher``: one call's events and the core's actions for
  that call are handled in order by one worker; different calls run in
  parallel.
* The core (``core.acd.Acd``) is owned by one task that takes events from an
  inbox, arms one timer at ``get_timer()`` and hands the actions back to the
  calls' workers. No locks.
* On every (re)connect, before any event of the new connection, the service
  reads Asterisk's version (``SUPPORTED_ASTERISK``) and resyncs its view from
  Asterisk (``flows.resync``).
* ``readiness()`` is what ``GET /health`` reports (issue 15): ARI connected and
  resynced on a supported Asterisk, the store taking writes, AMI and MQTT
  connected when configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import quote

import structlog
from structlog.contextvars import bound_contextvars

from . import api
from .ami import AmiLink, outbound_link  # R-KPI: agents' own outbound calls, from the CDR
from .ari import (
    AriClient, AriConfig, AriError, DeviceStateChanged, EventStream, OrderedDispatcher, StasisStart,
)
from .config import Config
from .core import acd
from .core import callbacks as cb
from .core import comply
from .core import numbers
from .core.agents import Agent, AgentState, BusyPolicy
from .core.hours import ALWAYS_OPEN, Calendar, parse_window
from .core.keys import KeyReader
from .core.transfer import TransferCommand, TransferRequest, TransferResult
from .core.login import LoginGuard
from .core.timeline import Fact
from .core.waiting import WaitRules
from .events.bus import Bus, log_sink
from .events.mqtt import AcdView, MqttSink
from .events.metrics import Metrics  # R-KPI: GET /metrics
from .events.kpi import live_targets  # R-KPI targets (既定标准), live
from .flows import resync, site_prompts
from .flows.feature import FeatureCall, FlowTimer
from .flows.inbound import CallCommand, InboundCall, call_key
from .flows import supervise  # R-SUPERVISE
from .flows.desk import CallbackDesk  # R-VM, R-CB
from .flows.voicemail import VoicemailCall
from .flows.recording import CallRecorder, retention_loop  # R-QA, R-PRIVACY
from .flows.callback_retention import callbacks_retention_loop  # R-PRIVACY: closed tasks, old intakes
from .roster_file import make_roster
from .store import AgentSession
from .store.base import Repository
from .store.outbox import WriteOutbox
from .store.worker import StoreThread

__all__ = ["SUPPORTED_ASTERISK", "Service", "asterisk_version"]

log = structlog.get_logger()

# Agent states that survive a restart as they are; the rest are rebuilt from Asterisk.
_DURABLE = {AgentState.LOGGED_OUT, AgentState.AVAILABLE, AgentState.PAUSED, AgentState.UNREACHABLE}

# issue 15: the Asterisk versions the service is built and tested with, (major, minor): from the first
# included, up to the second excluded. Checked at every ARI connect (``[ari] allow_unsupported_asterisk``).
SUPPORTED_ASTERISK = ((22, 0), (23, 0))
HOLD_TIMEOUT_S = 5.0  # the callbacks desk's wait for the core to set an agent aside
SUPPORTED_ASTERISK_TEXT = (f">= {SUPPORTED_ASTERISK[0][0]}.{SUPPORTED_ASTERISK[0][1]}, "
                           f"< {SUPPORTED_ASTERISK[1][0]}.{SUPPORTED_ASTERISK[1][1]}")
_VERSION = re.compile(r"(?:certified[/-]|\d+:)?(\d+)\.(\d+)(?![0-9])")  # a Debian epoch (1:) before it


def asterisk_version(text: Any) -> tuple[int, int] | None:
    """(major, minor) of ARI's ``system.version``: ``22.10.1``, Debian's ``22.10.1+dfsg+~cs6.17.60671434-1``,
    ``certified/22.8-cert1``; None when it is not one."""
    m = _VERSION.match(text) if isinstance(text, str) else None
    return (int(m[1]), int(m[2])) if m else None


class Service:
    def __init__(self, cfg: Config, *, store: Repository, ari: AriClient | None = None,
                 clock: Callable[[], float] = time.time,
                 events_connect: Callable[[str], Awaitable[Any]] | None = None) -> None:
        """``events_connect``: how the event websocket is opened (default: websockets; tests pass a fake)."""
        self.cfg, self.store, self.clock = cfg, store, clock
        # issue 7: writes the store refused are held and retried (``_retry_writes``), never lost silently
        self._writes_wake = asyncio.Event()
        self.writes = WriteOutbox(on_wait=self._writes_wake.set)
        # issue 17: while the service runs, every store call runs on this one thread, never on the event loop
        self.store_io = StoreThread()
        a = cfg.ari
        self.ari_config = AriConfig(url=a.url, username=a.username, password=a.password, app=a.app,
                                    request_timeout_s=a.request_timeout_s, reconnect_min_s=a.reconnect_min_s,
                                    reconnect_max_s=a.reconnect_max_s, max_connections=a.max_connections)
        self.ari = ari or AriClient(self.ari_config)
        b = cfg.busy
        self.acd = acd.Acd(
            [_queue_rules(q, cfg) for q in cfg.queues.values()],
            self._load_agents(),
            busy=BusyPolicy(limit_s=b.limit_s, limits=dict(b.limits), repeat_every_s=b.repeat_every_s,
                            on_overrun=b.on_overrun, missed_resume_s=b.missed_resume_s),
            login=self._load_login_guard(),
            site_prompts=cfg.site_prompts,  # R-XFER-NAME: agents' names, the site's texts
        )
        self.bus = Bus([log_sink])
        self.mqtt: MqttSink | None = None  # [mqtt]: the bus's events on a broker (events/mqtt.py)
        if cfg.mqtt is not None:
            self.mqtt = MqttSink(cfg.mqtt, AcdView(self.acd, clock), clock=clock)
            self.bus.add(self.mqtt)
        # R-KPI targets (既定标准): today's figures judged live, breaches on the bus (events/kpi.py)
        self.kpi = live_targets(cfg, store, self.store_io.call, self.bus.publish, now=clock,
                                ready=lambda: not self.writes.down)
        if self.kpi is not None:
            self.bus.add(self.kpi)
        self._metrics = self._make_metrics()
        self.inbox: asyncio.Queue[acd.Event] = asyncio.Queue()
        self.calls: dict[str, InboundCall | FeatureCall] = {}
        self.dispatcher = OrderedDispatcher(self._on_item, key=self._key)
        self.stream = EventStream(self.ari_config, on_event=self.dispatcher.dispatch,
                                  on_connect=self._on_connect, connect=events_connect)
        # issue 15: what GET /health says of the ARI link (readiness())
        self._connecting = False  # a connection is up, its version check and resync not done yet
        self.asterisk_version: str | None = None  # ARI's system.version at the latest connect
        self._asterisk_refused: str | None = None  # why that Asterisk keeps the service from being ready
        self._requests: dict[str, asyncio.Future[acd.CommandResult]] = {}  # API commands awaiting the core
        self._request_seq = 0
        self._watched: set[str] = set()  # phones whose device state we are subscribed to
        self._phonebook = api.PhoneBook.from_agents(cfg.agents)  # issue 17: the phones the API may name
        self._presence: dict[str, tuple[bool, bool]] = {}  # agent -> (logged in, busy) told to the desk
        self.ami: AmiLink | None = None  # R-KPI: CDRs of calls that never enter Stasis
        if cfg.ami is not None:
            self.ami = outbound_link(cfg.ami, store=store, publish=self.bus.publish, phones=self._phones,
                                     writes=self.writes)
        self.desk: CallbackDesk | None = None
        if cfg.callbacks is not None:
            leave = store.leave()
            roster = make_roster(cfg, leave, store.swaps())  # leave and swaps recorded at run time join the file's
            self.desk = CallbackDesk(
                rules=cfg.callbacks.rules, roster=roster, store=store, ari=self.ari, app=cfg.ari.app,
                publish=self.bus.publish, dispatch=self.dispatcher.dispatch, register=self._register,
                agent_interface=self._duty_interface, hold_agent=self._hold_for_callback,
                release_agent=self._release_from_callback,
                agent_busy=lambda a: self._presence.get(a, (False, False))[1], trunk=cfg.trunk, keys=cfg.keys,
                clock=clock, writes=self.writes, store_io=self.store_io.call)
            self.desk.remember_stored_leave(leave)  # no API request reads the store on the loop (issue 17)

    # -- start-up ------------------------------------------------------------------
    def _load_login_guard(self) -> LoginGuard:
        """R-LOGIN: the limits per agent ID and per phone, with the stored state (issue 17)."""
        c = self.cfg.login
        guard = LoginGuard(max_attempts=c.max_attempts, phone_max_attempts=c.phone_max_attempts,
                           window_s=c.window_s, lock_s=c.lock_s)
        guard.load(self.store.lockouts(), self.clock())
        return guard

    def _load_agents(self) -> list[Agent]:
        sessions = self.store.agents()
        agents = []
        now = self.clock()
        for ac in self.cfg.agents.values():
            agent = Agent(agent_id=ac.agent_id, interface=ac.interface, queues=ac.queues, penalties=dict(ac.penalties))
            s = sessions.get(ac.agent_id)
            if s is not None:
                state = AgentState(s.state)
                if state in _DURABLE:
                    agent.force(state, s.since, reason=s.reason)
                else:
                    agent.force(AgentState.AVAILABLE, now, reason=s.reason)
                agent.last_call_end, agent.calls_taken = s.last_call_end, s.calls_taken
                agent.interface = s.interface or ac.interface  # where it logged in last (R-LOGIN)
            agents.append(agent)
        return agents

    async def run(self) -> None:
        log.info("service.starting", app=self.cfg.ari.app, ari=self.cfg.ari.url, queues=sorted(self.cfg.queues),
                 agents=len(self.cfg.agents))
        for ac in self.cfg.agents.values():
            if ac.auto_login and self.acd.agents[ac.agent_id].state == AgentState.LOGGED_OUT:
                self.inbox.put_nowait(acd.AgentCommand(agent_id=ac.agent_id, command="login", source="config"))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.stream.run(), name="ari-stream")
                tg.create_task(self._run_core(), name="core")
                tg.create_task(self._retry_writes(), name="store-retry")
                if self.desk is not None:
                    tg.create_task(self.desk.run(), name="callbacks")
                if self.ami is not None:
                    tg.create_task(self.ami.run(), name="ami")
                if self.cfg.api is not None:  # also with no tokens: GET /health is the healthcheck
                    tg.create_task(api.serve(self, self.cfg.api), name="api")
                if self.mqtt is not None:
                    tg.create_task(self.mqtt.run(), name="mqtt")
                if self._metrics is not None:
                    tg.create_task(self._metrics.loop_lag_watch(self.cfg.metrics.loop_lag_interval_s).run(),
                                   name="loop-lag")
                if self.kpi is not None:
                    tg.create_task(self.kpi.run(), name="kpi-targets")
                if self.cfg.recording is not None:  # R-PRIVACY: also while recording is turned off
                    tg.create_task(retention_loop(self.ari, self.cfg.recording.name,
                                                  self.cfg.recording.retention_days, self.clock),
                                   name="recording-retention")
                if self.desk is not None and self.cfg.callbacks is not None:  # R-PRIVACY (issue 17)
                    tg.create_task(callbacks_retention_loop(self.store, self.ari, self.cfg.callbacks.retention_days,
                                                            self.clock, store_io=self.store_io.call),
                                   name="callback-retention")
        finally:
            await self.dispatcher.aclose()
            await self.ari.aclose()
            await asyncio.to_thread(self.store_io.close)  # the store call running now ends (bounded)
            if len(self.writes) and self.writes.next_retry() is None:  # queued, not refused: one last try
                self.writes.flush(self.clock())
            log.info("service.stopped")

    def _phones(self) -> dict[str, str]:
        """R-KPI: interface → agent, for the CDR of an outbound call: each agent's configured phone,
        overridden by the phone an agent is logged in at now."""
        phones = {ac.interface: ac.agent_id for ac in self.cfg.agents.values() if ac.interface}
        for agent in self.acd.agents.values():
            if agent.interface and agent.state != AgentState.LOGGED_OUT:
                phones[agent.interface] = agent.agent_id
        return phones

    # -- routing -----------------------------------------------------------------------
    @staticmethod
    def _key(item: Any) -> str | None:
        if isinstance(item, (CallCommand, FlowTimer)):
            return item.call_id
        ids = getattr(item, "channel_ids", ())
        if ids:
            return call_key(ids[0])
        bridge = getattr(item, "bridge_id", None)
        return call_key(bridge) if bridge else None

    async def _on_item(self, key: str, item: Any) -> None:
        if isinstance(item, DeviceStateChanged):
            self._device_state(item.device_name, item.state)
            return
        if isinstance(item, _WatchPhone):
            await self._subscribe_phones([item.interface])
            return
        with bound_contextvars(call_id=key):
            if isinstance(item, CallCommand):
                flow = self.calls.get(item.call_id)
                if flow is not None:
                    await flow.do(item.action)
            elif isinstance(item, StasisStart) and item.channel.id == key and key not in self.calls:
                if item.args[:1] == ("feature",) and supervise.parse_code(
                        item.args[1] if len(item.args) > 1 else "", self.cfg.keys) is not None:
                    await self._new_supervise_call(item)  # R-SUPERVISE: *15/*16/*17<agent id>
                elif item.args[:1] == (supervise.DIAL_ARGS,):  # a supervisor's phone we called, its flow gone
                    log.info("call.orphan_hungup", channel=item.channel.id, args=list(item.args))
                    await resync.hangup(self.ari, item.channel.id)
                elif item.args[:1] == ("feature",):
                    await self._new_feature_call(item)
                elif item.args[:1] == ("voicemail",):
                    await self._new_voicemail(item)
                elif item.args[:1] in (("callback",), ("callback-customer",)):  # its flow is gone
                    log.info("call.orphan_hungup", channel=item.channel.id, args=list(item.args))
                    await resync.hangup(self.ari, item.channel.id)
                else:
                    await self._new_call(item)
            elif isinstance(item, StasisStart) and key not in self.calls:
                log.info("call.orphan_hungup", channel=item.channel.id, args=list(item.args))
                await resync.hangup(self.ari, item.channel.id)
            else:
                flow = self.calls.get(key)
                if flow is not None:
                    await flow.on_event(item)
            flow = self.calls.get(key)
            if flow is not None and flow.finished:
                del self.calls[key]

    async def _new_call(self, ev: StasisStart) -> None:
        args = list(ev.args)
        if len(args) < 2 or args[0] != "queue" or args[1] not in self.cfg.queues:
            # Malformed dialplan or unknown queue: never dead air, hand the caller to the fallback.
            log.warning("call.bad_stasis_args", channel=ev.channel.id, args=args)
            try:
                await self.ari.continue_in_dialplan(ev.channel.id, context="callcenter-fallback", extension="s",
                                                    priority=1)
            except AriError as e:
                log.warning("call.fallback_failed", error=str(e))
            return
        # issue 17: "²" passed isdigit() and int() raised: the caller heard silence. ASCII digits or 0.
        priority = (numbers.ascii_int(args[2]) if len(args) > 2 else None) or 0
        flow = self._flow(ev.channel.id)
        with bound_contextvars(queue=args[1]):
            await flow.start(ev.channel, args[1], priority)

    async def _new_voicemail(self, ev: StasisStart) -> None:
        """R-VM: ``Stasis(callcenter,voicemail,<queue>)`` from ``[callcenter-voicemail]``."""
        queue = ev.args[1] if len(ev.args) > 1 else ""
        if self.desk is None or self.desk.team_of(queue) is None:
            log.warning("voicemail.unavailable", queue=queue, reason="no [callbacks]" if self.desk is None
                        else "no team for the queue")
            await self.ari.continue_in_dialplan(ev.channel.id, context="callcenter-fallback", extension="s",
                                                priority=1)
            return
        k = self.cfg.keys
        flow = VoicemailCall(ev.channel.id, ari=self.ari, desk=self.desk, rerecord_key=k.voicemail_rerecord,
                             max_record_s=self.cfg.callbacks.max_record_s,  # type: ignore[union-attr]
                             silence_s=self.cfg.callbacks.silence_s,  # type: ignore[union-attr]
                             schedule=self._schedule)
        self.calls[ev.channel.id] = flow  # type: ignore[assignment]
        with bound_contextvars(queue=queue):
            await flow.start(ev.channel, queue)

    # -- R-VM-CHECK / R-CB: the desk's callback calls and the ACD --------------------------------------------
    def _register(self, call_id: str, flow: Any) -> None:
        self.calls[call_id] = flow

    def _duty_interface(self, agent_id: str) -> str | None:
        agent = self.acd.agents.get(agent_id)
        if agent is not None and agent.interface:
            return agent.interface
        ac = self.cfg.agents.get(agent_id)
        return ac.interface if ac else None

    async def _hold_for_callback(self, agent_id: str) -> bool:
        """Keep queue calls away while the agent does callbacks: pause with reason ``callback``."""
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            return False
        if agent.state == AgentState.LOGGED_OUT:
            return True  # on duty but not taking queue calls: nothing to hold
        if agent.state == AgentState.PAUSED and agent.reason == "callback":
            return True  # the ACD set the agent aside for a kept place (R-CB)
        if agent.state != AgentState.AVAILABLE:
            return False
        try:
            result = await self._ask_core(
                lambda rid: acd.AgentCommand(agent_id=agent_id, command="pause", reason="callback",
                                             source="callbacks", request_id=rid),
                timeout_s=HOLD_TIMEOUT_S, on_late=lambda _late: self._release_from_callback(agent_id))
        except TimeoutError:  # the callbacks desk never waits on the core for ever (issue 17, item 18)
            log.error("callback.hold_timeout", agent=agent_id, timeout_s=HOLD_TIMEOUT_S, rule="R-VM-CHECK")
            return False
        return bool(result.ok)

    def _release_from_callback(self, agent_id: str) -> None:
        agent = self.acd.agents.get(agent_id)
        if agent is not None and agent.state == AgentState.PAUSED and agent.reason == "callback":
            self.inbox.put_nowait(acd.AgentCommand(agent_id=agent_id, command="resume", source="callbacks"))

    def _tell_presence(self, agent: Agent) -> None:
        """R-VM-CHECK: the desk calls an agent only when free; a missed check runs once they are."""
        if self.desk is None:
            return
        busy = agent.state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP) or (
            agent.state == AgentState.PAUSED and agent.reason != "callback")
        now = (agent.logged_in, busy)
        if self._presence.get(agent.agent_id) != now:
            self._presence[agent.agent_id] = now
            self.desk.post(cb.AgentPresence(agent_id=agent.agent_id, logged_in=now[0], busy=now[1]))

    async def _new_feature_call(self, ev: StasisStart) -> None:
        code = ev.args[1] if len(ev.args) > 1 else ""
        flow = FeatureCall(
            ev.channel.id, ari=self.ari, report=self.inbox.put_nowait, keys=self.cfg.keys,
            pin_hashes={a.agent_id: a.pin_hash for a in self.cfg.agents.values()},
            agent_at=self._agent_at, schedule=self._schedule, digit_timeout_s=self.cfg.login.digit_timeout_s,
            max_attempts=self.cfg.login.max_attempts, min_pin_length=self.cfg.login.min_pin_length)
        self.calls[ev.channel.id] = flow
        await flow.start(ev.channel, code)

    # -- R-SUPERVISE (flows/supervise.py) -----------------------------------------------------------------
    # Snoop channels (<supervisor channel>~snoop) and the supervisor bridge (~sup) route to the
    # supervisor's flow by call_key(); a snoop whose flow is gone is hung up as an orphan above.
    def _supervise_flow(self, channel_id: str) -> supervise.SuperviseCall:
        flow = supervise.SuperviseCall(
            channel_id, ari=self.ari, app=self.cfg.ari.app, locate=self._supervise_target, keys=self.cfg.keys,
            authorize=lambda iface: supervise.supervisor_at(iface, logged_in=self._agent_at(iface),
                                                            agents=self.cfg.agents),
            known_agents=frozenset(self.cfg.agents), clock=self.clock)
        self.calls[channel_id] = flow  # type: ignore[assignment]
        return flow

    def _supervise_target(self, agent_id: str) -> supervise.Target | None:
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            return None
        return supervise.find_target(agent_id, agent.call_id, self.calls)

    async def _new_supervise_call(self, ev: StasisStart) -> None:
        await self._supervise_flow(ev.channel.id).start(ev.channel, ev.args[1])

    async def supervise(self, agent_id: str, mode: str, interface: str, *, supervisor: str) -> dict[str, Any]:
        """``POST /supervise``: call the supervisor at ``interface``; the flow attaches on answer."""
        if agent_id not in self.acd.agents:
            raise api.UnknownAgent(agent_id)
        target = self._supervise_target(agent_id)
        if target is None:
            log.info("supervise.refused", supervisor=supervisor, via="api", agent=agent_id, mode=mode,
                     interface=interface, reason="no_live_call", rule="R-SUPERVISE")
            raise api.CommandRefused(f"agent {agent_id} is not on a live call")
        channel_id = supervise.new_channel_id()
        flow = self._supervise_flow(channel_id)  # registered first: the channel's events go to it
        try:
            await flow.dial(interface, supervisor=supervisor, agent_id=agent_id, mode=mode)
        except AriError as e:
            self.calls.pop(channel_id, None)
            log.info("supervise.dial_failed", supervisor=supervisor, agent=agent_id, interface=interface,
                     error=str(e), rule="R-SUPERVISE")
            raise api.CommandRefused(f"could not call {interface}: {e}") from None
        return {"agent_id": agent_id, "mode": mode, "interface": interface, "call_id": target.call_id,
                "supervisor_channel": channel_id}

    def _agent_at(self, interface: str) -> str | None:
        return next((a.agent_id for a in self.acd.agents.values() if a.interface == interface and a.logged_in), None)

    def _schedule(self, delay: float, timer: FlowTimer) -> None:
        asyncio.get_running_loop().call_later(delay, self.dispatcher.dispatch, timer)

    # -- agent phones: registration and busy state ------------------------------------------
    # Device state, not endpoint subscriptions: an app subscribed to an endpoint also gets
    # every event of the endpoint's channels, so DTMF on an agent's call would arrive twice.
    OFFLINE_STATES = frozenset({"UNAVAILABLE", "INVALID"})
    BUSY_STATES = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})

    def _device_state(self, device: str, state: str) -> None:
        self.inbox.put_nowait(acd.PhoneState(interface=device, online=state not in self.OFFLINE_STATES,
                                             busy=state in self.BUSY_STATES))

    async def _read_phones(self) -> None:
        """At every connect: subscribe to the agent phones' device states and read where they are."""
        phones = sorted({a.interface for a in self.acd.agents.values()} | {
            a.interface for a in self.cfg.agents.values()})
        phones = [p for p in phones if p and not p.startswith("Local/")]
        if not phones:
            return
        self._watched.clear()  # a new connection: subscriptions start afresh
        await self._subscribe_phones(phones)
        try:
            endpoints = await self.ari.list_endpoints()
        except AriError as e:
            log.warning("ari.endpoints_failed", error=str(e))
            return
        for ep in endpoints:
            interface = f"{ep.get('technology')}/{ep.get('resource')}"
            if interface in phones:
                busy = any(call_key(c) not in self.calls for c in ep.get("channel_ids") or [])
                self.inbox.put_nowait(acd.PhoneState(interface=interface, online=ep.get("state") != "offline",
                                                     busy=busy))

    async def _subscribe_phones(self, phones: list[str]) -> None:
        # issue 17: a dial string with "," would name a second event source; ARI splits on it
        phones = [p for p in phones if p not in self._watched and not p.startswith("Local/") and "," not in p]
        if not phones:
            return
        try:
            await self.ari.request("POST", f"/applications/{quote(self.cfg.ari.app, safe='')}/subscription",
                                   params={"eventSource": [f"deviceState:{p}" for p in phones]})
        except AriError as e:
            log.warning("ari.subscribe_failed", phones=phones, error=str(e))
            return
        self._watched.update(phones)

    # -- the API's controller ------------------------------------------------------------------
    def agents(self) -> list[dict[str, Any]]:
        return [api.agent_snapshot(a) for a in sorted(self.acd.agents.values(),
                                                       key=lambda a: (len(a.agent_id), a.agent_id))]

    def phones(self) -> api.PhoneBook:
        return self._phonebook

    def callbacks(self) -> CallbackDesk | None:
        """The callbacks desk (R-VM, R-CB) for the API; None when ``[callbacks]`` is not configured."""
        return self.desk

    def ari_connected(self) -> bool:
        return self.stream.connected.is_set()

    # -- issue 15: readiness, for GET /health ----------------------------------------------------------
    def readiness(self) -> dict[str, dict[str, Any]]:
        """Each check by name, ``{"ok": bool, ...}`` with a ``reason`` when not ok: ``ari`` (the websocket
        connected, the resync after the latest connect done, a supported Asterisk), ``store`` (the store takes
        writes: the outbox holds none it refused), ``ami`` and ``mqtt`` (connected; only when configured)."""
        checks = {"ari": self._ari_check(), "store": self._store_check()}
        if self.ami is not None:
            checks["ami"] = _check(self.ami.connected.is_set(), "not connected")
        if self.mqtt is not None:
            checks["mqtt"] = _check(self.mqtt.connected is True,
                                    "not connected yet" if self.mqtt.connected is None else "disconnected")
        return checks

    def _ari_check(self) -> dict[str, Any]:
        if not self.stream.connected.is_set():
            return _check(False, "connected, resync not finished" if self._connecting else "not connected")
        version = {} if self.asterisk_version is None else {"asterisk": self.asterisk_version}
        if self._asterisk_refused is not None:
            return _check(False, self._asterisk_refused) | version
        return _check(True) | version

    def _store_check(self) -> dict[str, Any]:
        w = self.writes
        if not w.down:
            return _check(True)
        return _check(False, f"the store refuses writes: {w.reason}") | {
            "held_writes": len(w), "down_s": round(max(0.0, self.clock() - (w.down_since or 0.0)), 3)}

    # -- R-KPI: Prometheus metrics (events/metrics.py) -----------------------------------------------------
    def _make_metrics(self) -> Metrics | None:
        m = self.cfg.metrics
        if not m.enabled:
            return None
        metrics = Metrics(short_abandon_s={q.name: q.short_abandon_s for q in self.cfg.queues.values()}, agents=self.agents, waiting=self.waiting_calls,
                          callbacks=self.callbacks,
                          ari=lambda: (self.stream.connections, self.stream.connected.is_set()),
                          store=lambda: self.writes, targets=self.kpi.status if self.kpi is not None else None)
        self.bus.add(metrics)
        return metrics

    def metrics(self) -> Metrics | None:
        """For the API's GET /metrics; None when ``[metrics] enabled = false``."""
        return self._metrics

    def waiting_calls(self) -> dict[str, int]:
        """Queue → callers waiting now (ringing an agent included; a kept place is no caller on the line)."""
        return {q: len(self.acd.waiting_in(q)) for q in self.acd.queues}

    async def agent_command(self, agent_id: str, command: str, **args: Any) -> dict[str, Any]:
        if agent_id not in self.acd.agents:
            raise api.UnknownAgent(agent_id)
        if command in ("hold", "unhold"):  # R-HOLD on the agent's call
            call_id = self.acd.agents[agent_id].call_id
            if call_id is None:
                raise api.CommandRefused(f"agent {agent_id} is not on a call")
            result = await self._ask_core(lambda rid: acd.HoldRequest(call_id=call_id, on=command == "hold",
                                                                      source="api", request_id=rid))
            if not result.ok:
                raise api.CommandRefused(result.message)
            return api.agent_snapshot(self.acd.agents[agent_id])
        result = await self._ask_core(lambda rid: acd.AgentCommand(
            agent_id=agent_id, command=command, reason=args.get("reason", ""), interface=args.get("interface"),
            source="api", request_id=rid))
        if not result.ok:
            raise api.CommandRefused(result.message)
        return api.agent_snapshot(self.acd.agents[agent_id])

    def _flow(self, call_id: str) -> InboundCall:
        k = self.cfg.keys
        rec = self.cfg.recording if self.cfg.recording is not None and self.cfg.recording.enabled else None
        flow = InboundCall(call_id, ari=self.ari, report=self.inbox.put_nowait, app=self.cfg.ari.app,
                           moh_class=self.cfg.service.moh_class, clock=self.clock,
                           keys=KeyReader(codes={"transfer": k.transfer, "transfer_complete": k.transfer_complete,
                                                 "transfer_cancel": k.transfer_cancel, "hold": k.hold,
                                                 "silent": k.silent}),
                           recorder=None if rec is None else CallRecorder(  # R-QA
                               call_id, ari=self.ari, app=self.cfg.ari.app, pattern=rec.name,
                               format=rec.format, save=self._save_recording, clock=self.clock),
                           notice=rec is not None and rec.notice,
                           caller_keys=frozenset({k.voicemail, k.keep_place}))  # logged in clear (issue 17)
        self.calls[call_id] = flow
        return flow

    # -- transfers from the API (R-XFER-*) -----------------------------------------------------------
    async def _ask_core(self, make: Callable[[str], acd.Event], *, timeout_s: float | None = None,
                        on_late: Callable[[Any], None] | None = None) -> Any:
        """Post a request to the core and await its answer; ``timeout_s``: raise ``TimeoutError`` after it,
        and hand an answer that comes later to ``on_late`` (so what the core did can be undone)."""
        self._request_seq += 1
        request_id = f"api-{self._request_seq}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[request_id] = future
        self.inbox.put_nowait(make(request_id))
        late = False
        try:
            async with asyncio.timeout(timeout_s):  # None: no bound
                return await asyncio.shield(future)
        except TimeoutError:
            if on_late is not None:
                late = True

                def answered(f: asyncio.Future[Any]) -> None:
                    self._requests.pop(request_id, None)
                    if not f.cancelled():
                        on_late(f.result())
                future.add_done_callback(answered)
            raise
        finally:
            if not late:
                self._requests.pop(request_id, None)

    async def transfer_start(self, agent_id: str, target: str) -> dict[str, Any]:
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            raise api.UnknownAgent(agent_id)
        if agent.call_id is None or agent.state != AgentState.ON_CALL:
            raise api.CommandRefused(f"agent {agent_id} is not on a call")
        call_id = agent.call_id
        result = await self._ask_core(lambda rid: TransferRequest(call_id=call_id, target=target, source="api",
                                                                  request_id=rid))
        if not result.ok:
            raise api.CommandRefused(result.message)
        return {"transfer_id": result.transfer_id, "call_id": call_id, "state": result.state}

    async def transfer_command(self, transfer_id: str, command: str, token: Any) -> dict[str, Any]:
        call_id = call_key(transfer_id)
        x = self.acd.transfers.get(call_id)
        if x is None or x.transfer_id != transfer_id:
            raise api.CommandRefused(f"no transfer {transfer_id} in progress")
        if not token.may_act_on(x.agent_id):
            raise api.CommandRefused(f"transfer {transfer_id} is not of agent {token.agent_id}")
        result = await self._ask_core(lambda rid: TransferCommand(call_id=call_id, command=command, request_id=rid))
        if not result.ok:
            raise api.CommandRefused(result.message)
        return {"transfer_id": transfer_id, "call_id": call_id, "state": result.state}

    # -- the core's task -------------------------------------------------------------------
    async def _run_core(self) -> None:
        while True:
            deadline = self.acd.get_timer()
            try:
                async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self.clock())):
                    ev = await self.inbox.get()
            except TimeoutError:
                self._apply(lambda: self.acd.handle_timer(max(deadline, self.clock())))  # never early
            else:
                with bound_contextvars(call_id=getattr(ev, "call_id", None)):
                    self._apply(lambda: self.acd.handle(ev, self.clock()))

    def _apply(self, step: Callable[[], list[acd.Action]]) -> None:
        try:
            actions = step()
        except Exception:  # a bug in the core must not take every call down
            log.exception("core.error")
            return
        for action in actions:
            try:
                self._act(action)
            except Exception:  # issue 17: one failing action (a store error, a bug) never stops the core
                log.exception("core.action_error", action=type(action).__name__,
                              call_id=getattr(action, "call_id", None))
        try:
            self._persist_core()
        except Exception:
            log.exception("core.action_error", action="persist")

    def _act(self, action: acd.Action) -> None:
        match action:
            case acd.Publish(event=name, fields=fields):
                self.bus.publish(name, fields)
                if (name == "agent.logged_in" and fields.get("interface") not in self._watched
                        and self.stream.connected.is_set()  # issue 17: a configured phone, or a real one
                        and (fields.get("interface") in self._phonebook.configured
                             or fields.get("source") == "phone")):
                    self.dispatcher.dispatch(_WatchPhone(str(fields.get("interface") or "")))
            case acd.CommandResult() | acd.LoginResult() | TransferResult() if (
                    action.request_id in self._requests):  # an API request awaits it
                future = self._requests[action.request_id]  # type: ignore[index]
                if not future.done():
                    future.set_result(action)
            case acd.CommandResult() | acd.LoginResult():
                if action.request_id:  # a phone's feature-code call
                    self.dispatcher.dispatch(CallCommand(action.request_id, action))
            case acd.KeepPlace() if self.desk is not None:  # R-CB: the task first, then the caller hangs up
                flow = self.calls.get(action.call_id)
                caller = getattr(flow, "caller_number", "")
                self.desk.keep_place(action.call_id, caller, action.queue, action.estimate_s)
                self.dispatcher.dispatch(CallCommand(action.call_id, action))
            case acd.PlaceReached():
                if self.desk is not None:
                    self.desk.place_reached(action.call_id, action.agent_id)
                else:
                    self._release_from_callback(action.agent_id)
            case _:
                self.dispatcher.dispatch(CallCommand(action.call_id, action))

    def _persist_core(self) -> None:
        """The core's facts, agent log and changed agents to the store, through the outbox: a store that
        is away delays them (in order, retried), calls go on (issue 7)."""
        now, store, writes = self.clock(), self.store, self.writes
        facts = self.acd.drain_facts()
        if facts:
            writes.write("facts", lambda: store.append_facts(facts), now, rows=len(facts))
        agent_log = self.acd.drain_agent_log()
        if agent_log:
            writes.write("agent_log", lambda: store.append_agent_log(agent_log), now, rows=len(agent_log))
        for call_id, entry in facts:
            if entry.fact in (Fact.HANGUP, Fact.DIVERTED):  # after its facts: it reads them from the store
                writes.write("compliance", lambda c=call_id, r=self._compliance_rules(): _record_compliance(store, c, r),
                             now, then=self._compliance_recorded)
        lockouts = self.acd.login.drain_changed()  # R-LOGIN: wrong-PIN limits survive a restart (issue 17)
        if lockouts:
            writes.write("lockouts", lambda: store.save_lockouts(lockouts), now, rows=len(lockouts))
        for agent in self.acd.drain_changed_agents():
            self._tell_presence(agent)
            if self.mqtt is not None:
                self.mqtt.agent_changed(agent.agent_id)
            session = AgentSession(agent_id=agent.agent_id, state=agent.state.value, since=agent.since,
                                   reason=agent.reason, interface=agent.interface,
                                   last_call_end=agent.last_call_end, calls_taken=agent.calls_taken)
            writes.write("agent", lambda s=session: store.save_agent(s), now,  # type: ignore[misc]
                         key=("agent", agent.agent_id))

    async def _retry_writes(self) -> None:
        """The store's writer (issue 17): the outbox's writes run on the store's thread (``drain``), never on
        the event loop; when one is refused, again when its back-off is over (``WriteOutbox.on_wait`` wakes
        this loop for a new write or a retry)."""
        w = self.writes
        w.deferred = True
        try:
            while True:
                self._writes_wake.clear()
                if not len(w):
                    await self._writes_wake.wait()
                    continue
                at = w.next_retry()
                delay = 0.0 if at is None else at - self.clock()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._writes_wake.wait()
                    continue
                await w.drain(self.store_io.call, self.clock)
        finally:
            w.deferred = False

    def _save_recording(self, call_id: str, name: str, started_at: float) -> None:
        """R-QA: the recording's row, through the outbox (held and retried while the store is away)."""
        store = self.store
        self.writes.write("recordings", lambda: store.save_recording(call_id, name, started_at), self.clock())

    def _compliance_rules(self) -> dict[str, comply.ComplianceRules]:
        """Each queue's R-COMPLY rules, taken on the loop for the store's thread."""
        return {name: comply.ComplianceRules(ring_target_s=q.ring_target_s, apology_s=q.wait.apology_s,
                                             greeting=q.greeting) for name, q in self.acd.queues.items()}

    def _compliance_recorded(self, record: comply.ComplianceRecord | None) -> None:
        if record is None:
            return
        self.bus.publish("call.compliance", {"call_id": record.call_id, "queue": record.queue,
                                             "agent": record.agent, "passed": record.passed,
                                             "broken": list(record.broken), "checks": dict(record.checks),
                                             "rule": "R-COMPLY"})

    # -- every (re)connect: the Asterisk version, then the resync -----------------------------------------
    async def _on_connect(self) -> None:
        self._connecting = True
        try:
            await self._check_asterisk()
            if self.cfg.site_prompts:  # R-XFER-NAME: the core asks only for the names Asterisk has
                self.acd.site_prompts = await site_prompts.present(self.ari, self.cfg.site_prompts)
            await self._resync()
        finally:
            self._connecting = False

    async def _check_asterisk(self) -> None:
        """issue 15: Asterisk's version against ``SUPPORTED_ASTERISK``, once per connect. Outside it (or not
        a version at all) the service is not ready (GET /health, ``ari``) unless ``[ari]
        allow_unsupported_asterisk``; calls are served all the same. ARI not answering: the connection is
        made again, as when the resync fails."""
        try:
            info = await self.ari.info()
        except AriError as e:
            log.warning("asterisk.info_failed", error=str(e))
            raise
        except (TypeError, ValueError):  # an empty or non-object body
            info = {}
        system = info.get("system")
        raw = system.get("version") if isinstance(system, dict) else None
        text = (raw if isinstance(raw, str) else "" if raw is None else repr(raw))[:100]
        self.asterisk_version = text
        version = asterisk_version(raw)
        if version is not None and SUPPORTED_ASTERISK[0] <= version < SUPPORTED_ASTERISK[1]:
            self._asterisk_refused = None
            log.info("asterisk.version", version=text, supported=SUPPORTED_ASTERISK_TEXT)
            return
        allowed = self.cfg.ari.allow_unsupported_asterisk
        why = (f"Asterisk version {text!r} is not a version" if version is None
               else f"Asterisk {version[0]}.{version[1]} ({text}) is not supported")
        why += f" ({SUPPORTED_ASTERISK_TEXT})"
        self._asterisk_refused = None if allowed else why
        (log.warning if allowed else log.error)(
            "asterisk.unsupported_version", version=text, supported=SUPPORTED_ASTERISK_TEXT, allowed=allowed,
            **({"hint": "[ari] allow_unsupported_asterisk = true makes the service ready all the same"}
               if not allowed else {}))

    # -- resync on every (re)connect ------------------------------------------------------------
    async def _resync(self) -> None:
        now = self.clock()
        app = self.cfg.ari.app
        await self._read_phones()
        calls, untagged, stale = await resync.read_calls(self.ari, app)
        rebuilt: list[acd.CallArrived | acd.CallRestored] = []
        live: dict[str, InboundCall] = {}
        for snap in calls.values():
            if snap.caller is None:
                for leg in snap.agent_legs:
                    log.info("call.orphan_hungup", call_id=snap.call_id, channel=leg)
                    await resync.hangup(self.ari, leg)
                for bridge in snap.bridges:
                    await resync.destroy_bridge(self.ari, bridge)
                if snap.recording:  # R-QA
                    await resync.hangup(self.ari, snap.recording)
                continue
            ev = resync.to_core_event(snap, now)
            flow = self._flow(snap.call_id)
            flow.caller_number = snap.caller.caller_number
            flow.adopt_bridges(snap.bridges)
            if isinstance(ev, acd.CallRestored):
                flow.adopt_connected(snap.connected_leg() or "", ev.agent_id)
            else:
                for leg in snap.agent_legs:  # a ringing leg we lost track of: ring again from the core
                    await resync.hangup(self.ari, leg)
                await resync.destroy_bridge(self.ari, flow.talk_bridge)
                try:
                    await flow.hold()
                except AriError as e:
                    log.warning("call.resync_failed", call_id=snap.call_id, error=str(e))
                    continue
            await flow.resume_recording(snap.recording, connected=isinstance(ev, acd.CallRestored))  # R-QA
            live[snap.call_id] = flow
            rebuilt.append(ev)  # type: ignore[arg-type]
            log.info("call.resynced", call_id=snap.call_id, queue=ev.queue if ev else None,
                     state="connected" if isinstance(ev, acd.CallRestored) else "waiting")
        for bridge in stale:
            await resync.destroy_bridge(self.ari, bridge)
        for old in self.calls.values():  # R-SUPERVISE: their channels are hung up below; audit the end
            if isinstance(old, supervise.SuperviseCall):
                old.lost("ari_reconnected")
            elif isinstance(old, VoicemailCall):
                old.lost()
        if self.desk is not None:
            self.desk.lost_calls()
        self.calls = live
        self.inbox.put_nowait(acd.Resynced(calls=tuple(rebuilt)))
        for ch in untagged:  # entered Stasis while we were away, or a feature call cut off
            args = resync.stasis_args(ch)
            if args[:1] == ["queue"]:
                await self._on_item(ch.id, StasisStart(type="StasisStart", channel=ch, args=tuple(args)))
            else:
                log.info("call.orphan_hungup", channel=ch.id, args=args)
                await resync.hangup(self.ari, ch.id)
        log.info("ari.resynced", calls=len(rebuilt), untagged=len(untagged), stale_bridges=len(stale))
        if self.desk is not None:  # R-VM: after the hang-ups above, so cut-off recordings are stored
            self.desk.reconcile_soon()  # a tracked task (issue 17)


@dataclass(frozen=True, slots=True)
class _WatchPhone:
    """Subscribe to a phone's device state (an agent logged in at a new phone)."""
    interface: str
    channel_ids: tuple[str, ...] = ()


def _check(ok: bool, reason: str = "") -> dict[str, Any]:
    """One readiness check (``Service.readiness``)."""
    return {"ok": True} if ok else {"ok": False, "reason": reason}


def _queue_rules(q: Any, cfg: Config) -> acd.QueueRules:
    calendar = ALWAYS_OPEN
    if q.calendar:
        c = cfg.calendars[q.calendar]
        calendar = Calendar(timezone=c.timezone, windows=tuple(parse_window(w) for w in c.windows),
                            holidays=frozenset(_date(d) for d in c.holidays),
                            extra_workdays=frozenset(_date(d) for d in c.extra_workdays))
    return acd.QueueRules(
        name=q.name, ring_target_s=q.ring_target_s, originate_timeout_s=q.originate_timeout_s, wrap_up_s=q.wrap_up_s,
        strategy=q.strategy, wait=WaitRules(apology_s=q.wait_apology_s, announce_every_s=q.announce_every_s,
                                            max_wait_s=q.max_wait_s),
        max_callers=q.max_callers, calendar=calendar, greeting=q.greeting, default_handle_s=q.default_handle_s,
        greeting_org=q.greeting_org, greeting_time_of_day=q.greeting_time_of_day,
        hold_remind_s=q.hold_remind_s, silent_wait_s=q.silent_wait_s, hold_apology_s=q.hold_apology_s,
        silent_script=q.silent_script, silent_detect_s=q.silent_detect_s,
        voicemail_key=cfg.keys.voicemail, keep_place_key=cfg.keys.keep_place if cfg.callbacks is not None else "",
        voicemail_destination=q.voicemail_destination,
        no_agent_destination=q.no_agent_destination, overflow_destination=q.overflow_destination,
        closed_destination=q.closed_destination)


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def _record_compliance(store: Repository, call_id: str, rules: dict[str, comply.ComplianceRules]
                       ) -> comply.ComplianceRecord | None:
    """R-COMPLY: the finished call's record, from its whole stored timeline (also across a restart); runs on
    the store's thread (the outbox's write), published by ``Service._compliance_recorded``."""
    entries = store.timeline(call_id)
    queue = next((str(e.detail.get("queue")) for e in entries if e.detail.get("queue")), "")
    record = comply.evaluate(call_id, entries, rules.get(queue) or comply.ComplianceRules())
    if record is not None:
        store.save_compliance(record)
    return record
