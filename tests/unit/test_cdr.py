"""R-KPI outbound per day: an agent's own dialled call from an AMI Cdr event (core.cdr, pure)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from ari_app.core.cdr import OutboundCdr, Skip, phone_of, read_cdr

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONES = {"PJSIP/1011": "7001", "PJSIP/1012": "7002"}


def cdr(**over: str) -> dict[str, str]:
    """A Cdr event as Asterisk 22's cdr_manager sends it for 1011 dialling 9 13800000001 (answered)."""
    event = {
        "Event": "Cdr", "Privilege": "cdr,all", "AccountCode": "", "Source": "1011",
        "Destination": "13800000001", "DestinationContext": "callcenter-outbound",
        "CallerID": '"Agent 1011" <1011>', "Channel": "PJSIP/1011-0000001a",
        "DestinationChannel": "PJSIP/trunk-0000001b", "LastApplication": "Dial",
        "LastData": "PJSIP/13800000001@trunk,60", "StartTime": "2026-11-26 09:30:05",
        "AnswerTime": "2026-11-26 09:30:08", "EndTime": "2026-11-26 09:30:20", "Duration": "15",
        "BillableSeconds": "12", "Disposition": "ANSWERED", "AMAFlags": "DOCUMENTATION",
        "UniqueID": "1795736607.54", "UserField": "outbound",
    }
    event.update(over)
    return event


def at(text: str, tz=SHANGHAI) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).timestamp()


def test_answered_call_of_a_configured_phone():
    got = read_cdr(cdr(), phones=PHONES, tz=SHANGHAI)
    assert got == OutboundCdr(call_id="1795736607.54", agent_id="7001", phone="PJSIP/1011",
                              at=at("2026-11-26 09:30:05"), connected=True, talk_s=12.0,
                              disposition="ANSWERED")


def test_start_time_is_read_in_the_pbx_zone():
    utc = read_cdr(cdr(), phones=PHONES, tz=timezone.utc)
    shanghai = read_cdr(cdr(), phones=PHONES, tz=SHANGHAI)
    assert isinstance(utc, OutboundCdr) and isinstance(shanghai, OutboundCdr)
    assert utc.at - shanghai.at == 8 * 3600


def test_no_zone_means_this_machines_local_time():
    got = read_cdr(cdr(), phones=PHONES, tz=None)
    assert isinstance(got, OutboundCdr)
    assert got.at == datetime(2026, 11, 26, 9, 30, 5).timestamp()


def test_exact_epoch_and_billsec_headers_win():
    """cdr_manager.conf maps CDR(start,u) and CDR(billsec,f): no zone needed, sub-second talk time."""
    got = read_cdr(cdr(StartEpoch="1795736662.801848", BillableFloat="3.073226"), phones=PHONES,
                   tz=timezone.utc)
    assert isinstance(got, OutboundCdr)
    assert got.at == pytest.approx(1795736662.801848)
    assert got.talk_s == pytest.approx(3.073226)


@pytest.mark.parametrize("disposition", ["NO ANSWER", "BUSY", "FAILED", "CONGESTION"])
def test_unconnected_attempts_count_with_no_talk_time(disposition):
    got = read_cdr(cdr(Disposition=disposition, AnswerTime="", BillableSeconds="0", BillableFloat="0.000000",
                       DestinationChannel="PJSIP/trunk-0000001c"), phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, OutboundCdr)
    assert (got.agent_id, got.connected, got.talk_s, got.disposition) == ("7001", False, 0.0, disposition)


def test_destination_context_alone_marks_an_outbound_call():
    got = read_cdr(cdr(UserField=""), phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, OutboundCdr) and got.agent_id == "7001"


def test_userfield_alone_marks_an_outbound_call():
    got = read_cdr(cdr(DestinationContext="from-agents", Channel="PJSIP/1012-000000ff"), phones=PHONES,
                   tz=SHANGHAI)
    assert isinstance(got, OutboundCdr) and got.agent_id == "7002"


def test_header_names_in_any_case():
    got = read_cdr({k.lower(): v for k, v in cdr().items()}, phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, OutboundCdr) and got.call_id == "1795736607.54"


def test_a_phone_no_agent_owns_still_counts():
    got = read_cdr(cdr(Channel="PJSIP/1019-00000003"), phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, OutboundCdr)
    assert (got.agent_id, got.phone) == (None, "PJSIP/1019")


def test_a_queue_call_is_not_outbound():
    queue_call = cdr(DestinationContext="callcenter-queue", Destination="support", UserField="",
                     Channel="PJSIP/caller1-00000010", LastApplication="Stasis")
    assert read_cdr(queue_call, phones=PHONES, tz=SHANGHAI) == Skip(reason="not an outbound call",
                                                                    call_id="1795736607.54")


def test_a_local_channel_half_is_ignored_and_its_number_not_repeated():
    half = cdr(Channel="Local/913800000001@from-agents-0000001b;2", DestinationChannel="")
    got = read_cdr(half, phones={"Local/913800000001@from-agents": "7001"}, tz=SHANGHAI)
    assert got == Skip(reason="a Local channel half", call_id="1795736607.54")
    assert "13800000001" not in repr(got)


@pytest.mark.parametrize(("over", "reason"), [
    ({"UniqueID": ""}, "UniqueID missing"),
    ({"Channel": ""}, "Channel is not a phone's channel: ''"),
    ({"Channel": "Message/ast_msg_queue"}, "Channel is not a phone's channel: 'Message'"),
    ({"Disposition": "MAYBE"},
     "Disposition 'MAYBE' is not one of ANSWERED, BUSY, CONGESTION, FAILED, NO ANSWER"),
    ({"StartTime": "26/11/2026 09:30"}, "StartTime '26/11/2026 09:30' is not 'YYYY-MM-DD HH:MM:SS'"),
    ({"StartTime": ""}, "StartTime '' is not 'YYYY-MM-DD HH:MM:SS'"),
    ({"StartEpoch": "soon"}, "StartEpoch 'soon' is not an epoch time"),
    ({"StartEpoch": "nan"}, "StartEpoch 'nan' is not an epoch time"),
    ({"BillableSeconds": "-3"}, "BillableSeconds '-3' is not a whole number of seconds"),
    ({"BillableSeconds": "twelve"}, "BillableSeconds 'twelve' is not a whole number of seconds"),
    ({"BillableFloat": "inf"}, "BillableFloat 'inf' is not a number of seconds"),
])
def test_malformed_fields_are_a_skip_never_an_exception(over, reason):
    got = read_cdr(cdr(**over), phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, Skip) and got.malformed
    assert got.reason == reason


def test_odd_values_do_not_raise():
    odd = {"UserField": "outbound", "UniqueID": 5, "Channel": None, "Disposition": b"ANSWERED"}
    got = read_cdr(odd, phones=PHONES)
    assert isinstance(got, Skip) and got.malformed


def test_phone_of():
    assert phone_of("PJSIP/1001-0000001a") == "PJSIP/1001"
    assert phone_of("PJSIP/trunk-a-0000001A") == "PJSIP/trunk-a"
    assert phone_of("SIP/agent-7-00000abc") == "SIP/agent-7"
    assert phone_of("Local/1001@e2e-answer-00000001;1") is None
    assert phone_of("PJSIP/1001") is None


def without(*names: str, **over: str) -> dict[str, str]:
    return {k: v for k, v in cdr(**over).items() if k not in names}


def test_r_kpi_missing_fields_give_a_reason_never_a_crash():
    assert read_cdr(without("UserField", "DestinationContext"), phones=PHONES) == \
        Skip(reason="not an outbound call", call_id="1795736607.54")
    assert read_cdr(without("UserField"), phones=PHONES).connected  # the outbound context alone suffices
    assert read_cdr(without("UserField", "DestinationContext", "UniqueID"), phones=PHONES) == \
        Skip(reason="not an outbound call", call_id="")
    assert read_cdr(without("UniqueID"), phones=PHONES) == Skip(reason="UniqueID missing", malformed=True)
    assert read_cdr(without("Channel"), phones=PHONES) == \
        Skip(reason="Channel is not a phone's channel: ''", malformed=True, call_id="1795736607.54")
    missing = read_cdr(without("Disposition"), phones=PHONES)
    assert missing.malformed and missing.call_id == "1795736607.54"
    assert missing.reason.startswith("Disposition '' is not one of ")
    assert read_cdr(without("StartTime"), phones=PHONES) == \
        Skip(reason="StartTime '' is not 'YYYY-MM-DD HH:MM:SS'", malformed=True, call_id="1795736607.54")
    assert read_cdr(without("BillableSeconds"), phones=PHONES) == \
        Skip(reason="BillableSeconds '' is not a whole number of seconds", malformed=True, call_id="1795736607.54")
    assert read_cdr(cdr(BillableSeconds=None), phones=PHONES).reason == \
        "BillableSeconds '' is not a whole number of seconds"


def test_r_kpi_start_epoch_and_billable_float_edges():
    assert read_cdr(cdr(StartEpoch="1"), phones=PHONES).at == 1.0
    assert read_cdr(cdr(StartEpoch="0"), phones=PHONES) == \
        Skip(reason="StartEpoch '0' is not an epoch time", malformed=True, call_id="1795736607.54")
    assert read_cdr(cdr(BillableFloat="0"), phones=PHONES).talk_s == 0.0
    assert read_cdr(cdr(BillableFloat="0.5"), phones=PHONES).talk_s == 0.5
    assert read_cdr(cdr(Channel="Local/1011@ctx-00000001;1"), phones=PHONES) == \
        Skip(reason="a Local channel half", call_id="1795736607.54")
    assert read_cdr(cdr(Channel="SIP/x/y-0001"), phones=PHONES).reason == "Channel is not a phone's channel: 'SIP'"
    assert read_cdr(cdr(Channel="garbage"), phones=PHONES).reason == "Channel is not a phone's channel: '?'"
    assert phone_of("Local/PJSIP/1011-00000001") is None
