"""issue 17, item 1: the phones the API may name come from the config; the service's device-state
subscriptions (``Service._watched``) never grow from API input.

On 09ab527: there was no ``phones`` key (config error "unknown key"), no ``Service.phones()``, and an
``agent.logged_in`` of an API-chosen interface subscribed the app to that interface's device state.
"""

from __future__ import annotations

import pytest

from ari_app import api
from ari_app.config import ConfigError, parse
from ari_app.core import acd
from ari_app.store import Store

GOOD = {"ari": {"password": "x"}, "queues": {"support": {}}}
AGENTS = {"1001": {"interface": "PJSIP/1001", "queues": ["support"], "phones": ["PJSIP/2001"]},
          "1002": {"interface": "PJSIP/1002", "queues": ["support"]},
          "1010": {"interface": "PJSIP/1010", "role": "supervisor", "phones": ["Local/1010@sup-desk"]}}


def test_phone_book_from_the_config():
    cfg = parse({**GOOD, "agents": AGENTS})
    assert cfg.agents["1001"].phones == ("PJSIP/2001",)
    book = api.PhoneBook.from_agents(cfg.agents)
    assert book.own == {"1001": ("PJSIP/1001", "PJSIP/2001"), "1002": ("PJSIP/1002",),
                        "1010": ("PJSIP/1010", "Local/1010@sup-desk")}
    assert book.supervisor == {"PJSIP/1010", "Local/1010@sup-desk"}
    assert book.configured == {"PJSIP/1001", "PJSIP/2001", "PJSIP/1002", "PJSIP/1010", "Local/1010@sup-desk"}


@pytest.mark.parametrize("phones", [["PJSIP/x,endpoint:PJSIP/1002"], ["PJSIP/2001\n"], ["2001"], "PJSIP/2001",
                                    [5], ["PJSIP/a&PJSIP/b"]])
def test_bad_phones_are_config_errors(phones):
    with pytest.raises(ConfigError) as e:
        parse({**GOOD, "agents": {"1001": {"interface": "PJSIP/1001", "phones": phones}}})
    assert any(err.startswith("agents.1001.phones: must be a list") for err in e.value.errors), (
        e.value.errors)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple] = []

    async def request(self, method, path, **kwargs):
        self.requests.append((method, path, kwargs))

    def __getattr__(self, name):
        async def method(*args, **kwargs):
            return []
        return method


@pytest.fixture
def service(tmp_path):
    from ari_app.app import Service

    cfg = parse({**GOOD, "agents": AGENTS})
    svc = Service(cfg, store=Store(tmp_path / "state.db"), ari=Recorder(), clock=lambda: 1000.0)
    svc.stream.connected.set()
    return svc


def test_service_serves_its_phone_book(service):
    assert service.phones() == api.PhoneBook.from_agents(service.cfg.agents)


async def test_watched_grows_only_with_configured_or_real_phones(service, monkeypatch):
    dispatched: list = []
    monkeypatch.setattr(service.dispatcher, "dispatch", dispatched.append)
    logins = [("PJSIP/evil", "api"), ("PJSIP/x,endpoint:PJSIP/1002", "api"),  # never configured: not watched
              ("PJSIP/2001", "api"),  # a configured phone
              ("PJSIP/3003", "phone")]  # a phone login: the interface is a real channel's, from Asterisk
    service._apply(lambda: [acd.Publish("agent.logged_in", {"agent": "1001", "interface": i, "source": s})
                            for i, s in logins])
    watch = [item.interface for item in dispatched if type(item).__name__ == "_WatchPhone"]
    assert watch == ["PJSIP/2001", "PJSIP/3003"]


async def test_subscriptions_quote_the_app_and_skip_commas(service):
    await service._subscribe_phones(["PJSIP/1001", "PJSIP/x,endpoint:PJSIP/1002"])
    [(method, path, kwargs)] = service.ari.requests
    assert (method, path) == ("POST", "/applications/callcenter/subscription")
    assert kwargs["params"] == {"eventSource": ["deviceState:PJSIP/1001"]}
    assert service._watched == {"PJSIP/1001"}


def test_setup_secrets_makes_a_sip_account_for_every_configured_pjsip_phone():
    """scripts/site_setup.py (setup-secrets): the phones list's PJSIP phones get accounts too."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "site_setup.py"
    spec = importlib.util.spec_from_file_location("site_setup_for_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.phone_names({"agents": AGENTS}) == ["1001", "2001", "1002", "1010"]
