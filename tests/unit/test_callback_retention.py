"""Issue 17 item 10 (R-PRIVACY): callback tasks closed more than ``retention_days`` ago lose their voicemail
and their caller number; old intakes go with their audio; open tasks are never touched.

A real SQLite store, the fake ARI of tests/unit/test_flow_desk.py, times passed in (no clock, no sleep).
Before issue 17 nothing of this existed: voicemail audio and caller numbers were kept for ever.
"""

import pytest

from ari_app.ari import AriUnavailable
from ari_app.core.callbacks import CallbackTask, TaskState
from ari_app.flows.callback_retention import callbacks_retention_once
from ari_app.store import Store, VoicemailIntake

from test_flow_desk import FakeAri

DAY = 86400.0
NOW = 1_765_000_000.0


def task(task_id: str, *, state: TaskState = TaskState.CLOSED, closed_days_ago: float | None = 91,
         created_days_ago: float = 200, recording: str | None = None) -> CallbackTask:
    return CallbackTask(task_id=task_id, caller="13800135678", queue="support", team="support",
                        recording=f"callcenter/{task_id}" if recording is None else recording,
                        created_at=NOW - created_days_ago * DAY, deadline=NOW, assigned="1001", state=state,
                        closed_at=None if closed_days_ago is None else NOW - closed_days_ago * DAY,
                        note="about the invoice")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.db")
    yield s
    s.close()


async def test_expired_closed_tasks_lose_audio_and_number_others_are_kept(store):
    store.save_tasks([task("old"), task("recent", closed_days_ago=89), task("open", state=TaskState.OPEN,
                                                                            closed_days_ago=None),
                      task("followup", recording="")])
    store.add_intake(VoicemailIntake(task_id="vm-stuck", caller="13800135678", queue="nowhere",
                                     recording="callcenter/vm-stuck", started_at=NOW - 100 * DAY))
    store.add_intake(VoicemailIntake(task_id="vm-new", caller="13800135678", queue="nowhere",
                                     recording="callcenter/vm-new", started_at=NOW - DAY))
    ari = FakeAri(stored={"callcenter/old", "callcenter/recent", "callcenter/open", "callcenter/vm-stuck",
                          "callcenter/vm-new"})
    counts = await callbacks_retention_once(store, ari, 90, NOW)  # type: ignore[arg-type]
    assert counts == {"anonymised": 2, "audio_deleted": 1, "intakes_dropped": 1, "kept_for_later": 0}
    assert ari.stored == {"callcenter/recent", "callcenter/open", "callcenter/vm-new"}
    for gone in ("old", "followup"):
        t = store.task(gone)
        assert (t.caller, t.note, t.recording) == ("", "", "") and t.state == TaskState.CLOSED
        assert t.assigned == "1001" and t.closed_at == NOW - 91 * DAY  # kept for the figures
    for kept in ("recent", "open"):
        assert store.task(kept).caller == "13800135678" and store.task(kept).recording == f"callcenter/{kept}"
    assert [i.task_id for i in store.intakes()] == ["vm-new"]
    assert await callbacks_retention_once(store, ari, 90, NOW) == {  # type: ignore[arg-type]
        "anonymised": 0, "audio_deleted": 0, "intakes_dropped": 0, "kept_for_later": 0}


async def test_audio_already_gone_still_anonymises(store):
    store.save_tasks([task("old")])
    ari = FakeAri()  # not stored: 404
    counts = await callbacks_retention_once(store, ari, 90, NOW)  # type: ignore[arg-type]
    assert counts["anonymised"] == 1 and store.task("old").caller == ""


async def test_audio_that_cannot_be_deleted_keeps_its_row_until_a_later_run(store):
    """The audio goes first: a task whose recording Asterisk would not delete keeps its name (and number), so
    the next run tries again; the row is never blanked with its audio left behind (an orphan)."""
    store.save_tasks([task("a", closed_days_ago=95), task("b")])
    ari = FakeAri(stored={"callcenter/a", "callcenter/b"})
    ari.fail["delete_stored_recording"] = AriUnavailable("DELETE", "/recordings/stored/callcenter%2Fa", "refused")
    counts = await callbacks_retention_once(store, ari, 90, NOW)  # type: ignore[arg-type]
    assert counts["kept_for_later"] == 1 and counts["anonymised"] == 1
    assert store.task("a").recording == "callcenter/a" and "callcenter/a" in ari.stored
    assert store.task("b").caller == ""
    counts = await callbacks_retention_once(store, ari, 90, NOW + DAY)  # type: ignore[arg-type]
    assert counts["anonymised"] == 1 and store.task("a").caller == "" and ari.stored == set()


async def test_retention_days_is_the_boundary(store):
    store.save_tasks([task("edge", closed_days_ago=30)])
    ari = FakeAri(stored={"callcenter/edge"})
    assert (await callbacks_retention_once(store, ari, 31, NOW))["anonymised"] == 0  # type: ignore[arg-type]
    assert (await callbacks_retention_once(store, ari, 29, NOW))["anonymised"] == 1  # type: ignore[arg-type]


# -- [callbacks] retention_days ------------------------------------------------------------------------------
def test_retention_days_config_key():
    from ari_app import config

    from test_config import TWO_QUEUES, errors_of

    assert config.parse({**TWO_QUEUES, "callbacks": {}}).callbacks.retention_days == 90
    assert config.parse({**TWO_QUEUES, "callbacks": {"retention_days": 30}}).callbacks.retention_days == 30
    for bad in (0, 40000, "90", 1.5):
        assert errors_of({**TWO_QUEUES, "callbacks": {"retention_days": bad}}) == [
            f"callbacks.retention_days: must be a number of days 1..36500, got {bad!r}"
            if isinstance(bad, int) else f"callbacks.retention_days: must be an integer, got {bad!r}"]
