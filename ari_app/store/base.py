"""The store's interface: what the service persists, whichever database holds it.

R-VM: callback tasks, the voicemail about to become one, and the rota
pointer survive restarts; R-LEAVE: the roster's leave entries; agent
sessions and call timelines as before. Two backends keep the same
methods and semantics: SQLite (the embedded default, one file created
0600 for R-PRIVACY) and PostgreSQL (state shared by several nodes,
DESIGN.md "Beyond one machine"). ``open_store(url)`` picks one.

Every method is synchronous and either fully applies or raises; methods
that write several rows do it in one transaction. A database that cannot
be opened or reached raises ``StoreError`` naming what failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Iterable, Protocol
from urllib.parse import urlsplit

from ..core.timeline import TimelineEntry

if TYPE_CHECKING:
    from ..core.agents import AgentLogEntry
    from ..core.callbacks import CallbackTask, RotaState
    from ..core.comply import ComplianceRecord
    from ..core.figures import OutboundAttempt
    from ..core.login import LockState
    from ..core.lateness import Excuse
    from ..core.roster import LeaveEntry, SwapEntry

__all__ = ["AgentSession", "OutboundCall", "Repository", "StoreError", "VoicemailIntake", "open_store", "redact_url"]


class StoreError(Exception):
    """The database cannot be used: unreachable, unreadable, or a schema this code does not know."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentSession:
    agent_id: str
    state: str
    since: float
    reason: str
    interface: str
    last_call_end: float = 0.0
    calls_taken: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class VoicemailIntake:
    """R-VM: a recording about to start, kept until its callback task is committed (nothing lost)."""
    task_id: str
    caller: str  # R-PRIVACY: never logged unmasked
    queue: str
    recording: str
    started_at: float
    kind: str = "voicemail"
    team: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboundCall:
    """R-KPI outbound per day: a call an agent dialled that never entered Stasis (from the CDR)."""
    call_id: str  # the CDR's unique id
    agent_id: str | None
    at: float
    kind: str = "own"
    connected: bool = False
    talk_s: float = 0.0


class Repository(Protocol):
    """What both backends provide (``sqlite.Store``, ``postgres.PostgresStore``)."""

    schema_version: int

    def close(self) -> None: ...

    # agent sessions
    def save_agent(self, s: AgentSession) -> None: ...
    def agents(self) -> dict[str, AgentSession]: ...

    # call timelines
    def append_facts(self, facts: list[tuple[str, TimelineEntry]]) -> None: ...
    def timeline(self, call_id: str) -> list[TimelineEntry]: ...

    # the figures' sources (R-KPI, R-COMPLY, R-QA, R-SHIFT)
    def append_agent_log(self, entries: list[AgentLogEntry]) -> None: ...
    def agent_log(self, start: float, end: float) -> list[AgentLogEntry]: ...
    def timelines(self, start: float, end: float) -> dict[str, list[TimelineEntry]]: ...
    def save_compliance(self, record: ComplianceRecord) -> None: ...
    def compliance(self, start: float, end: float) -> list[ComplianceRecord]: ...
    def save_recording(self, call_id: str, name: str, started_at: float) -> None: ...
    def recordings(self, start: float, end: float) -> dict[str, str]: ...
    def add_outbound(self, call: OutboundCall) -> None: ...
    def outbound(self, start: float, end: float) -> list[OutboundAttempt]: ...
    def overdue_callbacks(self, start: float, end: float) -> list[str | None]: ...

    # callback tasks (R-VM)
    def save_tasks(self, tasks: Iterable[CallbackTask]) -> None: ...
    def tasks(self, *, open_only: bool = False) -> list[CallbackTask]: ...
    def task(self, task_id: str) -> CallbackTask | None: ...
    def commit_task(self, task: CallbackTask) -> bool: ...
    def task_recordings(self) -> set[str]: ...
    def closed_tasks(self, limit: int = 1000) -> list[CallbackTask]: ...

    # retention of callback tasks (R-PRIVACY)
    def expired_tasks(self, closed_before: float, *, limit: int = 500) -> list[tuple[str, str]]: ...
    def anonymise_tasks(self, task_ids: Iterable[str]) -> int: ...

    # voicemail intake (R-VM)
    def add_intake(self, intake: VoicemailIntake) -> None: ...
    def intakes(self) -> list[VoicemailIntake]: ...
    def drop_intake(self, task_id: str) -> None: ...

    # rota pointer (R-VM-RR)
    def load_rota(self) -> RotaState | None: ...
    def save_rota(self, rota: RotaState) -> None: ...

    # leave (R-LEAVE)
    def leave(self) -> list[LeaveEntry]: ...
    def add_leave(self, entry: LeaveEntry) -> None: ...
    def remove_leave(self, agent_id: str, day: date, shift: str | None) -> bool: ...

    # shift swaps (R-LEAVE 换班) and excused lateness (R-SHIFT 第十一条), issue 18
    def swaps(self) -> list[SwapEntry]: ...
    def add_swap(self, entries: Iterable[SwapEntry]) -> None: ...
    def remove_swap(self, swap_id: str) -> int: ...
    def excuses(self, first: date, last: date) -> list[Excuse]: ...
    def add_excuse(self, excuse: Excuse) -> None: ...

    # wrong-PIN limits per agent ID and per phone (R-LOGIN, issue 17)
    def lockouts(self) -> list[LockState]: ...
    def save_lockouts(self, states: Iterable[LockState]) -> None: ...


def open_store(url: str) -> Repository:
    """The store at ``url``, migrated to the newest schema.

    A file path or ``sqlite:///abs/path`` → SQLite; ``postgresql://user:pass@host:port/db`` → PostgreSQL.
    """
    if "://" not in url:
        from .sqlite import Store

        return Store(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or not parts.path:
            raise StoreError(f"store URL {redact_url(url)}: expected sqlite:///path/to/file.db")
        from .sqlite import Store

        return Store(parts.path)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"store URL {redact_url(url)}: unknown scheme {parts.scheme!r}, expected a file path, "
                     "sqlite:///path or postgresql://user:pass@host:port/db")


def redact_url(url: str) -> str:
    """The URL without its password (R-PRIVACY: credentials never reach a log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
