"""The callbacks desk: the callbacks core's task, its store, and voicemails kept in step with Asterisk.

Rules: R-VM (a voicemail becomes a persisted task; nothing lost across restarts), R-VM-RR, R-LEAVE (the
roster the core reads; leave recorded through the API joins it at start and at once),
R-VM-CHECK, R-CB, R-SLA24 (decided by ``core/callbacks.py``), carried out here and by the flows
``flows/voicemail.py`` (taking a message) and ``flows/callback.py`` (the duty agent's call).

* One task owns ``core.callbacks.Callbacks``: events come through ``post()``; one timer is armed
  at ``get_timer()``; after every step the changed tasks and the rota pointer are written to the
  store (``save_tasks``, ``save_rota``) before anything else happens.
* ``reconcile()`` runs at every ARI (re)connect, after resync: it makes the store and
  ``GET /recordings/stored`` agree —
  - an intake whose recording is stored becomes a task (the service died before the commit);
    one with no recording is dropped; one still being recorded is looked at again shortly;
  - a stored ``callcenter/<id>`` with neither task nor intake (an orphan: a new or restored store, another
    instance) is never deleted: it becomes an open task, caller unknown, and an alert (issue 17);
  - each ``callcenter-fallback/<queue>_<epoch>_<digits>_<uniqueid>`` recorded by the dialplan
    while the service was down is copied to ``callcenter/fb-<uniqueid>``, committed as a task
    (its id derived from the uniqueid, so a crash half-way repeats nothing), then deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from typing import Any, Callable, Awaitable, Coroutine

import structlog

from .. import faults
from ..ari import AriClient, AriError, AriConflict
from ..core import callbacks as cb
from ..core.acd import Publish
from ..core.roster import Roster
from ..events.logging import mask_digit_runs
from ..store.base import Repository, StoreError, VoicemailIntake
from ..store.outbox import WriteOutbox
from ..store.worker import inline
from .callback import DutyCall
from .desk_admin import DeskAdmin
from .inbound import CallCommand

__all__ = ["CallbackDesk", "DeskTimeout", "FALLBACK_DIR", "TASK_DIR"]

log = structlog.get_logger()

TASK_DIR = "callcenter"  # stored recordings of tasks: callcenter/<task id>
FALLBACK_DIR = "callcenter-fallback"  # the dialplan's voicemails while the service was down
_FALLBACK = re.compile(r"^(?P<queue>[A-Za-z0-9_-]+?)_(?P<epoch>\d+)_(?P<digits>\d*)_(?P<uid>[0-9.]+)$")
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # what the API takes as a task id (api TASK_ID)
_VM_ID = re.compile(r"^vm-(?P<ms>\d{10,16})-")
ORPHAN_NOTE = ("orphan voicemail: found in Asterisk with no task in the store (a new or restored store, or "
               "another instance); the caller's number is unknown: listen to the message first")
RECONCILE_RETRY_S = 3.0


class DeskTimeout(TimeoutError):
    """The callbacks core did not answer a command in time (the API answers 504 with this message)."""


class CallbackDesk(DeskAdmin):
    COMMAND_TIMEOUT_S = 8.0  # below the API's own command timeout (10 s), so this clearer error comes first

    def __init__(self, *, rules: cb.CallbackRules, roster: Roster, store: Repository, ari: AriClient, app: str,
                 publish: Callable[[str, dict[str, Any]], None], dispatch: Callable[[Any], None],
                 register: Callable[[str, Any], None], agent_interface: Callable[[str], str | None],
                 hold_agent: Callable[[str], Awaitable[bool]], release_agent: Callable[[str], None],
                 agent_busy: Callable[[str], bool], trunk: Any, keys: Any,
                 clock: Callable[[], float] = time.time, writes: WriteOutbox | None = None,
                 store_io: Callable[..., Awaitable[Any]] = inline) -> None:
        self.rules, self.roster, self.store, self.ari, self.app = rules, roster, store, ari, app
        self.publish, self.dispatch, self.register = publish, dispatch, register
        self.agent_interface, self.hold_agent, self.release_agent = agent_interface, hold_agent, release_agent
        self.agent_busy = agent_busy
        self.trunk, self.keys, self.clock = trunk, keys, clock
        self.writes = writes if writes is not None else WriteOutbox()  # the service shares its own (app.py)
        self.store_io = store_io  # issue 17: reads at run time on the store's thread (app.py's StoreThread.call)
        now = clock()
        self.core = cb.Callbacks(rules, roster, now=now, tasks=store.tasks(open_only=True),  # issue 17: memory
                                 rota=store.load_rota())  # holds open tasks only (closed: read from the store)
        self.inbox: asyncio.Queue[cb.Event] = asyncio.Queue()
        self.duty_calls: dict[str, DutyCall] = {}  # agent -> its running callback call
        self.recording_now: set[str] = set()  # task ids of intakes a voicemail flow of ours is recording
        self.held_recordings: set[str] = set()  # recordings whose task waits in the outbox for the store
        self._requests: dict[str, asyncio.Future[cb.CallbackCommandResult]] = {}
        self._seq = 0
        self._reconciling = False
        self._background: set[asyncio.Task[None]] = set()  # issue 17: reconciles run as tracked tasks
        self._retry: asyncio.TimerHandle | None = None
        self.post(cb.RosterChanged())  # tasks left unassigned by a crash get their agent at once

    # -- the core's task -------------------------------------------------------------------------------
    def post(self, ev: cb.Event) -> None:
        self.inbox.put_nowait(ev)

    async def run(self) -> None:
        self._persist()  # tasks the core changed on load (a call cut off by a restart goes back to open)
        try:
            while True:
                deadline = self.core.get_timer()
                try:
                    async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self.clock())):
                        ev = await self.inbox.get()
                except TimeoutError:
                    await self._step(lambda: self.core.handle_timer(max(deadline or 0.0, self.clock())))
                else:
                    await self._step(lambda: self.core.handle(ev, self.clock()))
        finally:
            self._stop_background()

    # -- issue 17: background work is tracked, its failures logged, and stopped with the desk -------------
    def reconcile_soon(self) -> None:
        """Run ``reconcile`` as a tracked task (at an ARI (re)connect, and its retries)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._spawn(self.reconcile(), "voicemail-reconcile")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._reaped)

    def _reaped(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            log.error("callback.background_failed", task=task.get_name(), error=repr(e), exc_info=e)

    def _stop_background(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for task in list(self._background):
            task.cancel()

    async def _step(self, step: Callable[[], list[cb.Action]]) -> None:
        try:
            actions = step()
        except cb.CallbackError as e:
            log.error("callback.error", error=str(e))
            return
        except Exception:  # a bug in the core must not stop callbacks for good
            log.exception("callback.core_error")
            return
        if any(isinstance(a, Publish) and a.event == "callback.assigned" for a in actions):
            faults.hit("cb.assign")
        self._persist()
        for action in actions:
            try:
                await self._act(action)
            except Exception:  # issue 17: one failing action never stops the callbacks core's task
                log.exception("callback.action_error", action=type(action).__name__)

    def _persist(self) -> None:
        """The tasks the core changed and the rota pointer, through the outbox (issue 7): a store that is away
        holds them, each task's and the rota's latest state, until it is back; drained changes are not lost."""
        now, store = self.clock(), self.store
        for task in self.core.drain_changed():
            self.writes.write("callback_task", lambda t=task: store.save_tasks([t]), now,  # type: ignore[misc]
                              key=("callback_task", task.task_id), then=None if task.is_open else self._forget(task))
        rota = self.core.rota_state()
        self.writes.write("rota", lambda: store.save_rota(rota), now, key=("rota",))

    def _forget(self, task: cb.CallbackTask) -> Callable[[Any], None]:
        """Issue 17: a closed task leaves the core's memory once its write has landed (reads go to the store)."""
        return lambda _result: self.core.forget_closed([task.task_id])

    async def _act(self, action: cb.Action) -> None:
        match action:
            case Publish(event=name, fields=fields):
                self.publish(name, dict(fields))
                if name == "callback.place_turn_ignored":  # the ACD set the agent aside for nothing
                    self.release_agent(str(fields.get("agent")))
            case cb.CallDutyAgent():
                await self._call_agent(action)
            case cb.DialCustomer() | cb.EndDutyCall():
                call = self.duty_calls.get(action.agent_id)
                if call is not None:
                    self.dispatch(CallCommand(call.call_id, action))  # type: ignore[arg-type]
                elif isinstance(action, cb.DialCustomer):  # the call is gone: the task goes back to open
                    self.post(cb.DutyCallEnded(agent_id=action.agent_id, reason="call_gone"))
            case cb.CallbackCommandResult():
                future = self._requests.get(action.request_id or "")
                if future is not None and not future.done():
                    future.set_result(action)

    async def _call_agent(self, action: cb.CallDutyAgent) -> None:
        agent = action.agent_id
        interface = self.agent_interface(agent)
        if agent in self.duty_calls or interface is None or not await self.hold_agent(agent):
            log.info("callback.agent_busy", agent=agent, reason=action.reason, rule="R-VM-CHECK")
            self.post(cb.DutyCallEnded(agent_id=agent, reason="busy"))
            return
        call_id = f"cb-{agent}-{int(self.clock() * 1000)}"
        call = DutyCall(call_id, ari=self.ari, app=self.app, agent_id=agent, interface=interface,
                        task_count=len(action.task_ids), report=self._from_call, trunk=self.trunk,
                        wrong_number_key=self.keys.callback_wrong_number, skip_key=self.keys.callback_skip,
                        clock=self.clock, dial_patterns=self.rules.dial_patterns, publish=self.publish)
        self.duty_calls[agent] = call
        self.register(call_id, call)  # before the originate: its first events route to it
        log.info("callback.calling_agent", team=action.team, agent=agent, tasks=list(action.task_ids), reason=action.reason,
                 rule="R-VM-CHECK")
        await call.dial()

    def _from_call(self, ev: cb.Event) -> None:
        self.post(ev)
        if isinstance(ev, cb.DutyCallEnded):
            call = self.duty_calls.pop(ev.agent_id, None)
            if call is not None:
                self.release_agent(ev.agent_id)
            if call is not None and call.answered and not self.agent_busy(ev.agent_id):
                # the agent is free again: a check missed while this call ran (a retry) runs now
                self.post(cb.AgentPresence(agent_id=ev.agent_id, busy=False))

    def lost_calls(self) -> None:
        """ARI reconnected: every callback call we had is gone (resync hangs up what is left)."""
        for call in list(self.duty_calls.values()):
            call.lost()

    # -- R-VM: voicemails (flows/voicemail.py) -------------------------------------------------------------
    def team_of(self, queue: str) -> str | None:
        team = self.rules.queue_teams.get(queue) or queue
        return team if team in self.roster.teams else None

    def new_intake(self, caller: str, queue: str) -> VoicemailIntake:
        task_id = f"vm-{int(self.clock() * 1000)}-{secrets.token_hex(3)}"
        return VoicemailIntake(task_id=task_id, caller=caller, queue=queue, recording=f"{TASK_DIR}/{task_id}",
                               started_at=self.clock(), team=self.team_of(queue))

    def intake_started(self, intake: VoicemailIntake) -> None:
        self.recording_now.add(intake.task_id)
        store = self.store  # issue 17: through the outbox, before the task's commit (in order, retried)
        self.writes.write("voicemail_intake", lambda: store.add_intake(intake), self.clock(),
                          key=("voicemail_intake", intake.task_id))

    def voicemail_abandoned(self, intake: VoicemailIntake) -> None:
        self.recording_now.discard(intake.task_id)

    async def voicemail_recorded(self, intake: VoicemailIntake, *, keep: bool = True) -> bool:
        """The recording ended: commit the task with its audio, or drop the intake when nothing was stored.

        ``keep=False``: the caller said nothing (silence only): the recording is deleted, no task."""
        try:
            if not keep:
                log.info("voicemail.silent", task_id=intake.task_id, rule="R-VM")
                try:
                    await self.ari.delete_stored_recording(intake.recording)
                except AriError:
                    pass  # not stored, or Asterisk away: reconcile makes it an orphan task later
                self._drop_intake(intake.task_id)
                return False
            return await self._settle(intake)
        finally:
            self.recording_now.discard(intake.task_id)

    async def _settle(self, intake: VoicemailIntake, *, created_at: float | None = None) -> bool:
        try:
            stored = await self.ari.stored_recording_exists(intake.recording)
        except AriError as e:
            log.warning("voicemail.check_failed", task_id=intake.task_id, error=str(e))
            return False  # left as an intake: the next reconcile settles it
        if not stored:
            log.info("voicemail.empty", task_id=intake.task_id, rule="R-VM")
            self._drop_intake(intake.task_id)
            return False
        return self._commit(intake, created_at=created_at)

    def _commit(self, intake: VoicemailIntake, *, created_at: float | None = None,
                not_before: float | None = None, note: str = "") -> bool:
        created = intake.started_at if created_at is None else created_at
        team = intake.team or self.team_of(intake.queue)
        if team is None:
            log.error("voicemail.no_team", task_id=intake.task_id, queue=intake.queue, rule="R-VM")
            return False
        task = cb.CallbackTask(task_id=intake.task_id, caller=intake.caller, queue=intake.queue, team=team,
                               recording=intake.recording, created_at=created,
                               deadline=created + self.rules.deadline_s, kind=intake.kind,
                               next_attempt_at=not_before, note=note)
        faults.hit("vm.before_commit")
        # issue 7/17: through the outbox (on the store's thread in the service; held and retried while the store
        # is away); until it lands, reconcile must not take its recording for an orphan
        self.held_recordings.add(task.recording)
        store = self.store

        def committed(inserted: bool) -> None:
            faults.hit("vm.after_commit")
            self._committed(task, inserted, created, not_before)

        self.writes.write("voicemail_task", lambda: store.commit_task(task), self.clock(),
                          key=("voicemail_task", task.task_id), then=committed)
        return True

    def _committed(self, task: cb.CallbackTask, inserted: bool, created: float, not_before: float | None) -> None:
        self.held_recordings.discard(task.recording)
        log.info("voicemail.committed", task_id=task.task_id, queue=task.queue, team=task.team, new=inserted,
                 rule="R-VM")
        left = cb.VoicemailLeft(task_id=task.task_id, caller=task.caller, queue=task.queue,
                                recording=task.recording, created_at=created, team=task.team, kind=task.kind,
                                note=task.note, not_before=not_before)
        if not inserted and task.task_id not in self.core.tasks:  # stored before: closed ones are not in memory
            self._spawn(self._post_unless_closed(left), "voicemail-recommitted")
        else:
            self.post(left)

    async def _post_unless_closed(self, left: cb.VoicemailLeft) -> None:
        """Issue 17: a task already stored and closed (so no longer in the core's memory) is not made anew."""
        try:
            stored = await self.store_io(self.store.task, left.task_id)
        except StoreError:
            stored = None
        if stored is not None and not stored.is_open:
            log.info("voicemail.already_closed", task_id=left.task_id, state=stored.state.value, rule="R-VM")
            return
        self.post(left)

    def _drop_intake(self, task_id: str) -> None:
        store = self.store  # in place of its add_intake, should that still be held
        self.writes.write("voicemail_intake", lambda: store.drop_intake(task_id), self.clock(),
                          key=("voicemail_intake", task_id))

    # -- R-CB keep my place ----------------------------------------------------------------------------------
    def keep_place(self, call_id: str, caller: str, queue: str, estimate_s: float) -> None:
        """The caller chose a callback and keeps their place: a task now, called when the place is reached.

        Should the place be lost (a restart: it lives in the ACD only), the task is still called back by
        the checks after twice the expected wait (at least 5 minutes)."""
        now = self.clock()
        task_id = "kp-" + call_id.replace(".", "-")
        intake = VoicemailIntake(task_id=task_id, caller=caller, queue=queue, recording="", started_at=now,
                                 kind="keep_place", team=self.team_of(queue))
        self._commit(intake, not_before=now + max(300.0, 2 * estimate_s))

    def place_reached(self, call_id: str, agent_id: str) -> None:
        self.post(cb.PlaceTurn(task_id="kp-" + call_id.replace(".", "-"), agent_id=agent_id))

    # -- R-VM: the store and Asterisk agree ----------------------------------------------------------------
    async def reconcile(self) -> None:
        if self._reconciling:
            return
        self._reconciling = True
        try:
            again = await self._reconcile_once()
        except (AriError, StoreError) as e:
            log.warning("voicemail.reconcile_failed", error=mask_digit_runs(str(e)))  # a fallback's path names digits
            again = True
        finally:
            self._reconciling = False
        if again and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(RECONCILE_RETRY_S, self.reconcile_soon)

    async def _reconcile_once(self) -> bool:
        stored = set(await self.ari.stored_recordings())
        again = False
        counts = {"from_intake": 0, "intake_dropped": 0, "fallback_imported": 0, "orphans_imported": 0}
        for intake in await self.store_io(self.store.intakes):
            if intake.task_id in self.recording_now:
                continue
            if await self.ari.live_recording_exists(intake.recording):
                again = True  # still being recorded (a caller cut off from a dead service): look again
                continue
            if intake.recording in stored:
                if self._commit(intake):
                    counts["from_intake"] += 1
            else:
                self._drop_intake(intake.task_id)
                counts["intake_dropped"] += 1
        for name in sorted(n for n in stored if n.startswith(f"{FALLBACK_DIR}/")):
            if await self._import_fallback(name, stored):
                counts["fallback_imported"] += 1
        stored = set(await self.ari.stored_recordings())
        known = (await self.store_io(self.store.task_recordings)
                 | {i.recording for i in await self.store_io(self.store.intakes)} | self.held_recordings
                 | {f"{TASK_DIR}/{i}" for n in stored if (i := _fallback_task_id(n))})  # a fallback kept for later
        for name in sorted(stored):
            if name.startswith(f"{TASK_DIR}/") and name not in known:
                if await self.ari.live_recording_exists(name):
                    again = True  # another instance is recording it now: look again
                elif self._import_orphan(name):
                    counts["orphans_imported"] += 1
        log.info("voicemail.reconciled", **counts, stored=len(stored), rule="R-VM")
        return again

    def _import_orphan(self, name: str) -> bool:
        """Issue 17: a stored voicemail no task or intake accounts for (a new, switched or restored store, a
        second instance on this PBX) is never deleted: it becomes an open task of the first team for its duty
        agent, caller unknown, its note saying "orphan voicemail" (the agent listens first), and an alert
        ``voicemail.orphan_imported``. Only retention or an agent closing it ends it."""
        base = name[len(TASK_DIR) + 1:]
        task_id = base if _TASK_ID.match(base) else "orphan-" + hashlib.sha256(base.encode()).hexdigest()[:16]
        m = _VM_ID.match(base)
        now = self.clock()
        created = min(now, int(m["ms"]) / 1000) if m else now  # vm-<ms>-…: when it was left
        team = next(iter(self.roster.teams), None)
        if team is None:
            log.error("voicemail.orphan_kept", recording=name, reason="no team", rule="R-VM")
            return False
        intake = VoicemailIntake(task_id=task_id, caller="", queue=team, recording=name, started_at=created,
                                 team=team)
        if not self._commit(intake, note=ORPHAN_NOTE):
            return False
        self.publish("voicemail.orphan_imported", {"task_id": task_id, "recording": name, "team": team,
                                                   "created_at": created, "rule": "R-VM"})
        return True

    async def _import_fallback(self, name: str, stored: set[str]) -> bool:
        m = _FALLBACK.match(name[len(FALLBACK_DIR) + 1:])
        task_id = _fallback_task_id(name)
        if m is None or task_id is None:
            log.warning("voicemail.fallback_unreadable", recording=mask_digit_runs(name))
            return False
        target = f"{TASK_DIR}/{task_id}"
        if await self.store_io(self.store.task, task_id) is None:
            if target not in stored:
                try:
                    await self.ari.copy_stored_recording(name, target)
                except AriConflict:
                    pass  # copied before a crash
            intake = VoicemailIntake(task_id=task_id, caller=m["digits"], queue=m["queue"], recording=target,
                                     started_at=float(m["epoch"]), team=self.team_of(m["queue"]))
            if not self._commit(intake):
                return False
            log.info("voicemail.fallback_imported", task_id=task_id, queue=m["queue"], rule="R-VM")
        await self.ari.delete_stored_recording(name)
        return True

    # -- supervisors (API) ------------------------------------------------------------------------------------
    async def command(self, make: Callable[[str], cb.Event]) -> cb.CallbackCommandResult:
        """Hand a command to the core and wait for its answer, at most ``COMMAND_TIMEOUT_S`` (issue 17: a core
        that is stuck or gone answers the caller with a clear ``DeskTimeout``, not a wait for ever)."""
        self._seq += 1
        request_id = f"cb-api-{self._seq}"
        future: asyncio.Future[cb.CallbackCommandResult] = asyncio.get_running_loop().create_future()
        self._requests[request_id] = future
        ev = make(request_id)
        self.post(ev)
        try:
            async with asyncio.timeout(self.COMMAND_TIMEOUT_S):
                return await future
        except TimeoutError:
            log.error("callback.command_timeout", command=type(ev).__name__, request_id=request_id,
                      timeout_s=self.COMMAND_TIMEOUT_S, queued=self.inbox.qsize())
            raise DeskTimeout(f"the callbacks desk did not answer {type(ev).__name__} within "
                              f"{self.COMMAND_TIMEOUT_S:g} s; it may still take effect") from None
        finally:
            self._requests.pop(request_id, None)


def _fallback_task_id(name: str) -> str | None:
    """The task id of a fallback recording ``callcenter-fallback/<queue>_<epoch>_<digits>_<uid>``, else None."""
    m = _FALLBACK.match(name[len(FALLBACK_DIR) + 1:]) if name.startswith(f"{FALLBACK_DIR}/") else None
    return None if m is None else "fb-" + m["uid"].replace(".", "-")
