"""Issue 18 item 7 (R-CB): before a voicemail the duty agent hears when it was left (月/日/时/分 in the team's
time zone) and the caller number's last four digits, so the seed's reply "您上次(*月*日)咨询的…" can be said.

Core: ``DialCustomer.left`` carries those prompts (a task without a voicemail has none). Flow: the agent's
first playback of a task is ``left`` + ``callback-message``. On the old code (099d431) DialCustomer had no
``left`` and the agent heard ``callback-message`` alone.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from ari_app.ari import Channel, StasisStart
from ari_app.core.callbacks import (
    CallbackRules, Callbacks, CallDutyAgent, DialCustomer, DutyAnswered, VoicemailLeft,
)
from ari_app.core.roster import Roster, Shift, Team
from ari_app.flows.callback import DutyCall

MANIFEST = tomllib.loads((Path(__file__).resolve().parents[2] / "prompts" / "manifest.toml").read_text("utf-8"))
UTC = ZoneInfo("UTC")


def said(ids) -> str:
    return "".join(MANIFEST[p]["zh"] for p in ids)


def duty_dial(tz: str, left_at: datetime, caller: str, recording: str = "vm/t1") -> DialCustomer:
    """A task left at ``left_at``, its duty agent called and answering: the core's DialCustomer."""
    team = Team(name="support", agents=("1001",),
                shifts=(Shift(name="all", start=time(0), end=time(0), weekdays=frozenset(range(7)), timezone=tz),))
    t0 = left_at.timestamp()
    cb = Callbacks(CallbackRules(check_every_s=600.0), Roster([team]), now=t0 - 60)
    cb.handle(VoicemailLeft(task_id="t1", caller=caller, queue="support", recording=recording, created_at=t0), t0)
    for _ in range(1000):
        t = cb.get_timer()
        assert t is not None
        calls = [a for a in cb.handle_timer(t) if isinstance(a, CallDutyAgent)]
        if calls:
            [dial] = [a for a in cb.handle(DutyAnswered(agent_id="1001"), t + 1) if isinstance(a, DialCustomer)]
            return dial
    raise AssertionError("the duty agent was never called")


def test_core_says_when_it_was_left_in_the_teams_time_zone_and_the_number_tail():
    # 23:50 UTC on 6 Dec is 07:50 on 7 Dec in Shanghai: the agent hears the team's local day and hour
    dial = duty_dial("Asia/Shanghai", datetime(2026, 12, 6, 23, 50, tzinfo=UTC), "13800131234")
    assert said(dial.left) == "这条留言的时间是十二月七日七时五十分来电号码尾号幺二三四"
    assert dial.left[0] == "callback-left-at" and dial.left[-5:] == (
        "callback-number-tail", "digit-1", "digit-2", "digit-3", "digit-4")
    # the same moment for a team in London: still 6 Dec, 23:50
    dial = duty_dial("Europe/London", datetime(2026, 12, 6, 23, 50, tzinfo=UTC), "13800131234")
    assert said(dial.left) == "这条留言的时间是十二月六日二十三时五十分来电号码尾号幺二三四"


def test_core_short_or_withheld_numbers():
    when = datetime(2026, 3, 2, 10, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert said(duty_dial("Asia/Shanghai", when, "110").left) == "这条留言的时间是三月二日十时零五分来电号码尾号幺幺零"
    assert said(duty_dial("Asia/Shanghai", when, "").left) == "这条留言的时间是三月二日十时零五分"
    assert said(duty_dial("Asia/Shanghai", when, "anonymous").left) == "这条留言的时间是三月二日十时零五分"


def test_core_a_task_without_a_voicemail_has_nothing_to_say_about_it():
    when = datetime(2026, 3, 2, 10, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert duty_dial("Asia/Shanghai", when, "13800131234", recording="").left == ()


class _Ari:
    def __init__(self) -> None:
        self.played: list[tuple[str, object]] = []

    async def play(self, channel_id, media, playback_id=None):
        self.played.append((channel_id, media))


async def test_flow_plays_when_left_and_the_tail_before_the_message():
    ari = _Ari()
    call = DutyCall("cb-1001-1", ari=ari, app="callcenter", agent_id="1001", interface="PJSIP/1001", task_count=1,
                    report=lambda e: None, trunk=None, wrong_number_key="*3", skip_key="#")
    call.stage = "idle"
    left = ("callback-left-at", "num-10", "digit-2", "month", "digit-7", "day", "digit-8", "hour",
            "callback-number-tail", "digit-1", "digit-2", "digit-3", "digit-4")
    await call.do(DialCustomer(task_id="t1", agent_id="1001", caller="13800131234", recording="callcenter/t1",
                               attempt=1, left=left))
    assert ari.played == [("cb-1001-1", [f"sound:callcenter/{p}" for p in (*left, "callback-message")])]


async def test_flow_a_count_beyond_what_can_be_said_is_said_as_9999_not_an_error():
    ari = _Ari()
    call = DutyCall("cb-1001-1", ari=ari, app="callcenter", agent_id="1001", interface="PJSIP/1001",
                    task_count=12345, report=lambda e: None, trunk=None, wrong_number_key="*3", skip_key="#")
    await call.on_event(StasisStart(type="StasisStart", channel=Channel(id="cb-1001-1"), args=("callback",)))
    [(_, media)] = ari.played
    assert said(m.removeprefix("sound:callcenter/") for m in media).endswith("九千九百九十九")
