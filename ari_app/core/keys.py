"""In-call keys pressed on the agent's phone, read against the key map (config ``[keys]``).

``KeyReader.feed(digit, now)`` returns a command when a key sequence is complete:
``("transfer", "2002")`` for ``##2002#``, ``("transfer_complete", "")``, ``("transfer_cancel", "")``.
A sequence not finished within ``timeout_s`` of its last digit is forgotten. Pure: time passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["KeyReader"]


@dataclass(kw_only=True)
class KeyReader:
    codes: Mapping[str, str]  # command -> key sequence, e.g. {"transfer": "##", "transfer_complete": "*1"}
    takes_argument: frozenset[str] = frozenset({"transfer"})  # followed by digits and '#'
    timeout_s: float = 4.0
    _buffer: str = field(default="", init=False)
    _command: str | None = field(default=None, init=False)  # reading the argument of this command
    _last: float = field(default=0.0, init=False)

    def feed(self, digit: str, now: float) -> tuple[str, str] | None:
        if (self._buffer or self._command is not None) and now - self._last > self.timeout_s:
            self._buffer, self._command = "", None
        self._last = now
        if self._command is not None:
            if digit == "#":
                command, arg = self._command, self._buffer
                self._buffer, self._command = "", None
                return (command, arg) if arg else None
            self._buffer += digit
            return None
        self._buffer += digit
        # keep the longest tail of the keys pressed that may still become a code: stray keys
        # before a code do not matter ("00010" finds "0010", "*" then "8" finds "8")
        while self._buffer and not any(code.startswith(self._buffer) for code in self.codes.values()):
            self._buffer = self._buffer[1:]
        for command, code in self.codes.items():
            if self._buffer == code:
                self._buffer = ""
                if command in self.takes_argument:
                    self._command = command
                    return None
                return (command, "")
        return None
