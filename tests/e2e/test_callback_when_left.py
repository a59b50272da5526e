"""Issue 18 item 7 (R-CB) against the real Asterisk: before the voicemail the duty agent hears when it was
left (月/日/时/分, in the team's time zone) and the caller number's last four digits, so the seed's reply
"您上次(*月*日)咨询的…" can be said.

A caller (13800131234) waits past max_wait_s in queue vmq, presses 1 and leaves a message; the next check
calls the team's duty agent (tests/e2e/roster.toml: team desk, Asia/Shanghai). Which agent is on duty is
read from the service's own ``callback.task`` event for this task, not assumed: the rota steps at local
midnight (16:00 UTC), which may fall inside the test. Judged from Asterisk's own
PlaybackStarted events on the agent's channel, mapped to the prompts' Mandarin text (prompts/manifest.toml)
and compared with the text written here from the task's stored creation time. On the old code (099d431)
the agent heard ``callback-message`` alone.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

from ari_app.store import Store

from conftest import REPO

CALLER = "13800131234"  # 138…: the e2e customer answers (tests/e2e/asterisk), so the callback completes
MANIFEST = tomllib.loads((REPO / "prompts" / "manifest.toml").read_text("utf-8"))
MEDIA = "sound:callcenter/"


def numeral(n: int) -> str:
    """0..59 as Mandarin text (independent of the service's code)."""
    chars = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    if tens == 0:
        return chars[ones]
    return ("" if tens == 1 else chars[tens]) + "十" + (chars[ones] if ones else "")


def hour_text(h: int) -> str:
    return "两" if h == 2 else numeral(h)


def minute_text(m: int) -> str:
    return "" if m == 0 else ("零" + numeral(m) if m < 10 else numeral(m)) + "分"


async def test_duty_agent_hears_when_the_message_was_left_and_the_number_tail(service, ari, watcher, tmp_path):
    await ari.call_queue("vmq", context="e2e-vm-caller", exten="leave", caller_id=CALLER,
                         variables={"E2E_WAIT": "9", "E2E_SPEAK": "18"})
    committed = await service.wait_for("voicemail.committed", timeout=45)
    task_id = committed["task_id"]
    duty = (await service.wait_for("callback.task", task_id=task_id, timeout=40))["agent"]
    await service.wait_for("callback.agent_answered", agent=duty, timeout=5)
    agent = await watcher.wait("ChannelCreated", channel__id=lambda i: bool(i and re.fullmatch(rf"cb-{duty}-\d+", i)))
    agent_id = agent["channel"]["id"]
    first = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{agent_id}",
                               playback__media_uri=MEDIA + "callback-left-at", timeout=20)
    pb = first["playback"]["id"]
    done = await watcher.wait("PlaybackFinished", playback__id=pb, timeout=30)
    assert done["playback"]["state"] == "done"
    heard = watcher.media_of(pb)
    assert all(m.startswith(MEDIA) for m in heard), heard
    text = "".join(MANIFEST[m.removeprefix(MEDIA)]["zh"] for m in heard)

    store = Store(tmp_path / "state.db")
    try:
        [task] = [t for t in store.tasks() if t.task_id == task_id]
    finally:
        store.close()
    assert task.caller == CALLER
    left = datetime.fromtimestamp(task.created_at, ZoneInfo("Asia/Shanghai"))
    when = f"{numeral(left.month)}月{numeral(left.day)}日{hour_text(left.hour)}时"
    assert text == f"这条留言的时间是{when}{minute_text(left.minute)}来电号码尾号幺二三四" + MANIFEST["callback-message"]["zh"]
    # then the voicemail itself, then the customer is dialled
    message = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{agent_id}",
                                 playback__media_uri=f"recording:callcenter/{task_id}", timeout=10)
    assert message["playback"]["id"] != pb
    closed = await service.wait_for("callback.closed", task_id=task_id, timeout=40)
    assert closed["state"] == "reached"
