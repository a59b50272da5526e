"""R-LOGIN: agents log in with their agent ID (工号) and PIN; wrong PINs are limited.

PINs are stored hashed (PBKDF2-SHA256, salted): ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``.
``LoginGuard`` counts wrong PINs per agent ID and locks the ID for a while
after ``max_attempts``; time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

__all__ = ["LoginGuard", "hash_pin", "verify_pin"]

_ITERATIONS = 120_000


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError("a PIN is 4 to 12 digits")
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
    return len(parts) == 4 and parts[0] == "pbkdf2_sha256" and parts[1].isdigit()


@dataclass(kw_only=True)
class LoginGuard:
    max_attempts: int = 3
    lock_s: float = 900.0
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, agent_id: str, now: float) -> bool:
        until = self._locked_until.get(agent_id)
        if until is None:
            return False
        if now >= until:
            del self._locked_until[agent_id]
            return False
        return True

    def attempt(self, agent_id: str, pin_ok: bool, now: float) -> str:
        """Returns ``ok``, ``failed``, ``locked`` (this attempt locked the ID) or ``still_locked``."""
        if self.locked(agent_id, now):
            return "still_locked"
        if pin_ok:
            self._failures.pop(agent_id, None)
            return "ok"
        n = self._failures.get(agent_id, 0) + 1
        if n >= self.max_attempts:
            self._failures.pop(agent_id, None)
            self._locked_until[agent_id] = now + self.lock_s
            return "locked"
        self._failures[agent_id] = n
        return "failed"
