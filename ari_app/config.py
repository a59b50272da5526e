"""The service's configuration: one TOML file, validated at start.

Every error names the exact key and what was wrong with it, e.g.
``queues.support.ring_target_s: must be > 0, got -3``. All errors are
collected, not just the first, so an operator fixes the file in one go.
Secrets may be given inline (development) or as ``<key>_env`` naming an
environment variable (production), e.g. ``password_env = "ARI_PASSWORD"``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["AgentConfig", "AriSettings", "Config", "ConfigError", "QueueConfig", "ServiceSettings", "load", "parse"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_AGENT_ID = re.compile(r"^[0-9]{1,10}$")
_INTERFACE = re.compile(r"^(PJSIP|SIP|IAX2|Local)/\S+$")


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


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    store: str = "/var/lib/ari-app/state.db"
    log_level: str = "info"
    moh_class: str = "default"


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    name: str
    ring_target_s: float = 15.0  # R-RING: three rings
    originate_timeout_s: float = 20.0  # safety net behind the core's own deadline
    wrap_up_s: float = 0.0  # R-WRAP
    strategy: str = "longest_idle"


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    agent_id: str
    interface: str
    queues: tuple[str, ...]
    name: str = ""
    auto_login: bool = False


@dataclass(frozen=True, kw_only=True)
class Config:
    ari: AriSettings
    service: ServiceSettings
    queues: Mapping[str, QueueConfig]
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)


STRATEGIES = ("longest_idle", "round_robin")


class _Reader:
    """Reads one table, recording errors under its dotted path."""

    def __init__(self, table: Mapping[str, Any], path: str, errors: list[str]) -> None:
        self.table, self.path, self.errors = table, path, errors
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type, default: Any, *, check=None, must: str = "") -> Any:
        self.seen.add(key)
        self.seen.add(f"{key}_env")
        env_name = self.table.get(f"{key}_env")
        if env_name is not None:
            if not isinstance(env_name, str) or not env_name:
                self.errors.append(f"{self._key(key + '_env')}: must name an environment variable, got {env_name!r}")
                return default
            if env_name not in os.environ:
                self.errors.append(f"{self._key(key + '_env')}: environment variable {env_name} is not set")
                return default
            value: Any = os.environ[env_name]
        elif key in self.table:
            value = self.table[key]
        else:
            return default
        raw = value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.errors.append(f"{self._key(key)}: must be {_kind_name(kind)}, got {value!r}")
            return default
        if check is not None and not check(value):
            self.errors.append(f"{self._key(key)}: must be {must}, got {raw!r}")
            return default
        return value

    def table_of(self, key: str) -> Mapping[str, Any]:
        self.seen.add(key)
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            self.errors.append(f"{self._key(key)}: must be a table, got {value!r}")
            return {}
        return value

    def finish(self) -> None:
        for key in self.table:
            if key not in self.seen:
                self.errors.append(f"{self._key(key)}: unknown key")


def _kind_name(kind: type) -> str:
    return {str: "a string", float: "a number", bool: "true or false", tuple: "a list", int: "an integer"}.get(
        kind, kind.__name__
    )


def _positive(v: float) -> bool:
    return v > 0


def parse(data: Mapping[str, Any], source: str = "<config>") -> Config:
    errors: list[str] = []
    top = _Reader(data, "", errors)

    r = _Reader(top.table_of("ari"), "ari", errors)
    ari = AriSettings(
        url=r.get("url", str, AriSettings.url, check=lambda v: v.startswith(("http://", "https://")),
                  must="an http:// or https:// URL"),
        username=r.get("username", str, AriSettings.username, check=bool, must="non-empty"),
        password=r.get("password", str, "", check=bool, must="non-empty"),
        app=r.get("app", str, AriSettings.app, check=_NAME.match, must="a lower-case name"),
        reconnect_min_s=r.get("reconnect_min_s", float, AriSettings.reconnect_min_s, check=_positive, must="> 0"),
        reconnect_max_s=r.get("reconnect_max_s", float, AriSettings.reconnect_max_s, check=_positive, must="> 0"),
        request_timeout_s=r.get("request_timeout_s", float, AriSettings.request_timeout_s, check=_positive,
                                must="> 0"),
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

    queues: dict[str, QueueConfig] = {}
    qtable = top.table_of("queues")
    if not qtable:
        errors.append("queues: at least one queue is required, e.g. [queues.support]")
    for name, qdata in qtable.items():
        path = f"queues.{name}"
        if not _NAME.match(name):
            errors.append(f"{path}: queue names are lower-case letters, digits, - and _, got {name!r}")
            continue
        if not isinstance(qdata, dict):
            errors.append(f"{path}: must be a table, got {qdata!r}")
            continue
        r = _Reader(qdata, path, errors)
        q = QueueConfig(
            name=name,
            ring_target_s=r.get("ring_target_s", float, QueueConfig.ring_target_s, check=_positive, must="> 0"),
            originate_timeout_s=r.get("originate_timeout_s", float, QueueConfig.originate_timeout_s,
                                      check=_positive, must="> 0"),
            wrap_up_s=r.get("wrap_up_s", float, QueueConfig.wrap_up_s, check=lambda v: v >= 0, must=">= 0"),
            strategy=r.get("strategy", str, QueueConfig.strategy, check=lambda v: v in STRATEGIES,
                           must="one of " + ", ".join(STRATEGIES)),
        )
        if q.originate_timeout_s < q.ring_target_s:
            errors.append(f"{path}.originate_timeout_s: must be >= ring_target_s ({q.ring_target_s:g}), "
                          f"got {q.originate_timeout_s:g}")
        r.finish()
        queues[name] = q

    agents: dict[str, AgentConfig] = {}
    for agent_id, adata in top.table_of("agents").items():
        path = f"agents.{agent_id}"
        if not _AGENT_ID.match(agent_id):
            errors.append(f"{path}: agent IDs (工号) are 1-10 digits, got {agent_id!r}")
            continue
        if not isinstance(adata, dict):
            errors.append(f"{path}: must be a table, got {adata!r}")
            continue
        r = _Reader(adata, path, errors)
        a = AgentConfig(
            agent_id=agent_id,
            interface=r.get("interface", str, "", check=_INTERFACE.match, must="a dial string like PJSIP/1001"),
            queues=r.get("queues", tuple, (), check=lambda v: all(isinstance(x, str) for x in v),
                         must="a list of queue names"),
            name=r.get("name", str, ""),
            auto_login=r.get("auto_login", bool, False),
        )
        if "interface" not in adata:
            errors.append(f"{path}.interface: missing (e.g. interface = \"PJSIP/{agent_id}\")")
        for qname in a.queues:
            if qname not in qtable:
                errors.append(f"{path}.queues: unknown queue {qname!r}")
        r.finish()
        agents[agent_id] = a
    top.finish()

    if errors:
        raise ConfigError(source, errors)
    return Config(ari=ari, service=service, queues=queues, agents=agents)


def load(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), [f"not valid TOML: {e}"]) from None
    return parse(data, str(p))
