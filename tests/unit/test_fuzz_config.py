"""Fuzzing the config loader (``config.parse`` / ``config.load``): a valid config with random edits
(every known key of every section set to values of any TOML type: wrong types, huge integers, NaN,
infinities, empty and odd unicode strings, dates; unknown keys and tables with odd names; nested
garbage), fully random TOML-shaped tables, random bytes and randomly damaged TOML text as the file.

Documented outcome: a ``Config``, or a ``ConfigError`` listing every problem, one line each, that
starts with the dotted key path it is about (``queues.support.ring_target_s: …``; a key that is not a
bare TOML key is quoted: ``queues."a b": …``); a file that cannot be read as TOML at all gives one
line about the file, and the error's ``source`` is the file's name. Never another exception.
Settings: the ``ci`` profile (tests/unit/conftest.py).
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import math
import os
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ari_app import config
from ari_app.config import Config, ConfigError

GOOD: dict[str, Any] = {
    "ari": {
        "url": "http://127.0.0.1:8088/ari",
        "username": "callcenter",
        "password": "x",
        "app": "callcenter",
    },
    "service": {"log_level": "info", "moh_class": "default"},
    "queues": {
        "support": {"ring_target_s": 15, "originate_timeout_s": 20, "calendar": "office"},
        "sales": {"strategy": "round_robin"},
    },
    "agents": {
        "1001": {
            "interface": "PJSIP/1001",
            "queues": ["support", "sales"],
            "auto_login": True,
            "penalties": {"sales": 1},
        },
        "1002": {"interface": "PJSIP/1002", "queues": ["support"], "role": "supervisor"},
    },
    "calendars": {
        "office": {
            "timezone": "Asia/Shanghai",
            "windows": ["mon-fri 08:45-17:30"],
            "holidays": ["2026-10-01"],
        }
    },
    "busy": {"limit_s": 900, "limits": {"lunch": 3600}},
    "login": {"max_attempts": 3},
    "keys": {"login": "*11", "pause_reasons": {"1": "break"}},
    "trunk": {"dial": "PJSIP/{number}@trunk", "caller_id": "4000000000"},
    "callbacks": {"mode": "duty", "check_start": "09:00", "queue_teams": {"sales": "support"}},
    "reports": {"timezone": "Asia/Shanghai", "qa_per_agent": 5},
    "mqtt": {"host": "127.0.0.1", "port": 1883},
    "api": {"listen_port": 8090, "tokens": [{"name": "ops", "role": "ops", "sha256": "a" * 64}]},
    "metrics": {"enabled": True},
}

# Every key parse() reads, per section ("*" = the keys of each [queues.NAME] etc.). Secrets also as <key>_env.
KEYS: dict[str, list[str]] = {
    "ari": [
        "url",
        "username",
        "password",
        "app",
        "reconnect_min_s",
        "reconnect_max_s",
        "request_timeout_s",
        "password_env",
        "username_env",
        "url_env",
    ],
    "service": ["store", "log_level", "moh_class"],
    "store": ["url", "url_env"],
    "trunk": ["dial", "caller_id", "timeout_s", "prefix"],
    "queues.*": [
        "ring_target_s",
        "originate_timeout_s",
        "wrap_up_s",
        "strategy",
        "wait_apology_s",
        "announce_every_s",
        "max_wait_s",
        "max_callers",
        "greeting",
        "hold_remind_s",
        "silent_wait_s",
        "calendar",
        "default_handle_s",
        "short_abandon_s",
        "sl_threshold_s",
        "voicemail_destination",
        "no_agent_destination",
        "overflow_destination",
        "closed_destination",
    ],
    "agents.*": ["interface", "queues", "name", "role", "auto_login", "pin_hash", "penalties"],
    "calendars.*": ["timezone", "windows", "holidays", "extra_workdays"],
    "busy": ["limit_s", "limits", "repeat_every_s", "on_overrun", "missed_resume_s"],
    "login": ["max_attempts", "lock_s", "digit_timeout_s"],
    "keys": [
        "login",
        "logout",
        "pause",
        "resume",
        "listen",
        "whisper",
        "barge",
        "transfer",
        "transfer_complete",
        "transfer_cancel",
        "hold",
        "silent",
        "voicemail",
        "keep_place",
        "voicemail_rerecord",
        "callback_skip",
        "callback_wrong_number",
        "pause_reasons",
    ],
    "callbacks": [
        "mode",
        "require_logged_in",
        "check_start",
        "check_every_s",
        "stagger_s",
        "check_offsets",
        "deadline_s",
        "max_attempts",
        "backoff_base_s",
        "backoff_factor",
        "backoff_cap_s",
        "queue_teams",
        "max_record_s",
        "silence_s",
        "roster",
    ],
    "reports": ["timezone", "qa_per_agent"],
    "mqtt": [
        "host",
        "port",
        "username",
        "password",
        "password_env",
        "prefix",
        "buffer_size",
        "client_id",
        "keepalive",
        "reconnect_min_s",
        "reconnect_max_s",
        "stats_every_s",
        "tls",
        "ca_file",
    ],
    "api": ["listen_host", "listen_port", "allow_remote", "tokens", "metrics_loopback_without_token"],
    "metrics": ["enabled", "loop_lag_interval_s"],
}
SECTIONS = {k.split(".")[0] for k in KEYS}

# files a path in the config may name: relative to BASE (the config's directory)
BASE = Path(tempfile.mkdtemp(prefix="ari-app-fuzz-config-"))
atexit.register(shutil.rmtree, BASE, ignore_errors=True)
(BASE / "roster.toml").write_text('[teams.support]\nagents = ["1001", "1002"]\n', encoding="utf-8")
(BASE / "bad-roster.toml").write_text("[teams\n", encoding="utf-8")
(BASE / "binary.toml").write_bytes(b"\xff\xfe\x00garbage\x80")
(BASE / "a-directory").mkdir()
PATHS = [
    "roster.toml",
    "bad-roster.toml",
    "binary.toml",
    "a-directory",
    ".",
    "/",
    "missing.toml",
    "",
    " ",
    "a\x00b",
    "\n",
    "/dev/null",
    str(BASE / "roster.toml"),
]

odd_text = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\t",
        "a\nb",
        "\x00",
        "é",
        "工号",
        "😀",
        "a" * 300,
        "${X}",
        "'",
        '"',
        "\\",
        "{number}",
        "{number.x}",
        "{0}",
        "{number!z}",
        "{",
        "}",
        "sqlite:///",
        "postgresql://",
        "postgresql://u:secret@h/db",
        "http://",
        "PJSIP/",
        "PJSIP/1001\n",
        "*11\n",
        "support\n",
        "1001\n",
        "09:00\n",
        "mon-fri 08:45-12:00\n",
        "24:00",
        "2026-02-30",
        "Asia/Shanghai\n",
        "../etc",
        "UTC",
        "PATH",
        "HOME",
        "NOT_SET_X",
    ]
)
scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.sampled_from([10**400, -(10**400), 0, -1]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
    st.text(max_size=12),
    odd_text,
    st.sampled_from(PATHS),
    st.dates(),
    st.times(),
    st.datetimes(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | odd_text, inner, max_size=4)
    ),
    max_leaves=10,
)
names = st.one_of(
    st.sampled_from(["support", "sales", "1001", "1002", "office", "new", "x"]), st.text(max_size=8), odd_text
)


@st.composite
def edited_configs(draw) -> dict[str, Any]:
    """GOOD, then 1-6 edits: a known key set to any value, a key removed, an unknown key or table added,
    a section or named table replaced by garbage."""
    data = copy.deepcopy(GOOD)
    for _ in range(draw(st.integers(1, 6))):
        section = draw(st.sampled_from(sorted(KEYS)))
        top, _, star = section.partition(".")
        table: Any = data.setdefault(top, {})
        if star:
            if not isinstance(table, dict):
                continue
            table = table.setdefault(draw(names), {})
        if not isinstance(table, dict):
            continue
        match draw(st.sampled_from(["set", "set", "set", "delete", "unknown", "garbage"])):
            case "set":
                table[draw(st.sampled_from(KEYS[section]))] = draw(toml_values)
            case "delete" if table:
                del table[draw(st.sampled_from(sorted(table)))]
            case "unknown":
                table[draw(names)] = draw(toml_values)
            case "garbage":
                if star:
                    data[top][draw(names)] = draw(toml_values)
                else:
                    data[top] = draw(toml_values)
    return data


LINE = re.compile(
    r'^(?P<head>[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")(?P<rest>(?:\.(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")'
    r"|\[\d+\])*): \S"
)


def check_error_lines(err: ConfigError, data: Any) -> None:
    assert err.errors, "a ConfigError lists at least one problem"
    for line in err.errors:
        assert isinstance(line, str) and "\n" not in line and "\r" not in line, repr(line)
        m = LINE.match(line)
        assert m, f"not '<dotted key path>: <problem>': {line!r}"
        head = m["head"]
        head = tomllib.loads(f"{head} = 1").popitem()[0] if head.startswith('"') else head  # unquote
        assert head in SECTIONS or (isinstance(data, dict) and head in data), line


def _numbers(obj: Any, where: str = "config") -> list[tuple[str, float]]:
    """Every float in a parsed config (dataclasses, mappings, tuples), with where it is."""
    if isinstance(obj, float):
        return [(where, obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [
            n for f in dataclasses.fields(obj) for n in _numbers(getattr(obj, f.name), f"{where}.{f.name}")
        ]
    if isinstance(obj, dict):
        return [n for k, v in obj.items() for n in _numbers(v, f"{where}.{k}")]
    if isinstance(obj, (tuple, list)):
        return [n for i, v in enumerate(obj) for n in _numbers(v, f"{where}[{i}]")]
    return []


def parse_outcome(data: Any) -> Config | ConfigError:
    try:
        return config.parse(data, "fuzz.toml", base_dir=BASE)
    except ConfigError as err:
        check_error_lines(err, data)
        return err


def test_the_base_config_is_valid():
    cfg = config.parse(copy.deepcopy(GOOD), base_dir=BASE)
    assert cfg.queues["support"].calendar == "office" and cfg.trunk is not None and cfg.callbacks is not None


@given(edited_configs())
@example({**GOOD, "queues": {"support": {"ring_target_s": 10**400}}})
@example({**GOOD, "queues": {"support": {"calendar": "office"}}, "calendars": 5})
@example({**GOOD, "agents": {"1001": {"queues": ["support"]}}, "queues": 5})
@example({**GOOD, "trunk": {"dial": "PJSIP/{number.x}{number}"}})
@example({**GOOD, "callbacks": {"roster": "a-directory"}})
@example({**GOOD, "callbacks": {"roster": "binary.toml"}})
@example({**GOOD, "callbacks": {"roster": "a\x00b"}})
@example({**GOOD, "queues": {"a\nb": {}}})
@example({**GOOD, "calendars": {"a\nb": {}}})
@example({**GOOD, "ari": {**GOOD["ari"], "password_env": "A\nB"}})
@example({**GOOD, "queues": {"support": {"wrap_up_s": math.inf}}, "login": {"lock_s": math.nan}})
@example(
    {**GOOD, "busy": {"limits": {"lunch": math.inf}}, "callbacks": {"check_offsets": {"support": 10**400}}}
)
@example({**GOOD, "queues": {"support\n": {}}, "agents": {"1001\n": {}}, "keys": {"login": "*11\n"}})
def test_edited_config_is_a_config_or_precise_errors(data):
    out = parse_outcome(data)
    if isinstance(out, Config):  # accepted: what was accepted is what the config promises
        for name, q in out.queues.items():
            assert re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", name)
            assert (
                q.ring_target_s > 0
                and q.originate_timeout_s >= q.ring_target_s
                and not math.isnan(q.wrap_up_s)
            )
        for agent_id, a in out.agents.items():
            assert re.fullmatch(r"[0-9]{1,10}", agent_id) and set(a.queues) <= set(out.queues)
        for code in (out.keys.login, out.keys.pause, out.keys.transfer, out.keys.hold):
            assert re.fullmatch(r"[0-9*#]{1,6}", code), code
        for where, number in _numbers(out):  # seconds, factors, limits: never NaN or an infinity
            assert math.isfinite(number), f"{where} = {number}"


@given(st.dictionaries(st.sampled_from(sorted(SECTIONS)) | names, toml_values, max_size=6))
@example({})
@example({"queues": {"support": []}})
@example({"api": {"tokens": [1, {"name": 5}]}})
def test_random_tables_are_a_config_or_precise_errors(data):
    parse_outcome(data)


# --------------------------------------------------------------------------- the file

EXAMPLE = Path(__file__).parents[2].joinpath("config", "example.toml").read_bytes()
FILE_LINE = re.compile(r"^(file not found|not valid TOML: .+|not UTF-8 text: .+|cannot read it: .+)$")


def load_outcome(content: bytes) -> Config | ConfigError:
    fd, name = tempfile.mkstemp(suffix=".toml", dir=BASE)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    try:
        return config.load(name)
    except ConfigError as err:
        assert err.source == name
        if len(err.errors) == 1 and FILE_LINE.match(err.errors[0]):
            assert "\n" not in err.errors[0]
        else:
            # the TOML as the loader read it (read_text turns a bare "\r" into a newline)
            check_error_lines(err, tomllib.loads(Path(name).read_text(encoding="utf-8")))
        return err
    finally:
        os.unlink(name)


def _damage(content: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for at, cut, insert in edits:
        at %= len(content) + 1
        content = content[:at] + insert + content[at + cut :]
    return content


@settings(max_examples=settings.default.max_examples * 3 // 4)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(
            st.tuples(
                st.integers(0, 10_000),
                st.integers(0, 40),
                st.binary(max_size=6)
                | st.sampled_from(
                    [
                        b"\n",
                        b"=",
                        b"[",
                        b"]",
                        b'"',
                        b"#",
                        b"\xff",
                        b"nan",
                        b"inf",
                        b"1e999",
                        b"99999999999999999999",
                    ]
                ),
            ),
            min_size=1,
            max_size=4,
        ).map(lambda edits: _damage(EXAMPLE, edits)),
    )
)
@example(b"\xff\xfe")
@example(b"\r")
@example(b'[ari]\npassword = "\xe9"\n')
@example(EXAMPLE.replace(b"ring_target_s = 15", b"ring_target_s = 1" + b"0" * 400, 1))
def test_any_bytes_as_the_file_are_a_config_or_one_clear_error(content):
    load_outcome(content)


def test_a_path_that_is_not_a_readable_file():
    for path in (BASE / "a-directory", BASE / "missing.toml"):
        try:
            config.load(path)
        except ConfigError as err:
            assert err.source == str(path) and len(err.errors) == 1 and FILE_LINE.match(err.errors[0])
        else:
            raise AssertionError(f"{path} loaded")
