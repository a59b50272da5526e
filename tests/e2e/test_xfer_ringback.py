"""Issue 18 item 3 against the real Asterisk: while the transfer target rings, the consulting agent hears
ringback (Asterisk's China ring tone, indications.conf [cn]) on its own leg, not silence; it stops when the
target answers or fails. Judged from Asterisk's own events (PlaybackStarted/PlaybackFinished on the agent's
channel, ChannelEnteredBridge, ChannelDestroyed) as the e2e-watch app sees them.

Agent 3001 (queue xfer) holds the call; 3002 answers at once, 3003 never answers (ring target 4 s)."""

from __future__ import annotations

import asyncio

from conftest import ari_time
from test_transfer import back_with_agent, connected, hang_up, nothing_left, transfer

RINGBACK = "tone:ring;tonezone=cn"


async def test_the_agent_hears_ringback_while_the_target_rings_and_not_after_it_fails(service, ari, api, watcher):
    call_id, caller = await connected(service, ari)
    await transfer(api, "3003")
    ringing = await service.wait_for("transfer.target_ringing", call_id=call_id, timeout=10)
    tone = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}~a1",
                              playback__media_uri=RINGBACK, timeout=5)
    # the tone starts as the target rings: before the target leg is even answered (it never is)
    created = await watcher.wait("ChannelCreated", channel__id=f"{call_id}~t1")
    assert 0 <= ari_time(tone) - ari_time(created) < 2, (ari_time(created), ari_time(tone))
    failed = await back_with_agent(service, watcher, call_id, "target_failed")
    assert ringing["state"] == "target_ringing" and failed["reason"] == "ring_target"
    stopped = await watcher.wait("PlaybackFinished", playback__id=tone["playback"]["id"], timeout=5)
    gone = await watcher.wait("ChannelDestroyed", channel__id=f"{call_id}~t1", timeout=5)
    # it rang for the ring target (4 s), and stopped with the target's leg, not later
    assert ari_time(stopped) - ari_time(tone) >= 3, (ari_time(tone), ari_time(stopped))
    assert abs(ari_time(stopped) - ari_time(gone)) < 1.5, (ari_time(stopped), ari_time(gone))
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)


async def test_ringback_stops_when_the_target_answers(service, ari, api, watcher):
    call_id, caller = await connected(service, ari)
    xid = await transfer(api, "3002")  # 3002 answers at once: the tone is stopped about as soon as it is asked for
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    stopped = await watcher.wait("PlaybackFinished", playback__target_uri=f"channel:{call_id}~a1",
                                 playback__media_uri=RINGBACK, timeout=5)
    consult = await watcher.wait("ChannelEnteredBridge", channel__id=f"{call_id}~a1",
                                 bridge__id=f"{call_id}~consult1", timeout=5)
    assert ari_time(stopped) <= ari_time(consult) + 0.5  # the agent talks to the target without the tone
    await asyncio.sleep(1)
    assert len(watcher.find("PlaybackFinished", playback__target_uri=f"channel:{call_id}~a1",
                            playback__media_uri=RINGBACK)) == 1  # one tone, and over
    assert (await api.delete(f"/transfers/{xid}")).status_code == 200
    await back_with_agent(service, watcher, call_id, "cancelled")
    await hang_up(ari, caller)
    await nothing_left(ari, call_id, caller)
