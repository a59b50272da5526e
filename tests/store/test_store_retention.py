"""Issue 17 items 10 and 14, on SQLite and PostgreSQL: the store's side of callback retention (R-PRIVACY)
and of reconcile (which recordings the tasks hold)."""

from __future__ import annotations

from ari_app.core.callbacks import TaskState

from test_store_backends import full_task


def test_task_recordings_are_the_non_empty_recordings_of_every_task(repo):
    repo.save_tasks([full_task("a", recording="callcenter/a", state=TaskState.OPEN),
                     full_task("b", recording="callcenter/b", state=TaskState.CLOSED),
                     full_task("c", recording="", kind="followup")])
    assert repo.task_recordings() == {"callcenter/a", "callcenter/b"}


def test_closed_tasks_newest_closed_first_bounded(repo):
    repo.save_tasks([full_task("open", state=TaskState.OPEN, closed_at=None),
                     full_task("old", state=TaskState.REACHED, closed_at=100.0),
                     full_task("new", state=TaskState.CLOSED, closed_at=300.0),
                     full_task("mid", state=TaskState.WRONG_NUMBER, closed_at=200.0)])
    assert sorted(t.task_id for t in repo.closed_tasks()) == ["mid", "new", "old"]
    assert {t.task_id for t in repo.closed_tasks(limit=2)} == {"new", "mid"}
    assert all(len(t.attempts) == 2 for t in repo.closed_tasks())


def test_expired_tasks_are_closed_before_the_cutoff_and_not_yet_anonymised(repo):
    repo.save_tasks([
        full_task("open-old", state=TaskState.OPEN, closed_at=None, created_at=1.0),
        full_task("in-progress", state=TaskState.IN_PROGRESS, closed_at=None, created_at=1.0),
        full_task("closed-old", state=TaskState.CLOSED, closed_at=100.0, recording="callcenter/closed-old"),
        full_task("reached-old", state=TaskState.REACHED, closed_at=50.0, recording=""),
        full_task("closed-new", state=TaskState.CLOSED, closed_at=1000.0),
        full_task("done-before", state=TaskState.CLOSED, closed_at=10.0, caller="", note="", recording=""),
    ])
    assert repo.expired_tasks(500.0) == [("reached-old", ""), ("closed-old", "callcenter/closed-old")]
    assert repo.expired_tasks(500.0, limit=1) == [("reached-old", "")]


def test_anonymise_blanks_the_personal_fields_of_closed_tasks_only(repo):
    repo.save_tasks([full_task("closed", state=TaskState.CLOSED, closed_at=100.0, recording="callcenter/closed"),
                     full_task("reopened", state=TaskState.OPEN, closed_at=None)])
    assert repo.anonymise_tasks(["closed", "reopened", "unknown"]) == 1
    t = repo.task("closed")
    assert (t.caller, t.note, t.recording) == ("", "", "")
    # the rest stays for the figures: team, agent, times, outcomes
    assert (t.team, t.assigned, t.created_at, t.closed_at, t.state) == ("north", "1002", 1_700_000_000.125,
                                                                        100.0, TaskState.CLOSED)
    assert [a.outcome.value for a in t.attempts] == ["busy", "no_answer"]
    kept = repo.task("reopened")
    assert (kept.caller, kept.note) == ("13800005678", "ask about the invoice")
    assert repo.expired_tasks(500.0) == []
    assert repo.task_recordings() == {"vm/vm-1.wav"}  # the reopened task's
