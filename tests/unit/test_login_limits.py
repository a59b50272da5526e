"""Issue 17 item 9, R-LOGIN: wrong PINs limited per phone and per agent ID, with decay, kept across a
restart; an unknown ID costs the same PBKDF2 as a known one; a minimum PIN length (config, default 6).

The guard's own rules are tests/unit/test_login.py; the store's table tests/store/test_store_lockouts.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from ari_app import config
from ari_app.ari import Channel, ChannelDtmfReceived
from ari_app.config import KeyMap
from ari_app.core import acd, login
from ari_app.core.acd import Acd, LoginAttempt, LoginResult, Publish, QueueRules
from ari_app.core.agents import Agent
from ari_app.core.login import LockState, LoginGuard, hash_pin
from ari_app.events.bus import ALERTS
from ari_app.flows.feature import FeatureCall

from test_feature_codes import FakeAri

T0 = 1_750_000_000.0
CALL = "1700000000.7"
GOOD = {"ari": {"password": "x"}, "queues": {"support": {}},
        "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}}}


def make_acd(**guard: Any) -> Acd:
    return Acd([QueueRules(name="support", ring_target_s=15, originate_timeout_s=20)],
               [Agent(agent_id=a, interface=f"PJSIP/{a}", queues=("support",)) for a in ("1001", "1002", "1003")],
               login=LoginGuard(**{"max_attempts": 3, "phone_max_attempts": 5, "lock_s": 600, **guard}))


# -- the core ---------------------------------------------------------------------------------------
def test_a_phone_that_types_too_many_wrong_pins_is_locked_with_an_alert():
    """One phone could lock every agent out (the limit was per ID only); now the phone locks first."""
    a = make_acd()
    outcomes = []
    for i, agent in enumerate(("1001", "1002", "1003", "1001")):
        out = a.handle(LoginAttempt(agent_id=agent, interface="PJSIP/lobby", pin_ok=False, request_id=f"r{i}"),
                       T0 + i)
        outcomes.append(out[-1].outcome)
    out = a.handle(LoginAttempt(agent_id="1002", interface="PJSIP/lobby", pin_ok=False, request_id="r5"), T0 + 5)
    assert outcomes == ["failed"] * 4
    assert out == [Publish("agent.login_phone_locked", {"interface": "PJSIP/lobby", "agent": "1002", "lock_s": 600,
                                                         "rule": "R-LOGIN"}),
                   LoginResult(request_id="r5", agent_id="1002", outcome="phone_locked")]
    assert "agent.login_phone_locked" in ALERTS  # a warning a supervisor sees
    # every agent can still log in at its own phone; the locked phone refuses even the right PIN
    out = a.handle(LoginAttempt(agent_id="1001", interface="PJSIP/lobby", pin_ok=True), T0 + 6)
    assert out[-1].outcome == "phone_still_locked" and not a.agents["1001"].logged_in
    assert Publish("agent.login_failed", {"agent": "1001", "interface": "PJSIP/lobby", "outcome": "phone_still_locked",
                                          "rule": "R-LOGIN"}) in out
    out = a.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1001", pin_ok=True), T0 + 7)
    assert out[-1].outcome == "ok" and a.agents["1001"].logged_in


def test_an_unknown_id_is_answered_like_a_known_one():
    """The outcomes (and alerts) do not tell whether an agent ID exists."""
    def run(agent_id: str) -> list[str]:
        a = make_acd(phone_max_attempts=100)
        return [a.handle(LoginAttempt(agent_id=agent_id, interface=f"PJSIP/{i}", pin_ok=False), T0 + i)[-1].outcome
                for i in range(4)]
    assert run("1001") == run("98765") == ["failed", "failed", "locked", "still_locked"]


# -- the flow: PBKDF2 for unknown IDs, the minimum length, the locked prompts ---------------------------------
async def dial_login(keys: str, pin_hashes: dict[str, str], **kw: Any) -> tuple[FeatureCall, FakeAri, list[Any]]:
    ari, reports = FakeAri(), []
    f = FeatureCall(CALL, ari=ari, report=reports.append, keys=KeyMap(), pin_hashes=pin_hashes,
                    agent_at=lambda iface: None, schedule=lambda delay, timer: None, digit_timeout_s=8.0,
                    max_attempts=3, **kw)
    await f.start(Channel(id=CALL, name="PJSIP/1005-0000000a"), "*11")
    for digit in keys:
        await f.on_event(ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=CALL), digit=digit))
    return f, ari, reports


@pytest.fixture
def pbkdf2_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = login.hashlib.pbkdf2_hmac

    def counting(name: str, pin: bytes, salt: bytes, iterations: int) -> bytes:
        calls.append(iterations)
        return real(name, pin, salt, iterations)

    monkeypatch.setattr(login.hashlib, "pbkdf2_hmac", counting)
    return calls


async def test_an_unknown_id_costs_the_same_pbkdf2_as_a_known_one(pbkdf2_calls: list[int]):
    """Unknown IDs (and IDs without a PIN, and an empty PIN) skipped PBKDF2: the answer's time told
    which IDs exist. Now each runs one PBKDF2 with the configured hashes' iterations."""
    hashes = {"1001": hash_pin("654321", iterations=3000), "1002": ""}
    pbkdf2_calls.clear()
    for keys in ("1001#654321#", "1001#111111#", "55555#654321#", "1002#654321#", "1001##"):
        before = len(pbkdf2_calls)
        _, _, reports = await dial_login(keys, hashes)
        assert pbkdf2_calls[before:] == [3000], keys
        assert [r.pin_ok for r in reports] == [keys == "1001#654321#"], keys


async def test_a_right_pin_shorter_than_the_minimum_is_refused_and_logged():
    """A 4-digit PIN hashed before the minimum existed still logged in."""
    hashes = {"1001": hash_pin("1234", iterations=1000, min_length=4)}
    with capture_logs() as logs:
        _, _, reports = await dial_login("1001#1234#", hashes)
    assert reports == [LoginAttempt(agent_id="1001", interface="PJSIP/1005", pin_ok=False, request_id=CALL)]
    [warning] = [e for e in logs if e["event"] == "login.pin_too_short"]
    assert (warning["agent"], warning["min_pin_length"], warning["log_level"]) == ("1001", 6, "warning")
    assert "1234" not in str(logs)
    _, _, reports = await dial_login("1001#1234#", hashes, min_pin_length=4)  # a site that allows 4
    assert reports[0].pin_ok


@pytest.mark.parametrize("outcome", ["phone_locked", "phone_still_locked", "locked", "still_locked"])
async def test_a_locked_phone_hears_the_locked_prompt(outcome: str):
    f, ari, _ = await dial_login("1001#000000#", {})
    await f.do(acd.LoginResult(request_id=CALL, agent_id="1001", outcome=outcome))
    assert ari.played[-1] == ["sound:callcenter/login-locked"] and f.stage == "closing"


# -- config ---------------------------------------------------------------------------------------------
def test_login_config_keys_and_their_checks():
    c = config.parse(GOOD).login
    assert (c.max_attempts, c.phone_max_attempts, c.window_s, c.lock_s, c.min_pin_length) == (3, 10, 900, 900, 6)
    c = config.parse({**GOOD, "login": {"phone_max_attempts": 6, "window_s": 300, "min_pin_length": 8}}).login
    assert (c.phone_max_attempts, c.window_s, c.min_pin_length) == (6, 300, 8)
    with pytest.raises(config.ConfigError) as e:
        config.parse({**GOOD, "login": {"phone_max_attempts": 0, "window_s": 0, "min_pin_length": 3}})
    assert e.value.errors == ["login.phone_max_attempts: must be >= 1, got 0", "login.window_s: must be > 0, got 0",
                              "login.min_pin_length: must be 4 to 12 (digits), got 3"]


def test_pin_hash_refuses_a_short_pin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    from ari_app.__main__ import main

    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("1234\n"))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "1234")
    assert main(["pin-hash"]) == 2
    assert "6 to 12 digits" in capsys.readouterr().err


# -- the service: the state is loaded at start and stored as it changes ------------------------------------
def test_the_service_keeps_the_limits_across_a_restart(tmp_path):
    from ari_app.app import Service
    from ari_app.store import Store

    cfg = config.parse({**GOOD, "login": {"max_attempts": 2, "lock_s": 300}})
    now = [T0]
    svc = Service(cfg, store=Store(tmp_path / "state.db"), clock=lambda: now[0])
    for i in range(2):
        svc._apply(lambda: svc.acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/9", pin_ok=False),
                                          now[0]))
    assert svc.acd.login.locked("1001", now[0])
    svc.store.close()

    now[0] = T0 + 100  # a restart, still within the lock
    again = Service(cfg, store=Store(tmp_path / "state.db"), clock=lambda: now[0])
    assert again.acd.login.locked("1001", now[0])
    out = again.acd.handle(LoginAttempt(agent_id="1001", interface="PJSIP/1001", pin_ok=True), now[0])
    assert out[-1].outcome == "still_locked"
    assert LockState("agent:1001", (), T0 + 300) in again.store.lockouts()
    again.store.close()
