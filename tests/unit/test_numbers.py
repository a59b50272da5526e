"""issue 17 items 4, 19: one check for every dialled number (core/numbers.py), ASCII digits only."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_app import config
from ari_app.config import TrunkConfig
from ari_app.core import numbers
from ari_app.core.followup import normalise_number

TWO_QUEUES = {"ari": {"password": "x"}, "queues": {"support": {}},
              "agents": {"1001": {"queues": ["support"]}}}


@pytest.mark.parametrize("raw,digits", [
    ("13800135678", "13800135678"), ("+86 138-0013-5678", "13800135678"), ("0086 13800135678", "13800135678"),
    ("+86 10 1234 5678", "01012345678"), ("+86 21 1234 5678", "02112345678"), ("010-12345678", "01012345678"),
    ("0571 8888 6666", "057188886666"),
])
def test_allowed_by_default(raw, digits):
    assert numbers.callback_number(raw) == (digits, "")


@pytest.mark.parametrize("raw", [
    "90012345678@from-agents/n", "9123&PJSIP/x", "138001356,78", "13800135678;x", "1380013/5678", "",
    "+1 212 555 0100", "00441234567890", "0012125550100", "4008001234", "8008101234", "95588", "110",
    "12345678901", "1380013567\u00b2", "\u0661\u0663\u0668\u0660\u0660\u0661\u0663\u0665\u0666\u0667\u0668",
    "1380013567８", "010-1234",
])
def test_refused_by_default_and_the_reason_never_holds_the_number(raw):
    digits, reason = numbers.callback_number(raw)
    assert digits is None and reason
    assert not (raw.strip() and raw.strip() in reason)


@given(st.text(max_size=40))
def test_dial_digits_is_ascii_digits_or_refused(raw):
    """Whatever the caller ID holds, what reaches a dial string is 0-9 only."""
    try:
        digits = numbers.dial_digits(raw)
    except numbers.NumberRefused:
        return
    assert re.fullmatch(r"[0-9]{3,22}", digits), digits


def test_trunk_endpoint_refuses_what_is_not_a_number():
    """Old code: 'Local/90012345678@from-agents/n@e2e-customer' — the call landed in from-agents."""
    trunk = TrunkConfig(dial="Local/{number}@e2e-customer", prefix="")
    assert trunk.endpoint("+86 138 0013 5678") == "Local/13800135678@e2e-customer"
    for bad in ("90012345678@from-agents/n", "123&PJSIP/1002", "1380013567\u00b2"):
        with pytest.raises(numbers.NumberRefused):
            trunk.endpoint(bad)


def test_followup_rows_use_the_same_check():
    assert normalise_number(" +86 138-0013-5678 ") == ("+8613800135678", "")
    assert normalise_number("1380013567\u00b2")[0] is None
    assert normalise_number("\u0661\u0663\u0668\u0660\u0660\u0661\u0663\u0665")[0] is None


def test_ascii_digits():
    assert numbers.ascii_digits("0123456789")
    for bad in ("", "\u00b2", "\u0663", "1\n", " 1", "-1", "1.0", None, 5):
        assert not numbers.ascii_digits(bad), bad


def test_config_dial_patterns(tmp_path):
    cfg = config.parse({**TWO_QUEUES, "callbacks": {}})
    assert cfg.callbacks.rules.dial_patterns == numbers.DEFAULT_DIAL_PATTERNS
    cfg = config.parse({**TWO_QUEUES, "callbacks": {"dial_patterns": [r"1[3-9]\d{9}", r"4008\d{6}"]}})
    assert cfg.callbacks.rules.dial_patterns == (r"1[3-9]\d{9}", r"4008\d{6}")
    for bad in ([], ["("], [""], "1[3-9]", [5]):
        with pytest.raises(config.ConfigError) as e:
            config.parse({**TWO_QUEUES, "callbacks": {"dial_patterns": bad}})
        assert any(x.startswith("callbacks.dial_patterns:") for x in e.value.errors), e.value.errors
