"""Attended transfers against the real Asterisk, every outcome (R-XFER-CONSENT, R-XFER-CONFIRM,
R-XFER-NAME). Driven through the HTTP API; agent 3001 (a Local channel) holds the call in queue
"xfer"; targets: 3002 answers, 3003 never answers, 3004 is busy, 3005 answers then hangs up.
Every test ends with nothing of the call left in Asterisk within 2 s of the last hang-up."""

from __future__ import annotations

import asyncio

from conftest import ari_time

MEDIA = "sound:callcenter/"


async def connected(service, ari, talk_s=60):
    caller = await ari.call_queue("xfer", talk_s=talk_s)
    answered = await service.wait_for("call.answered", queue="xfer", agent="3001", timeout=10)
    call_id = answered["call_id"]
    await service.wait_for("call.bridged", call_id=call_id, timeout=15)
    return call_id, caller["id"]


async def transfer(api, target):
    r = await api.post("/transfers", json={"agent_id": "3001", "target": target})
    assert r.status_code == 201, r.text
    return r.json()["transfer_id"]


async def nothing_left(ari, call_id, *also):
    """Within 2 s nothing of the call (channels, bridges) is left in Asterisk."""
    ids = (call_id, *also)
    for _ in range(20):
        chans = [c["id"] for c in await ari.channels() if c["id"].split("~")[0] in ids]
        bridges = [b["id"] for b in await ari.bridges() if b["id"].split("~")[0] in ids]
        if not chans and not bridges:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"left behind: {chans} {bridges}")


async def hang_up(ari, channel_id):
    await ari.delete(f"/channels/{channel_id}")


async def back_with_agent(service, watcher, call_id, outcome):
    ended = await service.wait_for(f"transfer.{outcome}", call_id=call_id, timeout=15)
    await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                       playback__media_uri=MEDIA + "hold-sorry")
    entered = watcher.find("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~talk")
    assert len(entered) >= 2, "the caller went back into the talk bridge with the agent"
    return ended


async def test_complete_after_the_target_answered(service, ari, api, watcher):
    """R-XFER-CONSENT (where to, on hold), R-XFER-CONFIRM (after 3002 answered), R-XFER-NAME (张伟)."""
    call_id, caller = await connected(service, ari)
    xid = await transfer(api, "3002")
    # R-XFER-CONSENT: where the caller goes: "正在为您转接到" + 3002's name (张伟, tests/e2e/config.toml) + "请稍候"
    where = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                               playback__media_uri=MEDIA + "xfer-to")
    await watcher.wait("PlaybackFinished", playback__id=where["playback"]["id"])
    assert watcher.media_of(where["playback"]["id"]) == [MEDIA + p
                                                         for p in ("xfer-to", "agent-name-3002", "please-wait")]
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    r = await api.put(f"/transfers/{xid}/complete")
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    # R-XFER-NAME, seed: 被转接电话接听后需告知被转接电话人的姓名: "为您接通的是" + 张伟 + 工号三零零二 + "不好意思让您久等了"
    name = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                              playback__media_uri=MEDIA + "xfer-connected-to", timeout=15)
    said = await watcher.wait("PlaybackFinished", playback__id=name["playback"]["id"], timeout=15)
    assert said["playback"]["state"] == "done"
    starts = watcher.find("PlaybackStarted", playback__id=name["playback"]["id"])
    assert [e["playback"]["media_uri"] for e in starts] == [MEDIA + p for p in (
        "xfer-connected-to", "agent-name-3002", "agent-id-prefix", "digit-3", "digit-0", "digit-0", "digit-2",
        "xfer-sorry-wait")]
    assert ari_time(starts[2]) - ari_time(starts[1]) >= 0.4  # the rendered name was there and played
    await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~t1", bridge__id=f"{call_id}~talk", timeout=10)
    joined = watcher.find("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~talk")
    assert len(joined) >= 2 and ari_time(said) <= ari_time(joined[-1])  # with the target only after its name
    await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~a1")  # the agent left
    await hang_up(ari, caller)
    done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done["agent"] == "3002"
    await nothing_left(ari, call_id, caller)


async def test_complete_is_refused_while_the_target_rings_then_cancel(service, ari, api, watcher):
    """R-XFER-CONFIRM: no hand-over before the target answered; cancelling returns the caller to the agent."""
    call_id, caller = await connected(service, ari)
    xid = await transfer(api, "3003")
    await service.wait_for("transfer.target_ringing", call_id=call_id, timeout=10)
    r = await api.put(f"/transfers/{xid}/complete")
    assert r.status_code == 409 and "target_ringing" in r.json()["error"]
    r = await api.delete(f"/transfers/{xid}")
    assert r.status_code == 200, r.text
    await back_with_agent(service, watcher, call_id, "cancelled")
    await hang_up(ari, caller)
    await service.wait_for("call.completed", call_id=call_id, timeout=10)
    await nothing_left(ari, call_id, caller)


async def test_cancel_during_consultation(service, ari, api, watcher):
    call_id, caller = await connected(service, ari)
    xid = await transfer(api, "3002")
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    assert (await api.delete(f"/transfers/{xid}")).status_code == 200
    await back_with_agent(service, watcher, call_id, "cancelled")
    await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~t1")
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_target_not_answering_returns_the_caller_to_the_agent(service, ari, api, watcher):
    """R-XFER-CONFIRM: no answer within ring_target_s, the caller returns to the original agent."""
    call_id, caller = await connected(service, ari)
    await transfer(api, "3003")
    failed = await back_with_agent(service, watcher, call_id, "target_failed")
    assert failed["reason"] == "ring_target"
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_busy_target_returns_the_caller_to_the_agent(service, ari, api, watcher):
    """R-XFER-CONFIRM: the target busy, the caller returns to the original agent (reason busy)."""
    call_id, caller = await connected(service, ari)
    await transfer(api, "3004")
    failed = await back_with_agent(service, watcher, call_id, "target_failed")
    # Asterisk says the target was busy (its Dial ends BUSY; the leg itself is destroyed with cause 0,
    # "Unknown", which the service used to log as the reason); the service must say the same
    dial = await watcher.wait("Dial", peer__id=f"{call_id}~t1", dialstatus="BUSY")
    assert dial["peer"]["name"].startswith("Local/3004@e2e-busy"), dial["peer"]
    assert failed["reason"] == "busy", failed
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_target_hanging_up_returns_the_caller_to_the_agent(service, ari, api, watcher):
    """R-XFER-CONFIRM: the target hangs up in consultation, the caller returns to the original agent."""
    call_id, caller = await connected(service, ari)
    await transfer(api, "3005")
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    await back_with_agent(service, watcher, call_id, "target_failed")
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_agent_hanging_up_before_the_target_answered_requeues_at_the_head(service, ari, api, watcher):
    """R-XFER-CONFIRM: the agent hangs up before the target answered, the caller goes back to the queue."""
    call_id, caller = await connected(service, ari)
    await transfer(api, "3003")
    await service.wait_for("transfer.target_ringing", call_id=call_id, timeout=10)
    await hang_up(ari, f"{call_id}~a1")
    await service.wait_for("transfer.requeued", call_id=call_id, timeout=10)
    await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~t1", timeout=5)  # never a ringing phone
    again = await service.wait_for("call.offered", call_id=call_id, attempt=2, timeout=10)
    assert again["agent"] == "3001"
    await service.wait_for("call.answered", call_id=call_id, agent="3001", count=2, timeout=10)
    await service.wait_for("call.bridged", call_id=call_id, count=2, timeout=15)  # talking again
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_agent_hanging_up_after_the_target_answered_completes(service, ari, api, watcher):
    call_id, caller = await connected(service, ari)
    await transfer(api, "3002")
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    await hang_up(ari, f"{call_id}~a1")
    await service.wait_for("transfer.completed", call_id=call_id, timeout=10)
    await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~t1", bridge__id=f"{call_id}~talk", timeout=15)
    await hang_up(ari, caller)
    done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done["agent"] == "3002" and done["hung_up_first"] == "caller"
    await nothing_left(ari, call_id, caller)


async def test_caller_hanging_up_during_consultation_leaves_agent_and_target_talking(service, ari, api, watcher):
    call_id, caller = await connected(service, ari)
    await transfer(api, "3002")
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    await hang_up(ari, call_id)
    await service.wait_for("transfer.abandoned", call_id=call_id, timeout=10)
    await asyncio.sleep(1)
    [consult] = [b for b in await ari.bridges() if b["id"] == f"{call_id}~consult1"]
    assert sorted(consult["channels"]) == sorted([f"{call_id}~a1", f"{call_id}~t1"])
    await hang_up(ari, f"{call_id}~a1")
    await nothing_left(ari, call_id, caller)


async def test_transfer_to_a_queue_enters_it_at_the_head(service, ari, api, watcher):
    """xferq's only agent 3006 is busy and a caller already waits there; the transferred caller goes
    ahead of that caller: 3006's next offer (its originate, seen in Asterisk) is the transferred call."""
    busy = await ari.call_queue("xferq", talk_s=60)
    first = await service.wait_for("call.answered", queue="xferq", agent="3006", timeout=10)
    await ari.call_queue("xferq", talk_s=60)
    waiting = await service.wait_for("call.queued", queue="xferq", count=2, timeout=10)
    assert waiting["call_id"] != first["call_id"]
    call_id, caller = await connected(service, ari)
    await transfer(api, "queue:xferq")
    # R-XFER-CONSENT, the queue case: where to is xferq's name (site prompt queue-xferq, 售后服务)
    where = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                               playback__media_uri=MEDIA + "xfer-to")
    await watcher.wait("PlaybackFinished", playback__id=where["playback"]["id"])
    assert watcher.media_of(where["playback"]["id"]) == [MEDIA + p for p in ("xfer-to", "queue-xferq", "please-wait")]
    await service.wait_for("transfer.completed", call_id=call_id, timeout=10)
    await asyncio.sleep(1)
    assert [e["call_id"] for e in service.events("call.offered", agent="3006")] == [first["call_id"]]  # busy
    await hang_up(ari, busy["id"])  # 3006 is free: the head of xferq is offered to it
    answered = await service.wait_for("call.answered", call_id=call_id, agent="3006", timeout=10)
    assert answered["queue"] == "xferq"
    offers = [e["call_id"] for e in service.events("call.offered", agent="3006")]
    assert offers == [first["call_id"], call_id], offers  # never the caller who was waiting first
    legs = [e["channel"]["id"].split("~")[0] for e in watcher.find("ChannelCreated")
            if e["channel"]["name"].startswith("Local/3006@e2e-answer") and e["channel"]["name"].endswith(";1")]
    assert legs == [first["call_id"], call_id], legs
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_agent_keys_transfer_and_complete(service, ari, watcher):
    """The agent's phone keys: ##3002# starts the transfer, *1 completes it once 3002 answered."""
    caller = (await ari.call_queue("xferkey", talk_s=60))["id"]
    answered = await service.wait_for("call.answered", queue="xferkey", agent="3007", timeout=10)
    call_id = answered["call_id"]
    requested = await service.wait_for("transfer.requested", call_id=call_id, timeout=20)
    assert requested["source"] == "dtmf" and requested["target"] == "3002"
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    await service.wait_for("transfer.completed", call_id=call_id, timeout=15)
    await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~t1", bridge__id=f"{call_id}~talk", timeout=15)
    await hang_up(ari, caller)
    done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done["agent"] == "3002"
    await nothing_left(ari, call_id, caller)
