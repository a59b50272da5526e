"""R-VM, R-VM-RR, R-VM-CHECK, R-CB against the real Asterisk: voicemail → task → duty agent → callback.

Config: tests/e2e/config.toml ([callbacks] checks every 15 s, 2 attempts, 8 s back-off; [trunk] dials
Local/{number}@e2e-customer where 138… answers for 4 s and 139… never answers) and tests/e2e/roster.toml
(team desk: 5001, 5002, all day every day). A fresh store per test: the rota starts at the lowest ID,
so today's duty agent is 5001.
"""

from __future__ import annotations

import asyncio
import os
import re

import pytest

from ari_app.store import Store

from conftest import PBX_ROOT, Service, ari_time

DUTY = "5001"
FALLBACK_DIR = PBX_ROOT / "var/spool/asterisk/recording/callcenter-fallback"


def tasks(tmp_path) -> list:
    store = Store(tmp_path / "state.db")
    try:
        return store.tasks()
    finally:
        store.close()


async def leave_voicemail(ari, service, watcher, caller: str) -> dict:
    """A caller waits past max_wait_s (6 s) in queue vmq, presses 1, speaks (after the ~8 s prompt), ends with #.

    R-WAITLIMIT, judged from Asterisk: the voicemail offer is played on this caller's own channel, once its
    6 s in the queue (from its creation) have passed."""
    await ari.call_queue("vmq", context="e2e-vm-caller", exten="leave", caller_id=caller,
                         variables={"E2E_WAIT": "9", "E2E_SPEAK": "18"})
    queued = await service.wait_for("call.queued", queue="vmq", timeout=10)
    call_id = queued["call_id"]
    offer = await service.wait_for("call.prompt", purpose="announce:voicemail_offer", timeout=15)
    assert offer["channel"] == call_id and offer["media"] == ["sound:callcenter/voicemail-offer"], offer
    played = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                                playback__media_uri="sound:callcenter/voicemail-offer", timeout=5)
    entered = await watcher.wait("ChannelCreated", channel__id=call_id, timeout=1)  # straight into Stasis
    assert ari_time(played) - ari_time(entered) >= 6 - 0.2, "offered before max_wait_s"
    return await service.wait_for("voicemail.committed", timeout=45)


async def test_voicemail_to_duty_agent_then_agent_first_callback_reached(service, ari, watcher, tmp_path):
    """R-VM: the voicemail is a stored task; R-VM-RR: today's duty agent (5001) gets it; R-VM-CHECK: the next
    check rings 5001's phone; R-CB: the agent hears the message, then the customer is dialled and bridged."""
    committed = await leave_voicemail(ari, service, watcher, "13800138000")
    task_id = committed["task_id"]
    recording = f"callcenter/{task_id}"
    assert recording in await ari.recordings(), "the voicemail is a stored recording named by the task id"
    assigned = await service.wait_for("callback.assigned", task_id=task_id, timeout=10)
    assert assigned["agent"] == DUTY and assigned["rule"] == "R-VM-RR"

    # the next check (every 15 s) rings the duty agent first
    calling = await service.wait_for("callback.calling_agent", agent=DUTY, timeout=25)
    assert task_id in calling["tasks"]
    await service.wait_for("callback.agent_answered", agent=DUTY, timeout=10)
    agent_created = await watcher.wait("ChannelCreated", channel__id=lambda i: bool(i and i.startswith(f"cb-{DUTY}-")))
    agent_id = agent_created["channel"]["id"]
    # the channel that answered is the duty agent's own endpoint (config: Local/5001@e2e-answer), and it is
    # the only agent Asterisk was asked to ring for this callback
    assert agent_created["channel"]["name"].startswith(f"Local/{DUTY}@e2e-answer-"), agent_created["channel"]
    up = await watcher.wait("Dial", peer__id=agent_id, dialstatus="ANSWER", timeout=5)
    assert up["dialstring"] == f"{DUTY}@e2e-answer", up
    others = [e["channel"]["name"] for e in watcher.find("ChannelCreated")
              if e["channel"]["name"].startswith(("Local/5002@", "Local/5003@"))]
    assert not others, others
    # the agent hears the voicemail: a playback of that recording on the agent's channel, played to the end
    heard = await watcher.wait("PlaybackFinished", playback__target_uri=f"channel:{agent_id}",
                               playback__media_uri=f"recording:{recording}", timeout=30)
    assert heard["playback"]["state"] == "done"
    # then the customer is dialled with the outbound caller ID and bridged with the agent
    customer_id = f"{agent_id}~c1"
    cust = await watcher.wait("ChannelCreated", channel__id=customer_id, timeout=15)
    assert ari_time(cust) > ari_time(heard) >= ari_time(agent_created), "agent first, message, then the customer"
    entered = await watcher.wait("ChannelEnteredBridge", channel__id=customer_id, timeout=15)
    assert entered["bridge"]["id"] == f"{agent_id}~br"
    assert agent_id in entered["bridge"]["channels"]
    assert entered["channel"]["caller"]["number"] == "4008001234", entered["channel"]["caller"]  # trunk caller ID

    done = await service.wait_for("callback.closed", task_id=task_id, timeout=20)
    assert done["state"] == "reached"
    [task] = [t for t in tasks(tmp_path) if t.task_id == task_id]
    assert task.state.value == "reached" and task.assigned == DUTY and task.kind == "voicemail"
    assert [a.outcome.value for a in task.attempts] == ["reached"]
    assert task.caller == "13800138000" and task.queue == "vmq"
    assert task.deadline == pytest.approx(task.created_at + 86400)  # R-SLA24
    chans, bridges = await ari.wait_empty(15)
    assert not chans and not bridges, (chans, bridges)


async def test_callback_no_answer_is_retried_after_the_backoff(service, ari, watcher, tmp_path):
    committed = await leave_voicemail(ari, service, watcher, "13900139000")
    task_id = committed["task_id"]
    first = await service.wait_for("callback.attempt", task_id=task_id, timeout=45)
    assert first["outcome"] == "no_answer" and first["final"] is False
    second = await service.wait_for("callback.attempt", task_id=task_id, count=2, timeout=70)
    assert second["outcome"] == "no_answer" and second["final"] is True  # max_attempts = 2
    calls = [e for e in service.events("callback.calling_agent", agent=DUTY) if task_id in e["tasks"]]
    # the retry falls due 8 s after the first attempt; if the agent is still on that call (its closing
    # prompt), it is a missed check that runs the moment the agent is free
    assert calls[0]["reason"] == "check" and calls[1]["reason"] in ("retry", "missed_check"), calls
    assert service.events("callback.check", agent=DUTY, reason="retry"), "no retry check after the back-off"
    def customer_leg(e: dict) -> bool:  # our side of the trunk call (the Local channel's ;2 half is not ours)
        return bool(re.fullmatch(rf"cb-{DUTY}-\d+~c\d+", e["channel"]["id"]))

    legs = [e for e in watcher.find("ChannelCreated") if customer_leg(e)]
    ended = [e for e in watcher.find("ChannelDestroyed") if customer_leg(e)]
    assert len(legs) == 2 and len(ended) >= 1, (legs, ended)
    gap = ari_time(legs[1]) - ari_time(ended[0])
    assert gap >= 8 - 0.5, f"the retry came {gap:.1f} s after the first attempt ended; back-off is 8 s"
    [task] = [t for t in tasks(tmp_path) if t.task_id == task_id]
    assert task.state.value == "no_answer" and [a.outcome.value for a in task.attempts] == ["no_answer"] * 2
    chans, bridges = await ari.wait_empty(15)
    assert not chans and not bridges, (chans, bridges)


async def test_fallback_voicemail_left_while_down_becomes_a_task_for_the_duty_agent(asterisk, ari, tmp_path):
    """R-VM: nothing is lost while the service is down: the dialplan's fallback voicemail becomes a task."""
    apps = [a["name"] for a in await ari.get("/applications")]
    assert "callcenter" not in apps, "the service must not be connected for this part"
    await ari.call_queue("vmq", context="e2e-vm-caller", exten="fallback",
                         caller_id="13700137000", variables={"E2E_SPEAK": "5"})
    for _ in range(400):
        if not await ari.channels():
            break
        await asyncio.sleep(0.1)
    left = [n for n in await ari.recordings() if n.startswith("callcenter-fallback/vmq_")]
    assert len(left) == 1, left
    assert os.path.exists(FALLBACK_DIR / (left[0].split("/", 1)[1] + ".wav"))

    svc = Service(tmp_path).start()
    try:
        imported = await svc.wait_for("voicemail.fallback_imported", timeout=20)
        task_id = imported["task_id"]
        assigned = await svc.wait_for("callback.assigned", task_id=task_id, timeout=10)
        assert assigned["agent"] == DUTY
        await svc.wait_for("voicemail.reconciled", timeout=10)
        names = await ari.recordings()
        assert f"callcenter/{task_id}" in names and not [n for n in names if n.startswith("callcenter-fallback/")]
        [task] = tasks(tmp_path)
        assert task.task_id == task_id and task.caller == "13700137000" and task.queue == "vmq"
        assert task.assigned == DUTY and task.state.value == "open" and task.recording == f"callcenter/{task_id}"
        assert not svc.errors(), svc.errors()[:3]
    finally:
        svc.stop()


async def test_keep_my_place_caller_is_called_back_at_their_turn_agent_first(service, ari, watcher, tmp_path):
    """R-CB: 5003 is busy with caller A; caller B presses 2, hears the confirmation and is hung up; when
    A's call ends the place is at the front: 5003 is called first, then B's number, and they are bridged."""
    await ari.call_queue("kpq", talk_s=22)
    await service.wait_for("call.answered", agent="5003", timeout=10)
    await ari.call_queue("kpq", context="e2e-kp-caller", exten="keep", caller_id="13800138222")
    kept = await service.wait_for("call.keep_place", queue="kpq", timeout=15)
    assert kept["position"] == 1 and kept["rule"] == "R-CB"
    task_id = "kp-" + kept["call_id"].replace(".", "-")
    await watcher.wait("PlaybackFinished", playback__target_uri=f"channel:{kept['call_id']}",
                       playback__media_uri="sound:callcenter/keep-place-ok", timeout=15)
    await watcher.wait("ChannelDestroyed", channel__id=kept["call_id"], timeout=10)  # B is hung up
    assert not service.events("callback.calling_agent", agent="5003"), "called back before the turn came"
    reached = await service.wait_for("call.place_reached", call_id=kept["call_id"], timeout=30)
    assert reached["agent"] == "5003"
    calling = await service.wait_for("callback.calling_agent", agent="5003", timeout=10)
    assert calling["tasks"] == [task_id] and calling["reason"] == "keep_place"
    agent_created = await watcher.wait("ChannelCreated", channel__id=lambda i: bool(i and re.fullmatch(r"cb-5003-\d+", i)))
    agent_id = agent_created["channel"]["id"]
    entered = await watcher.wait("ChannelEnteredBridge", channel__id=f"{agent_id}~c1", timeout=30)
    assert entered["bridge"]["id"] == f"{agent_id}~br"
    cust = watcher.find("ChannelCreated", channel__id=f"{agent_id}~c1")[0]
    assert ari_time(cust) > ari_time(agent_created), "the agent is called first"
    done = await service.wait_for("callback.closed", task_id=task_id, timeout=30)
    assert done["state"] == "reached"
    [task] = [t for t in tasks(tmp_path) if t.task_id == task_id]
    assert task.kind == "keep_place" and task.caller == "13800138222" and task.assigned == "5003"
    await service.wait_for("agent.resumed", agent="5003", timeout=20)  # back to taking queue calls
    chans, bridges = await ari.wait_empty(20)
    assert not chans and not bridges, (chans, bridges)
