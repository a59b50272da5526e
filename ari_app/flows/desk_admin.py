"""Supervisors' view of the callbacks desk (API and CLI): tasks, leave, the duty rota.

Rules: R-VM / R-CB / R-SLA24 (the task list, close, reopen, reassign, follow-up lists),
R-VM-RR (the duty agent of a day), R-LEAVE (leave granted, refused, overridden — each logged:
``roster.leave_granted``, ``roster.leave_refused`` (with ``rules``: the seed's rules it broke, ``core.roster_rules``),
``roster.leave_override`` (the rules overridden), ``roster.leave_cancelled``; swaps and excusals: ``desk_roster``),
R-PRIVACY (caller numbers masked as in the logs unless ``reveal=True``; follow-up errors never
repeat a number).

Task changes go through the core's inbox (``command``/``post``: one owner, no locks); reads look at
``core.tasks`` directly (same event-loop thread). Leave is written through the store's outbox (issue 17:
on the store's thread, held and retried while the database is away); which entries the store holds is
kept in memory (``stored_leave``, read once), so no API request reads the database on the event loop. Refusals raise the API's errors:
``BadRequest`` (400), ``NotFound``/``UnknownAgent`` (404), ``CommandRefused`` (409, the core's message).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

import structlog

from ..api._errors import BadRequest, CommandRefused, NotFound
from ..core import callbacks as cb
from ..core.followup import parse_followup_csv
from ..core.roster import LeaveDecision, LeaveEntry, RosterError, agent_order, parse_day
from ..events.logging import mask_number
from ..store.base import StoreError
from .desk_roster import RosterAdmin

if TYPE_CHECKING:
    from ..core.roster import Roster
    from ..store.base import Repository
    from ..store.outbox import WriteOutbox

__all__ = ["CLOSED_LISTED", "DeskAdmin"]

CLOSED_LISTED = 1000  # GET /callbacks: at most this many closed tasks (the newest closed), read from the store
CLOSED_READ_S = 5.0  # ... within this time (the store's thread may be busy with writes to a database away)
_OPEN_STATES = {s.value for s in cb.OPEN_STATES}

log = structlog.get_logger()


class DeskAdmin(RosterAdmin):
    """Mixed into ``flows.desk.CallbackDesk``."""

    core: cb.Callbacks
    roster: Roster
    store: Repository
    store_io: Callable[..., Awaitable[Any]]  # CallbackDesk's: store reads on the store's thread
    writes: WriteOutbox
    clock: Callable[[], float]
    _stored_leave: set[tuple[str, date, str | None]] | None = None

    if TYPE_CHECKING:  # CallbackDesk's
        def post(self, ev: cb.Event) -> None: ...

        async def command(self, make: Callable[[str], cb.Event]) -> cb.CallbackCommandResult: ...

    # -- tasks (R-VM, R-CB, R-SLA24) ----------------------------------------------------------------------
    async def list_tasks(self, *, state: str | None = None, agent: str | None = None, team: str | None = None,
                         open_only: bool = False, reveal: bool = False) -> list[dict[str, Any]]:
        """``task_list`` with the closed tasks too, read from the store (issue 17: the core keeps open ones only;
        the newest ``CLOSED_LISTED`` closed tasks)."""
        self.task_list(state=state, team=team, open_only=True)  # bad input: refused before the store is asked
        closed: list[cb.CallbackTask] = []
        if not open_only and state not in _OPEN_STATES:
            try:
                async with asyncio.timeout(CLOSED_READ_S):
                    closed = await self.store_io(self.store.closed_tasks, CLOSED_LISTED)
            except (StoreError, TimeoutError) as e:  # the open tasks need no store: say how to get them
                log.warning("callback.closed_unavailable", error=str(e) or type(e).__name__)
                raise CommandRefused("closed tasks cannot be read now: the store is unavailable; the open "
                                     "ones are listed with open=1") from None
        return self.task_list(state=state, agent=agent, team=team, open_only=open_only, reveal=reveal,
                              closed=closed)

    def task_list(self, *, state: str | None = None, agent: str | None = None, team: str | None = None,
                  open_only: bool = False, reveal: bool = False, closed: Iterable[cb.CallbackTask] = ()
                  ) -> list[dict[str, Any]]:
        """JSON-ready tasks, oldest first; caller numbers masked unless ``reveal`` (R-PRIVACY). The core's
        (open) tasks, and ``closed`` ones (the store's) the core does not hold."""
        if state is not None and state not in {s.value for s in cb.TaskState}:
            raise BadRequest(f"state: must be one of {', '.join(s.value for s in cb.TaskState)}, got {state!r}")
        if team is not None and team not in self.roster.teams:
            raise NotFound(f"unknown team {team!r}")
        now = self.clock()
        out = []
        held = dict(self.core.tasks)
        every = list(held.values()) + [t for t in closed if t.task_id not in held]
        for t in sorted(every, key=lambda t: (t.created_at, t.task_id)):
            if ((state is not None and t.state.value != state) or (agent is not None and t.assigned != agent)
                    or (team is not None and t.team != team) or (open_only and not t.is_open)):
                continue
            out.append(self._task_view(t, now, reveal))
        return out

    @staticmethod
    def _task_view(t: cb.CallbackTask, now: float, reveal: bool) -> dict[str, Any]:
        return {
            "id": t.task_id, "kind": t.kind, "queue": t.queue, "team": t.team, "state": t.state.value,
            "assigned": t.assigned, "caller": t.caller if reveal else mask_number(t.caller),
            "created_at": t.created_at, "deadline": t.deadline, "overdue": t.is_open and now >= t.deadline,
            "attempts": [{"at": a.at, "agent": a.agent_id, "outcome": str(a.outcome)} for a in t.attempts],
            "tries": t.tries, "next_attempt_at": t.next_attempt_at, "closed_at": t.closed_at,
            "closed_by": t.closed_by, "reassigned_by": t.reassigned_by, "note": t.note, "recording": t.recording,
        }

    async def task_close(self, task_id: str, by: str) -> dict[str, Any]:
        await self._forgotten(task_id, "close")
        return await self._task_command(task_id, lambda rid: cb.CloseTask(task_id=task_id, by=by, request_id=rid))

    async def task_reopen(self, task_id: str, by: str) -> dict[str, Any]:
        stored = await self._forgotten(task_id, "reopen")
        return await self._task_command(task_id, lambda rid: cb.ReopenTask(task_id=task_id, by=by, request_id=rid,
                                                                           stored=stored), stored)

    async def task_reassign(self, task_id: str, agent_id: str, by: str) -> dict[str, Any]:
        if task_id in self.core.tasks and self.roster.find_team(agent_id) is None:
            raise NotFound(f"unknown agent {agent_id} (in no team of the callbacks roster)")
        await self._forgotten(task_id, "reassign")
        return await self._task_command(
            task_id, lambda rid: cb.ReassignTask(task_id=task_id, agent_id=agent_id, by=by, request_id=rid))

    async def _forgotten(self, task_id: str, command: str) -> cb.CallbackTask | None:
        """A closed task the core no longer holds (issue 17), read from the store: close and reassign are refused
        as the core refuses them; reopen gets the store's copy, unless retention erased its number and audio."""
        if task_id in self.core.tasks:
            return None
        stored = await self.store_io(self.store.task, task_id)
        if stored is None or stored.is_open:  # unknown, or open and on its way to the core: the core answers
            return None
        if command != "reopen":
            raise CommandRefused(f"callback {task_id}: cannot {command} while {stored.state.value}")
        if not stored.caller and not stored.recording:
            raise CommandRefused(f"callback {task_id}: its caller number and voicemail were erased after the "
                                 "retention period (R-PRIVACY); nothing to call back")
        return stored

    async def check_now(self, team: str | None, by: str) -> dict[str, Any]:
        """R-VM-CHECK now (a supervisor, the demo): ``{"team", "message"}``; the message names who is called."""
        if team is not None and team not in self.roster.teams:
            raise NotFound(f"unknown team {team!r}")
        result = await self.command(lambda rid: cb.CheckNow(team=team, by=by, request_id=rid))
        if not result.ok:
            raise CommandRefused(result.message)
        return {"team": team, "message": result.message}

    async def _task_command(self, task_id: str, make: Callable[[str], cb.Event],
                            stored: cb.CallbackTask | None = None) -> dict[str, Any]:
        task = self.core.tasks.get(task_id, stored)
        if task is None:
            raise NotFound(f"unknown callback task {task_id!r}")
        result = await self.command(make)
        if not result.ok:
            raise CommandRefused(result.message)
        # the core changes the task in place; a task it closed may have left its memory already (forget_closed)
        return self._task_view(self.core.tasks.get(task_id, task), self.clock(), False)

    # -- R-CB: follow-up lists (回访) -----------------------------------------------------------------------
    def followups_import(self, csv_text: str, team: str, *, by: str) -> dict[str, Any]:
        """Parse a ``number,note`` CSV and hand its rows to the core as tasks of ``team``.

        Returns ``{"team", "imported", "task_ids", "errors"}``; errors name lines, never numbers."""
        if team not in self.roster.teams:
            raise NotFound(f"unknown team {team!r}")
        rows, errors = parse_followup_csv(csv_text)
        if not rows:
            raise BadRequest("csv: nothing to import: " + ("; ".join(errors) if errors else "no rows"))
        ms = max(int(self.clock() * 1000), getattr(self, "_followup_ms", 0) + 1)  # ids never repeat
        self._followup_ms = ms
        task_ids = [f"fu-{ms}-{n}" for n in range(1, len(rows) + 1)]
        self.post(cb.FollowupImported(team=team, tasks=tuple(
            cb.FollowupRow(task_id=i, number=r.number, note=r.note) for i, r in zip(task_ids, rows))))
        log.info("callback.followups_import", team=team, by=by, rows=len(rows), errors=len(errors), rule="R-CB")
        return {"team": team, "imported": len(rows), "task_ids": task_ids, "errors": errors}

    # -- R-LEAVE ----------------------------------------------------------------------------------------------
    def leave_list(self) -> list[dict[str, Any]]:
        """Every leave entry the roster holds: ``source`` is ``api`` (kept in the store) or ``roster_file``."""
        stored = self.stored_leave
        entries = sorted(self.roster.leave_entries(), key=lambda e: (e.day, agent_order(e.agent_id), e.shift or ""))
        return [self._leave_view(e, "api" if (e.agent_id, e.day, e.shift) in stored else "roster_file")
                for e in entries]

    def remember_stored_leave(self, entries: Iterable[LeaveEntry]) -> None:
        """The store's leave entries, as read at start-up (the service reads them once, for the roster too)."""
        self._stored_leave = {(e.agent_id, e.day, e.shift) for e in entries}

    @property
    def stored_leave(self) -> set[tuple[str, date, str | None]]:
        """(agent, day, shift) of every leave entry recorded through the API (the store's), read once."""
        if self._stored_leave is None:
            self._stored_leave = {(e.agent_id, e.day, e.shift) for e in self.store.leave()}
        return self._stored_leave

    def _leave_view(self, e: LeaveEntry, source: str) -> dict[str, Any]:
        return {"agent_id": e.agent_id, "team": self.roster.find_team(e.agent_id), "day": e.day.isoformat(),
                "shift": e.shift, "kind": e.kind, "overridden_by": e.overridden_by, "source": source}

    def _leave_input(self, agent_id: str, day: str | date, shift: str | None) -> tuple[str, date]:
        team = self.roster.find_team(agent_id)
        if team is None:
            raise NotFound(f"unknown agent {agent_id} (in no team of the callbacks roster)")
        try:
            d = parse_day(day)
            if shift is not None:
                self.roster.team(team).shift(shift)
        except RosterError as e:
            raise BadRequest(str(e)) from None
        return team, d

    def leave_add(self, agent_id: str, day: str | date, shift: str | None = None, override_by: str | None = None,
                  *, by: str, kind: str = "personal") -> dict[str, Any]:
        """R-LEAVE: grant (and persist) or refuse by the seed's rules (``core.roster_rules``, judged at the clock's
        now); ``override_by`` (a supervisor) lifts them, logged with the rules overridden."""
        team, d = self._leave_input(agent_id, day, shift)
        self._near(d, "day")  # issue 17: the rota walks leave days; keep them near
        try:
            decision = self.roster.request_leave(agent_id, d, shift=shift, override_by=override_by, kind=kind,
                                                 now=self.clock())
        except RosterError as e:
            raise BadRequest(str(e)) from None
        fields = dict(agent=agent_id, team=team, day=d.isoformat(), shift=shift, kind=kind, by=by, rule="R-LEAVE")
        if not decision.granted:
            log.info("roster.leave_refused", **fields, reason=decision.reason, conflicts=list(decision.conflicts),
                     rules=list(decision.broken))
            raise CommandRefused(decision.reason)
        if decision.reason != "already on leave":
            self._store_leave(decision)
            self.post(cb.RosterChanged())  # duty and tasks move at once (R-VM-RR)
        log.info("roster.leave_granted", **fields, reason=decision.reason)
        if decision.overridden_by:
            log.warning("roster.leave_override", **fields, supervisor=decision.overridden_by,
                        conflicts=list(decision.conflicts), rules=list(decision.broken))
        return {"granted": True, "agent_id": agent_id, "team": team, "day": d.isoformat(), "shift": shift,
                "kind": kind, "reason": decision.reason, "overridden_by": decision.overridden_by,
                "conflicts": list(decision.conflicts), "rules_overridden": list(decision.broken)}

    def _store_leave(self, decision: LeaveDecision) -> None:
        entry = LeaveEntry(agent_id=decision.agent_id, day=decision.day, shift=decision.shift,
                           overridden_by=decision.overridden_by, kind=decision.kind)
        stored = self.stored_leave
        if entry.shift is None:  # a whole day replaces the agent's single-shift entries (as the roster does)
            for agent, day, shift in sorted(stored, key=str):
                if agent == entry.agent_id and day == entry.day and shift is not None:
                    self._remove_stored_leave(agent, day, shift)
        store = self.store
        self.writes.write("leave", lambda: store.add_leave(entry), self.clock(),
                          key=("leave", entry.agent_id, entry.day, entry.shift))
        stored.add((entry.agent_id, entry.day, entry.shift))

    def _remove_stored_leave(self, agent_id: str, day: date, shift: str | None) -> None:
        store = self.store
        self.writes.write("leave", lambda: store.remove_leave(agent_id, day, shift), self.clock(),
                          key=("leave", agent_id, day, shift))
        self.stored_leave.discard((agent_id, day, shift))

    def leave_cancel(self, agent_id: str, day: str | date, shift: str | None = None, *, by: str
                     ) -> dict[str, Any]:
        """Remove the agent's leave that day (``shift=None``: all of it), from the roster and the store."""
        team, d = self._leave_input(agent_id, day, shift)
        stored = set(self.stored_leave)
        gone = [e for e in self.roster.leave_entries()
                if e.agent_id == agent_id and e.day == d and (shift is None or e.shift == shift)]
        if not gone or not self.roster.cancel_leave(agent_id, d, shift=shift):
            where = f" in shift {shift!r}" if shift is not None else ""
            raise NotFound(f"agent {agent_id} has no leave on {d.isoformat()}{where}")
        for e in gone:
            if (e.agent_id, e.day, e.shift) in stored:
                self._remove_stored_leave(e.agent_id, e.day, e.shift)
        self.post(cb.RosterChanged())
        views = [self._leave_view(e, "api" if (e.agent_id, e.day, e.shift) in stored else "roster_file")
                 for e in gone]
        log.info("roster.leave_cancelled", agent=agent_id, team=team, day=d.isoformat(), shift=shift, by=by,
                 entries=len(gone), rule="R-LEAVE")
        if any(v["source"] == "roster_file" for v in views):
            log.warning("roster.leave_cancelled_until_restart", agent=agent_id, day=d.isoformat(),
                        hint="the entry is in the roster file: remove it there too")
        return {"cancelled": views}

    # -- R-VM-RR: the duty rota -------------------------------------------------------------------------------
    def duty(self, day: str | date | None = None) -> dict[str, Any]:
        """Per team: the duty agent of ``day`` (default: the team's current duty day), a preview."""
        try:
            wanted = None if day is None else parse_day(day)
        except RosterError as e:
            raise BadRequest(str(e)) from None
        if wanted is not None:
            self._near(wanted, "day")  # issue 17: a bounded preview
        now = self.clock()
        mode = self.core.rules.mode
        teams: dict[str, dict[str, Any]] = {}
        for team in self.roster.teams:
            d = wanted if wanted is not None else self.roster.duty_day(team, now)
            working = d is not None and self.roster.works_on(team, d)
            agent = self.core.duty_agent(team, d) if working and mode == "duty" and d is not None else None
            teams[team] = {"day": d.isoformat() if d else None, "working": working, "agent": agent,
                           "on_leave": [e.agent_id for e in self.roster.leave_on(team, d)] if d else []}
        return {"mode": mode, "teams": teams}
