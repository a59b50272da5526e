"""Issue 18 item 1 against the real Asterisk: the twelfth caller in line hears "您现在排在第十二位".

Queue ``wait`` (tests/e2e/config.toml): its only agent, 2003, is logged in but its phone rings and rings
(ring_target_s 60), so the first caller rings it and everybody after waits; the apology comes at 10 s, the
position at 10 + 5 s. Judged from Asterisk's own PlaybackStarted events (one per media item of a playback).
On the old code (099d431) position 12 was read digit by digit: position-prefix count-1 digit-2 (第一二位).
"""

from __future__ import annotations

import asyncio

MEDIA = "sound:callcenter/"
CALLERS = 12


async def test_position_twelve_is_announced_as_shi_er(service, ari, watcher):
    """R-WAITLIMIT's position announcement in Mandarin numerals: 第十二位, not 第一二位."""
    await ari.call_queue("wait", talk_s=40, formats="ulaw")
    await service.wait_for("call.offered", queue="wait", timeout=10)  # the head of the line rings 2003
    for _ in range(CALLERS - 1):
        await ari.call_queue("wait", talk_s=40, formats="ulaw")
        await asyncio.sleep(0.1)  # one after another: their order in line is their order of arrival
    queued = await service.wait_for("call.queued", queue="wait", count=CALLERS, timeout=15)
    last = queued["call_id"]
    assert len(service.events("call.queued", queue="wait")) == CALLERS
    first_item = await watcher.wait("PlaybackStarted", timeout=25, playback__target_uri=f"channel:{last}",
                                    playback__media_uri=MEDIA + "position-prefix")
    pb = first_item["playback"]["id"]
    done = await watcher.wait("PlaybackFinished", playback__id=pb, timeout=30)
    assert done["playback"]["state"] == "done"
    heard = watcher.media_of(pb)
    # 您现在排在第 十 二 位 (then the wait estimate)
    assert heard[:4] == [MEDIA + p for p in ("position-prefix", "num-10", "digit-2", "position-suffix")], heard
    assert MEDIA + "digit-1" not in heard and MEDIA + "count-1" not in heard[:4], heard
    announced = await service.wait_for("call.announced", call_id=last, purpose="position", timeout=5)
    assert announced["rule"] == "R-WAITLIMIT"
    # nobody else in line was told 12: the position is the caller's own
    for e in watcher.find("PlaybackStarted", playback__media_uri=MEDIA + "position-prefix"):
        if e["playback"]["target_uri"] != f"channel:{last}":
            items = [x["playback"]["media_uri"] for x in watcher.find("PlaybackStarted",
                                                                      playback__id=e["playback"]["id"])]
            assert items[1:3] != [MEDIA + "num-10", MEDIA + "digit-2"], (e["playback"]["target_uri"], items)
