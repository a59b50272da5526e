"""R-KPI / R-COMPLY against the real Asterisk: a scripted mix of calls whose true counts the script
knows; the service's figures must equal them, and so must an independent recount from Asterisk's
own CDR (read from AMI, cdr_manager), talk times within ±1 s.

The script (queues in tests/e2e/config.toml, Local-channel callers and agents):

* ``kpi``: 15 calls answered at once by 6011/6004/6005, five waves of three;
* ``kpimiss``: 3 calls; each is first offered to 6002, who never answers (a missed offer, R-RING,
  ring target 3 s), then answered by 6006; 6002 is resumed when the call ends, so each of its
  "missed" pauses passes the 3 s busy limit (R-BUSY);
* ``kpiwait``: its only agent 6008 is paused (one busy overrun, limit 3 s): 4 callers hang up after
  2 s (short abandons) and 5 after 8 s (abandoned);
* ``kpixfer``: 1 call answered by 6009 and transferred, attended, to 6003 (R-XFER-CONFIRM);
* ``kpibrief``: 1 call whose agent 6010 hangs up first (R-HANGUP).

* outbound: agent 7001's SIP phone (SIPp, phone 1011) dials ``9<number>`` three times through
  ``[callcenter-outbound]``: the customer (a SIPp phone registered as the test trunk) answers twice;
  the third time the trunk is offline and the call fails. These never enter Stasis: the service
  counts them from AMI ``Cdr`` events (``[ami]``).

32 calls in all: 29 queue calls and 3 outbound.

How CDR rows map to calls (worked out on Asterisk 22 and written down here, because CDR is not
one row per call):

* A caller is a Local channel: ``;1`` runs the test's ``e2e-caller`` context and ``;2`` the queue
  dialplan into Stasis. Only the ``;2`` half (``Local/<queue>@callcenter-queue-…;2``) is the call;
  its UniqueID is the service's call id. The ``;1`` half is the test's own caller and is ignored.
* The service answers every caller to play music, so a caller's rows are ANSWERED whether an agent
  answered or not: "answered by an agent" is a ``;2`` row whose DestinationChannel is an agent leg.
  The holding bridge (music) has no peer, so waiting produces no extra row.
* A caller who is transferred has one ``;2`` row per agent it was bridged with (same UniqueID).
* An agent leg (``Local/<agent>@e2e-…;1``, originated by the service) has a first row that ends
  when it joins the caller's bridge: talk = the caller's last row's EndTime − that EndTime. CDR
  times are whole seconds, so talk agrees within ±1 s.
* A missed offer is an agent leg that never answered: a ``;1`` row with Disposition NO ANSWER
  (``unanswered = yes`` in asterisk-config/cdr.conf). Its ``;2`` half is the same ring: not counted.
* Abandoned or short abandon: a caller with no agent row; its Duration (whole seconds) tells which
  (the script hangs up at 2 s or 8 s, far from the 5 s threshold).
* An outbound call is the agent phone's row (``PJSIP/1011-…``) with UserField ``outbound`` (set by
  ``[callcenter-outbound]``); connected when its Disposition is ANSWERED. Only the agent phone's rows
  are counted (one per UniqueID): the customer's trunk leg is the other party of that same call.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from amicdr import CdrTap
from ari_app import config as config_mod
from ari_app.core.figures import CallOutcome
from ari_app.report import call_records, figures_between
from ari_app.store import open_store
from conftest import Service, config_with
from sipp import SippCaller, SippPhone

CALLER = re.compile(r"^Local/(kpi\w*)@callcenter-queue-[0-9a-f]+;2$")
AGENT_LEG = re.compile(r"^Local/(\d+)@e2e-\w+-[0-9a-f]+;1$")

# what the script does: the truth
TRUE = {
    "kpi": {"entered": 15, "offered": 15, "answered": 15, "abandoned": 0, "short_abandons": 0, "missed": 0},
    "kpimiss": {"entered": 3, "offered": 3, "answered": 3, "abandoned": 0, "short_abandons": 0, "missed": 3},
    "kpiwait": {"entered": 9, "offered": 5, "answered": 0, "abandoned": 5, "short_abandons": 4, "missed": 0},
    "kpixfer": {"entered": 1, "offered": 1, "answered": 1, "abandoned": 0, "short_abandons": 0, "missed": 0},
    "kpibrief": {"entered": 1, "offered": 1, "answered": 1, "abandoned": 0, "short_abandons": 0, "missed": 0},
}


OUT_AGENT, OUT_PHONE, OUT_SECRET = "7001", "1011", "dev-1011"
TRUE_OUTBOUND = {"attempts": 3, "connected": 2}


def write_config(tmp_path: Path) -> Path:
    """tests/e2e/config.toml + [ami] (CDRs of outbound calls) + agent 7001 at SIP phone 1011 (no queue)."""
    return config_with(tmp_path, f"""
[ami]
host = "127.0.0.1"
username = "callcenter"
password = "callcenter-dev"

[agents.{OUT_AGENT}]
interface = "PJSIP/{OUT_PHONE}"
queues = []
""")


def cdr_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp()  # the PBX's local time (this machine's)


def recount(rows: list[dict[str, str]]) -> dict:
    """The figures from CDR rows alone, by the mapping in the module docstring."""
    callers: dict[str, list[dict]] = {}
    legs: dict[str, list[dict]] = {}
    for r in rows:
        if CALLER.match(r["Channel"]):
            callers.setdefault(r["UniqueID"], []).append(r)
        elif AGENT_LEG.match(r["Channel"]):
            legs.setdefault(r["Channel"], []).append(r)
    out = {q: {"entered": 0, "answered": 0, "abandoned": 0, "short_abandons": 0, "missed": 0} for q in TRUE}
    talk: dict[str, float] = {}
    for call_id, crows in callers.items():
        queue = CALLER.match(crows[0]["Channel"]).group(1)  # type: ignore[union-attr]
        out[queue]["entered"] += 1
        bridged = [r for r in crows if AGENT_LEG.match(r.get("DestinationChannel", ""))]
        if bridged:
            out[queue]["answered"] += 1
            first_leg = legs[bridged[0]["DestinationChannel"]][0]
            end = max(cdr_time(r["EndTime"]) for r in crows)
            talk[call_id] = end - cdr_time(first_leg["EndTime"])
        elif max(int(r["Duration"]) for r in crows) < 5:
            out[queue]["short_abandons"] += 1
        else:
            out[queue]["abandoned"] += 1
    for channel, lrows in legs.items():
        if channel.startswith("Local/6002@") and lrows[0]["Disposition"] == "NO ANSWER":
            out["kpimiss"]["missed"] += 1
    outbound = {r["UniqueID"]: r for r in rows
                if r.get("UserField") == "outbound" and r["Channel"].startswith(f"PJSIP/{OUT_PHONE}-")}
    return {"queues": out, "talk": talk, "outbound": {
        "attempts": len(outbound), "connected": sum(r["Disposition"] == "ANSWERED" for r in outbound.values())}}


async def answered_wave(service, ari, n: int, talk_s: list[int]) -> None:
    done = len(service.events("call.completed", queue="kpi"))
    for t in talk_s[:n]:
        await ari.call_queue("kpi", talk_s=t)
    await service.wait_for("call.completed", queue="kpi", count=done + n, timeout=30)


async def script_kpi(service, ari) -> None:
    talks = [7, 8, 9, 10, 7, 8, 9, 10, 7, 8, 9, 10, 7, 8, 9]
    for wave in range(5):
        await answered_wave(service, ari, 3, talks[3 * wave:3 * wave + 3])


async def script_missed(service, ari, api) -> None:
    for n in range(1, 4):
        await ari.call_queue("kpimiss", talk_s=12)
        await service.wait_for("call.offer_missed", queue="kpimiss", agent="6002", count=n, timeout=15)
        await service.wait_for("call.completed", queue="kpimiss", count=n, timeout=30)
        r = await api.post("/agents/6002/resume")
        assert r.status_code == 200, r.text


async def script_wait(service, ari, api) -> None:
    r = await api.post("/agents/6008/pause", json={"reason": "break"})
    assert r.status_code == 200, r.text
    for talk_s in (2, 8, 2, 8, 2, 8, 2, 8, 8):
        await ari.call_queue("kpiwait", talk_s=talk_s)
        await asyncio.sleep(0.3)
    await service.wait_for("call.abandoned", queue="kpiwait", count=9, timeout=30)
    await service.wait_for("agent.busy_overrun", agent="6008", timeout=10)
    r = await api.post("/agents/6008/resume")
    assert r.status_code == 200, r.text


async def script_transfer(service, ari, api) -> None:
    await ari.call_queue("kpixfer", talk_s=25)
    answered = await service.wait_for("call.answered", queue="kpixfer", timeout=10)
    call_id = answered["call_id"]
    await service.wait_for("call.bridged", call_id=call_id, timeout=15)
    await asyncio.sleep(2)
    r = await api.post("/transfers", json={"agent_id": "6009", "target": "6003"})
    assert r.status_code == 201, r.text
    await service.wait_for("transfer.consulting", call_id=call_id, timeout=10)
    await asyncio.sleep(1)
    r = await api.put(f"/transfers/{r.json()['transfer_id']}/complete")
    assert r.status_code == 200, r.text
    await service.wait_for("call.completed", call_id=call_id, timeout=40)


async def script_brief(service, ari) -> None:
    await ari.call_queue("kpibrief", talk_s=30)
    await service.wait_for("call.completed", queue="kpibrief", timeout=25)


async def script_outbound(service, ari) -> None:
    """Agent 7001 dials out three times: answered, answered, trunk offline (fails at once)."""
    for n in (1, 2):
        async with SippPhone("trunk", "dev-trunk", answer_after_s=1, hangup_after_s=3) as trunk:
            async with SippCaller(OUT_PHONE, OUT_SECRET, f"913800000{n:03d}", duration_s=None,
                                  timeout_s=30) as agent:
                assert await agent.wait() == 0, agent.report() + trunk.report()
        await service.wait_for("call.outbound", count=n, timeout=10)
    for _ in range(50):  # the trunk's registration is gone once its phone stopped
        if (await ari.get("/endpoints/PJSIP/trunk"))["state"] == "offline":
            break
        await asyncio.sleep(0.1)
    async with SippCaller(OUT_PHONE, OUT_SECRET, "9137000003", duration_s=None, timeout_s=15) as agent:
        assert await agent.wait() != 0, agent.report()
    await service.wait_for("call.outbound", count=3, timeout=10)


async def test_the_figures_equal_the_script_and_asterisks_own_cdr(asterisk, ari, api, tmp_path):
    """R-KPI's figures equal the script's counts and Asterisk's CDR; the brief agent's call is R-HANGUP."""
    tap = await CdrTap().start()
    service = Service(tmp_path, config=write_config(tmp_path)).start()
    try:
        await service.wait_for("ari.resynced", timeout=20)
        await service.wait_for("ami.connected", timeout=10)
        start = time.time()
        await asyncio.gather(script_kpi(service, ari), script_missed(service, ari, api),
                             script_wait(service, ari, api), script_transfer(service, ari, api),
                             script_brief(service, ari), script_outbound(service, ari))
        end = time.time()
        chans, bridges = await ari.wait_empty(10)
        assert not chans and not bridges, f"left behind: {chans} {bridges}"
        await asyncio.sleep(1.5)  # the last CDR rows are posted as the channels are destroyed
    finally:
        service.stop()
        await tap.stop()
    assert not service.errors(), service.errors()[:3]

    cfg = config_mod.load(str(tmp_path / "config.toml"))
    store = open_store(str(tmp_path / "state.db"))
    by_queue, by_agent, total = figures_between(store, cfg, start - 1, end + 1)
    records = {r.call_id: r for r in call_records(store, cfg, start - 1, end + 1)}
    compliance = {c.call_id: c for c in store.compliance(start - 1, end + 1)}
    store.close()

    # 1. the service's figures equal the script's
    got = {q: {"entered": f.entered, "offered": f.offered, "answered": f.answered, "abandoned": f.abandoned,
               "short_abandons": f.short_abandons, "missed": f.missed_offers}
           for q, f in by_queue.items() if q in TRUE}
    assert got == TRUE
    assert total.answered == 20 and total.offered == 25 and total.short_abandons == 4
    assert total.answer_rate == pytest.approx(20 / 25) and total.abandon_rate == pytest.approx(5 / 25)
    assert total.service_level == pytest.approx(20 / 25)  # every answer came within 20 s
    assert by_queue["kpimiss"].ring_compliance == 1.0  # 6006 answered at once; the misses are 6002's
    assert by_agent["6002"].missed_offers == 3 and by_agent["6002"].answered == 0
    # R-BUSY (limit 3 s): 6008's break, and each of 6002's three "missed" pauses (held ~9 s, until the call ends)
    assert by_agent["6008"].busy_overruns == 1 and by_agent["6002"].busy_overruns == 3
    assert total.busy_overruns == 4
    assert by_queue["kpibrief"].agent_hung_up_first == 1 and total.agent_hung_up_first == 1
    assert sorted(a for a in by_agent if by_agent[a].answered) == ["6004", "6005", "6006", "6009", "6010", "6011"]
    assert sum(by_agent[a].answered for a in ("6004", "6005", "6011")) == 15
    # outbound per day (日呼出量): the agent's own dialled calls, connected beside them
    assert (by_agent[OUT_AGENT].outbound, by_agent[OUT_AGENT].outbound_connected) == (
        TRUE_OUTBOUND["attempts"], TRUE_OUTBOUND["connected"])
    assert (total.outbound, total.outbound_connected) == (3, 2)

    # compliance records (R-COMPLY): one per finished call, the brief agent's call broke R-HANGUP
    kpi_calls = {cid for cid, r in records.items() if r.queue in TRUE}
    assert kpi_calls <= set(compliance)
    broken = {cid: compliance[cid].broken for cid in kpi_calls if compliance[cid].broken}
    assert list(broken.values()) == [("R-HANGUP",)], broken
    xfer = next(c for c in compliance.values() if c.queue == "kpixfer")
    assert xfer.checks["R-XFER-CONFIRM"] is True

    # 2. Asterisk's own CDR, recounted independently, equals the script too
    cdr = recount(tap.rows)
    assert cdr["outbound"] == TRUE_OUTBOUND
    assert {q: {k: v for k, v in f.items()} for q, f in cdr["queues"].items()} == {
        q: {k: t[k] for k in ("entered", "answered", "abandoned", "short_abandons", "missed")} for q, t in TRUE.items()}

    # 3. talk times: the service's (talk + hold per call) and CDR's agree within ±1 s
    answered = {cid: r for cid, r in records.items() if r.outcome == CallOutcome.ANSWERED and r.queue in TRUE}
    assert set(answered) == set(cdr["talk"])
    for cid, r in answered.items():
        assert abs((r.talk_s + r.hold_s) - cdr["talk"][cid]) <= 1.0, (cid, r.queue, r.talk_s, cdr["talk"][cid])
