"""Issue 17 item 10: the callbacks desk holds open tasks only; closed ones are read from the store.

Before: the desk loaded every task ever made into the core at start (``store.tasks()``) and kept each one in
memory for the life of the process. Fixtures of tests/unit/test_api_callbacks.py: a real desk running its
loop, a real SQLite store holding vm-1 and vm-old (open) and vm-done (reached), the API in process.
"""

import asyncio
from dataclasses import replace

from ari_app.core import callbacks as cb
from ari_app.core.callbacks import TaskState
from ari_app.store import VoicemailIntake

from test_api_callbacks import CALLER, NOW, auth, client, desk, settle, task  # noqa: F401 (fixtures)


async def test_the_desk_loads_open_tasks_only_and_lists_closed_ones_from_the_store(client, desk):
    assert sorted(desk.core.tasks) == ["vm-1", "vm-old"]  # vm-done (reached) stays in the store
    r = await client.get("/callbacks?state=reached", headers=auth("sam"))
    [done] = await r.json()
    assert (done["id"], done["state"], done["attempts"][0]["outcome"]) == ("vm-done", "reached", "reached")
    r = await client.get("/callbacks?open=1", headers=auth("sam"))
    assert [t["id"] for t in await r.json()] == ["vm-old", "vm-1"]


async def test_a_closed_task_leaves_memory_once_written_and_comes_back_on_reopen(client, desk):
    r = await client.post("/callbacks/vm-1/close", headers=auth("sam"))
    assert (r.status, (await r.json())["state"]) == (200, "closed")
    await settle(desk)
    assert "vm-1" not in desk.core.tasks and desk.store.task("vm-1").state == TaskState.CLOSED
    r = await client.get("/callbacks?state=closed", headers=auth("sam"))
    assert [t["id"] for t in await r.json()] == ["vm-1"]
    r = await client.post("/callbacks/vm-1/close", headers=auth("sam"))
    assert (r.status, await r.json()) == (409, {"error": "callback vm-1: cannot close while closed"})
    r = await client.post("/callbacks/vm-1/reassign", json={"agent_id": "1002"}, headers=auth("sam"))
    assert (r.status, await r.json()) == (409, {"error": "callback vm-1: cannot reassign while closed"})
    r = await client.post("/callbacks/vm-1/reopen", headers=auth("olga"))
    body = await r.json()
    assert (r.status, body["state"], body["caller"]) == (200, "open", "*******5678")
    assert desk.core.tasks["vm-1"].caller == CALLER
    await settle(desk)
    assert desk.store.task("vm-1").state == TaskState.OPEN


async def test_a_task_anonymised_by_retention_cannot_be_reopened(client, desk):
    assert desk.store.anonymise_tasks(["vm-done"]) == 1
    r = await client.post("/callbacks/vm-done/reopen", headers=auth("olga"))
    assert r.status == 409 and "erased after the retention period" in (await r.json())["error"]
    assert "vm-done" not in desk.core.tasks
    r = await client.post("/callbacks/vm-404/reopen", headers=auth("olga"))
    assert (r.status, await r.json()) == (404, {"error": "unknown callback task 'vm-404'"})


async def test_a_voicemail_committed_again_does_not_reopen_its_closed_task(desk):
    """An intake whose task is already stored (``commit_task`` → False) used to be posted to the core as new;
    with closed tasks out of memory that would make a closed task open again. Now the store decides."""
    intake = VoicemailIntake(task_id="vm-done", caller=CALLER, queue="support", recording="callcenter/vm-done",
                             started_at=NOW - 3600, team="support")
    desk._commit(intake)
    for _ in range(20):
        await asyncio.sleep(0)
    await settle(desk)
    assert "vm-done" not in desk.core.tasks and desk.store.task("vm-done").state == TaskState.REACHED
    desk.store.save_tasks([replace(task("vm-open"), assigned="1001")])  # stored, open, not yet in the core
    desk._commit(replace(intake, task_id="vm-open", recording="callcenter/vm-open"))
    for _ in range(20):
        await asyncio.sleep(0)
    await settle(desk)
    assert desk.core.tasks["vm-open"].state == TaskState.OPEN  # an open one still reaches the core


def test_forget_closed_is_bounded_to_what_it_is_asked():
    from test_callbacks import make, vm

    c = make()
    vm(c, "a", NOW)
    vm(c, "b", NOW)
    for i in ("a", "b"):
        c.handle(cb.CloseTask(task_id=i, by="sup"), NOW)
    c.drain_changed()
    assert c.forget_closed(["a", "zz"]) == ["a"] and list(c.tasks) == ["b"]


async def test_a_store_away_refuses_the_closed_list_clearly_and_the_open_list_still_works(client, desk):
    from ari_app.store import StoreError

    def away(*_args):
        raise StoreError("database is locked")

    desk.store.closed_tasks = away  # type: ignore[method-assign]
    r = await client.get("/callbacks", headers=auth("sam"))
    assert (r.status, await r.json()) == (409, {"error": "closed tasks cannot be read now: the store is unavailable; "
                                                         "the open ones are listed with open=1"})
    r = await client.get("/callbacks?open=1", headers=auth("sam"))
    assert r.status == 200 and [t["id"] for t in await r.json()] == ["vm-old", "vm-1"]
