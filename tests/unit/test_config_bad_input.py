"""Config inputs that raised something other than ConfigError, or gave an error line that was not
'<dotted key path>: <problem>' on one line; each found by fuzzing (tests/unit/test_fuzz_config.py)."""

from __future__ import annotations

import math

import pytest

from ari_app import config

GOOD = {
    "ari": {"password": "x"},
    "queues": {"support": {"ring_target_s": 15}},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"], "auto_login": True}},
}


def errors_of(data, **kw):
    with pytest.raises(config.ConfigError) as e:
        config.parse(data, **kw)
    return e.value.errors


def load_errors(path):
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    assert e.value.source == str(path)
    return e.value.errors


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\x80", "not UTF-8 text: 'utf-8' codec can't decode byte 0x80 in position 0: invalid start byte"),
        (b"a = " + b"[" * 100_000, "not valid TOML: nested too deeply"),
        (
            b"a = 1" + b"0" * 5000,
            "not valid TOML: Exceeds the limit (4300 digits) for integer string conversion",
        ),
    ],
)
def test_a_file_that_is_not_utf8_toml(tmp_path, content, error):
    """b"\\x80" raised UnicodeDecodeError, 100000 "[" RecursionError, a 5001-digit integer ValueError."""
    f = tmp_path / "cc.toml"
    f.write_bytes(content)
    errors = load_errors(f)
    assert len(errors) == 1 and errors[0].startswith(error)


def test_a_directory_as_the_file(tmp_path):
    """A directory raised IsADirectoryError."""
    assert load_errors(tmp_path) == ["cannot read it: Is a directory"]


@pytest.mark.parametrize(
    ("roster", "error"),
    [
        ("a-directory", "cannot read it: Is a directory"),
        ("binary.toml", "not UTF-8 text: "),
        ("a\x00b", "cannot read it: embedded null byte"),
    ],
)
def test_a_roster_path_that_is_not_a_readable_file(tmp_path, roster, error):
    """callbacks.roster naming a directory, a binary file or holding a NUL raised OSError/ValueError."""
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe")
    errors = errors_of({**GOOD, "callbacks": {"roster": roster}}, base_dir=tmp_path)
    path = str(tmp_path / roster)
    shown = path if path.isprintable() else repr(path)  # the NUL as \x00: the line stays one line
    assert len(errors) == 1 and errors[0].startswith(f"callbacks.roster: {shown}: {error}")


def test_odd_key_names_are_quoted_in_the_path():
    """A key with a newline (TOML allows any quoted key) split the error over two lines, and an empty
    key gave ': unknown key', naming nothing: keys that are not bare are quoted as TOML writes them."""
    data = {
        **GOOD,
        "": 1,
        "queues": {**GOOD["queues"], "a\nb": {}},
        "calendars": {"x y": {"tz": "UTC"}},
        "api": {"tok\tens": []},
        "ari": {"password_env": "A\nB"},
    }
    assert errors_of(data) == [
        'ari.password_env: environment variable "A\\nB" is not set',
        "queues.\"a\\nb\": queue names are lower-case letters, digits, - and _, got 'a\\nb'",
        'calendars."x y".tz: unknown key',
        'api."tok\\tens": unknown key',
        '"": unknown key',
    ]


def test_a_roster_path_with_a_newline_stays_on_one_line(tmp_path):
    errors = errors_of({**GOOD, "callbacks": {"roster": "a\nb.toml"}}, base_dir=tmp_path)
    path = str(tmp_path / "a\nb.toml")
    assert errors == [f"callbacks.roster: {path!r}: file not found"]


def test_an_integer_too_large_for_a_number():
    """ring_target_s = 10**400 (a valid TOML integer) raised OverflowError converting it to a float;
    so did a check offset of 10**400 (callbacks.check_offsets)."""
    assert errors_of({**GOOD, "queues": {"support": {"ring_target_s": 10**400}}}) == [
        "queues.support.ring_target_s: must be a number below 1e308, got a larger integer"
    ]
    assert errors_of({**GOOD, "callbacks": {"check_offsets": {"support": 10**400}}}) == [
        "callbacks.check_offsets: must be a table of team = seconds (>= 0), got {'support': "
        + str(10**400)
        + "}"
    ]


def test_a_trailing_newline_is_not_part_of_a_valid_value():
    """Found by fuzzing: the checks' regexes ended in "$", which also matches before a final newline, so
    queues."support\\n", agents."1001\\n", keys.login = "*11\\n" (a code no phone can dial) and
    interface = "PJSIP/1001\\n" were accepted; and pause_reasons took "²" as a digit key."""
    data = {
        **GOOD,
        "queues": {**GOOD["queues"], "support\n": {}},
        "agents": {"1001": {**GOOD["agents"]["1001"], "interface": "PJSIP/1001\n"}, "1002\n": {}},
        "keys": {"login": "*11\n", "pause_reasons": {"²": "lunch"}},
        "mqtt": {"host": "h", "client_id": "x\n"},
        "api": {"tokens": [{"name": "ops\n", "role": "ops", "sha256": "a" * 64 + "\n"}]},
    }
    assert errors_of(data) == [
        "queues.\"support\\n\": queue names are lower-case letters, digits, - and _, got 'support\\n'",
        "agents.1001.interface: must be a dial string like PJSIP/1001, got 'PJSIP/1001\\n'",
        'agents.1001.interface: needed for auto_login (e.g. interface = "PJSIP/1001")',
        "agents.\"1002\\n\": agent IDs (工号) are 1-10 digits, got '1002\\n'",
        "keys.login: must be keys 0-9 * #, got '*11\\n'",
        "keys.pause_reasons: must be a table of one digit = reason name, got {'²': 'lunch'}",
        "mqtt.client_id: must be 1-64 letters, digits, _ . - (or \"\" for a generated one), got 'x\\n'",
        "api.tokens[0].name: must be letters, digits, _ . @ - (at most 64), got 'ops\\n'",
        "api.tokens[0].sha256: must be 64 hex digits (the token's sha256, from `ari-app token new`), "
        "got 65 characters",
    ]


def test_a_section_that_is_not_a_table_where_another_looks_it_up():
    """A queue's calendar with calendars = 5, and an agent's queues with queues = 5, raised TypeError
    ("argument of type 'int' is not iterable"): each is now just the section's own error."""
    data = {**GOOD, "queues": {"support": {"calendar": "office"}}, "calendars": 5}
    assert errors_of(data) == [
        "queues.support.calendar: unknown calendar 'office' (define [calendars.office])",
        "calendars: must be a table, got 5",
    ]
    assert errors_of({**GOOD, "queues": 5}) == [
        "queues: must be a table, got 5",
        "agents.1001.queues: unknown queue 'support'",
    ]


@pytest.mark.parametrize(
    "dial",
    [
        "PJSIP/{number.x}{number}@trunk",
        "PJSIP/{number[x]}{number}@trunk",
        "PJSIP/{number[2]}{number}",
        "PJSIP/{number:>5}{number}",
        "PJSIP/{number!r}{number}",
        "PJSIP/{0}{number}",
        "PJSIP/{number}{",
    ],
)
def test_a_dial_template_with_more_than_number(dial):
    """trunk.dial = "PJSIP/{number.x}{number}@trunk" raised AttributeError, "{number[x]}{number}" TypeError;
    "{number[2]}{number}" passed and would fail for a short number when dialling. Only plain {number}."""
    assert errors_of({**GOOD, "trunk": {"dial": dial}}) == [
        f"trunk.dial: must be a dial string with {{number}}, e.g. 'PJSIP/{{number}}@trunk', got {dial!r}"
    ]


def test_nan_and_infinities_are_not_numbers_of_seconds():
    """TOML has nan and inf: wrap_up_s = inf (an agent never free again), lock_s = inf, a busy limit of inf
    were accepted (the fuzz test checks that every number of an accepted config is finite)."""
    data = {
        **GOOD,
        "queues": {"support": {"wrap_up_s": math.inf, "ring_target_s": math.nan}},
        "login": {"lock_s": -math.inf},
        "busy": {"limits": {"lunch": math.inf}},
    }
    assert errors_of(data) == [
        "queues.support.ring_target_s: must be a finite number, got nan",
        "queues.support.wrap_up_s: must be a finite number, got inf",
        "busy.limits: must be a table of reason = seconds (> 0), got {'lunch': inf}",
        "login.lock_s: must be a finite number, got -inf",
    ]
