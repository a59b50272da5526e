"""Fuzzing the HTTP control API (issue 17): every route, random bodies, queries, path values, headers and
tokens, against the real app (``api.build_app``) with a controller that does what the service does: the
agents of tests/unit/test_api.py, a real callbacks desk (flows/desk.py on a SQLite store), metrics,
supervise and transfers.

For every request: never a 5xx, and every 4xx is ``{"error": "<message>"}`` with a non-empty message of
at most ``ERROR_CHARS`` (+ "…"): never a traceback, never a caller's value echoed whole. On 09ab527 a
body nested 60,000 deep was a 500 (``RecursionError``), ``/roster/duty?day=9999-12-31`` a 500 after
about 17 s per team, and a long transfer target came back whole. Settings: the ``ci`` profile
(tests/unit/conftest.py): derandomized, the same inputs on every run.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from ari_app import api
from ari_app.api import ApiSettings, ApiToken, CommandRefused, UnknownAgent, hash_token
from ari_app.api._input import ERROR_CHARS
from ari_app.core.callbacks import CallbackRules, CallbackTask, stagger
from ari_app.core.roster import LeaveEntry, Roster, Shift, Team
from ari_app.events.metrics import Metrics
from ari_app.flows.desk import CallbackDesk
from ari_app.store.sqlite import Store

from test_api import FakeController

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Monday
TOKENS = {name: f"{name}-token-" + name[0] * 32 for name in ("alice", "sam", "olga", "prom")}
ROLES = {"alice": "agent", "sam": "supervisor", "olga": "ops", "prom": "metrics"}
SETTINGS = ApiSettings(listen_port=0, metrics_loopback_without_token=True, tokens=tuple(
    ApiToken(name=n, role=ROLES[n], agent_id="1001" if n == "alice" else None, sha256=hash_token(t))
    for n, t in TOKENS.items()))

ROUTES = [  # method, path (with {a}: an agent ID, {t}: a task or transfer ID), the body's fields
    ("GET", "/health", ()), ("GET", "/health/live", ()), ("GET", "/metrics", ()),
    ("GET", "/agents", ()), ("GET", "/agents/{a}", ()),
    *(("POST", f"/agents/{{a}}/{c}", ("interface", "reason")) for c in api.COMMANDS),
    ("POST", "/supervise", ("agent_id", "mode", "interface")),
    ("POST", "/transfers", ("agent_id", "target")), ("PUT", "/transfers/{t}/complete", ()),
    ("DELETE", "/transfers/{t}", ()),
    ("GET", "/callbacks", ()), ("POST", "/callbacks/check", ("team",)),
    *(("POST", f"/callbacks/{{t}}/{c}", ("agent_id",)) for c in ("close", "reopen", "reassign")),
    ("POST", "/followups", ("team", "csv")),
    ("GET", "/roster/leave", ()), ("POST", "/roster/leave", ("agent_id", "day", "shift", "override")),
    ("DELETE", "/roster/leave", ("agent_id", "day", "shift")), ("GET", "/roster/duty", ()),
]
QUERY_KEYS = ["state", "agent", "team", "open", "reveal", "day", "x"]
GOOD = ["1001", "1002", "9999", "PJSIP/1001", "PJSIP/2001", "PJSIP/1010", "listen", "barge", "queue:sales",
        "support", "sales", "day", "vm-1", "vm-old", "2025-03-04", "2025-03-05", "9999-12-31", "open", "1", "0",
        "lunch", "number,note\n13800135678,hi\n", "x" * 70_000]


class Controller(FakeController):
    """test_api's agents plus everything else the service offers the API."""

    def __init__(self, desk: CallbackDesk) -> None:
        super().__init__()
        self.desk = desk
        self._metrics = Metrics(agents=self.agents)

    def phones(self) -> api.PhoneBook:
        return api.PhoneBook(own={"1001": ("PJSIP/1001", "PJSIP/2001"), "1002": ("PJSIP/1002",),
                                  "1010": ("PJSIP/1010",)}, supervisor=frozenset({"PJSIP/1010"}))

    async def agent_command(self, agent_id: str, command: str, **args: Any) -> dict:
        if command in ("hold", "unhold"):
            raise CommandRefused(f"agent {agent_id} is not on a call")
        return await super().agent_command(agent_id, command, **args)

    def readiness(self) -> dict:
        return {"ari": {"ok": True}}

    def callbacks(self) -> CallbackDesk:
        return self.desk

    def metrics(self) -> Metrics:
        return self._metrics

    async def supervise(self, agent_id: str, mode: str, interface: str, *, supervisor: str) -> dict:
        if agent_id not in self.state:
            raise UnknownAgent(agent_id)
        raise CommandRefused(f"agent {agent_id} is not on a live call")

    async def transfer_start(self, agent_id: str, target: str) -> dict:
        if agent_id not in self.state:
            raise UnknownAgent(agent_id)
        raise CommandRefused(f"agent {agent_id} is not on a call")

    async def transfer_command(self, transfer_id: str, command: str, token: Any) -> dict:
        raise CommandRefused(f"no transfer {transfer_id} in progress")


async def _make_desk(folder: Path) -> tuple[CallbackDesk, Store, asyncio.Task]:
    store = Store(folder / "callbacks.db")
    for task_id, created in (("vm-1", NOW - 3600), ("vm-old", NOW - 90000)):
        store.commit_task(CallbackTask(task_id=task_id, caller="13800135678", queue="support", team="support",
                                       recording=f"callcenter/{task_id}", created_at=created,
                                       deadline=created + 86400))
    roster = Roster([Team(name="support", agents=("1001", "1002", "1003"), shifts=(Shift(),)),
                     Team(name="sales", agents=("2001", "2002"))],
                    leave=[LeaveEntry(agent_id="2001", day=date(2025, 3, 4))])

    async def hold(agent: str) -> bool:
        return False

    desk = CallbackDesk(rules=CallbackRules(check_offsets=stagger(["support", "sales"])), roster=roster,
                        store=store, ari=object(), app="test", publish=lambda name, fields: None,
                        dispatch=lambda item: None, register=lambda call_id, flow: None,
                        agent_interface=lambda agent: None, hold_agent=hold, release_agent=lambda agent: None,
                        agent_busy=lambda agent: False, trunk=None, keys=None, clock=lambda: NOW)
    runner = asyncio.get_running_loop().create_task(desk.run())
    for _ in range(20):
        await asyncio.sleep(0)
    return desk, store, runner


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[asyncio.AbstractEventLoop, TestClient]]:
    """One app for every example (a loop of its own: hypothesis runs the test body synchronously)."""
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as folder, capture_logs():
        desk, store, runner = loop.run_until_complete(_make_desk(Path(folder)))

        async def start() -> TestClient:
            c = TestClient(TestServer(api.build_app(Controller(desk), SETTINGS, command_timeout_s=5.0)))
            await c.start_server()
            return c

        client = loop.run_until_complete(start())
        try:
            yield loop, client
        finally:
            loop.run_until_complete(client.close())
            runner.cancel()
            loop.run_until_complete(asyncio.gather(runner, return_exceptions=True))
            store.close()
            loop.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.sampled_from(GOOD) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@st.composite
def requests(draw) -> dict[str, Any]:
    method, template, fields = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    values = st.sampled_from(GOOD[:-1]) | st.text(max_size=30) | st.just("9" * 3000)
    path = template.replace("{a}", quote(draw(values), safe="")).replace("{t}", quote(draw(values), safe=""))
    if draw(st.integers(0, 19)) == 0:
        path = "/" + quote(draw(st.text(max_size=20)), safe="").lstrip("/")  # never "//…" (a host to the client)
    kind = draw(st.sampled_from(["none", "fields", "json", "raw", "deep"]))
    body: bytes | None = None
    if kind == "fields":
        keys = draw(st.lists(st.sampled_from([*fields, *fields, "extra"]) if fields else st.just("extra"),
                             max_size=4, unique=True))
        body = json.dumps({k: draw(st.sampled_from(GOOD) | json_values) for k in keys}).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "raw":
        body = draw(st.binary(max_size=64))
    elif kind == "deep":
        n = draw(st.integers(1, 30_000))
        body = b"[" * n + b"]" * draw(st.sampled_from([0, n]))
    query = draw(st.dictionaries(st.sampled_from(QUERY_KEYS) | st.text(min_size=1, max_size=10),
                                 st.sampled_from(GOOD[:-1]) | st.text(max_size=30), max_size=3))
    token = draw(st.sampled_from(["sam", "olga", "sam", "olga", "alice", "prom", None, "garbage"]))
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {TOKENS.get(token, 'nope-' + 'n' * 32)}"
    names = ["X-Forwarded-For", "Via", "Content-Type", "Forwarded", "X-Real-IP"]
    if draw(st.integers(0, 9)) == 0:
        names.append("Authorization")  # a malformed one, now and then
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        headers[name] = draw(header_text)
    return {"method": method, "path": path, "data": body, "params": query, "headers": headers}


async def _send(client: TestClient, req: dict[str, Any]) -> tuple[int, str, str]:
    r = await client.request(req["method"], req["path"], data=req["data"], params=req["params"],
                             headers=req["headers"])
    return r.status, r.headers.get("Content-Type", ""), await r.text()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(requests())
@example({"method": "POST", "path": "/agents/1002/pause", "data": b"[" * 60_000, "params": {},
          "headers": {"Authorization": f"Bearer {TOKENS['sam']}"}})
@example({"method": "GET", "path": "/roster/duty", "data": None, "params": {"day": "9999-12-31"},
          "headers": {"Authorization": f"Bearer {TOKENS['olga']}"}})
@example({"method": "POST", "path": "/transfers", "data": json.dumps({"agent_id": "1001", "target": "9" * 5000}
                                                                      ).encode(),
          "params": {}, "headers": {"Authorization": f"Bearer {TOKENS['sam']}"}})
@example({"method": "POST", "path": "/agents/1001/login",
          "data": b'{"interface": "PJSIP/x,endpoint:PJSIP/1002"}', "params": {},
          "headers": {"Authorization": f"Bearer {TOKENS['alice']}"}})
def test_every_route_answers_below_500_with_a_clear_error(served, request_):
    loop, client = served
    status, content_type, text = loop.run_until_complete(_send(client, request_))
    assert status < 500, (status, text[:300], request_["method"], request_["path"])
    if status >= 400 and content_type.startswith("text/plain"):  # aiohttp's own, before any route: the
        assert status == 400 and 0 < len(text) <= 400, (status, text[:200])  # request line or headers
        return
    if status >= 400:
        assert content_type.startswith("application/json"), (status, text[:200])
        error = json.loads(text)["error"]
        assert isinstance(error, str) and error.strip(), text
        assert len(error) <= ERROR_CHARS + 1, error[:100]

