"""R-LOGIN: agents log in with their agent ID (工号) and PIN; wrong PINs are limited.

PINs are stored hashed (PBKDF2-SHA256, salted): ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``;
a PIN has ``min_length`` (config ``[login] min_pin_length``, default 6) to 12 digits.

``LoginGuard`` limits wrong PINs twice (issue 17): per agent ID (``max_attempts``) and per phone, the
interface the PIN was typed at (``phone_max_attempts``), each over a sliding window: a key with that
many failures in the last ``window_s`` is locked for ``lock_s``; older failures no longer count. One
phone cannot lock every agent out (it is locked itself first), and a locked phone's attempts do not
count against the IDs typed there. Unknown agent IDs are counted like known ones, so the answers do
not tell which IDs exist (``verify_pin_timed`` makes the time the same too). The state is a few
``LockState`` rows the service stores (``drain_changed``, ``load``): a restart does not reset it.
Time is passed in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["LockState", "LoginGuard", "dummy_hash", "hash_pin", "verify_pin", "verify_pin_timed"]

_ITERATIONS = 120_000
MIN_PIN_LENGTH = 6
MAX_PIN_LENGTH = 12


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS,
             min_length: int = MIN_PIN_LENGTH) -> str:
    if not pin.isascii() or not pin.isdigit() or not min_length <= len(pin) <= MAX_PIN_LENGTH:
        raise ValueError(f"a PIN is {min_length} to {MAX_PIN_LENGTH} digits")
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def is_pin_hash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) == 4 and parts[0] == "pbkdf2_sha256" and parts[1].isascii() and parts[1].isdigit()


@functools.cache
def dummy_hash(iterations: int = _ITERATIONS) -> str:
    """A hash no PIN matches, as costly to check as a real one: what an unknown agent ID is checked against."""
    return f"pbkdf2_sha256${iterations}${os.urandom(16).hex()}${'0' * 64}"


def verify_pin_timed(pin: str, stored: str | None, *, iterations: int | None = None) -> bool:
    """``verify_pin``, as slow for an unknown ID (``stored`` None or not a hash) as for a known one:
    the time of an answer does not tell which agent IDs exist. ``iterations``: the configured hashes'."""
    if stored and is_pin_hash(stored):
        return verify_pin(pin, stored)
    verify_pin(pin, dummy_hash(iterations or _ITERATIONS))
    return False


@dataclass(frozen=True, slots=True)
class LockState:
    """One limited key's state, as stored: ``agent:<id>`` or ``phone:<interface>``.

    ``failures``: the times of the failures still inside the window; ``locked_until``: 0 when not
    locked. A state with neither is empty: the store deletes its row."""
    key: str
    failures: tuple[float, ...] = ()
    locked_until: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.failures and not self.locked_until


def agent_key(agent_id: str) -> str:
    return f"agent:{agent_id}"


def phone_key(interface: str) -> str:
    return f"phone:{interface}"


@dataclass(kw_only=True)
class LoginGuard:
    max_attempts: int = 3  # wrong PINs for one agent ID within window_s
    phone_max_attempts: int = 10  # wrong PINs at one phone within window_s
    window_s: float = 900.0
    lock_s: float = 900.0
    _state: dict[str, LockState] = field(default_factory=dict)
    _changed: dict[str, LockState] = field(default_factory=dict)
    just_locked: tuple[str, ...] = ()  # the keys the last ``attempt`` locked (agent:…, phone:…)

    # -- persistence ---------------------------------------------------------------------------
    def load(self, states: Iterable[LockState], now: float) -> None:
        """The stored states (at start-up); those that decayed meanwhile are dropped (and deleted)."""
        for s in states:
            self._state[s.key] = s
            self._decay(s.key, now)

    def drain_changed(self) -> list[LockState]:
        """The states changed since the last call, to store (an ``empty`` one: delete its row)."""
        out, self._changed = list(self._changed.values()), {}
        return out

    def state(self, key: str) -> LockState:
        return self._state.get(key) or LockState(key)

    # -- decisions -----------------------------------------------------------------------------
    def locked(self, agent_id: str, now: float) -> bool:
        return self._decay(agent_key(agent_id), now).locked_until > now

    def phone_locked(self, interface: str, now: float) -> bool:
        return self._decay(phone_key(interface), now).locked_until > now

    def attempt(self, agent_id: str, pin_ok: bool, now: float, interface: str = "") -> str:
        """One PIN typed at ``interface`` for ``agent_id``. Returns ``ok``; ``failed``; ``locked`` (this
        attempt locked the ID) or ``still_locked``; ``phone_locked`` (this attempt locked the phone) or
        ``phone_still_locked``. A locked ID or phone refuses even the right PIN; ``just_locked`` says
        which keys this attempt locked (both may be)."""
        self.just_locked = ()
        for key in [k for k in self._state if k not in (agent_key(agent_id), phone_key(interface))]:
            self._decay(key, now)  # the others: decayed rows go (memory and store stay small)
        agent, phone = self._decay(agent_key(agent_id), now), self._decay(phone_key(interface), now)
        if interface and phone.locked_until > now:
            return "phone_still_locked"  # nothing counted against the IDs typed at a locked phone
        if not pin_ok and interface:
            phone = self._fail(phone, self.phone_max_attempts, now)
        if agent.locked_until > now:
            return "phone_locked" if phone.locked_until > now else "still_locked"
        if pin_ok:
            self._put(LockState(agent.key))  # the agent's own count starts again; the phone's decays
            return "ok"
        agent = self._fail(agent, self.max_attempts, now)
        if agent.locked_until > now:
            return "locked"
        return "phone_locked" if interface and phone.locked_until > now else "failed"

    # -- internals -----------------------------------------------------------------------------
    def _fail(self, s: LockState, limit: int, now: float) -> LockState:
        failures = (*s.failures, now)
        if len(failures) >= limit:
            self.just_locked += (s.key,)
            return self._put(LockState(s.key, (), now + self.lock_s))
        return self._put(LockState(s.key, failures, s.locked_until))

    def _decay(self, key: str, now: float) -> LockState:
        s = self._state.get(key)
        if s is None:
            return LockState(key)
        failures = tuple(t for t in s.failures if now - t < self.window_s)
        locked_until = s.locked_until if s.locked_until > now else 0.0
        if (failures, locked_until) != (s.failures, s.locked_until):
            s = self._put(LockState(key, failures, locked_until))
        return s

    def _put(self, s: LockState) -> LockState:
        if s.empty:
            if self._state.pop(s.key, None) is not None:
                self._changed[s.key] = s
        else:
            self._state[s.key] = s
            self._changed[s.key] = s
        return s
