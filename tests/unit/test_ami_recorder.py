"""R-KPI outbound per day: Cdr events → the store and ``call.outbound`` (ari_app.ami.OutboundRecorder),
with a real SQLite store; and the service's phone → agent map."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from ari_app.ami import OutboundRecorder, outbound_link
from ari_app.config import AmiSettings, parse
from ari_app.store import Store
from ari_app.store.base import StoreError

PHONES = {"PJSIP/1011": "7001"}


def cdr(**over: str) -> dict[str, str]:
    event = {"Event": "Cdr", "Source": "1011", "Destination": "13800000001",
             "DestinationContext": "callcenter-outbound", "Channel": "PJSIP/1011-0000001a",
             "DestinationChannel": "PJSIP/trunk-0000001b", "LastData": "PJSIP/13800000001@trunk,60",
             "StartTime": "2026-11-26 09:30:05", "BillableSeconds": "12", "Disposition": "ANSWERED",
             "UniqueID": "1795736607.54", "UserField": "outbound", "StartEpoch": "1795736605.250000",
             "BillableFloat": "12.400000"}
    event.update(over)
    return event


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state.db")
    yield s
    s.close()


def rows(store: Store) -> list[tuple]:
    db = sqlite3.connect(store.path)
    try:
        return db.execute("SELECT call_id, agent_id, at, kind, connected, talk_s FROM outbound_calls"
                          " ORDER BY at").fetchall()
    finally:
        db.close()


def recorder(store, published: list) -> OutboundRecorder:
    return OutboundRecorder(store=store, publish=lambda e, f: published.append((e, dict(f))),
                            phones=lambda: PHONES, tz=timezone.utc)


def test_an_answered_call_is_stored_and_published_without_the_number(store):
    published: list[tuple[str, dict[str, Any]]] = []
    with capture_logs() as logs:
        recorder(store, published)(cdr())
    assert rows(store) == [("1795736607.54", "7001", 1795736605.25, "own", 1, 12.4)]
    assert published == [("call.outbound", {
        "call_id": "1795736607.54", "agent": "7001", "phone": "PJSIP/1011", "at": 1795736605.25,
        "connected": True, "talk_s": 12.4, "disposition": "ANSWERED", "kind": "own", "rule": "R-KPI"})]
    assert "13800000001" not in repr(published) + repr(logs)


def test_a_repeated_cdr_is_stored_once_and_the_figures_count_both_kinds(store):
    rec = recorder(store, [])
    rec(cdr())
    rec(cdr())
    rec(cdr(UniqueID="1795736700.60", StartEpoch="1795736700.0", Disposition="NO ANSWER", BillableSeconds="0",
            BillableFloat="0.000000"))
    attempts = store.outbound(1795736600.0, 1795736800.0)
    assert [(a.agent, a.kind, a.connected) for a in attempts] == [
        ("7001", "own", True), ("7001", "own", False)]


def test_ignored_and_malformed_events_are_logged_not_stored(store):
    published: list = []
    rec = recorder(store, published)
    with capture_logs() as logs:
        assert rec(cdr(UserField="", DestinationContext="callcenter-queue")) is None
        assert rec(cdr(Channel="Local/913800000001@from-agents-0000001b;2")) is None
        assert rec(cdr(Disposition="")) is None
    assert rows(store) == [] and published == []
    assert [(e["event"], e.get("reason")) for e in logs] == [
        ("ami.cdr_ignored", "a Local channel half"),
        ("ami.cdr_malformed", "Disposition '' is not one of ANSWERED, BUSY, CONGESTION, FAILED, NO ANSWER"),
    ]
    assert logs[1]["log_level"] == "warning" and logs[1]["rule"] == "R-KPI"
    assert "13800000001" not in repr(logs)


def test_a_store_failure_is_logged_and_does_not_raise():
    class Broken:
        def add_outbound(self, call):
            raise StoreError("SQLite store x.db: disk full")

    published: list = []
    rec = OutboundRecorder(store=Broken(), publish=lambda e, f: published.append(e),  # type: ignore[arg-type]
                           phones=lambda: PHONES)
    with capture_logs() as logs:
        assert rec(cdr()) is None
    assert [(e["event"], e["what"], e["error"]) for e in logs] == [
        ("store.write_failed", "outbound", "SQLite store x.db: disk full")]
    assert published == []


def test_the_phone_map_is_asked_afresh_for_every_event(store):
    phones = {"PJSIP/1011": "7001"}
    rec = OutboundRecorder(store=store, publish=lambda e, f: None, phones=lambda: phones)
    rec(cdr())
    phones["PJSIP/1011"] = "7002"  # another agent logged in at that phone
    rec(cdr(UniqueID="1795736700.60", StartEpoch="1795736700.0"))
    assert [r[1] for r in rows(store)] == ["7001", "7002"]


def test_outbound_link_reads_times_in_the_configured_zone(store):
    link = outbound_link(AmiSettings(password="x", timezone="Asia/Shanghai"), store=store,
                         publish=lambda e, f: None, phones=lambda: PHONES)
    no_epoch = cdr()
    del no_epoch["StartEpoch"]
    link._handlers["Cdr"](no_epoch)
    [(_, _, at, _, _, talk_s)] = rows(store)
    assert at == datetime(2026, 11, 26, 9, 30, 5, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert talk_s == 12.4


def test_service_phone_map_prefers_where_an_agent_is_logged_in(tmp_path):
    from ari_app.app import Service
    from ari_app.core.agents import AgentState

    cfg = parse({"ari": {"password": "x"}, "queues": {"support": {}}, "ami": {"password": "y"},
                 "agents": {"7001": {"interface": "PJSIP/1011", "queues": ["support"]},
                            "7002": {"interface": "PJSIP/1012", "queues": ["support"]},
                            "7003": {"queues": ["support"]}}})
    svc = Service(cfg, store=Store(tmp_path / "state.db"))
    assert svc.ami is not None
    assert svc._phones() == {"PJSIP/1011": "7001", "PJSIP/1012": "7002"}
    moved = svc.acd.agents["7003"]
    moved.state, moved.interface = AgentState.AVAILABLE, "PJSIP/1011"  # 7003 logged in at 7001's phone
    assert svc._phones() == {"PJSIP/1011": "7003", "PJSIP/1012": "7002"}
    gone = svc.acd.agents["7002"]
    gone.state, gone.interface = AgentState.LOGGED_OUT, "PJSIP/1019"  # logged out elsewhere: own phone stays
    assert svc._phones() == {"PJSIP/1011": "7003", "PJSIP/1012": "7002"}


def test_no_ami_section_no_link(tmp_path):
    from ari_app.app import Service

    cfg = parse({"ari": {"password": "x"}, "queues": {"support": {}}})
    assert Service(cfg, store=Store(tmp_path / "state.db")).ami is None
