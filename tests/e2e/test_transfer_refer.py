"""The agent phone's own transfer key: a blind SIP REFER, run by the service as the same attended
transfer (R-XFER-CONFIRM). The NOTIFY sipfrags the phone receives never say 200 before the target
answered; when the target does not answer the phone hears a failure and the caller is back with it."""

from __future__ import annotations

from datetime import datetime

from conftest import ari_time
from sipp import SippPhone


def log_time(entry: dict) -> float:
    return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()


async def test_refer_completes_only_after_the_target_answered(service, ari, watcher):
    async with SippPhone("1010", "dev-1010", answer_after_s=1, refer_to="3002", refer_at_s=8) as phone:
        caller = (await ari.call_queue("xferrefer", talk_s=60))["id"]
        answered = await service.wait_for("call.answered", queue="xferrefer", agent="1010", timeout=15)
        call_id = answered["call_id"]
        requested = await service.wait_for("transfer.requested", call_id=call_id, timeout=20)
        assert requested["source"] == "refer" and requested["target"] == "3002"
        ok = await phone.wait_notify(lambda n: "200" in n[2], timeout=15)
        consulting = await service.wait_for("transfer.consulting", call_id=call_id, timeout=5)
        notifies = phone.notifies()
        assert notifies[0][2].startswith("SIP/2.0 100"), notifies
        assert ok[0] >= log_time(consulting) - 0.05, (ok, consulting)  # no 200 before the target answered
        assert [n for n in notifies if "200" in n[2]] == [ok]
        await service.wait_for("transfer.completed", call_id=call_id, timeout=5)
        await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~t1", bridge__id=f"{call_id}~talk",
                           timeout=15)
        await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~a1", timeout=5)  # the agent's phone let go
        await ari.delete(f"/channels/{caller}")
        done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
        assert done["agent"] == "3002"
        chans, bridges = await ari.wait_empty(2)
        assert chans == [] and bridges == []


async def test_refer_to_a_target_that_does_not_answer_fails_back_to_the_agent(service, ari, watcher):
    async with SippPhone("1010", "dev-1010", answer_after_s=1, refer_to="3003", refer_at_s=8) as phone:
        caller = (await ari.call_queue("xferrefer", talk_s=60))["id"]
        answered = await service.wait_for("call.answered", queue="xferrefer", agent="1010", timeout=15)
        call_id = answered["call_id"]
        failed = await service.wait_for("transfer.target_failed", call_id=call_id, timeout=30)
        assert failed["reason"] == "ring_target"
        final = await phone.wait_notify(lambda n: n[1].startswith("terminated"), timeout=10)
        assert final[2].startswith("SIP/2.0 503"), phone.notifies()
        assert not any("200" in n[2] for n in phone.notifies())
        back = await watcher.wait("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~talk",
                                  timestamp=lambda t: t >= failed["timestamp"][:19], timeout=10)
        assert ari_time(back) >= log_time(failed) - 1
        # still talking: the agent's leg is up and bridged with the caller
        [talk] = [b for b in await ari.bridges() if b["id"] == f"{call_id}~talk"]
        assert sorted(talk["channels"]) == sorted([call_id, f"{call_id}~a1"])
        await ari.delete(f"/channels/{caller}")
        await service.wait_for("call.completed", call_id=call_id, timeout=10)
        chans, bridges = await ari.wait_empty(2)
        assert chans == [] and bridges == []
