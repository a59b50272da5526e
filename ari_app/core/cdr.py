"""R-KPI outbound per day (日呼出量): an agent's own dialled call, read from Asterisk's CDR.

An agent who dials ``9<number>`` goes through the dialplan context
``[callcenter-outbound]`` (which sets ``CDR(userfield)=outbound``) straight to
the trunk; the call never enters Stasis, so ARI never sees it. Asterisk's CDR
engine does: at the end of every call AMI sends one ``Cdr`` event. ``read_cdr``
turns one such event's fields into an ``OutboundCdr`` (the agent, when, whether
the customer answered, the talk time) or a ``Skip`` that says why not.

Which CDRs count: UserField ``outbound`` or DestinationContext
``callcenter-outbound``, from a phone's own channel (``PJSIP/1001-0000001a``).
The agent is the one whose phone that is (``phones``: interface → agent ID,
the shell's merge of the config and who is logged in where); a phone no agent
owns still counts, with ``agent_id`` None. A Local channel half is skipped:
it is one side of a chain whose real end is the phone's own CDR.

Times: ``StartEpoch`` / ``BillableFloat`` when Asterisk sends them
(asterisk-config/cdr_manager.conf maps ``CDR(start,u)`` and ``CDR(billsec,f)``
to those headers), else ``StartTime`` (a local-time string, read in ``tz``,
the PBX's zone; None = this machine's) and ``BillableSeconds``.

R-PRIVACY: a CDR carries the dialled number (Destination, LastData, Local
channel names); nothing here copies it into a result or a reason.

Pure: no I/O, no clock; a malformed event is a ``Skip(malformed=True)``,
never an exception.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Mapping

__all__ = ["DISPOSITIONS", "OUTBOUND_CONTEXT", "OUTBOUND_USERFIELD", "OutboundCdr", "Skip", "phone_of",
           "read_cdr"]

OUTBOUND_USERFIELD = "outbound"
OUTBOUND_CONTEXT = "callcenter-outbound"
# Asterisk's CDR dispositions; only ANSWERED is a connected call.
DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
_CHANNEL = re.compile(r"^(?P<phone>[A-Za-z0-9]+/[^;]+?)-[0-9a-fA-F]{8}$")  # PJSIP/1001-0000001a
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboundCdr:
    """One outbound attempt; the shell stores it as ``store.OutboundCall`` (kind "own")."""
    call_id: str  # the CDR's UniqueID (the phone's channel): the store is idempotent on it
    agent_id: str | None  # None: a phone no agent owns
    phone: str  # the interface, e.g. PJSIP/1001
    at: float  # epoch s, when the agent started dialling
    connected: bool  # the customer answered (Disposition ANSWERED)
    talk_s: float  # billable seconds (0 when not connected)
    disposition: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Skip:
    """Not counted: ``reason`` says why (no caller number in it); ``malformed``: the event was broken."""
    reason: str
    malformed: bool = False
    call_id: str = ""


def phone_of(channel: str) -> str | None:
    """``PJSIP/1001-0000001a`` → ``PJSIP/1001``; None for a Local channel or anything else."""
    if channel.startswith("Local/"):
        return None
    m = _CHANNEL.match(channel)
    return m["phone"] if m else None


def read_cdr(fields: Mapping[str, object], *, phones: Mapping[str, str],
             tz: tzinfo | None = None) -> OutboundCdr | Skip:
    """One AMI ``Cdr`` event's fields (header names in any case) → an outbound attempt, or why not."""
    f = {str(k).lower(): ("" if v is None else str(v)).strip() for k, v in fields.items()}
    call_id = f.get("uniqueid", "")
    outbound = (f.get("userfield", "").lower() == OUTBOUND_USERFIELD
                or f.get("destinationcontext") == OUTBOUND_CONTEXT)
    if not outbound:
        return Skip(reason="not an outbound call", call_id=call_id)
    if not call_id:
        return Skip(reason="UniqueID missing", malformed=True)
    channel = f.get("channel", "")
    if channel.startswith("Local/"):
        return Skip(reason="a Local channel half", call_id=call_id)
    phone = phone_of(channel)
    if phone is None:
        return Skip(reason=f"Channel is not a phone's channel: {_tech(channel)!r}", malformed=True,
                    call_id=call_id)
    disposition = f.get("disposition", "").upper()
    if disposition not in DISPOSITIONS:
        return Skip(reason=f"Disposition {f.get('disposition', '')!r} is not one of "
                           + ", ".join(sorted(DISPOSITIONS)), malformed=True, call_id=call_id)
    at = _start(f, tz)
    if isinstance(at, str):
        return Skip(reason=at, malformed=True, call_id=call_id)
    connected = disposition == "ANSWERED"
    talk_s = _talk(f) if connected else 0.0
    if isinstance(talk_s, str):
        return Skip(reason=talk_s, malformed=True, call_id=call_id)
    return OutboundCdr(call_id=call_id, agent_id=phones.get(phone), phone=phone, at=at, connected=connected,
                       talk_s=talk_s, disposition=disposition)


def _tech(channel: str) -> str:
    """Only the technology of a channel name (the rest may hold a number, R-PRIVACY)."""
    return channel.split("/", 1)[0] if "/" in channel else ("" if not channel else "?")


def _start(f: Mapping[str, str], tz: tzinfo | None) -> float | str:
    """The start as epoch s, or the reason it cannot be read."""
    epoch = f.get("startepoch", "")
    if epoch:
        value = _number(epoch)
        if value is None or value <= 0:
            return f"StartEpoch {epoch!r} is not an epoch time"
        return value
    text = f.get("starttime", "")
    try:
        start = datetime.strptime(text, _TIME_FORMAT)
    except ValueError:
        return f"StartTime {text!r} is not 'YYYY-MM-DD HH:MM:SS'"
    # tz None: the naive time is read as this machine's local time (DST included)
    return (start.replace(tzinfo=tz) if tz is not None else start).timestamp()


def _talk(f: Mapping[str, str]) -> float | str:
    exact = f.get("billablefloat", "")
    if exact:
        value = _number(exact)
        if value is None or value < 0:
            return f"BillableFloat {exact!r} is not a number of seconds"
        return value
    text = f.get("billableseconds", "")
    if not (text.isascii() and text.isdigit()):  # "²" is isdigit() but int() raises (issue 17)
        return f"BillableSeconds {text!r} is not a whole number of seconds"
    return float(int(text))


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
