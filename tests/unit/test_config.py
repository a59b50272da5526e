from datetime import date, time as dt_time
from pathlib import Path

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


def test_ari_pool_size_is_a_key_and_reaches_the_client(tmp_path):
    """Ops tune the REST pool against Asterisk's http.conf sessionlimit (issue 7: the old client's 100
    connections used up all of Asterisk's sessions, and a restarted service was refused)."""
    from ari_app.app import Service
    from ari_app.store import Store

    assert config.parse(GOOD).ari.max_connections == 16
    cfg = config.parse({**GOOD, "ari": {"password": "x", "max_connections": 4}})
    assert Service(cfg, store=Store(tmp_path / "state.db")).ari.config.max_connections == 4
    assert errors_of({**GOOD, "ari": {"password": "x", "max_connections": 0}}) == [
        "ari.max_connections: must be 1 to 90 (Asterisk's http.conf sessionlimit is 100 by default; the event "
        "websocket and other clients need sessions too), got 0"]
    assert errors_of({**GOOD, "ari": {"password": "x", "max_connections": 2.5}}) == [
        "ari.max_connections: must be an integer, got 2.5"]


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


# -- [store], [trunk], [keys] for callbacks ---------------------------------------------------------
def test_store_url_defaults_to_service_store_and_is_checked(monkeypatch):
    cfg = config.parse({**GOOD, "service": {"store": "var/x.db"}})
    assert cfg.store_url == "var/x.db" and cfg.store.backend == "sqlite" and cfg.store.path == "var/x.db"
    assert config.parse({**GOOD, "store": {"url": "sqlite:////srv/a.db"}}).store.path == "/srv/a.db"
    monkeypatch.setenv("TEST_STORE_URL", "postgresql://cc:s3cret@db/cc")
    cfg = config.parse({**GOOD, "store": {"url_env": "TEST_STORE_URL"}})
    assert cfg.store_url == "postgresql://cc:s3cret@db/cc" and cfg.store.backend == "postgresql"
    monkeypatch.setenv("TEST_STORE_URL", "mysql://cc:s3cret@db/cc")
    assert errors_of({**GOOD, "store": {"url_env": "TEST_STORE_URL"}}) == [
        "store.url: must be a file path, sqlite:///PATH or postgresql://…, got 'mysql://cc:***@db/cc'"]
    assert errors_of({**GOOD, "service": {"store": "a.db"}, "store": {"url": "b.db", "path": "c"}}) == [
        "store.url: service.store is set too; keep one (store.url is the newer spelling)",
        "store.path: unknown key"]


def test_trunk_section():
    assert config.parse(GOOD).trunk is None
    trunk = config.parse({**GOOD, "trunk": {"dial": "PJSIP/{number}@trunk", "caller_id": "4008001234",
                                            "prefix": "0"}}).trunk
    assert (trunk.timeout_s, trunk.endpoint("13800135678")) == (30.0, "PJSIP/013800135678@trunk")
    assert errors_of({**GOOD, "trunk": {"dial": "PJSIP/trunk", "caller_id": "+400", "timeout_s": 0}}) == [
        "trunk.dial: must be a dial string with {number}, e.g. 'PJSIP/{number}@trunk', got 'PJSIP/trunk'",
        "trunk.caller_id: must be digits (1-20), got '+400'",
        "trunk.timeout_s: must be > 0, got 0",
    ]
    assert errors_of({**GOOD, "trunk": {"dial": "Local/{number}@{context}"}}) == [
        "trunk.dial: must be a dial string with {number}, e.g. 'PJSIP/{number}@trunk', "
        "got 'Local/{number}@{context}'"]
    assert errors_of({**GOOD, "trunk": {"caller_id": "400"}}) == [
        "trunk.dial: missing (a dial string with {number}, e.g. 'PJSIP/{number}@trunk')"]


def test_callback_keys_must_not_collide():
    keys = config.parse(GOOD).keys
    assert (keys.keep_place, keys.voicemail_rerecord, keys.callback_skip, keys.callback_wrong_number) == (
        "2", "2", "#", "*3")
    assert errors_of({**GOOD, "keys": {"keep_place": "1", "callback_wrong_number": "*2",
                                       "voicemail_rerecord": "#"}}) == [
        "keys.voicemail_rerecord: must be one key 0-9 * (# ends a recording), got '#'",
        "keys.transfer_cancel: '*2' is a prefix of keys.callback_wrong_number ('*2'): they collide",
        "keys.callback_wrong_number: '*2' is a prefix of keys.transfer_cancel ('*2'): they collide",
        "keys.voicemail: '1' is a prefix of keys.keep_place ('1'): they collide",
        "keys.keep_place: '1' is a prefix of keys.voicemail ('1'): they collide",
    ]


# -- [callbacks] and the roster file (R-VM-RR, R-VM-CHECK, R-LEAVE) ----------------------------------
TWO_QUEUES = {
    "ari": {"password": "x"},
    "queues": {"support": {}, "sales": {}},
    "agents": {"1001": {"queues": ["support", "sales"]}, "1002": {"queues": ["support"]},
               "1003": {"queues": ["support"]}, "2001": {"queues": ["sales"]}, "2002": {"queues": ["sales"]}},
}
ROSTER = """
timezone = "Asia/Shanghai"
holidays = ["2026-10-01"]
extra_workdays = ["2026-09-27"]
[teams.sales]
agents = ["2002", "2001"]
[teams.support]
agents = ["1001", "1002", "1003"]
[[teams.support.shifts]]
name = "day"
start = "08:45"
end = "17:30"
weekdays = ["mon-fri"]
[[teams.support.shifts]]
name = "sat"
start = "09:00"
end = "12:00"
weekdays = ["sat"]
[[leave]]
agent = "1002"
day = "2026-11-27"
[[leave]]
agent = "1003"
day = "2026-11-27"
shift = "day"
override_by = "1001"
"""


def test_callbacks_defaults_come_from_the_core_and_the_default_roster():
    from ari_app.core.callbacks import CallbackRules
    from ari_app.roster_file import make_roster

    cfg = config.parse({**TWO_QUEUES, "callbacks": {}})
    cb = cfg.callbacks
    default = CallbackRules()
    assert cb.rules.mode == default.mode and cb.rules.check_start == default.check_start
    assert (cb.rules.check_every_s, cb.rules.deadline_s, cb.rules.max_attempts) == (
        default.check_every_s, default.deadline_s, default.max_attempts)
    assert (cb.roster, cb.teams, cb.max_record_s, cb.silence_s) == ("", ("support", "sales"), 120.0, 4.0)
    assert cb.rules.check_offsets == {"support": 0.0, "sales": 600.0}  # stagger_s 600, queue order
    roster = make_roster(cfg)  # one team per queue; 1001 goes to its first queue
    assert roster.members("support") == ("1001", "1002", "1003")
    assert roster.members("sales") == ("2001", "2002")
    assert roster.team("support").shifts[0].start.isoformat("minutes") == "08:45"
    assert config.parse(GOOD).callbacks is None


def test_callbacks_section_good(tmp_path):
    from datetime import date, time

    from ari_app.roster_file import make_roster

    (tmp_path / "roster.toml").write_text(ROSTER)
    f = tmp_path / "cc.toml"
    f.write_text('[ari]\npassword = "x"\n[queues.support]\n[queues.sales]\n[queues.billing]\n'
                 + "".join(f'[agents.{a}]\nqueues = ["{q}"]\n' for a, q in (
                     ("1001", "support"), ("1002", "support"), ("1003", "support"), ("2001", "sales"),
                     ("2002", "sales")))
                 + '[callbacks]\nroster = "roster.toml"\nmode = "per_task"\ncheck_start = "08:50"\n'
                   'stagger_s = 300\nqueue_teams = { billing = "support" }\nmax_attempts = 5\n'
                   'backoff_factor = 1.5\nmax_record_s = 60\n')
    cb = config.load(f).callbacks
    assert cb.roster == str(tmp_path / "roster.toml") and cb.teams == ("sales", "support")
    assert cb.rules.mode == "per_task" and cb.rules.check_start == time(8, 50)
    assert cb.rules.check_offsets == {"sales": 0.0, "support": 300.0}  # file order
    assert (cb.rules.max_attempts, cb.rules.backoff_factor, cb.max_record_s) == (5, 1.5, 60.0)
    assert cb.rules.queue_teams == {"billing": "support"}
    roster = make_roster(config.load(f))
    assert roster.holidays == {date(2026, 10, 1)} and roster.members("sales") == ("2001", "2002")
    assert [e.agent_id for e in roster.leave_on("support", "2026-11-27")] == ["1002", "1003"]
    assert roster.leave_entries()[1].overridden_by == "1001"
    assert roster.team("support").shift("sat").weekdays == {5}


def test_callbacks_section_bad():
    data = {**TWO_QUEUES, "callbacks": {"mode": "daily", "check_start": "9", "check_every_s": 0,
                                        "max_attempts": 0, "backoff_factor": 0.5,
                                        "queue_teams": {"vip": "gold"},
                                        "check_offsets": {"support": 0, "nobody": 60}, "stagger_s": 60,
                                        "color": "red"}}
    assert errors_of(data) == [
        "callbacks.mode: must be one of duty, per_task, got 'daily'",
        "callbacks.check_start: expected HH:MM, got '9'",
        "callbacks.check_every_s: must be > 0, got 0",
        "callbacks.max_attempts: must be >= 1, got 0",
        "callbacks.backoff_factor: must be >= 1, got 0.5",
        "callbacks.color: unknown key",
        "callbacks.queue_teams.vip: unknown queue 'vip'",
        "callbacks.check_offsets: set check_offsets or stagger_s, not both",
        "callbacks.check_offsets.nobody: unknown team 'nobody'",
    ]


def test_callbacks_cross_checks():
    data = {**TWO_QUEUES, "callbacks": {"check_offsets": {"support": 7200}}}
    assert errors_of(data) == [
        "callbacks.check_offsets.support: must be >= 0 and < check_every_s (7200), got 7200.0"]
    data = {**TWO_QUEUES, "callbacks": {"check_every_s": 600}}
    assert errors_of(data) == ["callbacks.stagger_s: 2 teams 600 s apart need check_every_s > 600, got 600 "
                               "(or let teams share a slot: callbacks.rounds)"]
    agents = {"1001": {"queues": ["support", "sales"]}}  # sales has nobody of its own: no team
    assert errors_of({**TWO_QUEUES, "agents": agents, "callbacks": {}}) == [
        "callbacks.queue_teams: queue 'sales' has no team (no team is named like it); "
        "set callbacks.queue_teams.sales = \"<team>\""]
    assert config.parse({**TWO_QUEUES, "agents": agents,
                         "callbacks": {"queue_teams": {"sales": "support"}}}).callbacks.teams == ("support",)


def roster_errors(tmp_path, text, agents=("1001", "1002", "1003", "2001", "2002")):
    from ari_app.roster_file import load_roster

    f = tmp_path / "roster.toml"
    f.write_text(text)
    with pytest.raises(config.ConfigError) as e:
        load_roster(f, agents)
    assert e.value.source == str(f)
    return e.value.errors


def test_roster_file_errors_have_exact_messages(tmp_path):
    assert roster_errors(tmp_path, """
timezone = "Mars/Base"
holidays = ["2026-13-01"]
teem = 1
[teams.Support]
agents = ["1001"]
[teams.sales]
agents = ["2001", "9999", "20a"]
[[teams.sales.shifts]]
start = "8h"
end = "25:00"
weekdays = ["monday"]
colour = "blue"
[teams.empty]
""") == [
        "roster.timezone: must be an IANA time zone, got 'Mars/Base'",
        "roster.holidays: must be a list of dates YYYY-MM-DD, got ['2026-13-01']",
        "roster.teams.Support: team names are lower-case letters, digits, - and _, got 'Support'",
        "roster.teams.sales.agents: unknown agent '9999' (not in the config's [agents])",
        "roster.teams.sales.agents: agent IDs (工号) are 1-10 digits, got '20a'",
        "roster.teams.sales.shifts[0].start: expected HH:MM, got '8h'",
        "roster.teams.sales.shifts[0].end: expected HH:MM, got '25:00'",
        "roster.teams.sales.shifts[0].weekdays: must be a list of day names or ranges, e.g. ['mon-fri'] or "
        "['mon', 'wed'], got ['monday']",
        "roster.teams.sales.shifts[0].colour: unknown key",
        "roster.teams.empty.agents: missing (a list of agent IDs, e.g. agents = [\"1001\", \"1002\"])",
        "roster.teem: unknown key",
    ]


def test_roster_core_errors_and_leave_errors(tmp_path):
    assert roster_errors(tmp_path, '[teams.a]\nagents = ["1001"]\n[teams.b]\nagents = ["1001"]\n') == [
        "roster: agent '1001' is in teams 'a' and 'b'; an agent belongs to one team"]
    assert roster_errors(tmp_path, '[teams.a]\nagents = ["1001"]\n[[teams.a.shifts]]\nstart = "24:00"\n'
                                   'end = "24:00"\n') == [
        "roster.teams.a.shifts[0].start: expected HH:MM, got '24:00'"]
    assert roster_errors(tmp_path, "") == [
        "roster.teams: at least one team is required, e.g. [teams.support]"]
    assert roster_errors(tmp_path, """
[teams.support]
agents = ["1001", "1002", "1003"]
[[leave]]
agent = "1001"
day = "2026-11-27"
[[leave]]
agent = "1002"
day = "2026-11-27"
[[leave]]
agent = "2001"
day = "2026-11-27"
[[leave]]
agent = "1003"
day = "2026-11-28"
[[leave]]
agent = "1003"
day = "2026-11-30"
shift = "night"
[[leave]]
agent = "7"
day = "2026-11-31"
""") == [
        "roster.leave[1]: team 'support' already has 1001 on leave in shift 'day' on 2026-11-27; "
        "one agent per team per shift (R-LEAVE 第3条: 一个班次允许一名员工请假或换班); "
        "a supervisor may override",
        "roster.leave[2]: agent '2001' is in no team",
        "roster.leave[3]: 2026-11-28 is not a working day for team 'support'",
        "roster.leave[4]: team 'support' has no shift 'night'",
        "roster.leave[5].agent: unknown agent '7' (not in the config's [agents])",
        "roster.leave[5].day: expected a date as YYYY-MM-DD, got '2026-11-31'",
    ]
    assert roster_errors(tmp_path, "not toml [")[0].startswith("not valid TOML")


def test_a_shift_may_end_at_24_00_and_then_lasts_all_day(tmp_path):
    from ari_app.roster_file import load_roster

    f = tmp_path / "roster.toml"
    f.write_text('[teams.a]\nagents = ["1001"]\n[[teams.a.shifts]]\nstart = "00:00"\nend = "24:00"\n')
    shift = load_roster(f, ("1001",)).team("a").shifts[0]
    start, end = shift.bounds(date(2026, 12, 7))
    assert (shift.start, shift.end, end - start) == (dt_time(0, 0), dt_time(0, 0), 24 * 3600)


def test_roster_errors_in_the_config_name_the_file(tmp_path, capsys):
    (tmp_path / "roster.toml").write_text('[teams.support]\nagents = ["1001"]\n[[teams.support.shifts]]\n'
                                          'start = "8h"\n')
    f = tmp_path / "cc.toml"
    f.write_text('[ari]\npassword = "x"\n[queues.support]\n[agents.1001]\nqueues = ["support"]\n'
                 '[callbacks]\nroster = "roster.toml"\n')
    roster = tmp_path / "roster.toml"
    with pytest.raises(config.ConfigError) as e:
        config.load(f)
    assert e.value.errors == [f"callbacks.roster: {roster}: roster.teams.support.shifts[0].start: "
                              "expected HH:MM, got '8h'"]
    assert main(["check-config", str(f)]) == 2
    assert "expected HH:MM, got '8h'" in capsys.readouterr().err
    (tmp_path / "roster.toml").unlink()
    with pytest.raises(config.ConfigError) as e:
        config.load(f)
    assert e.value.errors == [f"callbacks.roster: {roster}: file not found"]
    (tmp_path / "roster.toml").write_text('[teams.support]\nagents = ["1001"]\n')
    assert main(["check-config", str(f)]) == 0
    assert capsys.readouterr().out == (f"{f}: ok (1 queues, 1 agents; callbacks: duty mode, 1 teams "
                                       f"(roster {roster}))\n")


def test_roster_example_is_valid():
    from ari_app.roster_file import load_roster

    roster = load_roster("config/roster.toml.example", ["1001", "1002", "1003", "2001", "2002"])
    assert roster.teams == ("support", "sales") and len(roster.leave_entries()) == 2


def test_production_example_is_valid(tmp_path, monkeypatch):
    text = Path("config/production.toml.example").read_text()
    f = tmp_path / "production.toml"
    f.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("pin_hash")))
    monkeypatch.setenv("ARI_PASSWORD", "x")
    monkeypatch.setenv("MQTT_PASSWORD", "y")
    monkeypatch.setenv("AMI_SECRET", "y")  # [ami] password_env (R-KPI: CDRs)
    cfg = config.load(f)
    assert cfg.ami is not None and cfg.ami.password == "y"
    assert cfg.callbacks.teams == ("support", "sales") and cfg.trunk.caller_id == "4008001234"
    assert cfg.mqtt.username == "ari-app" and cfg.mqtt.password == "y"
    assert cfg.store_url == "/var/lib/ari-app/state.db"
