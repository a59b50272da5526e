"""R-SUPERVISE: a supervisor listens to, whispers to, or barges into an agent's live call.

Two ways in, one flow:

* **Feature code** from the supervisor's phone: ``*15<agent id>`` listen, ``*16<agent id>``
  whisper, ``*17<agent id>`` barge (config ``[keys]`` listen/whisper/barge). The dialplan hands
  ``*…`` to ``Stasis(callcenter,feature,<code>)``; the service routes these three codes here.
* **HTTP API** ``POST /supervise`` (token role supervisor or ops): the service originates a call to
  the given interface with this flow waiting for it; on answer it runs the same steps.

Only a supervisor may supervise (``supervisor_at``): the phone's logged-in agent has
``role = "supervisor"`` (logged in with ``*11`` and the PIN, the API or ``auto_login``). A phone
nobody is logged in at may not, even the supervisor's own desk phone (issue 17). Anyone else hears
a prompt and is hung up (``supervise.refused``).

Media, all through Asterisk (built on the AGENT's channel, the leg in the call's talk bridge):

* listen  — a snoop channel on the agent leg, ``spy=both``; it and the supervisor in their own
  mixing bridge: the supervisor hears both sides, nobody hears the supervisor;
* whisper — the same with ``whisper=out``: what the supervisor says is mixed into what the
  agent hears only; the caller hears nothing of it;
* barge   — the supervisor's channel joins the call's talk bridge: everybody hears everybody.

Naming: the flow's dispatcher key is the supervisor's channel id ``<sup>``; its snoop channel is
``<sup>~snoop`` and its bridge ``<sup>~sup``, so every event of the three routes here
(``inbound.call_key``). When the supervised call ends (the snoop channel goes, or the supervisor is
put out of the talk bridge) the supervisor is hung up; when the supervisor hangs up, the snoop
and its bridge are removed. Nothing is left behind.

R-PRIVACY: every use is written as one ``audit.supervise`` line (supervisor, agent, mode, call,
start, end) when it ends; ``supervise.started`` marks the start as it happens.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping

import structlog

from ..ari import (
    AriClient, AriError, Channel, ChannelDestroyed, ChannelHangupRequest, ChannelLeftBridge,
    PlaybackFinished, StasisEnd, StasisStart,
)
from ..core import supervise as core_supervise
from ..config import KeyMap
from ..core import prompts
from ._cleanup import destroy_bridge, hangup
from .feature import interface_of
from .inbound import LEG_SEP

__all__ = [
    "MODES", "Permission", "SuperviseCall", "Target", "find_target", "new_channel_id", "parse_code",
    "supervisor_at",
]

log = structlog.get_logger()

RULE = core_supervise.RULE
MODES = core_supervise.MODES
Permission = core_supervise.Permission
supervisor_at = core_supervise.supervisor_at
SNOOP_ARGS = "supervise-snoop"  # StasisStart args of our snoop channels
DIAL_ARGS = "supervise"  # StasisStart args of a supervisor's phone we called (POST /supervise)
# Prompts (no new audio): refused for not being a supervisor; nothing to supervise.
PROMPT_NOT_LOGGED_IN = core_supervise.PROMPT_NOT_LOGGED_IN
PROMPT_NOT_SUPERVISOR = core_supervise.PROMPT_NOT_SUPERVISOR
PROMPT_NO_CALL = "invalid-number"


# -- the pure parts live in core/supervise.py ---------------------------------------------------------
def parse_code(code: str, keys: KeyMap) -> tuple[str, str] | None:
    """``*151001`` → ``("listen", "1001")`` with the configured keys; None when not a supervise code."""
    return core_supervise.parse_code(code, {mode: getattr(keys, mode) for mode in MODES})


@dataclass(frozen=True, slots=True)
class Target:
    """An agent's live connected call: what a supervisor attaches to."""
    call_id: str
    agent_id: str
    agent_leg: str  # the agent's channel in the talk bridge (what the snoop spies on)
    talk_bridge: str


def find_target(agent_id: str, call_id: str | None, calls: Mapping[str, Any]) -> Target | None:
    """The agent's live connected call, from the core's ``Agent.call_id`` and the call's flow.

    ``calls`` are the service's flows by call id; only a flow with a connected agent leg that
    belongs to ``agent_id`` and has not ended counts. Without a ``call_id`` the flows are searched.
    """
    candidates = [calls[call_id]] if call_id and call_id in calls else [] if call_id else list(calls.values())
    for flow in candidates:
        leg = getattr(flow, "connected_leg", None)
        if not leg or getattr(flow, "ended_by", None) is not None or getattr(flow, "finished", False):
            continue
        info = getattr(flow, "legs", {}).get(leg)
        if info is None or getattr(info, "agent_id", None) != agent_id:
            continue
        cid = getattr(flow, "call_id", call_id or "")
        return Target(call_id=cid, agent_id=agent_id, agent_leg=leg,
                      talk_bridge=getattr(flow, "talk_bridge", f"{cid}{LEG_SEP}talk"))
    return None


def new_channel_id() -> str:
    """An id for the supervisor's channel we originate (no ``~``: it is the flow's dispatcher key)."""
    return f"sup-{secrets.token_hex(8)}"


# -- the flow -----------------------------------------------------------------------------------------
class SuperviseCall:
    """One supervisor's channel, from answer to hang-up; its events arrive in order on its own key."""

    def __init__(self, channel_id: str, *, ari: AriClient, app: str, locate: Callable[[str], Target | None],
                 authorize: Callable[[str], Permission] | None = None, keys: KeyMap | None = None,
                 known_agents: Collection[str] = (), clock: Callable[[], float] = time.time) -> None:
        self.call_id = channel_id  # the supervisor's channel: this flow's dispatcher key
        self.ari, self.app, self.locate, self.authorize = ari, app, locate, authorize
        self.keys, self.known_agents, self.clock = keys, known_agents, clock
        self.snoop_id = f"{channel_id}{LEG_SEP}snoop"
        self.bridge_id = f"{channel_id}{LEG_SEP}sup"
        self.supervisor = ""  # agent ID (phone) or token name (API)
        self.via = ""  # phone | api
        self.interface = ""
        self.mode = ""
        self.agent_id = ""
        self.target: Target | None = None
        self.stage = "new"  # dialling | connecting | active | closing | done
        self.started_at: float | None = None
        self.finished = False
        self._closing_playback: str | None = None
        self._pb = 0

    def _fields(self) -> dict[str, Any]:
        return {"supervisor": self.supervisor or None, "via": self.via, "agent": self.agent_id or None,
                "mode": self.mode or None, "call_id": self.target.call_id if self.target else None,
                "supervisor_channel": self.call_id, "rule": RULE}

    # -- the two ways in -------------------------------------------------------------------------
    async def start(self, ch: Channel, code: str) -> None:
        """Feature code dialled from a phone (``StasisStart`` args ``feature,<code>``)."""
        self.via, self.interface = "phone", interface_of(ch.name)
        assert self.keys is not None and self.authorize is not None
        parsed = parse_code(code, self.keys)
        self.mode, self.agent_id = parsed if parsed is not None else ("", "")
        log.info("supervise.dialled", **self._fields(), code=code, interface=self.interface)
        try:
            await self.ari.answer(self.call_id)
        except AriError as e:
            log.warning("supervise.answer_failed", error=str(e))
            self.finished = True
            return
        permission = self.authorize(self.interface)
        if not permission.allowed:
            await self._refuse(permission.reason, permission.prompt)
            return
        self.supervisor = permission.supervisor or ""
        if not (self.agent_id.isascii() and self.agent_id.isdigit()) or self.agent_id not in self.known_agents:
            await self._refuse("unknown_agent", PROMPT_NO_CALL)
            return
        if self.agent_id == self.supervisor:
            await self._refuse("own_call", PROMPT_NO_CALL)
            return
        await self._attach()

    async def dial(self, interface: str, *, supervisor: str, agent_id: str, mode: str,
                   timeout_s: int = 30) -> None:
        """``POST /supervise``: call the supervisor's ``interface``; the rest happens on answer.

        Register this flow under ``self.call_id`` first: the channel's events come to it. Raises
        ``AriError`` when Asterisk refuses the call.
        """
        if mode not in MODES:
            raise ValueError(f"mode: one of {', '.join(MODES)}, got {mode!r}")
        self.via, self.interface, self.supervisor, self.agent_id, self.mode = (
            "api", interface, supervisor, agent_id, mode)
        self.stage = "dialling"
        log.info("supervise.dialling", **self._fields(), interface=interface)
        await self.ari.originate(interface, app=self.app, app_args=DIAL_ARGS, channel_id=self.call_id,
                                 timeout_s=timeout_s, caller_id=f'"{mode} {agent_id}" <{agent_id}>',
                                 variables={"CC_SUPERVISE": f"{mode},{agent_id}"})  # not a call's tag

    # -- ARI events ---------------------------------------------------------------------------------
    async def on_event(self, ev: object) -> None:
        match ev:
            case StasisStart(channel=ch) if ch.id == self.call_id:
                if self.stage == "dialling":
                    await self._attach()  # the supervisor answered our call
            case StasisStart(channel=ch) if ch.id == self.snoop_id:
                await self._snoop_ready()
            case ChannelHangupRequest(channel=ch) | StasisEnd(channel=ch) | ChannelDestroyed(channel=ch):
                if ch.id == self.call_id:
                    await self._supervisor_gone(ev)
                elif ch.id == self.snoop_id:
                    await self._end("call_ended")  # the agent's channel went, and its snoop with it
            case ChannelLeftBridge(channel=ch, bridge=br) if (
                    ch.id == self.call_id and self.mode == "barge" and self.target is not None
                    and br.id == self.target.talk_bridge):
                await self._end("call_ended")  # the call's bridge went: the call is over
            case PlaybackFinished(playback=pb) if pb.id == self._closing_playback:
                await self._hangup(self.call_id)
                self.finished = True

    async def do(self, action: object) -> None:
        """The core sends this flow nothing; here for the service's routing."""

    def lost(self, reason: str) -> None:
        """The service dropped its view (ARI reconnect): resync hangs the channels up; write the audit."""
        if self.stage != "done":
            self.stage = "done"
            self._audit(reason)
        self.finished = True

    # -- steps --------------------------------------------------------------------------------------
    async def _attach(self) -> None:
        self.target = self.locate(self.agent_id)
        if self.target is None:
            await self._refuse("no_live_call", PROMPT_NO_CALL)
            return
        t = self.target
        try:
            if self.mode == "barge":
                await self.ari.add_channel(t.talk_bridge, self.call_id)
                self._started()
            else:
                self.stage = "connecting"
                await self.ari.create_bridge(self.bridge_id, name=self.bridge_id)  # mixing,dtmf_events
                await self.ari.snoop(t.agent_leg, app=self.app, spy="both",
                                     whisper="out" if self.mode == "whisper" else "none",
                                     snoop_id=self.snoop_id, app_args=SNOOP_ARGS)
        except AriError as e:
            # most likely the call ended in between: say so, and leave nothing behind
            log.info("supervise.attach_failed", **self._fields(), error=str(e))
            await self._remove_snoop()
            await self._refuse("no_live_call", PROMPT_NO_CALL)

    async def _snoop_ready(self) -> None:
        if self.stage != "connecting":
            await self._hangup(self.snoop_id)  # we gave up meanwhile
            return
        try:
            await self.ari.add_channel(self.bridge_id, [self.call_id, self.snoop_id])
        except AriError as e:
            log.info("supervise.attach_failed", **self._fields(), error=str(e))
            await self._end("failed")
            return
        self._started()

    def _started(self) -> None:
        self.stage = "active"
        self.started_at = self.clock()
        t = self.target
        log.info("supervise.started", **self._fields(), agent_leg=t.agent_leg if t else None,
                 bridge=t.talk_bridge if self.mode == "barge" and t else self.bridge_id)

    async def _supervisor_gone(self, ev: object) -> None:
        if self.stage == "dialling":
            cause = getattr(ev, "cause", None)
            log.info("supervise.unanswered", **self._fields(), cause=cause,
                     cause_txt=getattr(ev, "cause_txt", ""))
            self.stage = "done"
            self.finished = True
        elif self.stage == "closing":
            self.finished = True
        else:
            await self._end("supervisor_hung_up")

    async def _end(self, reason: str) -> None:
        """Take everything down: the snoop, its bridge, the supervisor's channel; then the audit line."""
        if self.stage in ("done", "closing"):
            return  # already ended, or saying why not (its own hang-up ends it)
        self.stage = "done"
        await self._remove_snoop()
        await self._hangup(self.call_id)
        self._audit(reason)
        self.finished = True

    async def _remove_snoop(self) -> None:
        if self.mode != "barge":
            await self._hangup(self.snoop_id)
            await destroy_bridge(self.ari, self.bridge_id)

    def _audit(self, reason: str) -> None:
        if self.started_at is None:
            return
        end = self.clock()
        log.info("audit.supervise", **self._fields(), start=round(self.started_at, 3), end=round(end, 3),
                 duration_s=round(end - self.started_at, 3), ended=reason)

    async def _refuse(self, reason: str, prompt: str) -> None:
        """Say why not, then hang up."""
        log.info("supervise.refused", **self._fields(), interface=self.interface, reason=reason)
        self.stage = "closing"
        self._pb += 1
        playback_id = f"{self.call_id}{LEG_SEP}spb{self._pb}"
        try:
            await self.ari.play(self.call_id, [prompts.media(prompt)], playback_id=playback_id)
        except AriError as e:
            log.info("supervise.playback_failed", error=str(e))
            await self._hangup(self.call_id)
            self.finished = True
            return
        self._closing_playback = playback_id

    async def _hangup(self, channel_id: str) -> None:
        await hangup(self.ari, channel_id)
