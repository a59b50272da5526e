"""Issue 18 item 6 (R-HOURS) against the real Asterisk: the closed message states the queue's own hours.

The test's queue ``hours`` has a NON-default calendar (Mon–Sat 09:00–18:05, Sun 10:30–16:00, in
Europe/Berlin) whose holidays are yesterday, today and tomorrow in that time zone, computed when the test
runs: the queue is closed whatever the time of day or weekday the test runs at (and across midnight while
it runs), yet the calendar has windows to state. Judged from Asterisk's own PlaybackStarted events: the
media played to the caller are exactly closed-intro + those hours, then the after-hours destination.
On the old code (099d431) every closed queue played the one recording ``closed`` (Mon–Fri 8:45–12:00,
13:30–17:30 baked in), whatever its calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import Service, config_with

MEDIA = "sound:callcenter/"
TZ = "Europe/Berlin"
# 您好，现在是非工作时间。我们的服务时间是 星期一至星期六 九点至十八点零五分 星期日 十点三十分至十六点 (hand-written)
EXPECTED = ["closed-intro", "weekday-1", "to", "weekday-6",
            "digit-9", "oclock", "to", "num-10", "digit-8", "oclock", "digit-0", "digit-5", "minute",
            "weekday-7", "num-10", "oclock", "digit-3", "num-10", "minute", "to", "num-10", "digit-6", "oclock"]


def hours_config(tmp_path):
    today = datetime.now(ZoneInfo(TZ)).date()
    holidays = ", ".join(f'"{today + timedelta(days=d)}"' for d in (-1, 0, 1))
    extra = f"""
[calendars.e2ehours]          # issue 18: windows to state, but a holiday whenever the test runs
timezone = "{TZ}"
windows = ["mon-sat 09:00-18:05", "sun 10:30-16:00"]
holidays = [{holidays}]

[queues.hours]
calendar = "e2ehours"
"""
    path = config_with(tmp_path, extra, name="hours.toml")
    text = path.read_text()
    assert text.count("[callbacks.queue_teams]\n") == 1
    path.write_text(text.replace("[callbacks.queue_teams]\n", '[callbacks.queue_teams]\nhours = "desk"\n'))
    return path


async def test_closed_message_states_a_non_default_calendars_hours(asterisk, ari, watcher, tmp_path):
    svc = Service(tmp_path, config=hours_config(tmp_path)).start()
    try:
        await svc.wait_for("ari.resynced", timeout=20)
        await ari.call_queue("hours", talk_s=40, formats="ulaw")
        diverted = await svc.wait_for("call.diverted", queue="hours", timeout=10)
        assert diverted["reason"] == "closed" and diverted["rule"] == "R-HOURS"
        call_id = diverted["call_id"]
        first = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{call_id}",
                                   playback__media_uri=MEDIA + "closed-intro", timeout=10)
        pb = first["playback"]["id"]
        done = await watcher.wait("PlaybackFinished", playback__id=pb, timeout=40)
        assert done["playback"]["state"] == "done"
        heard = watcher.media_of(pb)
        assert heard == [MEDIA + p for p in EXPECTED], heard
        await watcher.wait("ChannelDialplan", channel__id=call_id,
                           channel__dialplan__context="callcenter-voicemail", timeout=5)
        # nothing else was played to the caller before it (no old 'closed' recording); then the voicemail's own
        played = [e["playback"]["media_uri"] for e in watcher.find("PlaybackStarted",
                                                                   playback__target_uri=f"channel:{call_id}")]
        assert played[:len(heard)] == heard and MEDIA + "closed" not in played, played
        assert svc.events("call.offered", call_id=call_id) == []
        assert not svc.errors(), svc.errors()[:3]
    finally:
        svc.stop()

