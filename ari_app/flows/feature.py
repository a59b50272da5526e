"""Feature codes dialled from an agent's phone (R-LOGIN, R-BUSY): log in, log out, pause, resume.

The dialplan sends ``*<code>`` from agent phones into ``Stasis(callcenter,feature,<code>)``; the
key map (config ``[keys]``) says what each code means. Log in asks by voice for the agent ID (工号)
and the PIN, each ended by ``#``; the PIN is checked against its hash here (off the event loop, as
slow for an unknown ID as for a known one; a PIN shorter than ``[login] min_pin_length`` is refused)
and the core decides (attempt limits per ID and per phone, lock-out, one agent ID at one phone).
Everything is event driven: the phone's DTMF, playbacks ending and digit time-outs arrive in order
on this call's key.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import structlog

from ..ari import (
    AriClient, AriError, Channel, ChannelDestroyed, ChannelDtmfReceived, ChannelHangupRequest, PlaybackFinished,
    StasisEnd,
)
from ..config import KeyMap
from ..core import acd, prompts
from ..core.login import MIN_PIN_LENGTH, is_pin_hash, verify_pin_timed

__all__ = ["FeatureCall", "FlowTimer", "interface_of"]

log = structlog.get_logger()

_DIGITS = frozenset("0123456789")
_CHANNEL_NAME = re.compile(r"^(?P<iface>[A-Za-z0-9]+/[^-;]+(?:-[^-;]+)*?)-[0-9a-f]{8}(?:;\d)?$")


def interface_of(channel_name: str) -> str:
    """``PJSIP/1001-0000000a`` → ``PJSIP/1001``: the phone a channel belongs to."""
    m = _CHANNEL_NAME.match(channel_name)
    return m["iface"] if m else channel_name


@dataclass(frozen=True, slots=True)
class FlowTimer:
    """A time-out for one call's flow, delivered in order with its events."""
    call_id: str
    token: int


class FeatureCall:
    MAX_DIGITS = 12

    def __init__(self, channel_id: str, *, ari: AriClient, report: Callable[[acd.Event], None], keys: KeyMap,
                 pin_hashes: Mapping[str, str], agent_at: Callable[[str], str | None],
                 schedule: Callable[[float, FlowTimer], None], digit_timeout_s: float, max_attempts: int,
                 min_pin_length: int = MIN_PIN_LENGTH) -> None:
        self.call_id = channel_id
        self.ari, self.report, self.keys = ari, report, keys
        self.pin_hashes, self.agent_at, self.schedule = pin_hashes, agent_at, schedule
        self.digit_timeout_s, self.max_attempts, self.min_pin_length = digit_timeout_s, max_attempts, min_pin_length
        self.interface = ""
        self.stage = "start"  # id | pin | waiting | closing
        self.digits = ""
        self.agent_id = ""
        self.attempts = 0
        self.command = ""  # logout | pause | resume
        self.finished = False
        self._timer = 0
        self._closing_playback: str | None = None
        self._pb = 0

    async def start(self, ch: Channel, code: str) -> None:
        self.interface = interface_of(ch.name)
        log.info("feature.dialled", code=code, interface=self.interface)
        try:
            await self.ari.answer(self.call_id)
        except AriError as e:
            log.warning("feature.answer_failed", error=str(e))
            self.finished = True
            return
        k = self.keys
        if code == k.login:
            await self._ask("id")
        elif code in (k.logout, k.resume, k.pause) or (code.startswith(k.pause)
                                                      and code[len(k.pause):] in k.pause_reasons):
            agent = self.agent_at(self.interface)
            if agent is None:
                await self._close(("not-logged-in",))
                return
            self.agent_id, self.stage = agent, "waiting"
            self.command = "logout" if code == k.logout else "resume" if code == k.resume else "pause"
            reason = k.pause_reasons.get(code[len(k.pause):], "break") if self.command == "pause" else ""
            self.report(acd.AgentCommand(agent_id=agent, command=self.command, reason=reason, source="phone",
                                         request_id=self.call_id))
        else:
            log.info("feature.unknown_code", code=code)
            await self._close(("invalid-number",))

    # -- events ------------------------------------------------------------------------
    async def on_event(self, ev: object) -> None:
        match ev:
            case ChannelDtmfReceived(digit=digit) if self.stage in ("id", "pin"):
                if digit == "#":
                    await self._submit()
                elif digit in _DIGITS and len(self.digits) < self.MAX_DIGITS:  # one key 0-9, not "²" or "12"
                    self.digits += digit
                    self._arm_timer()
            case PlaybackFinished(playback=pb) if pb.id == self._closing_playback:
                await self._hangup()
            case FlowTimer(token=token) if token == self._timer and self.stage in ("id", "pin"):
                log.info("feature.digit_timeout", stage=self.stage)
                await self._submit()
            case ChannelHangupRequest() | ChannelDestroyed() | StasisEnd():
                self.finished = True

    async def do(self, action: acd.Action) -> None:
        match action:
            case acd.LoginResult(outcome="ok"):
                await self._close(("login-ok",))
            case acd.LoginResult(outcome="locked" | "still_locked" | "phone_locked" | "phone_still_locked"):
                await self._close(("login-locked",))
            case acd.LoginResult():
                self.attempts += 1
                if self.attempts >= self.max_attempts:
                    await self._close(("login-failed",))
                else:
                    await self._ask("id", first=("login-failed",))
            case acd.CommandResult(ok=True):
                await self._close((f"{self.command}-ok",))
            case acd.CommandResult():
                log.info("feature.refused", message=action.message)
                await self._close(("login-failed",))

    # -- steps -------------------------------------------------------------------------------
    async def _ask(self, stage: str, first: tuple[str, ...] = ()) -> None:
        self.stage, self.digits = stage, ""
        await self._play((*first, "login-enter-id" if stage == "id" else "login-enter-pin"))
        self._arm_timer()

    async def _submit(self) -> None:
        entered, self.digits = self.digits, ""
        self._timer += 1  # cancel the pending time-out
        if self.stage == "id":
            if not entered:
                await self._close(("login-failed",))
                return
            self.agent_id = entered
            await self._ask("pin")
            return
        self.stage = "waiting"
        # issue 17: an unknown ID (or one without a PIN) is checked against a hash as costly as the
        # configured ones, so the time of the answer does not tell which IDs exist
        iterations = next((int(h.split("$")[1]) for h in self.pin_hashes.values() if is_pin_hash(h)), None)
        stored = self.pin_hashes.get(self.agent_id) or None
        pin_ok = await asyncio.to_thread(verify_pin_timed, entered, stored, iterations=iterations)
        if pin_ok and len(entered) < self.min_pin_length:  # a PIN set before [login] min_pin_length
            log.warning("login.pin_too_short", agent=self.agent_id, min_pin_length=self.min_pin_length,
                        fix="set a new PIN: ari-app pin-hash")
            pin_ok = False
        self.report(acd.LoginAttempt(agent_id=self.agent_id, interface=self.interface, pin_ok=pin_ok,
                                     request_id=self.call_id))

    def _arm_timer(self) -> None:
        self._timer += 1
        self.schedule(self.digit_timeout_s, FlowTimer(self.call_id, self._timer))

    async def _play(self, prompt_ids: tuple[str, ...]) -> str | None:
        self._pb += 1
        playback_id = f"{self.call_id}~fpb{self._pb}"
        try:
            await self.ari.play(self.call_id, [prompts.media(p) for p in prompt_ids], playback_id=playback_id)
        except AriError as e:
            log.warning("feature.playback_failed", error=str(e))
            return None
        return playback_id

    async def _close(self, prompt_ids: tuple[str, ...]) -> None:
        """Say the outcome, then hang up."""
        self.stage = "closing"
        self._closing_playback = await self._play(prompt_ids)
        if self._closing_playback is None:
            await self._hangup()

    async def _hangup(self) -> None:
        try:
            await self.ari.hangup(self.call_id)
        except AriError:
            pass
        self.finished = True
