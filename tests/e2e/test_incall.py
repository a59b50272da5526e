"""Hold with reminders, R-WAIT's apology after 10 s on hold and the resume apology (R-HOLD), and the
silent-caller script (R-SILENT), started by the agent's own keys (the agent's side sends DTMF into the call).
The script started by talk detection: test_incall_talk.py."""

from __future__ import annotations

from conftest import ari_time

MEDIA = "sound:callcenter/"


async def test_r_hold_by_key_caller_hears_music_agent_is_reminded_resume_apologises(service, ari, watcher):
    """Agent 3101 holds for 13 s: reminders every 3 s (hold_remind_s); at 10 s on hold the caller hears
    "对不起，请稍等！" once (R-WAIT: "用户等待超过10秒，应说：'对不起，请稍等！'"), then the music; resuming says
    "对不起，让您久等了！"."""
    await ari.call_queue("hold", talk_s=40)
    answered = await service.wait_for("call.answered", queue="hold", agent="3101", timeout=10)
    call_id, agent_leg = answered["call_id"], f"{answered['call_id']}~a1"
    held = await service.wait_for("call.hold", call_id=call_id, timeout=20)
    assert held["source"] == "key" and held["rule"] == "R-HOLD"
    reminders = []
    for n in (1, 2):
        reminders.append(await watcher.wait("PlaybackStarted", timeout=10, playback__target_uri=f"channel:{agent_leg}",
                                            playback__media_uri="sound:beep",
                                            playback__id=lambda i, seen=len(reminders), r=reminders: (
                                                i not in [x["playback"]["id"] for x in r])))
    # the caller went back into the holding bridge (it waited there before being answered, too)
    into_hold = max((e for e in watcher.find("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~hold")
                     if ari_time(e) <= ari_time(reminders[0])), key=ari_time)
    first, second = (ari_time(r) - ari_time(into_hold) for r in reminders)
    assert abs(first - 3) <= 1 and abs(second - 6) <= 1, (first, second)
    # R-WAIT on hold: the apology on the caller's own channel at 10 ± 1 s of the hold (Asterisk's clock)
    apology = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                                 playback__media_uri=MEDIA + "wait-apology", timeout=10)
    assert abs(ari_time(apology) - ari_time(into_hold) - 10) <= 1, ari_time(apology) - ari_time(into_hold)
    logged = await service.wait_for("call.hold_apology", call_id=call_id, timeout=5)
    assert logged["rule"] == "R-WAIT" and abs(logged["held_s"] - 10) <= 0.5
    apology_done = await watcher.wait("PlaybackFinished", playback__id=apology["playback"]["id"], timeout=10)
    assert apology_done["playback"]["state"] == "done"  # heard to its end (the hold lasts 13 s)
    unhold = await service.wait_for("call.unhold", call_id=call_id, timeout=10)
    assert 12 <= unhold["held_s"] <= 15
    sorry = await watcher.wait("PlaybackFinished", playback__target_uri=f"channel:{call_id}",
                               playback__media_uri=MEDIA + "hold-sorry", timeout=10)
    assert sorry["playback"]["state"] == "done"
    back = await watcher.wait("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~talk",
                              timestamp=lambda t: t >= sorry["timestamp"], timeout=5)
    assert ari_time(back) >= ari_time(sorry)
    # then the music: the caller stayed in the holding bridge from the hold to the resume apology, and the
    # apology was said once in the hold
    left = [e for e in watcher.find("ChannelLeftBridge", channel__id=call_id, bridge__id=f"{call_id}~hold")
            if ari_time(into_hold) < ari_time(e) < ari_time(sorry)]
    assert left == []
    assert len(watcher.find("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                            playback__media_uri=MEDIA + "wait-apology")) == 1
    await ari.delete(f"/channels/{call_id}")
    done = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert 12 <= done["hold_s"] <= 15


async def test_r_silent_script_prompt_wait_prompt_wait_hang_up(service, ari, watcher):
    await ari.call_queue("silent", talk_s=60)
    answered = await service.wait_for("call.answered", queue="silent", agent="3102", timeout=10)
    call_id = answered["call_id"]
    await service.wait_for("call.silent_script", call_id=call_id, timeout=20)
    bridge = f"bridge:{call_id}~talk"
    hello = await watcher.wait("PlaybackFinished", playback__target_uri=bridge,
                               playback__media_uri=MEDIA + "silent-hello", timeout=10)
    bye = await watcher.wait("PlaybackStarted", playback__target_uri=bridge,
                             playback__media_uri=MEDIA + "silent-bye", timeout=10)
    assert abs(ari_time(bye) - ari_time(hello) - 2) <= 1
    bye_done = await watcher.wait("PlaybackFinished", playback__id=bye["playback"]["id"], timeout=10)
    gone = await watcher.wait("ChannelDestroyed", channel__id=call_id, timeout=10)
    assert abs(ari_time(gone) - ari_time(bye_done) - 2) <= 1
    silent = await service.wait_for("call.silent", call_id=call_id, timeout=5)
    assert silent["rule"] == "R-SILENT"
    done = await service.wait_for("call.completed", call_id=call_id, timeout=5)
    assert done["hung_up_first"] == "system"  # not counted against the agent (R-HANGUP)
    chans, bridges = await ari.wait_empty(2)
    assert chans == [] and bridges == []
