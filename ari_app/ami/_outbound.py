"""``OutboundRecorder``: each AMI ``Cdr`` event → a stored outbound call and a ``call.outbound`` fact.

R-KPI outbound per day (日呼出量): agents' own ``9<number>`` calls never enter
Stasis; their CDR is the only trace. ``core.cdr.read_cdr`` decides what
counts and for which agent (``phones``: interface → agent ID, asked afresh for
each event, so an agent logged in at another phone is found there); this
shell stores it (``store.add_outbound``, idempotent on the CDR's UniqueID)
and publishes ``call.outbound`` without the dialled number (R-PRIVACY).

In the service the row goes through the store's outbox (``writes``, issue 17): written on the store's
thread, held and retried while the database is away, never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from ..config import AmiSettings
from ..core.cdr import OutboundCdr, read_cdr
from ..store.base import OutboundCall, Repository
from ..store.outbox import WriteOutbox
from ._link import AmiLink, ConnectFn

__all__ = ["OutboundRecorder", "outbound_link"]

log = structlog.get_logger()


class OutboundRecorder:
    def __init__(self, *, store: Repository, publish: Callable[[str, Mapping[str, Any]], None],
                 phones: Callable[[], Mapping[str, str]], tz: tzinfo | None = None,
                 writes: WriteOutbox | None = None, clock: Callable[[], float] = time.time) -> None:
        self._store, self._publish, self._phones, self._tz = store, publish, phones, tz
        self._writes, self._clock = writes, clock

    def __call__(self, fields: Mapping[str, Any]) -> OutboundCdr | None:
        result = read_cdr(fields, phones=self._phones(), tz=self._tz)
        if not isinstance(result, OutboundCdr):
            if result.malformed:
                log.warning("ami.cdr_malformed", reason=result.reason, cdr=result.call_id or None,
                            rule="R-KPI")
            elif result.reason != "not an outbound call":
                log.debug("ami.cdr_ignored", reason=result.reason, cdr=result.call_id)
            return None
        call = OutboundCall(call_id=result.call_id, agent_id=result.agent_id, at=result.at, kind="own",
                            connected=result.connected, talk_s=result.talk_s)
        store = self._store
        try:
            if self._writes is not None:  # idempotent on the CDR's id: a retry never counts a call twice
                self._writes.write("outbound", lambda: store.add_outbound(call), self._clock())
            else:
                store.add_outbound(call)
        except Exception as e:  # StoreError, a driver error: the call is over; the log says what is lost
            log.error("store.write_failed", what="outbound", cdr=result.call_id, error=str(e))
            return None
        self._publish("call.outbound", {"call_id": result.call_id, "agent": result.agent_id,
                                        "phone": result.phone, "at": result.at, "connected": result.connected,
                                        "talk_s": round(result.talk_s, 3), "disposition": result.disposition,
                                        "kind": "own", "rule": "R-KPI"})
        return result


def outbound_link(settings: AmiSettings, *, store: Repository,
                  publish: Callable[[str, Mapping[str, Any]], None], phones: Callable[[], Mapping[str, str]],
                  connect: ConnectFn | None = None, writes: WriteOutbox | None = None) -> AmiLink:
    """The service's AMI link: ``Cdr`` events → ``OutboundRecorder`` (R-KPI)."""
    tz = ZoneInfo(settings.timezone) if settings.timezone else None
    recorder = OutboundRecorder(store=store, publish=publish, phones=phones, tz=tz, writes=writes)
    return AmiLink(settings, {"Cdr": recorder}, classes=("cdr",), connect=connect)
