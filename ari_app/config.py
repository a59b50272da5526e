"""The service's configuration: one TOML file, validated at start.

Every error names the exact key and what was wrong with it, e.g.
``queues.support.ring_target_s: must be > 0, got -3``. All errors are
collected, not just the first, so an operator fixes the file in one go.
Secrets may be given inline (development) or as ``<key>_env`` naming an
environment variable (production), e.g. ``password_env = "ARI_PASSWORD"``.

Optional sections (absent → the attribute is None):

* ``[store] url`` → ``Config.store`` (``StoreSettings``): a file path or
  ``sqlite:///PATH`` (SQLite), or ``postgresql://…`` (use ``url_env`` when the
  URL holds a password). Without it the older ``service.store`` path is the
  store; ``Config.store_url`` is the one to use either way.
* ``[trunk]`` → ``Config.trunk`` (``TrunkConfig``): how customers are dialled
  for callbacks and follow-ups (R-CB). ``endpoint`` (the provider trunk's PJSIP
  endpoint, default ``trunk``) is the dialplan's ``CC_TRUNK``; without ``dial`` the
  service dials ``PJSIP/{number}@<endpoint>``.
* ``[queues.<name>] number``, ``voicemail_number`` and ``[dids]`` (``"<called
  number>" = "<queue>"``, → ``Config.dids``): the dialplan's numbers, rendered into
  Asterisk's ``extensions_site.conf`` by ``pbx_site`` (``ari-app pbx-render``). Their
  rules live in ``pbx_site.read_site`` alone; ``parse`` reports its problems too.
* ``[metrics]`` → ``Config.metrics`` (``MetricsConfig``, defaults when absent): the
  Prometheus figures on the API's ``GET /metrics`` (R-KPI; ``events/metrics.py``).
* ``[ami]`` → ``Config.ami`` (``AmiSettings``): the AMI link for CDR events of
  calls that never enter Stasis (an agent's own ``9<number>`` calls, R-KPI).
* ``[callbacks]`` → ``Config.callbacks`` (``CallbacksConfig``): R-VM, R-VM-RR,
  R-VM-CHECK, R-CB, R-SLA24. ``.rules`` is a ready ``core.callbacks.CallbackRules``
  whose defaults come from the core dataclass. ``roster`` names the roster
  file (R-LEAVE; relative to this file's directory); it is loaded and checked
  here, and ``roster_file.make_roster(cfg)`` gives the service a fresh
  ``Roster``. Without a roster file each queue is a team (see
  ``roster_file.default_roster``).
* ``[mqtt]`` → ``Config.mqtt`` (``MqttConfig``): the MQTT event sink
  (``events/mqtt.py``); absent → no MQTT.
* ``[recording]`` → ``Config.recording`` (``RecordingConfig``): R-QA call
  recording after a recording notice, and R-PRIVACY's retention of the
  recordings. ``enabled = false`` records nothing (old recordings are still
  erased after ``retention_days``).
"""

from __future__ import annotations

import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field, replace
from datetime import time as dt_time
from pathlib import Path
from typing import Any, Mapping, Iterator

from . import pbx_site, site_prompts as _site_prompts
from .core import numbers, prompts as _prompts
from .core.acd import QueueRules as _CoreQueue
from .core.callbacks import MODES, STAGGER_S, CallbackError, CallbackRules, stagger
from .core.incall import HOLD_APOLOGY_S, SILENT_DETECT_S, SILENT_SCRIPTS
from .core.vmcheck import round_errors
from .config_targets import TargetsConfig, parse_targets, team_names
from .pbx_site import toml_key

__all__ = [
    "AgentConfig", "AmiSettings", "AriSettings", "BusyConfig", "CalendarConfig", "CallbacksConfig", "Config",
    "ConfigError", "KeyMap", "LoginConfig", "MetricsConfig", "MqttConfig", "QueueConfig", "RecordingConfig",
    "ReportsConfig", "ServiceSettings", "StoreSettings", "TargetsConfig", "TrunkConfig", "load", "parse",
]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")
_AGENT_ID = re.compile(r"^[0-9]{1,10}\Z")
_INTERFACE = re.compile(r"^(PJSIP|SIP|IAX2|Local)/\S+\Z")
_PHONE = re.compile(r"(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@/-]{1,80}\Z")  # api/_input.py INTERFACE
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z")


def _shown(text: str) -> str:
    """A value quoted into a message as it is, unless it would break the line (then its repr)."""
    return text if text.isprintable() else repr(text)


class ConfigError(ValueError):
    """The config file is invalid; ``errors`` lists every problem, one line each."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid configuration:\n" + "\n".join(f"  {e}" for e in errors))


@dataclass(frozen=True, kw_only=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088/ari"
    username: str = "callcenter"
    password: str = ""
    app: str = "callcenter"
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    request_timeout_s: float = 10.0
    max_connections: int = 16  # the REST pool; keep well below Asterisk's http.conf sessionlimit (100)
    allow_unsupported_asterisk: bool = False  # ready (GET /health) on an Asterisk outside SUPPORTED_ASTERISK


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    store: str = "/var/lib/ari-app/state.db"
    log_level: str = "info"
    moh_class: str = "default"


@dataclass(frozen=True, kw_only=True)
class StoreSettings:
    """``[store]``: where state lives (R-VM: nothing is lost across restarts)."""
    url: str  # a file path or sqlite:///PATH (SQLite), or postgresql://…

    @property
    def backend(self) -> str:
        return "postgresql" if self.url.startswith(_PG_SCHEMES) else "sqlite"

    @property
    def path(self) -> str:
        """SQLite: the file (``sqlite:///var/x.db`` → ``var/x.db``, ``sqlite:////abs`` → ``/abs``)."""
        if self.backend != "sqlite":
            return ""
        return self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else self.url


@dataclass(frozen=True, kw_only=True)
class TrunkConfig:
    """``[trunk]``: how the service dials customers (R-CB callbacks and follow-ups)."""
    dial: str  # a dial-string template with {number}: "PJSIP/{number}@trunk", "Local/{number}@e2e-customer"
    caller_id: str = ""  # the outbound caller ID (digits); "" = the trunk's own
    timeout_s: float = 30.0  # how long the customer's phone rings
    prefix: str = ""  # digits put before every number (e.g. "0" for an outside line)

    def endpoint(self, number: str) -> str:
        """The dial string for one customer number; ``numbers.NumberRefused`` unless it is digits only after
        normalising (issue 17: ``@ / & , ;`` in a caller ID must never reach the dial string)."""
        return self.dial.format(number=self.prefix + numbers.dial_digits(number))


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """``[mqtt]``: the broker the event sink publishes to (``events/mqtt.py``)."""
    host: str
    port: int = 1883
    username: str = ""  # "" = connect without credentials
    password: str = field(default="", repr=False)  # or password_env
    prefix: str = "callcenter"  # the topic root: <prefix>/agents/…, <prefix>/queues/…, <prefix>/events/…
    buffer_size: int = 1000  # messages kept while the broker is away; the oldest is dropped first
    client_id: str = ""  # "" = one generated by the client
    keepalive: int = 60
    reconnect_min_s: float = 1.0  # back-off between connection attempts: doubles from min to max
    reconnect_max_s: float = 60.0
    stats_every_s: float = 1.0  # a queue's stats are published at most this often (0 = on every change)
    tls: bool = False
    ca_file: str = ""  # with tls: the CA bundle to trust ("" = the system's)


@dataclass(frozen=True, kw_only=True)
class AmiSettings:
    """``[ami]``: the AMI link (CDR events of agents' own outbound calls, R-KPI outbound per day)."""
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    password: str = ""
    ping_every_s: float = 10.0  # the watchdog's Ping period
    ping_timeout_s: float = 5.0  # no answer to a Ping (or to connect and login) within this: reconnect
    reconnect_min_s: float = 0.5  # back-off, doubling up to reconnect_max_s
    reconnect_max_s: float = 10.0
    timezone: str = ""  # the PBX's zone for CDR times without an epoch header; "" = this machine's


@dataclass(frozen=True, kw_only=True)
class CallbacksConfig:
    """``[callbacks]``: R-VM, R-VM-RR, R-VM-CHECK, R-CB, R-SLA24."""
    rules: CallbackRules  # ready for core.callbacks.Callbacks; check_offsets already staggered
    roster: str = ""  # absolute path of the roster file (R-LEAVE); "" = the default roster
    teams: tuple[str, ...] = ()  # the roster's teams, in file order (the order of the stagger)
    stagger_s: float = STAGGER_S  # check offsets: team i checks i * stagger_s after check_start
    max_record_s: float = 120.0  # R-VM: the longest voicemail
    silence_s: float = 4.0  # R-VM: this much silence ends a voicemail
    retention_days: int = 90  # R-PRIVACY: a task closed this long ago loses its number and its voicemail


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """``[metrics]``: Prometheus figures (R-KPI), served by the API as ``GET /metrics``."""
    enabled: bool = True
    loop_lag_interval_s: float = 1.0  # how often the event-loop lag is measured


@dataclass(frozen=True, kw_only=True)
class RecordingConfig:
    """``[recording]``: R-QA (calls recorded after a notice, one file per call) and R-PRIVACY (retention)."""
    enabled: bool = True  # the section present records, unless enabled = false
    notice: bool = True  # "本次通话可能被录音" when the call enters the queue
    format: str = "wav"
    retention_days: int = 90  # a recording of day D is erased from day D + retention_days + 1
    name: str = "qa/{date}/{call_id}"  # the stored recording's name; {date} is the local day it started


RECORDING_FORMATS = ("wav", "gsm", "ulaw", "alaw")


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    name: str
    ring_target_s: float = 15.0  # R-RING: three rings
    originate_timeout_s: float = 20.0  # safety net behind the core's own deadline
    wrap_up_s: float = 0.0  # R-WRAP
    strategy: str = "longest_idle"
    wait_apology_s: float = 10.0  # R-WAIT
    announce_every_s: float = 30.0  # R-WAITLIMIT
    max_wait_s: float = 120.0  # R-WAITLIMIT
    max_callers: int = 0  # 0 = no limit
    greeting: bool = True  # R-GREET
    greeting_org: str = _CoreQueue.greeting_org  # R-GREET: the organisation's name prompt (您好，<org>…)
    greeting_time_of_day: bool = _CoreQueue.greeting_time_of_day  # R-GREET: 早上好/… in place of 您好
    hold_remind_s: float = 60.0  # R-HOLD
    silent_wait_s: float = 5.0  # R-SILENT
    hold_apology_s: float = HOLD_APOLOGY_S  # R-WAIT: "对不起，请稍等！" after this long on hold (0 = off)
    silent_script: str = "standard"  # R-SILENT: "standard" or "hotline" (core.incall.SILENT_SCRIPTS)
    silent_detect_s: float = SILENT_DETECT_S  # R-SILENT: talk detection starts the script (0 = off)
    calendar: str = ""  # R-HOURS: a [calendars.NAME]; "" = always open
    default_handle_s: float = 120.0
    short_abandon_s: float = 5.0  # R-KPI: a caller gone this soon is a short abandon, outside every ratio
    sl_threshold_s: float = 20.0  # R-KPI: service level (及时应答率) counts answers within this
    voicemail_destination: str = "callcenter-voicemail,s,1"
    no_agent_destination: str = "callcenter-voicemail,s,1"
    overflow_destination: str = "callcenter-voicemail,s,1"
    closed_destination: str = "callcenter-voicemail,s,1"
    number: str = ""  # the dialplan number that enters the queue ("" = none; pbx_site renders it)
    voicemail_number: str = ""  # the direct voicemail number (R-VM; "" = none)


@dataclass(frozen=True, kw_only=True)
class CalendarConfig:
    name: str
    timezone: str = "Asia/Shanghai"
    windows: tuple[str, ...] = ("mon-fri 08:45-12:00", "mon-fri 13:30-17:30")
    holidays: tuple[str, ...] = ()
    extra_workdays: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BusyConfig:
    """R-BUSY"""
    limit_s: float = 900.0
    limits: Mapping[str, float] = field(default_factory=dict)
    repeat_every_s: float = 300.0
    on_overrun: str = "alert"
    missed_resume_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class LoginConfig:
    """R-LOGIN (issue 17: limits per agent ID and per phone over a sliding window, stored; PIN length)"""
    max_attempts: int = 3  # wrong PINs for one agent ID within window_s lock it for lock_s
    phone_max_attempts: int = 10  # wrong PINs at one phone within window_s lock the phone for lock_s
    window_s: float = 900.0
    lock_s: float = 900.0
    digit_timeout_s: float = 8.0
    min_pin_length: int = 6  # a shorter PIN is refused at log-in and by ari-app pin-hash


@dataclass(frozen=True, kw_only=True)
class KeyMap:
    """Every key in one place, so nothing collides: feature codes dialled from an
    agent phone, and keys pressed during a call."""
    login: str = "*11"
    logout: str = "*12"
    pause: str = "*13"  # followed by an optional reason code: *132 = pause_reasons["2"]
    resume: str = "*14"
    # R-SUPERVISE: dialled from a supervisor's phone, followed by the agent ID: *151001
    listen: str = "*15"
    whisper: str = "*16"
    barge: str = "*17"
    voicemail: str = "1"  # caller, after max_wait_s (R-WAITLIMIT)
    keep_place: str = "2"  # caller, while waiting: be called back instead (R-CB); read with voicemail
    voicemail_rerecord: str = "2"  # caller, after recording a voicemail: record it again (# ends a recording)
    # the agent's callback call (R-CB): skip the voicemail while it plays; in the bridged call: wrong number
    callback_skip: str = "#"  # read only while the voicemail plays (so it may be a prefix of transfer)
    callback_wrong_number: str = "*3"  # read with the in-call keys below: must not collide with them
    # in-call keys on the agent's phone (R-XFER-*): ##<target># starts, then complete or cancel
    transfer: str = "##"
    transfer_complete: str = "*1"
    transfer_cancel: str = "*2"
    hold: str = "*8"  # R-HOLD: hold / resume (toggles)
    silent: str = "*9"  # R-SILENT: the silent-caller script
    pause_reasons: Mapping[str, str] = field(default_factory=lambda: {"1": "break", "2": "lunch", "3": "meeting",
                                                                      "4": "training"})


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    agent_id: str
    interface: str  # the default phone; phone login (R-LOGIN) may move the agent
    queues: tuple[str, ...]
    phones: tuple[str, ...] = ()  # issue 17: more phones the API may log it in at (or, supervisor, call)
    name: str = ""  # R-XFER-NAME: set, the agent has a name prompt (agent-name-<id>, scripts/make-prompts --site)
    name_pinyin: str = ""  # how the synthesiser reads a name in Chinese characters ("zhang1 wei3")
    role: str = "agent"  # R-SUPERVISE: "supervisor" may listen, whisper, barge
    auto_login: bool = False
    pin_hash: str = ""
    penalties: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReportsConfig:
    """``[reports]`` (R-KPI, R-SHIFT, R-QA): the day boundaries and the QA sample."""
    timezone: str = "Asia/Shanghai"
    qa_per_agent: int = 5  # R-QA: random recorded calls per agent per month


@dataclass(frozen=True, kw_only=True)
class Config:
    ari: AriSettings
    service: ServiceSettings
    queues: Mapping[str, QueueConfig]
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)
    calendars: Mapping[str, CalendarConfig] = field(default_factory=dict)
    busy: BusyConfig = field(default_factory=BusyConfig)
    login: LoginConfig = field(default_factory=LoginConfig)
    keys: KeyMap = field(default_factory=KeyMap)
    api: Any = None  # ari_app.api.ApiSettings (None only when built by hand in tests)
    store: StoreSettings | None = None  # parse() always sets it; None only when built by hand
    trunk: TrunkConfig | None = None  # [trunk] absent: no outbound dialling
    callbacks: CallbacksConfig | None = None  # [callbacks] absent: voicemail is not turned into tasks
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    mqtt: MqttConfig | None = None  # [mqtt] absent: no MQTT
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    recording: RecordingConfig | None = None  # [recording] absent: no call is recorded (R-QA)
    ami: AmiSettings | None = None  # [ami] absent: no CDR events (agents' own outbound calls are not counted)
    dids: Mapping[str, str] = field(default_factory=dict)  # [dids]: a provider's called number → queue
    targets: TargetsConfig = field(default_factory=TargetsConfig)  # [targets]: R-KPI 既定标准
    site_prompts: tuple[str, ...] = ()  # the site's prompt ids: agents' names, [site_prompts] (site_prompts.py)

    @property
    def store_url(self) -> str:
        """The store to open: ``[store] url``, else ``service.store``."""
        return self.store.url if self.store is not None else self.service.store


STRATEGIES = ("longest_idle", "round_robin", "fewest_calls")
AGENT_ROLES = ("agent", "supervisor")  # R-SUPERVISE
ON_OVERRUN = ("alert", "resume", "logout")
_DEST = re.compile(r"^[A-Za-z0-9_-]+,[A-Za-z0-9_*#+-]+,[0-9]+\Z")
_KEY = re.compile(r"^[0-9*#]{1,6}\Z")
_DIGITS = re.compile(r"^[0-9]{1,20}\Z")
_PG_SCHEMES = ("postgresql://", "postgres://")


class _Reader:
    """Reads one table, recording errors under its dotted path."""

    def __init__(self, table: Mapping[str, Any], path: str, errors: list[str]) -> None:
        self.table, self.path, self.errors = table, path, errors
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{toml_key(key)}" if self.path else toml_key(key)

    def get(self, key: str, kind: type, default: Any, *, check=None, must: str = "") -> Any:
        self.seen.add(key)
        self.seen.add(f"{key}_env")
        env_name = self.table.get(f"{key}_env")
        if env_name is not None:
            if not isinstance(env_name, str) or not env_name:
                self.errors.append(f"{self._key(key + '_env')}: must name an environment variable, got {env_name!r}")
                return default
            if env_name not in os.environ:
                self.errors.append(f"{self._key(key + '_env')}: environment variable {toml_key(env_name)} "
                                   "is not set")
                return default
            value: Any = os.environ[env_name]
        elif key in self.table:
            value = self.table[key]
        else:
            return default
        raw = value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            if not _finite(value):  # 10**400: beyond any float
                self.errors.append(f"{self._key(key)}: must be a number below 1e308, got a larger integer")
                return default
            value = float(value)
        if kind is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.errors.append(f"{self._key(key)}: must be {_kind_name(kind)}, got {value!r}")
            return default
        if kind is float and not math.isfinite(value):  # TOML has nan and inf
            self.errors.append(f"{self._key(key)}: must be a finite number, got {raw!r}")
            return default
        if check is not None and not check(value):
            self.errors.append(f"{self._key(key)}: must be {must}, got {raw!r}")
            return default
        return value

    def positive(self, key: str, default: float) -> float:
        """A number of seconds (or similar) that must be > 0."""
        return self.get(key, float, default, check=_positive, must="> 0")

    def table_of(self, key: str) -> Mapping[str, Any]:
        self.seen.add(key)
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            self.errors.append(f"{self._key(key)}: must be a table, got {value!r}")
            return {}
        return value

    def named_tables(self, key: str, what: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """``[<key>.<name>]`` tables: (name, dotted path, table); a bad name or a non-table is an error.

        None at all is an error too (``what``: "queue" → "at least one queue is required")."""
        tables = self.table_of(key)
        if not tables and isinstance(self.table.get(key, {}), dict):
            self.errors.append(f"{self._key(key)}: at least one {what} is required, e.g. [{key}.support]")
        for name, data in tables.items():
            path = f"{self._key(key)}.{toml_key(name)}"
            if not _NAME.match(name):
                self.errors.append(f"{path}: {what} names are lower-case letters, digits, - and _, got {name!r}")
            elif not isinstance(data, dict):
                self.errors.append(f"{path}: must be a table, got {data!r}")
            else:
                yield name, path, data

    def finish(self) -> None:
        for key in self.table:
            if key not in self.seen:
                self.errors.append(f"{self._key(key)}: unknown key")


def _kind_name(kind: type) -> str:
    return {str: "a string", float: "a number", bool: "true or false", tuple: "a list", int: "an integer",
            dict: "a table"}.get(
        kind, kind.__name__
    )


def _positive(v: float) -> bool:
    return v > 0


def _destination(r: "_Reader", key: str, default: str) -> str:
    return r.get(key, str, default, check=_DEST.match, must="a dialplan destination 'context,exten,priority'")


def _valid_window(text: str) -> bool:
    from .core.hours import parse_window

    try:
        parse_window(text)
    except ValueError:
        return False
    return True


def _valid_dates(values: tuple) -> bool:
    from datetime import date

    try:
        for v in values:
            date.fromisoformat(v)
    except (TypeError, ValueError):
        return False
    return True


def _valid_tz(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def parse(data: Mapping[str, Any], source: str = "<config>", *,
          base_dir: str | os.PathLike[str] | None = None) -> Config:
    """``base_dir``: where relative paths in the file (``callbacks.roster``) start; default: the cwd."""
    errors: list[str] = []
    top = _Reader(data, "", errors)

    r = _Reader(top.table_of("ari"), "ari", errors)
    ari = AriSettings(
        url=r.get("url", str, AriSettings.url, check=lambda v: v.startswith(("http://", "https://")),
                  must="an http:// or https:// URL"),
        username=r.get("username", str, AriSettings.username, check=bool, must="non-empty"),
        password=r.get("password", str, "", check=bool, must="non-empty"),
        app=r.get("app", str, AriSettings.app, check=_NAME.match, must="a lower-case name"),
        reconnect_min_s=r.positive("reconnect_min_s", AriSettings.reconnect_min_s),
        reconnect_max_s=r.positive("reconnect_max_s", AriSettings.reconnect_max_s),
        request_timeout_s=r.positive("request_timeout_s", AriSettings.request_timeout_s),
        max_connections=r.get("max_connections", int, AriSettings.max_connections, check=lambda v: 1 <= v <= 90,
                              must="1 to 90 (Asterisk's http.conf sessionlimit is 100 by default; the event "
                                   "websocket and other clients need sessions too)"),
        allow_unsupported_asterisk=r.get("allow_unsupported_asterisk", bool,
                                         AriSettings.allow_unsupported_asterisk),
    )
    if "password" not in r.table and "password_env" not in r.table:
        errors.append("ari.password: missing (set password, or password_env naming an environment variable)")
    r.finish()

    r = _Reader(top.table_of("service"), "service", errors)
    service = ServiceSettings(
        store=r.get("store", str, ServiceSettings.store, check=bool, must="a file path"),
        log_level=r.get("log_level", str, ServiceSettings.log_level,
                        check=lambda v: v in ("debug", "info", "warning", "error"),
                        must="one of debug, info, warning, error"),
        moh_class=r.get("moh_class", str, ServiceSettings.moh_class, check=bool, must="non-empty"),
    )
    r.finish()

    r = _Reader(top.table_of("store"), "store", errors)
    url = r.get("url", str, "")
    if "url" in r.table or "url_env" in r.table:
        if not _store_url_ok(url):  # the value may hold a password: masked in the message (R-PRIVACY)
            errors.append("store.url: must be a file path, sqlite:///PATH or postgresql://…, "
                          f"got {_mask_url(url)!r}")
        elif isinstance(top.table.get("service"), dict) and "store" in top.table["service"]:
            errors.append("store.url: service.store is set too; keep one (store.url is the newer spelling)")
    r.finish()
    store = StoreSettings(url=url or service.store)

    trunk: TrunkConfig | None = None
    if "trunk" in top.table:
        r = _Reader(top.table_of("trunk"), "trunk", errors)
        if isinstance(top.table["trunk"], dict):
            example = "a dial string with {number}, e.g. 'PJSIP/{number}@trunk'"
            r.seen.add("endpoint")  # the dialplan's CC_TRUNK: checked by pbx_site below
            endpoint = r.table.get("endpoint")
            default_dial = ""
            if isinstance(endpoint, str) and pbx_site.ENDPOINT.fullmatch(endpoint):
                default_dial = f"PJSIP/{{number}}@{endpoint}"
            elif "dial" not in r.table and "endpoint" not in r.table:
                errors.append(f"trunk.dial: missing ({example})")
            trunk = TrunkConfig(
                dial=r.get("dial", str, default_dial, check=_dial_template, must=example),
                caller_id=r.get("caller_id", str, "", check=_DIGITS.match, must="digits (1-20)"),
                timeout_s=r.positive("timeout_s", TrunkConfig.timeout_s),
                prefix=r.get("prefix", str, "", check=lambda v: v == "" or _DIGITS.match(v), must="digits"),
            )
        r.finish()

    ami = _ami(top, errors) if "ami" in top.table else None

    queues: dict[str, QueueConfig] = {}
    for name, path, qdata in top.named_tables("queues", "queue"):
        r = _Reader(qdata, path, errors)
        q = QueueConfig(
            name=name,
            ring_target_s=r.positive("ring_target_s", QueueConfig.ring_target_s),
            originate_timeout_s=r.positive("originate_timeout_s", QueueConfig.originate_timeout_s),
            wrap_up_s=r.get("wrap_up_s", float, QueueConfig.wrap_up_s, check=lambda v: v >= 0, must=">= 0"),
            strategy=r.get("strategy", str, QueueConfig.strategy, check=lambda v: v in STRATEGIES,
                           must="one of " + ", ".join(STRATEGIES)),
            wait_apology_s=r.positive("wait_apology_s", QueueConfig.wait_apology_s),
            announce_every_s=r.positive("announce_every_s", QueueConfig.announce_every_s),
            max_wait_s=r.positive("max_wait_s", QueueConfig.max_wait_s),
            max_callers=r.get("max_callers", int, 0, check=lambda v: v >= 0, must=">= 0 (0 = no limit)"),
            greeting=r.get("greeting", bool, True),
            greeting_org=r.get("greeting_org", str, QueueConfig.greeting_org, check=_site_prompts.ID_RE.match,
                               must="a prompt id (lower-case letters, digits and dashes), e.g. org-callcenter"),
            greeting_time_of_day=r.get("greeting_time_of_day", bool, QueueConfig.greeting_time_of_day),
            hold_remind_s=r.positive("hold_remind_s", QueueConfig.hold_remind_s),
            silent_wait_s=r.positive("silent_wait_s", QueueConfig.silent_wait_s),
            hold_apology_s=r.get("hold_apology_s", float, QueueConfig.hold_apology_s, check=lambda v: v >= 0,
                                 must=">= 0 (0 = off)"),
            silent_script=r.get("silent_script", str, QueueConfig.silent_script, check=lambda v: v in SILENT_SCRIPTS,
                                must="one of " + ", ".join(SILENT_SCRIPTS)),
            silent_detect_s=r.get("silent_detect_s", float, QueueConfig.silent_detect_s, check=lambda v: v >= 0,
                                  must=">= 0 (0 = off)"),
            calendar=r.get("calendar", str, ""),
            default_handle_s=r.positive("default_handle_s", QueueConfig.default_handle_s),
            short_abandon_s=r.get("short_abandon_s", float, QueueConfig.short_abandon_s, check=lambda v: v >= 0,
                                  must=">= 0 (0 = no short abandons)"),
            sl_threshold_s=r.positive("sl_threshold_s", QueueConfig.sl_threshold_s),
            voicemail_destination=_destination(r, "voicemail_destination", QueueConfig.voicemail_destination),
            no_agent_destination=_destination(r, "no_agent_destination", QueueConfig.no_agent_destination),
            overflow_destination=_destination(r, "overflow_destination", QueueConfig.overflow_destination),
            closed_destination=_destination(r, "closed_destination", QueueConfig.closed_destination),
        )
        if q.calendar and q.calendar not in _table(data.get("calendars")):
            errors.append(f"{path}.calendar: unknown calendar {q.calendar!r} "
                          f"(define [calendars.{toml_key(q.calendar)}])")
        if q.originate_timeout_s < q.ring_target_s:
            errors.append(f"{path}.originate_timeout_s: must be >= ring_target_s ({q.ring_target_s:g}), "
                          f"got {q.originate_timeout_s:g}")
        r.seen.update(("number", "voicemail_number"))  # the dialplan's numbers: checked by pbx_site below
        r.finish()
        queues[name] = q

    agents: dict[str, AgentConfig] = {}
    for agent_id, adata in top.table_of("agents").items():
        path = f"agents.{toml_key(agent_id)}"
        if not _AGENT_ID.match(agent_id):
            errors.append(f"{path}: agent IDs (工号) are 1-10 digits, got {agent_id!r}")
            continue
        if not isinstance(adata, dict):
            errors.append(f"{path}: must be a table, got {adata!r}")
            continue
        r = _Reader(adata, path, errors)
        a = AgentConfig(
            agent_id=agent_id,
            interface=r.get("interface", str, "", check=lambda v: v == "" or _INTERFACE.match(v),
                            must="a dial string like PJSIP/1001"),
            queues=r.get("queues", tuple, (), check=lambda v: all(isinstance(x, str) for x in v),
                         must="a list of queue names"),
            phones=r.get("phones", tuple, (), check=lambda v: all(isinstance(x, str) and _PHONE.match(x)
                                                                   for x in v),
                         must='a list of dial strings like "PJSIP/2001" (letters, digits, _ . @ / -)'),
            name=r.get("name", str, ""),
            name_pinyin=r.get("name_pinyin", str, ""),  # R-XFER-NAME: checked by site_prompts below
            role=r.get("role", str, "agent", check=lambda v: v in AGENT_ROLES,
                       must="one of " + ", ".join(AGENT_ROLES)),
            auto_login=r.get("auto_login", bool, False),
            pin_hash=r.get("pin_hash", str, "", check=_is_pin_hash,
                           must="a hash made by 'ari-app pin-hash' (pbkdf2_sha256$…)"),
            penalties=r.get("penalties", dict, {}, check=lambda v: all(
                isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v.values()),
                must="a table of queue = penalty (integers >= 0)"),
        )
        if a.auto_login and not a.interface:
            errors.append(f"{path}.interface: needed for auto_login (e.g. interface = \"PJSIP/{agent_id}\")")
        for qname in a.penalties:
            if qname not in a.queues:
                errors.append(f"{path}.penalties: {qname!r} is not one of the agent's queues")
        for qname in a.queues:
            if qname not in _table(data.get("queues")):
                errors.append(f"{path}.queues: unknown queue {qname!r}")
        r.finish()
        agents[agent_id] = a

    # The dialplan's numbers ([queues.X] number, voicemail_number, [dids], [trunk] endpoint): pbx_site's
    # rules, the same the Asterisk container applies when it renders extensions_site.conf.
    top.seen.add("dids")
    # R-XFER-NAME, R-GREET: the site's own prompts (agents' names, [site_prompts]; ari_app/site_prompts.py)
    top.seen.add("site_prompts")
    found, prompt_errors = _site_prompts.collect(data, _prompts.PROMPT_IDS)
    errors.extend(prompt_errors)
    site_prompt_ids = tuple(p.prompt_id for p in found)
    for qname, q in queues.items():
        if q.greeting_org not in _prompts.PROMPT_IDS and q.greeting_org not in site_prompt_ids:
            errors.append(f"queues.{toml_key(qname)}.greeting_org: no prompt {q.greeting_org!r} (a built-in one "
                          f"such as org-callcenter, or define [site_prompts.{q.greeting_org}] zh = ...)")
    site, site_errors = pbx_site.read_site(data, shared=False)
    errors.extend(site_errors)
    for number, qname in (site.numbers or {}).items():
        if qname in queues:
            queues[qname] = replace(queues[qname], number=number)
    for number, qname in (site.voicemail_numbers or {}).items():
        if qname in queues:
            queues[qname] = replace(queues[qname], voicemail_number=number)
    dids = dict(site.dids or {})

    calendars: dict[str, CalendarConfig] = {}
    for cname, cdata in top.table_of("calendars").items():
        path = f"calendars.{toml_key(cname)}"
        if not isinstance(cdata, dict):
            errors.append(f"{path}: must be a table, got {cdata!r}")
            continue
        r = _Reader(cdata, path, errors)
        calendars[cname] = CalendarConfig(
            name=cname,
            timezone=r.get("timezone", str, "Asia/Shanghai", check=_valid_tz, must="an IANA time zone"),
            windows=r.get("windows", tuple, CalendarConfig.windows, check=lambda v: all(
                isinstance(w, str) and _valid_window(w) for w in v), must="a list like ['mon-fri 08:45-12:00']"),
            holidays=r.get("holidays", tuple, (), check=_valid_dates, must="a list of dates YYYY-MM-DD"),
            extra_workdays=r.get("extra_workdays", tuple, (), check=_valid_dates, must="a list of dates YYYY-MM-DD"),
        )
        r.finish()

    r = _Reader(top.table_of("busy"), "busy", errors)
    busy = BusyConfig(
        limit_s=r.positive("limit_s", BusyConfig.limit_s),
        limits=r.get("limits", dict, {}, check=lambda v: all(
            _is_number(x) and _finite(x) and x > 0 for x in v.values()),
            must="a table of reason = seconds (> 0)"),
        repeat_every_s=r.positive("repeat_every_s", BusyConfig.repeat_every_s),
        on_overrun=r.get("on_overrun", str, "alert", check=lambda v: v in ON_OVERRUN,
                         must="one of " + ", ".join(ON_OVERRUN)),
        missed_resume_s=r.get("missed_resume_s", float, 0.0, check=lambda v: v >= 0, must=">= 0 (0 = off)"),
    )
    r.finish()

    r = _Reader(top.table_of("login"), "login", errors)
    login = LoginConfig(
        max_attempts=r.get("max_attempts", int, 3, check=lambda v: v >= 1, must=">= 1"),
        phone_max_attempts=r.get("phone_max_attempts", int, LoginConfig.phone_max_attempts,
                                 check=lambda v: v >= 1, must=">= 1"),
        window_s=r.positive("window_s", LoginConfig.window_s),
        lock_s=r.positive("lock_s", LoginConfig.lock_s),
        digit_timeout_s=r.positive("digit_timeout_s", LoginConfig.digit_timeout_s),
        min_pin_length=r.get("min_pin_length", int, LoginConfig.min_pin_length, check=lambda v: 4 <= v <= 12,
                             must="4 to 12 (digits)"),
    )
    r.finish()

    r = _Reader(top.table_of("keys"), "keys", errors)
    keys = KeyMap(
        login=r.get("login", str, KeyMap.login, check=_KEY.match, must="keys 0-9 * #"),
        logout=r.get("logout", str, KeyMap.logout, check=_KEY.match, must="keys 0-9 * #"),
        pause=r.get("pause", str, KeyMap.pause, check=_KEY.match, must="keys 0-9 * #"),
        resume=r.get("resume", str, KeyMap.resume, check=_KEY.match, must="keys 0-9 * #"),
        listen=r.get("listen", str, KeyMap.listen, check=_KEY.match, must="keys 0-9 * #"),  # R-SUPERVISE
        whisper=r.get("whisper", str, KeyMap.whisper, check=_KEY.match, must="keys 0-9 * #"),
        barge=r.get("barge", str, KeyMap.barge, check=_KEY.match, must="keys 0-9 * #"),
        transfer=r.get("transfer", str, KeyMap.transfer, check=_KEY.match, must="keys 0-9 * #"),
        transfer_complete=r.get("transfer_complete", str, KeyMap.transfer_complete, check=_KEY.match,
                                must="keys 0-9 * #"),
        transfer_cancel=r.get("transfer_cancel", str, KeyMap.transfer_cancel, check=_KEY.match,
                              must="keys 0-9 * #"),
        hold=r.get("hold", str, KeyMap.hold, check=_KEY.match, must="keys 0-9 * #"),
        silent=r.get("silent", str, KeyMap.silent, check=_KEY.match, must="keys 0-9 * #"),
        voicemail=r.get("voicemail", str, KeyMap.voicemail, check=lambda v: len(v) == 1 and _KEY.match(v),
                        must="one key 0-9 * #"),
        keep_place=r.get("keep_place", str, KeyMap.keep_place, check=lambda v: len(v) == 1 and _KEY.match(v),
                         must="one key 0-9 * #"),
        voicemail_rerecord=r.get("voicemail_rerecord", str, KeyMap.voicemail_rerecord,
                                 check=lambda v: len(v) == 1 and v != "#" and _KEY.match(v),
                                 must="one key 0-9 * (# ends a recording)"),
        callback_skip=r.get("callback_skip", str, KeyMap.callback_skip, check=_KEY.match,
                            must="keys 0-9 * #"),
        callback_wrong_number=r.get("callback_wrong_number", str, KeyMap.callback_wrong_number,
                                    check=_KEY.match, must="keys 0-9 * #"),
        pause_reasons=r.get("pause_reasons", dict, KeyMap().pause_reasons, check=lambda v: all(
            len(k) == 1 and k in "0123456789" and isinstance(x, str) and _NAME.match(x)
            for k, x in v.items()), must="a table of one digit = reason name"),
    )
    dialled = {"login": keys.login, "logout": keys.logout, "pause": keys.pause, "resume": keys.resume,
               "listen": keys.listen, "whisper": keys.whisper, "barge": keys.barge}  # R-SUPERVISE
    in_call = {"transfer": keys.transfer, "transfer_complete": keys.transfer_complete,
               "transfer_cancel": keys.transfer_cancel, "hold": keys.hold, "silent": keys.silent,
               "callback_wrong_number": keys.callback_wrong_number}  # R-CB: the bridged callback call
    waiting = {"voicemail": keys.voicemail, "keep_place": keys.keep_place}  # the caller in the queue
    for codes in (dialled, in_call, waiting):
        for name, code in codes.items():
            for other, ocode in codes.items():
                if other != name and ocode.startswith(code):
                    errors.append(f"keys.{name}: {code!r} is a prefix of keys.{other} ({ocode!r}): they collide")
    r.finish()

    callbacks: CallbacksConfig | None = None
    if "callbacks" in top.table:
        ctable = top.table_of("callbacks")
        if isinstance(top.table["callbacks"], dict):
            base = Path(base_dir) if base_dir is not None else Path.cwd()
            callbacks = _callbacks(ctable, errors, queues=queues, agents=agents, base_dir=base.absolute())

    r = _Reader(top.table_of("reports"), "reports", errors)
    reports = ReportsConfig(
        timezone=r.get("timezone", str, ReportsConfig.timezone, check=_valid_tz, must="an IANA time zone"),
        qa_per_agent=r.get("qa_per_agent", int, ReportsConfig.qa_per_agent, check=lambda v: 0 <= v <= 1000,
                           must="0..1000"),
    )
    r.finish()
    mqtt: MqttConfig | None = None
    if "mqtt" in top.table:
        mtable = top.table_of("mqtt")
        if isinstance(top.table["mqtt"], dict):
            mqtt = _mqtt(mtable, errors)
    recording: RecordingConfig | None = None
    if "recording" in top.table:
        rtable = top.table_of("recording")
        if isinstance(top.table["recording"], dict):
            recording = _recording(rtable, errors)

    from .api import parse_api

    api = parse_api(top.table_of("api"), errors, agents=list(agents))
    metrics = _metrics(top.table_of("metrics"), errors)
    targets = parse_targets(_Reader(top.table_of("targets"), "targets", errors), errors, queues=list(queues),
                            teams=team_names(callbacks, queues, agents))
    top.finish()

    if errors:
        raise ConfigError(source, errors)
    return Config(ari=ari, service=service, queues=queues, agents=agents, calendars=calendars, busy=busy,
                  login=login, keys=keys, api=api, store=store, trunk=trunk, callbacks=callbacks,
                  reports=reports, mqtt=mqtt, metrics=metrics, recording=recording, ami=ami, dids=dids,
                  targets=targets, site_prompts=site_prompt_ids)


def _metrics(data: Mapping[str, Any], errors: list[str]) -> MetricsConfig:
    """``[metrics]`` (R-KPI); who may read them: ``[api] metrics_loopback_without_token``, token roles."""
    r = _Reader(data, "metrics", errors)
    d = MetricsConfig
    m = MetricsConfig(
        enabled=r.get("enabled", bool, d.enabled),
        loop_lag_interval_s=r.get("loop_lag_interval_s", float, d.loop_lag_interval_s,
                                  check=lambda v: 0.05 <= v <= 60, must="0.05-60 seconds"),
    )
    r.finish()
    return m


def _recording(data: Mapping[str, Any], errors: list[str]) -> RecordingConfig:
    """``[recording]`` (R-QA, R-PRIVACY)."""
    from .core.retention import name_pattern_error

    r = _Reader(data, "recording", errors)
    d = RecordingConfig
    name = r.get("name", str, d.name)
    problem = name_pattern_error(name)
    if problem is not None:
        errors.append(f"recording.name: {problem}, got {name!r}")
        name = d.name
    rec = RecordingConfig(
        enabled=r.get("enabled", bool, d.enabled),
        notice=r.get("notice", bool, d.notice),
        format=r.get("format", str, d.format, check=lambda v: v in RECORDING_FORMATS,
                     must="one of " + ", ".join(RECORDING_FORMATS)),
        retention_days=r.get("retention_days", int, d.retention_days, check=lambda v: 1 <= v <= 36500,
                             must="a number of days 1..36500"),
        name=name,
    )
    r.finish()
    return rec


def _ami(top: _Reader, errors: list[str]) -> AmiSettings | None:
    """``[ami]``: the AMI link (R-KPI: CDRs of calls that never enter Stasis)."""
    table = top.table_of("ami")
    if not isinstance(top.table["ami"], dict):
        return None
    r = _Reader(table, "ami", errors)
    d = AmiSettings
    ami = AmiSettings(
        host=r.get("host", str, d.host, check=lambda v: bool(v.strip()) and not any(c.isspace() for c in v),
                   must="a host name or address"),
        port=r.get("port", int, d.port, check=lambda v: 1 <= v <= 65535, must="1..65535"),
        username=r.get("username", str, d.username, check=bool, must="non-empty"),
        password=r.get("password", str, "", check=bool, must="non-empty"),
        ping_every_s=r.positive("ping_every_s", d.ping_every_s),
        ping_timeout_s=r.positive("ping_timeout_s", d.ping_timeout_s),
        reconnect_min_s=r.positive("reconnect_min_s", d.reconnect_min_s),
        reconnect_max_s=r.positive("reconnect_max_s", d.reconnect_max_s),
        timezone=r.get("timezone", str, "", check=lambda v: v == "" or _valid_tz(v),
                       must="an IANA time zone like Asia/Shanghai (\"\" = this machine's)"),
    )
    if "password" not in table and "password_env" not in table:
        errors.append("ami.password: missing (set password, or password_env naming an environment variable)")
    if ami.reconnect_min_s > ami.reconnect_max_s:
        errors.append(f"ami.reconnect_max_s: must be >= reconnect_min_s ({ami.reconnect_min_s:g}), "
                      f"got {ami.reconnect_max_s:g}")
    r.finish()
    return ami


def _patterns_ok(v: list[Any]) -> bool:
    try:
        return bool(v) and bool(numbers.compile_patterns(v))
    except ValueError:
        return False


def _callbacks(data: Mapping[str, Any], errors: list[str], *, queues: Mapping[str, QueueConfig],
               agents: Mapping[str, AgentConfig], base_dir: Path) -> CallbacksConfig | None:
    """``[callbacks]`` (R-VM, R-VM-RR, R-VM-CHECK, R-CB, R-SLA24) and its roster file (R-LEAVE)."""
    from . import roster_file

    r = _Reader(data, "callbacks", errors)
    d = CallbackRules  # every default comes from the core dataclass
    mode = r.get("mode", str, d.mode, check=lambda v: v in MODES, must="one of " + ", ".join(MODES))
    require_logged_in = r.get("require_logged_in", bool, d.require_logged_in)
    check_start = time_of_day(r, "check_start", d.check_start)
    check_every_s = r.positive("check_every_s", d.check_every_s)
    stagger_s = r.get("stagger_s", float, STAGGER_S, check=lambda v: v >= 0,
                      must=">= 0 (0 = all teams at once)")
    offsets = r.get("check_offsets", dict, None,
                    check=lambda v: all(_is_number(x) and _finite(x) and x >= 0 for x in v.values()),
                    must="a table of team = seconds (>= 0)")
    rounds = r.get("rounds", list, None, must="a list of rounds, each a list of team names",
                   check=lambda v: all(isinstance(x, list) and all(isinstance(t, str) for t in x) for x in v))
    round_gap_s = r.positive("round_gap_s", d.round_gap_s)
    checks_per_day = r.get("checks_per_day", int, d.checks_per_day, check=lambda v: v >= 0,
                           must=">= 0 (0 = every check_every_s until the shift ends)")
    deadline_s = r.positive("deadline_s", d.deadline_s)
    max_attempts = r.get("max_attempts", int, d.max_attempts, check=lambda v: v >= 1, must=">= 1")
    backoff_base_s = r.positive("backoff_base_s", d.backoff_base_s)
    backoff_factor = r.get("backoff_factor", float, d.backoff_factor, check=lambda v: v >= 1, must=">= 1")
    backoff_cap_s = r.positive("backoff_cap_s", d.backoff_cap_s)
    queue_teams = r.get("queue_teams", dict, {}, check=lambda v: all(isinstance(x, str) for x in v.values()),
                        must="a table of queue = team")
    dial_patterns = r.get("dial_patterns", list, list(d.dial_patterns), check=_patterns_ok,
                          must="a non-empty list of regular expressions, each for a whole number (e.g. '1[3-9]\\d{9}')")
    max_record_s = r.positive("max_record_s", CallbacksConfig.max_record_s)
    silence_s = r.positive("silence_s", CallbacksConfig.silence_s)
    retention_days = r.get("retention_days", int, CallbacksConfig.retention_days, check=lambda v: 1 <= v <= 36500,
                           must="a number of days 1..36500")
    roster_path = r.get("roster", str, "", check=bool, must="a file path")
    r.finish()

    path = ""
    try:
        if roster_path:
            path = str(Path(roster_path) if Path(roster_path).is_absolute() else base_dir / roster_path)
            roster = roster_file.load_roster(path, agents)
        else:
            roster = roster_file.default_roster(queues, agents)
    except ConfigError as e:
        errors.extend(f"callbacks.roster: {_shown(path)}: {x}" for x in e.errors)
        return None
    teams = roster.teams
    for qname, team in queue_teams.items():
        if qname not in queues:
            errors.append(f"callbacks.queue_teams.{toml_key(qname)}: unknown queue {qname!r}")
        elif team not in teams:
            errors.append(f"callbacks.queue_teams.{toml_key(qname)}: unknown team {team!r} "
                          f"(teams: {', '.join(teams)})")
    for qname in queues:
        if qname not in queue_teams and qname not in teams:
            errors.append(f"callbacks.queue_teams: queue {qname!r} has no team (no team is named like it); "
                          f"set callbacks.queue_teams.{qname} = \"<team>\"")
    if "round_gap_s" in data and "rounds" not in data:
        errors.append("callbacks.round_gap_s: only with callbacks.rounds (without rounds, stagger_s spaces the teams)")
    if "rounds" in data:  # R-VM-CHECK rounds (core.vmcheck): a round = teams sharing one offset
        errors.extend(f"callbacks.rounds: set rounds or {k}, not both" for k in ("check_offsets", "stagger_s")
                      if k in data)
        bad = [] if rounds is None else round_errors(rounds, gap_s=round_gap_s, check_every_s=check_every_s,
                                                     teams=teams)
        errors.extend(bad)
        rounds, offsets = (() if rounds is None or bad else tuple(tuple(x) for x in rounds)), {}
    elif offsets is not None:
        if "stagger_s" in data:
            errors.append("callbacks.check_offsets: set check_offsets or stagger_s, not both")
        for team in offsets:
            if team not in teams:
                errors.append(f"callbacks.check_offsets.{toml_key(team)}: unknown team {team!r}")
        offsets = {t: float(v) for t, v in offsets.items() if t in teams}
    else:
        offsets = stagger(teams, stagger_s)
        if offsets and max(offsets.values()) >= check_every_s:
            errors.append(f"callbacks.stagger_s: {len(teams)} teams {stagger_s:g} s apart need "
                          f"check_every_s > {max(offsets.values()):g}, got {check_every_s:g} "
                          "(or let teams share a slot: callbacks.rounds)")
            offsets = {}
    try:
        rules = CallbackRules(mode=mode, require_logged_in=require_logged_in, check_start=check_start,
                              check_every_s=check_every_s, check_offsets=offsets, deadline_s=deadline_s,
                              rounds=rounds or (), round_gap_s=round_gap_s, checks_per_day=checks_per_day,
                              max_attempts=max_attempts, backoff_base_s=backoff_base_s,
                              backoff_factor=backoff_factor, backoff_cap_s=backoff_cap_s,
                              queue_teams=queue_teams, dial_patterns=tuple(dial_patterns))
    except CallbackError as e:  # the messages already name callbacks.<key>
        errors.append(str(e))
        return None
    return CallbacksConfig(rules=rules, roster=path, teams=teams, stagger_s=stagger_s,
                           max_record_s=max_record_s, silence_s=silence_s, retention_days=retention_days)


_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*\Z")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def _mqtt(data: Mapping[str, Any], errors: list[str]) -> MqttConfig:
    """``[mqtt]``: the MQTT event sink's broker."""
    r = _Reader(data, "mqtt", errors)
    d = MqttConfig
    if "host" not in r.table:
        errors.append('mqtt.host: missing (the broker\'s host name or address, e.g. "127.0.0.1")')
    host = r.get("host", str, "", check=lambda v: bool(v) and not any(c.isspace() for c in v),
                 must="a host name or address")
    port = r.get("port", int, d.port, check=lambda v: 1 <= v <= 65535, must="1..65535")
    username = r.get("username", str, "", check=bool, must="non-empty")
    password = r.get("password", str, "", check=bool, must="non-empty")
    if ("password" in r.table or "password_env" in r.table) and not username:
        errors.append("mqtt.password: set username too (a password is sent only with a username)")
    if "password" in r.table and "password_env" in r.table:
        errors.append("mqtt.password: set password or password_env, not both")
    prefix = r.get("prefix", str, d.prefix,
                   check=lambda v: bool(_TOPIC_PREFIX.match(v)) and not v.startswith("$"),
                   must="topic levels of letters, digits, _ . - joined by / (no + or #, no leading or trailing /)")
    buffer_size = r.get("buffer_size", int, d.buffer_size, check=lambda v: 1 <= v <= 1_000_000,
                        must="1..1000000")
    client_id = r.get("client_id", str, "", check=lambda v: v == "" or _CLIENT_ID.match(v),
                      must="1-64 letters, digits, _ . - (or \"\" for a generated one)")
    keepalive = r.get("keepalive", int, d.keepalive, check=lambda v: 5 <= v <= 65535,
                      must="5..65535 (seconds)")
    reconnect_min_s = r.positive("reconnect_min_s", d.reconnect_min_s)
    reconnect_max_s = r.positive("reconnect_max_s", d.reconnect_max_s)
    if reconnect_max_s < reconnect_min_s:
        errors.append(f"mqtt.reconnect_max_s: must be >= reconnect_min_s ({reconnect_min_s:g}), "
                      f"got {reconnect_max_s:g}")
    stats_every_s = r.get("stats_every_s", float, d.stats_every_s, check=lambda v: v >= 0,
                          must=">= 0 (0 = on every change)")
    tls = r.get("tls", bool, False)
    ca_file = r.get("ca_file", str, "", check=lambda v: Path(v).is_file(), must="an existing file")
    if ca_file and not tls:
        errors.append("mqtt.ca_file: set tls = true too (ca_file is used only with TLS)")
    r.finish()
    return MqttConfig(host=host, port=port, username=username, password=password, prefix=prefix,
                      buffer_size=buffer_size, client_id=client_id, keepalive=keepalive,
                      reconnect_min_s=reconnect_min_s, reconnect_max_s=reconnect_max_s,
                      stats_every_s=stats_every_s, tls=tls, ca_file=ca_file)


def time_of_day(r: _Reader, key: str, default: dt_time, *, midnight_24: bool = False) -> dt_time:
    """An ``"HH:MM"`` value (24 h clock) → ``datetime.time``; errors: ``<path>: expected HH:MM, got '8h'``.

    ``midnight_24``: ``"24:00"`` is also accepted, as midnight at the end of the day (``time(0, 0)``;
    a shift's end)."""
    text = r.get(key, str, None)
    if text is None:
        return default
    if midnight_24 and text == "24:00":
        return dt_time(0, 0)
    m = _HHMM.match(text)
    if not m:
        r.errors.append(f"{r._key(key)}: expected HH:MM, got {text!r}")
        return default
    return dt_time(int(m[1]), int(m[2]))


def _table(v: Any) -> Mapping[str, Any]:
    """``v`` if it is a table, else an empty one (its own error is reported where it is read)."""
    return v if isinstance(v, dict) else {}


def _finite(v: float) -> bool:
    """Not NaN, not an infinity, and (an int) convertible to a float."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _dial_template(v: str) -> bool:
    """Only plain ``{number}`` fields: ``{number.x}``, ``{number[5]}``, ``{0}`` would fail when dialling."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(v)
                  if name is not None]
    except ValueError:  # a lone "{" or "}"
        return False
    if not fields or any(f != ("number", "", None) for f in fields):
        return False
    return bool(_INTERFACE.match(v.format(number="123")))


def _store_url_ok(url: str) -> bool:
    if "://" not in url:
        return bool(url.strip())
    if url.startswith("sqlite:///"):
        return len(url) > len("sqlite:///")
    return url.startswith(_PG_SCHEMES) and len(url.split("://", 1)[1]) > 0


def _mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    return re.sub(r"^([a-z]+://[^:/@]*):[^@]*@", r"\1:***@", url)


def _is_pin_hash(v: str) -> bool:
    from .core.login import is_pin_hash

    return v == "" or is_pin_hash(v)


def read_toml(p: Path) -> dict[str, Any]:
    """The TOML file ``p`` as a dict; anything that stops it (missing, unreadable, not UTF-8, not TOML)
    is a ``ConfigError`` with the file as its source and one line saying what."""
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError(str(p), [f"not UTF-8 text: {e}"]) from None
    except (OSError, ValueError) as e:  # a directory, no permission; ValueError: a NUL in the name
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise ConfigError(str(p), [f"cannot read it: {reason}"]) from None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as e:  # TOMLDecodeError; an integer of > 4300 digits; [[[[… nested
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise ConfigError(str(p), [f"not valid TOML: {reason}"]) from None


def load(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    return parse(read_toml(p), str(p), base_dir=p.parent)
