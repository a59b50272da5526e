"""Rules that had unit tests only, now against the real Asterisk (issue 18): R-VM-RR's daily step and the
skip of an agent on leave, R-WRAP, R-SLA24's overdue alert, R-COMPLY's apology check.

Config: tests/e2e/config.toml (queues vmq, wrapq, complyq; [callbacks] checks every 15 s) and
tests/e2e/roster.toml (team desk: 5001, 5002, 5003, all day every day, Asia/Shanghai). Each test judges
from Asterisk's own events (the watcher) what a caller or an agent would notice.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.callbacks import RotaPointer, RotaState
from ari_app.store import Store

from conftest import E2E_CONFIG, Service, ari_time
from test_callback_calls import leave_voicemail
from test_metrics import sample, scrape

TZ = ZoneInfo("Asia/Shanghai")  # tests/e2e/roster.toml
MIDNIGHT_MARGIN_S = 120  # longer than one test here runs: none crosses Shanghai's midnight (16:00 UTC)


@pytest.fixture(autouse=True)
def shanghai_day() -> date:
    """The test's one day in Asia/Shanghai, read once, before the service starts (autouse: before the
    ``service`` fixture). Within MIDNIGHT_MARGIN_S of midnight it first waits until past it, so the test, the
    service and the API calls all see the same day."""
    now = datetime.now(TZ)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), TZ)
    if (left := (midnight - now).total_seconds()) < MIDNIGHT_MARGIN_S:
        time.sleep(left + 1)
    return datetime.now(TZ).date()


def day(on: date, offset: int = 0) -> str:
    return (on + timedelta(days=offset)).isoformat()


async def started(tmp_path, config=E2E_CONFIG) -> Service:
    svc = Service(tmp_path, config=config).start()
    await svc.wait_for("ari.resynced")
    return svc


def stopped_clean(svc: Service) -> None:
    svc.stop()
    assert not svc.errors(), f"service logged errors: {svc.errors()[:3]}"


async def duty(api, on: str | None = None) -> dict:
    r = await api.get("/roster/duty", params={"day": on} if on else {})
    assert r.status_code == 200, r.text
    return r.json()["teams"]["desk"]


async def callback_rings(service, watcher, agent: str) -> str:
    """The duty check rings ``agent``'s own phone (its endpoint in Asterisk) and it answers; no other desk
    agent's phone is rung. Returns the agent's channel id."""
    await service.wait_for("callback.calling_agent", agent=agent, timeout=25)
    created = await watcher.wait("ChannelCreated",
                                 channel__id=lambda i: bool(i and i.startswith(f"cb-{agent}-")))
    channel = created["channel"]
    assert channel["name"].startswith(f"Local/{agent}@e2e-answer-"), channel
    await watcher.wait("Dial", peer__id=channel["id"], dialstatus="ANSWER", timeout=10)
    rung = {e["channel"]["name"].split("@")[0] for e in watcher.find("ChannelCreated")
            if e["channel"]["name"].startswith(("Local/5001@", "Local/5002@", "Local/5003@"))}
    assert rung == {f"Local/{agent}"}, rung
    return channel["id"]


async def test_r_vm_rr_the_duty_steps_to_the_next_agent_in_id_order_each_day(asterisk, ari, api, watcher,
                                                                              tmp_path, shanghai_day):
    """座席员按工号先后顺序每天轮流听取语音信箱留言 (R-VM-RR): the rota's pointer, as the service stored it
    yesterday (5001 held duty), is in the store; today the service makes the next agent in ID order,
    5002, the duty agent: the voicemail goes to 5002 and the check rings 5002's phone."""
    store = Store(tmp_path / "state.db")
    try:
        yesterday = shanghai_day - timedelta(days=1)
        pointer = RotaPointer(last_agent="5001", day=yesterday, duty="5001")
        store.save_rota(RotaState(pointers={"desk": pointer}))
    finally:
        store.close()
    svc = await started(tmp_path)
    try:
        assert (await duty(api))["agent"] == "5002"
        later = [(await duty(api, day(shanghai_day, n)))["agent"] for n in (1, 2)]
        assert later == ["5003", "5001"]  # a step a day, round
        committed = await leave_voicemail(ari, svc, watcher, "13800138001")
        assigned = await svc.wait_for("callback.assigned", task_id=committed["task_id"], timeout=10)
        assert assigned["agent"] == "5002" and assigned["rule"] == "R-VM-RR", assigned
        fixed = svc.events("callback.duty", team="desk")
        assert fixed and fixed[-1]["agent"] == "5002" and fixed[-1]["day"] == day(shanghai_day), fixed
        await callback_rings(svc, watcher, "5002")
    finally:
        stopped_clean(svc)


async def test_r_vm_rr_an_agent_on_leave_is_skipped_for_the_next_in_order(shanghai_day, service, ari, api,
                                                                            watcher):
    """如遇被安排…的座席员请假，依次顺延下一位 (R-VM-RR, R-LEAVE): today's duty agent 5001 is put on leave
    through the API; the next in order, 5002, takes the day, gets the voicemail and its phone is rung."""
    assert (await duty(api))["agent"] == "5001"  # a fresh rota starts at the lowest ID
    r = await api.post("/roster/leave", json={"agent_id": "5001", "day": day(shanghai_day), "override": True})
    assert r.status_code == 200 and r.json()["granted"], r.text
    now = await duty(api)
    assert now["agent"] == "5002" and now["on_leave"] == ["5001"], now
    committed = await leave_voicemail(ari, service, watcher, "13800138002")
    assigned = await service.wait_for("callback.assigned", task_id=committed["task_id"], timeout=10)
    assert assigned["agent"] == "5002" and assigned["rule"] == "R-VM-RR", assigned
    # today is fixed now (5002 held duty): the next day continues after 5002, 5001 is not owed a turn
    assert (await duty(api, day(shanghai_day, 1)))["agent"] == "5003"
    await callback_rings(service, watcher, "5002")


async def test_r_wrap_the_agent_gets_the_next_call_only_after_wrap_up(service, ari, watcher):
    """话后处理 (R-WRAP): queue wrapq has 4 s of wrap-up. Caller A talks with 7201 and hangs up while B
    waits; 7201's phone is rung for B (its originate, seen in Asterisk) 4 s after A's call ended, not
    before."""
    await ari.call_queue("wrapq", talk_s=6)
    a = await service.wait_for("call.answered", queue="wrapq", agent="7201", timeout=10)
    await ari.call_queue("wrapq", talk_s=30)
    b = await service.wait_for("call.queued", queue="wrapq", count=2, timeout=10)
    assert b["call_id"] != a["call_id"]
    ended = await watcher.wait("ChannelHangupRequest", channel__id=a["call_id"], timeout=15)
    assert not service.events("call.offered", call_id=b["call_id"]), "B was offered while 7201 talked with A"
    offered = await service.wait_for("call.offered", call_id=b["call_id"], agent="7201", timeout=15)
    assert offered["queue"] == "wrapq"
    leg = await watcher.wait("ChannelCreated", timeout=5,
                             channel__id=lambda i: bool(i and i.startswith(b["call_id"] + "~")))
    assert leg["channel"]["name"].startswith("Local/7201@e2e-answer-"), leg["channel"]
    gap = ari_time(leg) - ari_time(ended)
    assert 4 - 0.3 <= gap <= 4 + 1.5, f"7201 was rung for B {gap:.2f} s after A's call ended; wrap-up is 4 s"
    await service.wait_for("call.answered", call_id=b["call_id"], agent="7201", timeout=10)


def config_with_deadline(tmp_path, deadline_s: int):
    """tests/e2e/config.toml with [callbacks] deadline_s short (R-SLA24: 24 h by default), the roster beside
    it."""
    shutil.copy(E2E_CONFIG.parent / "roster.toml", tmp_path / "roster.toml")
    text = E2E_CONFIG.read_text()
    assert text.count("\n[callbacks]\n") == 1
    path = tmp_path / "config-sla.toml"
    path.write_text(text.replace("\n[callbacks]\n", f"\n[callbacks]\ndeadline_s = {deadline_s}\n"))
    return path


async def test_r_sla24_an_overdue_task_alerts_and_is_counted(asterisk, ari, watcher, tmp_path):
    """一般情况问题的解决时间不超过24小时 (R-SLA24), the deadline shortened to 5 s: the voicemail's task goes
    overdue while still open: one ``callback.overdue`` alert, counted on /metrics and in the store (the
    report's "callbacks overdue")."""
    svc = await started(tmp_path, config_with_deadline(tmp_path, 5))
    try:
        t0 = time.time()
        committed = await leave_voicemail(ari, svc, watcher, "13900139003")  # 139…: never answers
        task_id = committed["task_id"]
        assert f"callcenter/{task_id}" in await ari.recordings()
        overdue = await svc.wait_for("callback.overdue", task_id=task_id, timeout=15)
        assert overdue["rule"] == "R-SLA24" and overdue["team"] == "desk" and overdue["agent"] == "5001"
        assert overdue["deadline"] - overdue["created_at"] == pytest.approx(5), overdue
        assert overdue["late_s"] >= 0, overdue
        scraped = await scrape()
        assert sample(scraped, "callcenter_callbacks_overdue", team="desk") == 1
        assert sample(scraped, "callcenter_callbacks_went_overdue_total", team="desk") == 1
        for _ in range(50):  # the store's write goes through the outbox
            store = Store(tmp_path / "state.db")
            try:
                counted = store.overdue_callbacks(t0 - 1, time.time() + 1)
            finally:
                store.close()
            if counted:
                break
            await asyncio.sleep(0.1)
        assert counted == ["5001"], counted
        await asyncio.sleep(1)
        assert len(svc.events("callback.overdue", task_id=task_id)) == 1, "the alert is given once"
    finally:
        stopped_clean(svc)


async def test_r_comply_a_caller_waiting_past_10_s_hears_the_apology_and_the_record_says_so(
        service, ari, watcher, tmp_path):
    """用户等待超过10秒，应说："对不起，请稍等！" (R-WAIT, checked by R-COMPLY): 7202 is busy with A while B
    waits; B hears the apology on its own channel at 10 ± 1 s, is answered when A hangs up, and B's
    compliance record (logged and stored) has the apology check kept."""
    await ari.call_queue("complyq", talk_s=13)
    a = await service.wait_for("call.answered", queue="complyq", agent="7202", timeout=10)
    await ari.call_queue("complyq", talk_s=24)
    b = (await service.wait_for("call.queued", queue="complyq", count=2, timeout=10))["call_id"]
    assert b != a["call_id"]
    entered = await watcher.wait("ChannelCreated", channel__id=b, timeout=2)
    apology = await watcher.wait("PlaybackStarted", playback__target_uri=f"channel:{b}",
                                 playback__media_uri="sound:callcenter/wait-apology", timeout=15)
    at = ari_time(apology) - ari_time(entered)
    assert 10 - 1 <= at <= 10 + 1, f"the apology started {at:.2f} s after B entered"
    await service.wait_for("call.answered", call_id=b, agent="7202", timeout=15)
    await watcher.wait("ChannelEnteredBridge", channel__id=b, bridge__id=f"{b}~talk", timeout=15)
    record = await service.wait_for("call.compliance", call_id=b, timeout=30)
    assert record["rule"] == "R-COMPLY" and record["checks"]["R-WAIT"] is True, record
    assert record["passed"] is True and record["agent"] == "7202", record
    first = await service.wait_for("call.compliance", call_id=a["call_id"], timeout=5)
    assert first["checks"]["R-WAIT"] is None, first  # answered at once: no apology was due
    for _ in range(50):
        store = Store(tmp_path / "state.db")
        try:
            stored = {c.call_id: c for c in store.compliance(0, time.time() + 60)}
        finally:
            store.close()
        if b in stored:
            break
        await asyncio.sleep(0.1)
    assert stored[b].checks["R-WAIT"] is True and stored[b].passed, stored[b]
