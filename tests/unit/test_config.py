import pytest

from ari_app import config
from ari_app.__main__ import main

GOOD = {
    "ari": {"password": "x"},
    "queues": {"support": {"ring_target_s": 15}},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"], "auto_login": True}},
}


def errors_of(data):
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    return e.value.errors


def test_example_and_e2e_configs_are_valid():
    assert config.load("config/example.toml").queues["support"].ring_target_s == 15
    assert config.load("tests/e2e/config.toml").agents["1001"].auto_login


def test_exact_messages_for_every_problem_at_once():
    bad = {**GOOD, "queues": {"support": {"ring_target_s": -3, "ring_targt_s": 4, "strategy": "random"}},
           "agents": {"10a": {}, "1002": {"interface": "PJSIP/1002", "queues": ["nope"]}}}
    assert errors_of(bad) == [
        "queues.support.ring_target_s: must be > 0, got -3",
        "queues.support.strategy: must be one of longest_idle, round_robin, fewest_calls, got 'random'",
        "queues.support.ring_targt_s: unknown key",
        "agents.10a: agent IDs (工号) are 1-10 digits, got '10a'",
        "agents.1002.queues: unknown queue 'nope'",
    ]


def test_types_are_checked():
    assert errors_of({**GOOD, "queues": {"support": {"ring_target_s": "fast", "wrap_up_s": True}}}) == [
        "queues.support.ring_target_s: must be a number, got 'fast'",
        "queues.support.wrap_up_s: must be a number, got True",
    ]


def test_secret_from_environment(monkeypatch):
    data = {**GOOD, "ari": {"password_env": "TEST_ARI_PW"}}
    assert errors_of(data) == ["ari.password_env: environment variable TEST_ARI_PW is not set"]
    monkeypatch.setenv("TEST_ARI_PW", "s3cret")
    assert config.parse(data).ari.password == "s3cret"


def test_missing_password_and_queues():
    assert errors_of({}) == [
        "ari.password: missing (set password, or password_env naming an environment variable)",
        "queues: at least one queue is required, e.g. [queues.support]",
    ]


def test_originate_timeout_must_cover_ring_target():
    assert errors_of({**GOOD, "queues": {"support": {"ring_target_s": 15, "originate_timeout_s": 10}}}) == [
        "queues.support.originate_timeout_s: must be >= ring_target_s (15), got 10"]


def test_check_config_command(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('[ari]\npassword = "x"\n[queues.support]\nring_target_s = -3\n')
    assert main(["check-config", str(f)]) == 2
    assert "queues.support.ring_target_s: must be > 0, got -3" in capsys.readouterr().err
    assert main(["check-config", "config/example.toml"]) == 0
    f.write_text("not toml [")
    assert main(["check-config", str(f)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_keys_must_not_collide_and_destinations_are_checked():
    bad = {**GOOD, "keys": {"login": "*1", "logout": "*12"},
           "queues": {"support": {"voicemail_destination": "nowhere", "calendar": "office"}}}
    assert errors_of(bad) == [
        "queues.support.voicemail_destination: must be a dialplan destination 'context,exten,priority', "
        "got 'nowhere'",
        "queues.support.calendar: unknown calendar 'office' (define [calendars.office])",
        "keys.login: '*1' is a prefix of keys.logout ('*12'): they collide",
        "keys.login: '*1' is a prefix of keys.pause ('*13'): they collide",
        "keys.login: '*1' is a prefix of keys.resume ('*14'): they collide",
        "keys.login: '*1' is a prefix of keys.listen ('*15'): they collide",  # R-SUPERVISE
        "keys.login: '*1' is a prefix of keys.whisper ('*16'): they collide",
        "keys.login: '*1' is a prefix of keys.barge ('*17'): they collide",
    ]


def test_calendar_and_busy_sections():
    data = {**GOOD, "calendars": {"office": {"windows": ["mon-fri 9:00-12:00"], "holidays": ["2026-13-01"],
                                             "timezone": "Mars/Base"}},
            "busy": {"on_overrun": "explode", "limits": {"lunch": -1}}}
    assert errors_of(data) == [
        "calendars.office.timezone: must be an IANA time zone, got 'Mars/Base'",
        "calendars.office.windows: must be a list like ['mon-fri 08:45-12:00'], got ['mon-fri 9:00-12:00']",
        "calendars.office.holidays: must be a list of dates YYYY-MM-DD, got ['2026-13-01']",
        "busy.limits: must be a table of reason = seconds (> 0), got {'lunch': -1}",
        "busy.on_overrun: must be one of alert, resume, logout, got 'explode'",
    ]
