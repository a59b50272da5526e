"""``[ami]``: optional; every key checked with a precise message."""

from __future__ import annotations

import pytest

from ari_app import config

GOOD = {
    "ari": {"password": "x"},
    "queues": {"support": {}},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}},
}


def errors_of(data):
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    return e.value.errors


def test_absent_means_no_ami_link():
    assert config.parse(GOOD).ami is None


def test_defaults():
    ami = config.parse({**GOOD, "ami": {"password": "p"}}).ami
    assert ami == config.AmiSettings(host="127.0.0.1", port=5038, username="callcenter", password="p",
                                     ping_every_s=10.0, ping_timeout_s=5.0, reconnect_min_s=0.5,
                                     reconnect_max_s=10.0, timezone="")


def test_every_key(monkeypatch):
    monkeypatch.setenv("AMI_SECRET", "from-env")
    ami = config.parse({**GOOD, "ami": {
        "host": "pbx.local", "port": 15038, "username": "cc", "password_env": "AMI_SECRET", "ping_every_s": 2,
        "ping_timeout_s": 1.5, "reconnect_min_s": 0.2, "reconnect_max_s": 4,
        "timezone": "Asia/Shanghai"}}).ami
    assert ami is not None
    assert (ami.host, ami.port, ami.username, ami.password, ami.ping_every_s, ami.ping_timeout_s,
            ami.reconnect_min_s, ami.reconnect_max_s, ami.timezone) == (
        "pbx.local", 15038, "cc", "from-env", 2.0, 1.5, 0.2, 4.0, "Asia/Shanghai")


def test_precise_errors_for_every_problem_at_once():
    bad = {"host": "", "port": 0, "username": "", "password": "", "ping_every_s": 0, "ping_timeout_s": -1,
           "reconnect_min_s": 5, "reconnect_max_s": 1, "timezone": "Mars/Olympus", "secret": "x"}
    assert errors_of({**GOOD, "ami": bad}) == [
        "ami.host: must be a host name or address, got ''",
        "ami.port: must be 1..65535, got 0",
        "ami.username: must be non-empty, got ''",
        "ami.password: must be non-empty, got ''",
        "ami.ping_every_s: must be > 0, got 0",
        "ami.ping_timeout_s: must be > 0, got -1",
        "ami.timezone: must be an IANA time zone like Asia/Shanghai (\"\" = this machine's), "
        "got 'Mars/Olympus'",
        "ami.reconnect_max_s: must be >= reconnect_min_s (5), got 1",
        "ami.secret: unknown key",
    ]


def test_password_is_required_and_types_are_checked(monkeypatch):
    monkeypatch.delenv("NO_SUCH_AMI_SECRET", raising=False)
    assert errors_of({**GOOD, "ami": {}}) == [
        "ami.password: missing (set password, or password_env naming an environment variable)"]
    assert errors_of({**GOOD, "ami": {"password_env": "NO_SUCH_AMI_SECRET"}}) == [
        "ami.password_env: environment variable NO_SUCH_AMI_SECRET is not set"]
    assert errors_of({**GOOD, "ami": {"password": "p", "port": "5038", "ping_every_s": True}}) == [
        "ami.port: must be an integer, got '5038'",
        "ami.ping_every_s: must be a number, got True",
    ]
    assert errors_of({**GOOD, "ami": "on"}) == ["ami: must be a table, got 'on'"]


def test_the_example_configs_have_a_valid_ami_section():
    assert config.load("config/example.toml").ami is not None
