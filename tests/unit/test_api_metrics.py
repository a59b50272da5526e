"""GET /metrics on the control API (R-KPI, R-PRIVACY): who may scrape, and what they get.

The route is tried from loopback (the test client) and, through a middleware that rewrites the
peer address, from another host, with and without ``[api] metrics_loopback_without_token``.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from ari_app import api
from ari_app.api import ApiSettings, parse_api
from ari_app.events.metrics import Metrics
from api_auth import TOKEN_LIST, auth


class Controller:
    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics

    def agents(self) -> list[dict]:
        return [{"agent_id": "1001", "state": "available", "queues": ["support"]}]

    def ari_connected(self) -> bool:
        return True

    def metrics(self) -> Metrics | None:
        return self._metrics


def make_metrics() -> Metrics:
    m = Metrics(agents=Controller(None).agents)
    m("call.answered", {"call_id": "c1", "queue": "support", "agent": "1001", "ring_s": 2.0, "wait_s": 7.0})
    return m


def from_host(remote: str):
    @web.middleware
    async def rewrite(request: web.Request, handler):
        return await handler(request.clone(remote=remote))
    return rewrite


async def client_for(*, loopback_open: bool, remote: str | None = None, metrics: Metrics | None = None,
                     enabled: bool = True) -> TestClient:
    settings = ApiSettings(listen_port=0, tokens=TOKEN_LIST, metrics_loopback_without_token=loopback_open)
    app = api.build_app(Controller((metrics or make_metrics()) if enabled else None), settings)
    if remote is not None:
        app.middlewares.insert(0, from_host(remote))
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def clients():
    made: list[TestClient] = []

    async def make(**kw) -> TestClient:
        c = await client_for(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


@pytest.mark.parametrize("name", ["sam", "olga"])
async def test_supervisor_and_ops_tokens_scrape_the_exposition_format(clients, name):
    c = await clients(loopback_open=False)
    with capture_logs() as logs:
        r = await c.get("/metrics", headers=auth(name))
    assert r.status == 200
    assert r.headers["Content-Type"] == CONTENT_TYPE_LATEST
    got = families(await r.text())
    [answered] = [s for s in got["callcenter_calls_answered"] if s.name == "callcenter_calls_answered_total"]
    assert (answered.labels, answered.value) == ({"queue": "support"}, 1.0)
    [count] = [s for s in got["callcenter_queue_wait_seconds"] if s.name.endswith("_count")]
    assert (count.labels, count.value) == ({"queue": "support", "outcome": "answered"}, 1.0)
    assert {s.labels["state"]: s.value for s in got["callcenter_agents"]}["available"] == 1.0
    [line] = logs
    assert (line["event"], line["token"], line["action"], line["status"]) == (
        "audit.api", name, "metrics", 200)


async def test_agent_token_is_refused_403(clients):
    c = await clients(loopback_open=True)  # a token that is not allowed is refused even from loopback
    r = await c.get("/metrics", headers=auth("alice"))
    assert (r.status, await r.json()) == (403, {"error": "token alice (role agent) may not read metrics"})


async def test_no_token_from_loopback_is_401_unless_configured(clients):
    closed = await clients(loopback_open=False)
    with capture_logs() as logs:
        r = await closed.get("/metrics")
    assert (r.status, await r.json()) == (401, {"error": "missing bearer token"})
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert (logs[0]["action"], logs[0]["status"], logs[0]["error"]) == (
        "metrics", 401, "missing bearer token")
    open_ = await clients(loopback_open=True)
    with capture_logs() as logs:
        r = await open_.get("/metrics")
    assert r.status == 200 and "callcenter_calls_answered_total" in await r.text()
    assert (logs[0]["token"], logs[0]["status"], logs[0]["remote"]) == (None, 200, "127.0.0.1")


@pytest.mark.parametrize("remote", ["192.0.2.10", "2001:db8::1", "::ffff:192.0.2.10"])
async def test_no_token_from_another_host_is_401_even_when_loopback_is_open(clients, remote):
    c = await clients(loopback_open=True, remote=remote)
    r = await c.get("/metrics")
    assert r.status == 401
    assert await r.json() == {"error": "missing bearer token (only loopback scrapes go without one)"}
    assert (await c.get("/metrics", headers=auth("sam"))).status == 200  # a token works from anywhere


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
async def test_every_loopback_address_counts_as_loopback(clients, remote):
    c = await clients(loopback_open=True, remote=remote)
    assert (await c.get("/metrics")).status == 200


@pytest.mark.parametrize("header", ["Bearer wrong-" + "x" * 32, "Bearer ", "Basic c2FtOnNhbQ=="])
async def test_a_wrong_token_is_401_even_from_open_loopback(clients, header):
    c = await clients(loopback_open=True)
    r = await c.get("/metrics", headers={"Authorization": header})
    assert (r.status, await r.json()) == (401, {"error": "invalid token"})


async def test_metrics_turned_off_is_404_after_auth(clients):
    c = await clients(loopback_open=False, enabled=False)
    assert (await c.get("/metrics")).status == 401  # no hint to strangers
    r = await c.get("/metrics", headers=auth("sam"))
    assert (r.status, await r.json()) == (
        404, {"error": "metrics are off ([metrics] enabled = false in the config)"})


async def test_only_get(clients):
    c = await clients(loopback_open=True)
    assert (await c.post("/metrics", headers=auth("sam"))).status == 405


def test_the_loopback_flag_is_parsed_and_checked():
    errors: list[str] = []
    assert parse_api({"metrics_loopback_without_token": True}, errors).metrics_loopback_without_token is True
    assert parse_api({}, errors).metrics_loopback_without_token is False
    assert errors == []
    parse_api({"metrics_loopback_without_token": "yes"}, errors)
    assert errors == ["api.metrics_loopback_without_token: must be true or false, got 'yes'"]
