"""issue 17 item 19: digits read from outside (channel variables, AMI, config, API) are ASCII 0-9.

``"²".isdigit()`` is True and ``int("²")`` raises; ``int("١٢")`` is 12. Old code: a call whose
dialplan set CC_PRIORITY to "²" raised in ``_new_call`` and the caller heard silence."""

import math

import pytest

from test_flow_recording import CALL, NOW, FakeAri, stasis

from ari_app.ari import Channel
from ari_app.config import parse
from ari_app.core import acd, numbers
from ari_app.core.acd import TransferRequest
from ari_app.core.cdr import Skip, read_cdr
from ari_app.core.login import is_pin_hash
from ari_app.core.roster import agent_order
from ari_app.flows import resync

from test_acd_transfer import T0, connected
from test_cdr import PHONES, SHANGHAI, cdr


@pytest.mark.parametrize("text,value", [("0", 0), ("12", 12), ("-3", -3), ("²", None), ("١٢", None),
                                        (" 1", None), ("1_0", None), ("", None), ("1" * 10, None), (None, None)])
def test_ascii_int(text, value):
    assert numbers.ascii_int(text) == value


@pytest.mark.parametrize("arg,priority", [("7", 7), ("-2", -2), ("²", 0), ("١٢", 0), ("x", 0)])
async def test_cc_priority_that_is_not_ascii_digits_is_0_and_the_call_goes_on(tmp_path, arg, priority):
    from ari_app.app import Service
    from ari_app.store import Store

    svc = Service(parse({"ari": {"password": "x"}, "queues": {"support": {}}}), store=Store(tmp_path / "s.db"),
                  ari=FakeAri(), clock=lambda: NOW)
    await svc._on_item(CALL, stasis(CALL, "queue", "support", arg))
    arrived = [e for e in iter_queue(svc.inbox) if isinstance(e, acd.CallArrived)]
    assert CALL in svc.calls and [(e.call_id, e.priority) for e in arrived] == [(CALL, priority)]


def iter_queue(q):
    while not q.empty():
        yield q.get_nowait()


def test_resync_reads_tags_as_ascii_digits_and_finite_times():
    snap = resync.CallSnapshot(call_id=CALL, caller=Channel(id=CALL),
                               tags={"CC_QUEUE": "support", "CC_PRIORITY": "²", "CC_ENTERED_AT": "nan"})
    ev = resync.to_core_event(snap, NOW)
    assert (ev.priority, ev.entered_at) == (0, NOW)
    snap.tags.update(CC_PRIORITY="5", CC_ENTERED_AT="inf")
    ev = resync.to_core_event(snap, NOW)
    assert (ev.priority, ev.entered_at) == (5, NOW) and math.isfinite(ev.entered_at)


def test_cdr_billable_seconds_not_ascii_is_malformed_not_a_crash():
    got = read_cdr(cdr(BillableSeconds="1²"), phones=PHONES, tz=SHANGHAI)
    assert isinstance(got, Skip) and got.malformed and "BillableSeconds" in got.reason


def test_agent_order_and_pin_hash_and_transfer_targets():
    assert sorted(["²", "10", "9"], key=agent_order) == ["9", "10", "²"]
    assert not is_pin_hash("pbkdf2_sha256$²$00$00") and is_pin_hash("pbkdf2_sha256$1$00$00")
    a = connected()
    for target in ("\u0661\u0662\u0663", "1\u00b2"):  # old: PJSIP/١٢٣ was dialled
        out = a.handle(TransferRequest(call_id="c1", target=target, source="api", request_id="r"), T0 + 5)
        [result] = [x for x in out if isinstance(x, acd.TransferResult)]
        assert not result.ok and "unknown transfer target" in result.message
