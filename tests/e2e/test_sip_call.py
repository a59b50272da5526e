"""The first queue call with real SIP phones (issue 2): a SIPp caller dials the queue, the SIPp
agent phone 1001 answers; media and in-call DTMF flow through Asterisk (direct_media=no,
bridge type mixing,dtmf_events)."""

from __future__ import annotations

import asyncio

from conftest import ari_time
from sipp import SippCaller, SippPhone


async def test_sip_caller_answered_by_sip_agent_with_media_and_dtmf_through_asterisk(service, ari, watcher):
    async with SippPhone("1001", "dev-1001", answer_after_s=1) as phone:
        async with SippCaller("caller1", "dev-caller1", "600", duration_s=20, dtmf="5", dtmf_at_s=14) as caller:
            answered = await service.wait_for("call.answered", queue="support", agent="1001", timeout=20)
            call_id = answered["call_id"]
            agent_leg = f"{call_id}~a1"
            bridged = await service.wait_for("call.bridged", call_id=call_id, timeout=15)
            # the bridge mixes (not a native RTP bridge) and raises DTMF events
            [talk] = [b for b in await ari.bridges() if b["id"] == f"{call_id}~talk"]
            assert talk["bridge_type"] == "mixing" and talk["technology"] == "simple_bridge"
            assert sorted(talk["channels"]) == sorted([call_id, agent_leg])
            await asyncio.sleep(4)  # talk
            for leg in (call_id, agent_leg):
                ch = await ari.get(f"/channels/{leg}")
                assert ch["name"].startswith("PJSIP/"), ch["name"]
                stats = await ari.get(f"/channels/{leg}/rtp_statistics")
                assert stats["rxcount"] > 50 and stats["txcount"] > 50, (leg, stats)
            # DTMF sent by the caller during the bridged call reaches the service as ChannelDtmfReceived;
            # the log says a key was pressed, not which (issue 17: "5" is none of the service's keys)
            dtmf = await service.wait_for("call.dtmf", call_id=call_id, digit="masked", role="caller", timeout=15)
            assert dtmf["timestamp"] > bridged["timestamp"]
            ari_dtmf = await watcher.wait("ChannelDtmfReceived", channel__id=call_id, digit="5")
            assert ari_dtmf["duration_ms"] > 0
            rc = await caller.wait()  # the caller hangs up (BYE) after 20 s
            assert rc == 0, caller.report()
            # within 2 s of the hang-up nothing is left behind in Asterisk
            chans, bridges = await ari.wait_empty(2)
            assert chans == [] and bridges == [], (chans, bridges)
        done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
        assert done["hung_up_first"] == "caller" and done["agent"] == "1001"
        await phone.wait_for("BYE from Asterisk", timeout=5)
    caller_gone = await watcher.wait("ChannelDestroyed", channel__id=call_id)
    agent_gone = await watcher.wait("ChannelDestroyed", channel__id=agent_leg)
    assert 0 <= ari_time(agent_gone) - ari_time(caller_gone) < 2
