"""Supervisors' shift swaps (R-LEAVE 换班) and excused lateness (R-SHIFT 第十一条), for the API (issue 18).

Mixed into ``DeskAdmin`` (so into ``flows.desk.CallbackDesk``), next to leave. Decisions are the core's
(``Roster.request_swap``, ``core.roster_rules``); each is logged: ``roster.swap_granted``,
``roster.swap_refused`` (with ``rules``, the keys of the broken rules), ``roster.swap_override`` (warning,
the supervisor and the rules overridden), ``roster.swap_cancelled``, ``attendance.excused``. Granted swaps
and excusals are written through the store's outbox (issue 17: never on the event loop, retried while the
database is away); the monthly attendance report reads the excusals from the store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Callable

import structlog

from ..api._errors import BadRequest, CommandRefused, NotFound
from ..core import callbacks as cb
from ..core.lateness import Excuse
from ..core.roster import RosterError, SwapEntry, agent_order, parse_day

if TYPE_CHECKING:
    from ..core.roster import Roster
    from ..store.base import Repository
    from ..store.outbox import WriteOutbox

__all__ = ["DUTY_RANGE_DAYS", "EXCUSE_PAST_DAYS", "RosterAdmin"]

EXCUSE_PAST_DAYS = 366  # an excusal is for a day at most this far back (and not after tomorrow, UTC)
# GET /roster/duty, POST /roster/leave and /roster/swap: a day at most this far from today (UTC); issue 17: the
# rota walks leave and swap days, keep them near
DUTY_RANGE_DAYS = 366

log = structlog.get_logger()


class RosterAdmin:
    roster: Roster
    store: Repository
    writes: WriteOutbox
    clock: Callable[[], float]

    if TYPE_CHECKING:  # CallbackDesk's
        def post(self, ev: cb.Event) -> None: ...

    # -- swaps ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _swap_view(e: SwapEntry) -> dict[str, Any]:
        return {"swap_id": e.swap_id, "agent_id": e.agent_id, "day": e.day.isoformat(), "shift": e.shift,
                "taker": e.taker, "overridden_by": e.overridden_by}

    def swap_list(self) -> list[dict[str, Any]]:
        entries = sorted(self.roster.swap_entries(), key=lambda e: (e.day, agent_order(e.agent_id), e.shift or ""))
        return [self._swap_view(e) for e in entries]

    def _near(self, d: date, what: str) -> None:
        """``d`` within ``DUTY_RANGE_DAYS`` of today (UTC), else BadRequest naming ``what``."""
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        if abs((d - today).days) > DUTY_RANGE_DAYS:
            raise BadRequest(f"{what}: must be within {DUTY_RANGE_DAYS} days of today ({today.isoformat()}), "
                             f"got {d.isoformat()}")

    def swap_add(self, agent_id: str, day: str | date, taker: str, *, shift: str | None = None,
                 back_day: str | date | None = None, back_shift: str | None = None, override_by: str | None = None,
                 by: str) -> dict[str, Any]:
        """``agent_id`` hands its shift on ``day`` to ``taker`` (with ``back_day``: and takes the taker's that day)."""
        for who in (agent_id, taker):
            if self.roster.find_team(who) is None:
                raise NotFound(f"unknown agent {who} (in no team of the callbacks roster)")
        try:
            d = parse_day(day)
            bd = None if back_day is None else parse_day(back_day, "back_day")
        except RosterError as e:
            raise BadRequest(str(e)) from None
        self._near(d, "day")
        if bd is not None:
            self._near(bd, "back_day")
        now = self.clock()
        swap_id = f"sw-{int(now * 1000)}-{agent_id}"
        try:
            decision = self.roster.request_swap(agent_id, d, taker, shift=shift, back_day=bd, back_shift=back_shift,
                                                now=now, override_by=override_by, swap_id=swap_id)
        except RosterError as e:
            raise BadRequest(str(e)) from None
        fields = dict(agent=agent_id, taker=taker, day=d.isoformat(), shift=shift,
                      back_day=bd.isoformat() if bd else None, by=by, rule="R-LEAVE")
        if not decision.granted:
            log.info("roster.swap_refused", **fields, reason=decision.reason, rules=list(decision.broken))
            raise CommandRefused(decision.reason)
        store, entries = self.store, list(decision.entries)
        self.writes.write("swap", lambda: store.add_swap(entries), now, key=("swap", decision.swap_id))
        self.post(cb.RosterChanged())  # the duty rota skips the giver at once (R-VM-RR)
        log.info("roster.swap_granted", **fields, swap_id=decision.swap_id, reason=decision.reason)
        if decision.overridden_by:
            log.warning("roster.swap_override", **fields, swap_id=decision.swap_id,
                        supervisor=decision.overridden_by, rules=list(decision.broken))
        return {"granted": True, "swap_id": decision.swap_id, "reason": decision.reason,
                "overridden_by": decision.overridden_by, "rules_overridden": list(decision.broken),
                "entries": [self._swap_view(e) for e in entries]}

    def swap_cancel(self, swap_id: str, *, by: str) -> dict[str, Any]:
        gone = self.roster.cancel_swap(swap_id)
        if not gone:
            raise NotFound(f"no swap {swap_id!r}")
        store = self.store
        self.writes.write("swap", lambda: store.remove_swap(swap_id), self.clock(), key=("swap", swap_id))
        self.post(cb.RosterChanged())
        log.info("roster.swap_cancelled", swap_id=swap_id, by=by, entries=len(gone), rule="R-LEAVE")
        return {"cancelled": [self._swap_view(e) for e in gone]}

    # -- excused lateness (R-SHIFT 第十一条) ------------------------------------------------------------------------
    def excuse_add(self, agent_id: str, day: str | date, reason: str, *, by: str) -> dict[str, Any]:
        """The agent's lateness and early leave that day are not counted (a disaster, a late shuttle bus)."""
        if self.roster.find_team(agent_id) is None:
            raise NotFound(f"unknown agent {agent_id} (in no team of the callbacks roster)")
        try:
            d = parse_day(day)
        except RosterError as e:
            raise BadRequest(str(e)) from None
        now = self.clock()
        today = datetime.fromtimestamp(now, UTC).date()
        if (d - today).days > 1 or (today - d).days > EXCUSE_PAST_DAYS:
            raise BadRequest(f"day: an excusal is for a day already worked, at most {EXCUSE_PAST_DAYS} days ago "
                             f"(today is {today.isoformat()}), got {d.isoformat()}")
        if not reason.strip():
            raise BadRequest("reason: must say why (e.g. 班车晚点, a late shuttle bus)")
        excuse = Excuse(agent_id=agent_id, day=d, reason=reason.strip(), by=by, at=now)
        store = self.store
        self.writes.write("excuse", lambda: store.add_excuse(excuse), now, key=("excuse", agent_id, d))
        log.info("attendance.excused", agent=agent_id, day=d.isoformat(), reason=excuse.reason, by=by,
                 rule="R-SHIFT")
        return {"agent_id": agent_id, "day": d.isoformat(), "reason": excuse.reason, "by": by, "at": now}
