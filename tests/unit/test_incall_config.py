"""Issue 18 items 4 and 5: the queue keys ``hold_apology_s``, ``silent_script`` and ``silent_detect_s`` —
defaults from the core (one source), bad values refused with the key's path, and the service's QueueRules
built from them."""

from __future__ import annotations

import copy

import pytest

from ari_app import config
from ari_app.app import _queue_rules
from ari_app.core.incall import HOLD_APOLOGY_S, SILENT_DETECT_S

GOOD = {
    "ari": {"password": "x"},
    "queues": {"support": {"ring_target_s": 15}},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"], "auto_login": True}},
}


def with_queue(**keys):
    data = copy.deepcopy(GOOD)
    data["queues"]["support"].update(keys)
    return data


def test_defaults_come_from_the_core():
    cfg = config.parse(copy.deepcopy(GOOD))
    q = cfg.queues["support"]
    assert (q.hold_apology_s, q.silent_script, q.silent_detect_s) == (HOLD_APOLOGY_S, "standard", SILENT_DETECT_S)
    assert (HOLD_APOLOGY_S, SILENT_DETECT_S) == (10.0, 0.0)


def test_the_keys_reach_the_cores_queue_rules():
    cfg = config.parse(with_queue(hold_apology_s=12, silent_script="hotline", silent_detect_s=6))
    rules = _queue_rules(cfg.queues["support"], cfg)
    assert (rules.hold_apology_s, rules.silent_script, rules.silent_detect_s) == (12.0, "hotline", 6.0)
    off = _queue_rules(config.parse(with_queue(hold_apology_s=0)).queues["support"], cfg)
    assert off.hold_apology_s == 0  # 0 = no apology on hold


@pytest.mark.parametrize(("keys", "error"), [
    ({"hold_apology_s": -1}, "queues.support.hold_apology_s: must be >= 0 (0 = off), got -1"),
    ({"hold_apology_s": "10"}, "queues.support.hold_apology_s: must be a number"),
    ({"silent_detect_s": -0.5}, "queues.support.silent_detect_s: must be >= 0 (0 = off), got -0.5"),
    ({"silent_detect_s": float("inf")}, "queues.support.silent_detect_s: must be a finite number"),
    ({"silent_script": "loud"}, "queues.support.silent_script: must be one of standard, hotline, got 'loud'"),
    ({"silent_script": 1}, "queues.support.silent_script: must be"),
])
def test_bad_values_are_refused_with_the_keys_path(keys, error):
    with pytest.raises(config.ConfigError) as e:
        config.parse(with_queue(**keys))
    assert any(line.startswith(error) for line in e.value.errors), e.value.errors
