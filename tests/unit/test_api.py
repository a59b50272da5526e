"""The HTTP control API, its settings and its CLI, against an in-memory fake Controller."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from ari_app import api
from ari_app.api import ApiSettings, ApiToken, CommandRefused, UnknownAgent, hash_token
from api_auth import SETTINGS, TOKENS, auth


class FakeController:
    """Two agents; refuses what the real core refuses (pause while logged out, resume while not paused)."""

    def __init__(self) -> None:
        self.state = {
            "1001": {"agent_id": "1001", "state": "logged_out", "since": 0.0, "reason": "",
                     "interface": "PJSIP/1001", "queues": ["support"], "calls_taken": 0},
            "1002": {"agent_id": "1002", "state": "available", "since": 1000.0, "reason": "",
                     "interface": "PJSIP/1002", "queues": ["support", "sales"], "calls_taken": 3},
        }
        self.commands: list[tuple[str, str, dict]] = []
        self.connected = True

    def agents(self) -> list[dict]:
        return [dict(a) for _, a in sorted(self.state.items())]

    def ari_connected(self) -> bool:
        return self.connected

    def phones(self) -> api.PhoneBook:  # issue 17: the configured phones the API may name
        return api.PhoneBook(own={"1001": ("PJSIP/1001", "PJSIP/2001"), "1002": ("PJSIP/1002",)},
                             supervisor=frozenset())

    async def agent_command(self, agent_id: str, command: str, **args) -> dict:
        if agent_id not in self.state:
            raise UnknownAgent(agent_id)
        a = self.state[agent_id]
        allowed = {"login": {"logged_out"}, "logout": {"available", "paused"},
                   "pause": {"available", "paused"}, "resume": {"paused"}}[command]
        if a["state"] not in allowed:
            raise CommandRefused(f"agent {agent_id}: cannot {command} while {a['state']}")
        self.commands.append((agent_id, command, args))
        a["state"] = {"login": "available", "logout": "logged_out", "pause": "paused",
                      "resume": "available"}[command]
        a["reason"] = args.get("reason", "")
        a["interface"] = args.get("interface", a["interface"])
        a["since"] = 2000.0
        return dict(a)


@pytest.fixture
def controller() -> FakeController:
    return FakeController()


@pytest.fixture
async def client(controller):
    async with TestClient(TestServer(api.build_app(controller, SETTINGS))) as c:
        yield c


# -- auth ------------------------------------------------------------------------------------------------
async def test_health_needs_no_token(client, controller):
    # a controller without readiness(): /health reports its ARI link alone (the service: test_health.py)
    r = await client.get("/health")
    assert (r.status, await r.json()) == (200, {"status": "ok", "checks": {"ari": {"ok": True}}})
    controller.connected = False
    r = await client.get("/health")
    assert (r.status, await r.json()) == (503, {"status": "unavailable", "failing": ["ari"],
                                                "checks": {"ari": {"ok": False, "reason": "not connected"}}})


@pytest.mark.parametrize("headers, message", [
    ({}, "missing bearer token"),
    ({"Authorization": "Bearer wrong-" + "x" * 32}, "invalid token"),
    ({"Authorization": f"Basic {TOKENS['sam']}"}, "invalid token"),
    ({"Authorization": "Bearer "}, "invalid token"),
])
async def test_401_without_a_valid_token(client, controller, headers, message):
    with capture_logs() as logs:
        r = await client.post("/agents/1002/pause", json={"reason": "lunch"}, headers=headers)
    assert (r.status, await r.json()) == (401, {"error": message})
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert controller.commands == []
    [line] = logs
    assert line | {"remote": None} == {"event": "audit.api", "log_level": "info", "token": None, "role": None,
                                       "action": "pause", "agent": "1002", "status": 401, "remote": None,
                                       "error": message}


async def test_agent_token_acts_only_on_its_own_agent(client, controller):
    r = await client.post("/agents/1002/logout", headers=auth("alice"))
    assert r.status == 403
    assert await r.json() == {"error": "token alice (role agent) may only act on agent 1001"}
    assert (await client.get("/agents/1002", headers=auth("alice"))).status == 403
    r = await client.get("/agents", headers=auth("alice"))
    assert r.status == 403 and "ask for /agents/1001" in (await r.json())["error"]
    # 403 before 404: an agent token learns nothing about other agent IDs
    assert (await client.post("/agents/9999/login", headers=auth("alice"))).status == 403
    r = await client.post("/agents/1001/login", headers=auth("alice"))
    assert (r.status, (await r.json())["state"]) == (200, "available")
    assert controller.commands == [("1001", "login", {})]


@pytest.mark.parametrize("name", ["sam", "olga"])
async def test_supervisor_and_ops_act_on_any_agent(client, controller, name):
    r = await client.post("/agents/1002/pause", json={"reason": "coaching"}, headers=auth(name))
    assert r.status == 200
    assert (await client.post("/agents/1001/login", headers=auth(name))).status == 200
    assert [c[:2] for c in controller.commands] == [("1002", "pause"), ("1001", "login")]


# -- routes ---------------------------------------------------------------------------------------------
async def test_list_and_show_agents(client, controller):
    r = await client.get("/agents", headers=auth("sam"))
    assert r.status == 200
    assert await r.json() == controller.agents()
    assert [a["agent_id"] for a in await r.json()] == ["1001", "1002"]
    r = await client.get("/agents/1001", headers=auth("alice"))
    assert (r.status, await r.json()) == (200, controller.state["1001"])
    r = await client.get("/agents/1009", headers=auth("sam"))
    assert (r.status, await r.json()) == (404, {"error": "unknown agent 1009"})


async def test_login_with_interface_pause_resume_logout(client, controller):
    r = await client.post("/agents/1001/login", json={"interface": "PJSIP/2001"}, headers=auth("alice"))
    assert (r.status, (await r.json())["interface"]) == (200, "PJSIP/2001")
    r = await client.post("/agents/1001/pause", json={"reason": "lunch"}, headers=auth("alice"))
    assert (r.status, (await r.json())["state"], (await r.json())["reason"]) == (200, "paused", "lunch")
    assert (await client.post("/agents/1001/resume", headers=auth("alice"))).status == 200
    r = await client.post("/agents/1001/logout", data=b"{}", headers=auth("alice"))  # an empty object is fine
    assert (r.status, (await r.json())["state"]) == (200, "logged_out")
    assert controller.commands == [("1001", "login", {"interface": "PJSIP/2001"}),
                                   ("1001", "pause", {"reason": "lunch"}),
                                   ("1001", "resume", {}), ("1001", "logout", {})]


async def test_unknown_agent_and_refused_command(client, controller):
    r = await client.post("/agents/1009/login", headers=auth("sam"))
    assert (r.status, await r.json()) == (404, {"error": "unknown agent 1009"})
    r = await client.post("/agents/1001/resume", headers=auth("sam"))
    assert (r.status, await r.json()) == (409, {"error": "agent 1001: cannot resume while logged_out"})


@pytest.mark.parametrize("body, message", [
    ({}, 'reason: missing (e.g. {"reason": "lunch"})'),
    ({"reason": ""}, 'reason: must be 1-32 characters of a-z, 0-9, _ and -, got ""'),
    ({"reason": "Lunch!"}, 'reason: must be 1-32 characters of a-z, 0-9, _ and -, got "Lunch!"'),
    ({"reason": "x" * 33}, f'reason: must be 1-32 characters of a-z, 0-9, _ and -, got "{"x" * 33}"'),
    ({"reason": 5}, "reason: must be 1-32 characters of a-z, 0-9, _ and -, got 5"),
    ({"reason": "lunch", "minutes": 30}, "minutes: unknown field (expected reason)"),
    ([], "body: must be a JSON object, got list"),
])
async def test_400_bad_pause_body(client, controller, body, message):
    r = await client.post("/agents/1002/pause", json=body, headers=auth("sam"))
    assert (r.status, await r.json()) == (400, {"error": message})
    assert controller.commands == []


async def test_400_bad_json_and_bad_interface(client, controller):
    r = await client.post("/agents/1002/pause", data=b'{"reason": ', headers=auth("sam"))
    assert (r.status, await r.json()) == (400, {"error": "body: not valid JSON"})
    r = await client.post("/agents/1001/login", json={"interface": "1001"}, headers=auth("sam"))
    assert r.status == 400
    assert await r.json() == {"error": 'interface: must be a dial string like PJSIP/1001, got "1001"'}
    r = await client.post("/agents/1001/resume", json={"reason": "x"}, headers=auth("sam"))
    assert r.status == 400
    assert await r.json() == {"error": "reason: unknown field (this command takes no body)"}
    assert controller.commands == []


# -- issue 17, item 1: the phone comes from the config, never from an agent token ---------------------------
@pytest.mark.parametrize("interface, status, message", [
    # on 09ab527 each of these was 200: a colleague logged out (source=replaced), toll fraud, an injection
    ("PJSIP/1002", 403, "token alice (role agent) may only log in at agent 1001's own phones "
                        "(PJSIP/1001, PJSIP/2001; [agents.1001] interface, phones)"),
    ("Local/900861012345678@from-agents", 403, "token alice (role agent) may only log in at agent 1001's"),
    ("PJSIP/x,endpoint:PJSIP/1002", 400, 'interface: must be a dial string like PJSIP/1001, got "PJSIP/x,'),
    ("PJSIP/2001\n", 400, "interface: must be a dial string like PJSIP/1001"),
    ("PJSIP/2001&PJSIP/1002", 400, "interface: must be a dial string like PJSIP/1001"),
])
async def test_agent_token_logs_in_only_at_its_own_phones(client, controller, interface, status, message):
    r = await client.post("/agents/1001/login", json={"interface": interface}, headers=auth("alice"))
    assert r.status == status and (await r.json())["error"].startswith(message), await r.text()
    assert controller.commands == []
    for own in ("PJSIP/2001", "PJSIP/1001"):  # its configured phones: both fine
        r = await client.post("/agents/1001/login", json={"interface": own}, headers=auth("alice"))
        assert r.status == 200, await r.text()
        controller.state["1001"]["state"] = "logged_out"
    assert [c[2] for c in controller.commands] == [{"interface": "PJSIP/2001"}, {"interface": "PJSIP/1001"}]


@pytest.mark.parametrize("name", ["sam", "olga"])
async def test_supervisor_and_ops_choose_only_configured_phones(client, controller, name):
    r = await client.post("/agents/1001/login", json={"interface": "PJSIP/7777"}, headers=auth(name))
    assert (r.status, await r.json()) == (400, {"error": "interface: PJSIP/7777 is not a configured phone "
                                                         "([agents.<id>] interface or phones)"})
    r = await client.post("/agents/1001/login", json={"interface": "PJSIP/1002"}, headers=auth(name))
    assert r.status == 200  # any agent's configured phone (the desk is moved on purpose)
    assert controller.commands == [("1001", "login", {"interface": "PJSIP/1002"})]


async def test_a_controller_without_phones_accepts_no_interface(controller):
    class Bare(FakeController):
        phones = None  # type: ignore[assignment]

    async with TestClient(TestServer(api.build_app(Bare(), SETTINGS))) as c:
        r = await c.post("/agents/1001/login", json={"interface": "PJSIP/1001"}, headers=auth("sam"))
        assert r.status == 400 and "is not a configured phone" in (await r.json())["error"]


async def test_unknown_route_and_method_are_json(client):
    r = await client.get("/nope", headers=auth("olga"))
    assert (r.status, await r.json()) == (404, {"error": "Not Found"})
    r = await client.get("/agents/1001/pause", headers=auth("olga"))
    assert (r.status, await r.json()) == (405, {"error": "Method Not Allowed"})


async def test_controller_timeout_and_crash(controller):
    async def slow(*_a, **_k):
        await asyncio.sleep(10)

    async def broken(*_a, **_k):
        raise RuntimeError("boom")

    async with TestClient(TestServer(api.build_app(controller, SETTINGS, command_timeout_s=0.01))) as c:
        controller.agent_command = slow
        r = await c.post("/agents/1001/login", headers=auth("sam"))
        assert r.status == 504 and "may still take effect" in (await r.json())["error"]

        async def desk_timeout(*_a, **_k):  # a TimeoutError with its own message (flows/desk.py DeskTimeout)
            raise TimeoutError("the callbacks desk did not answer within 8 s")
        controller.agent_command = desk_timeout
        r = await c.post("/agents/1001/login", headers=auth("sam"))
        assert (r.status, await r.json()) == (504, {"error": "the callbacks desk did not answer within 8 s"})
        controller.agent_command = broken
        with capture_logs() as logs:
            r = await c.post("/agents/1001/login", headers=auth("sam"))
        assert (r.status, await r.json()) == (500, {"error": "internal error (see the service's log)"})
        assert [x["event"] for x in logs] == ["api.error", "audit.api"]


# -- audit ------------------------------------------------------------------------------------------------
async def test_every_request_is_audited(client):
    with capture_logs() as logs:
        await client.post("/agents/1002/pause", json={"reason": "lunch"}, headers=auth("sam"))
        await client.post("/agents/1002/pause", json={"reason": "LUNCH"}, headers=auth("sam"))
        await client.post("/agents/1001/resume", headers=auth("olga"))
        await client.post("/agents/1002/logout", headers=auth("alice"))
        await client.get("/agents", headers=auth("sam"))
        await client.get("/health")
    lines = [{k: v for k, v in x.items() if k not in ("remote", "log_level")} for x in logs]
    assert all(x["remote"] == "127.0.0.1" for x in logs)
    assert lines == [
        {"event": "audit.api", "token": "sam", "role": "supervisor", "action": "pause", "agent": "1002",
         "status": 200, "reason": "lunch"},
        {"event": "audit.api", "token": "sam", "role": "supervisor", "action": "pause", "agent": "1002",
         "status": 400, "error": 'reason: must be 1-32 characters of a-z, 0-9, _ and -, got "LUNCH"'},
        {"event": "audit.api", "token": "olga", "role": "ops", "action": "resume", "agent": "1001",
         "status": 409, "error": "agent 1001: cannot resume while logged_out"},
        {"event": "audit.api", "token": "alice", "role": "agent", "action": "logout", "agent": "1002",
         "status": 403, "error": "token alice (role agent) may only act on agent 1001"},
        {"event": "audit.api", "token": "sam", "role": "supervisor", "action": "list", "agent": None,
         "status": 200},
    ]
    assert not any(TOKENS[n] in repr(logs) for n in TOKENS)  # names in the log, never tokens


# -- settings ------------------------------------------------------------------------------------------------
def parse(table):
    errors: list[str] = []
    return api.parse_api(table, errors, agents={"1001", "1002"}), errors


def test_settings_defaults_and_a_full_table():
    assert parse({}) == (ApiSettings(), [])
    h = hash_token("t" * 43)
    s, errors = parse({"listen_host": "::1", "listen_port": 9000, "tokens": [
        {"name": "alice", "role": "agent", "agent_id": "1001", "sha256": h.upper()},
        {"name": "sam", "role": "supervisor", "sha256": hash_token("u" * 43)}]})
    assert errors == []
    assert (s.listen_host, s.listen_port, s.tokens[0]) == (
        "::1", 9000, ApiToken(name="alice", role="agent", agent_id="1001", sha256=h))
    assert s.authenticate("t" * 43) == s.tokens[0]
    assert s.authenticate("t" * 42) is None
    s, errors = parse({"listen_host": "0.0.0.0", "allow_remote": True})
    assert (s.listen_host, errors) == ("0.0.0.0", [])


def test_settings_exact_messages():
    good = hash_token("x" * 43)
    _, errors = parse({"listen_host": "0.0.0.0", "listen_port": 70000, "foo": 1, "tokens": [
        {"name": "root", "role": "admin", "sha256": good},
        {"name": "alice", "role": "agent", "agent_id": "1001", "sha256": "my-secret-token"},
        {"name": "bob", "role": "agent", "agent_id": "1009", "sha256": hash_token("b" * 43)},
        {"name": "sam", "role": "supervisor", "agent_id": "1001", "sha256": good, "pin": 1},
        {"role": 5},
        {"name": "alice", "role": "agent", "agent_id": "10a", "sha256": hash_token("c" * 43)},
        {"name": "carol", "role": "agent", "sha256": hash_token("d" * 43)},
        "nope",
    ]})
    assert errors == [
        "api.foo: unknown key",
        "api.listen_host: must be a loopback address (127.0.0.1, ::1) unless allow_remote = true, "
        "got '0.0.0.0'",
        "api.listen_port: must be 1-65535, got 70000",
        "api.tokens[0].role: must be one of agent, supervisor, ops, metrics, got 'admin'",
        "api.tokens[1].sha256: must be 64 hex digits (the token's sha256, from `ari-app token new`), "
        "got 15 characters",
        "api.tokens[2].agent_id: unknown agent '1009'",
        "api.tokens[3].pin: unknown key",
        "api.tokens[3].sha256: same token as api.tokens[0]",
        "api.tokens[3].agent_id: only for role agent (role supervisor acts on every agent)",
        "api.tokens[4].name: missing",
        "api.tokens[4].sha256: missing",
        "api.tokens[4].role: must be a string, got 5",
        "api.tokens[5].name: 'alice' is already used by api.tokens[1]",
        "api.tokens[5].agent_id: agent IDs (工号) are 1-10 digits, got '10a'",
        "api.tokens[6].agent_id: missing (role agent acts on one agent, e.g. agent_id = \"1001\")",
        "api.tokens[7]: must be a table, got 'nope'",
    ]
    assert "my-secret-token" not in "\n".join(errors)
    assert parse({"tokens": {"name": "x"}})[1] == ["api.tokens: must be a list of tables ([[api.tokens]]), "
                                                   "got {'name': 'x'}"]
    assert parse({"allow_remote": "yes", "listen_port": "80"})[1] == [
        "api.allow_remote: must be true or false, got 'yes'", "api.listen_port: must be an integer, got '80'"]


def test_new_token_and_hash():
    t = api.new_token()
    assert len(t) >= 32 and t != api.new_token()
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# -- CLI ----------------------------------------------------------------------------------------------------
@pytest.fixture
async def base_url(controller):
    with capture_logs():  # keep the server's own lines off the CLI's stdout
        async with api.listening(controller, SETTINGS) as url:
            yield url


async def cli(*argv: str, token: str | None = "sam") -> int:
    args = [*argv, *(["--token", TOKENS[token]] if token else [])]
    return await asyncio.to_thread(api.agent_cli, args)


async def test_cli_list_and_commands(base_url, controller, capsys):
    assert await cli("list", "--api", base_url) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["AGENT", "STATE", "SINCE", "REASON", "INTERFACE", "QUEUES", "CALLS"]
    assert out[1].split() == ["1001", "logged_out", "-", "-", "PJSIP/1001", "support", "0"]
    assert out[2].split()[:2] == ["1002", "available"] and out[2].split()[-2:] == ["support,sales", "3"]
    assert await cli("pause", "1002", "--reason", "lunch", "--api", base_url) == 0
    assert capsys.readouterr().out.startswith("agent 1002: paused (lunch) since ")
    assert await cli("login", "1001", "--interface", "PJSIP/2001", "--api", base_url, token="alice") == 0
    assert capsys.readouterr().out.startswith("agent 1001: available since ")
    assert await cli("list", "1001", "--api", base_url, token="alice") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["1001", "available"]
    assert controller.commands == [("1002", "pause", {"reason": "lunch"}),
                                   ("1001", "login", {"interface": "PJSIP/2001"})]


async def test_cli_reads_the_environment(base_url, monkeypatch, capsys):
    monkeypatch.setenv("ARI_APP_API", base_url)
    monkeypatch.setenv("ARI_APP_TOKEN", TOKENS["olga"])
    assert await cli("resume", "1002", token=None) == 1
    assert capsys.readouterr().err == "ari-app agent: agent 1002: cannot resume while available\n"


@pytest.mark.parametrize("argv, token, code, err", [
    (("logout", "1002"), "alice", 1, "token alice (role agent) may only act on agent 1001"),
    (("logout", "1009"), "sam", 1, "unknown agent 1009"),
    (("resume", "1001"), "sam", 1, "agent 1001: cannot resume while logged_out"),
    (("pause", "1002", "--reason", "Lunch"), "sam", 2,
     'reason: must be 1-32 characters of a-z, 0-9, _ and -, got "Lunch"'),
])
async def test_cli_shows_the_servers_message(base_url, capsys, argv, token, code, err):
    assert await cli(*argv, "--api", base_url, token=token) == code
    assert capsys.readouterr().err == f"ari-app agent: {err}\n"


async def test_cli_wrong_token(base_url, capsys):
    assert await asyncio.to_thread(api.agent_cli, ["list", "--api", base_url, "--token", "nope"]) == 1
    assert capsys.readouterr().err == "ari-app agent: invalid token\n"


@pytest.mark.parametrize("argv, err", [
    (["pause", "1001"], "pause: --reason is required, e.g. --reason lunch"),
    (["login"], "login: AGENT_ID is required"),
    (["login", "../x"], "AGENT_ID: agent IDs (工号) are 1-10 digits, got '../x'"),
    (["logout", "1001", "--reason", "x"], "--reason is only for pause"),
])
def test_cli_usage_errors(argv, err, capsys):
    assert api.agent_cli([*argv, "--token", "t"]) == 2
    assert capsys.readouterr().err == f"ari-app agent: {err}\n"


def test_cli_without_token_or_with_a_bad_command(monkeypatch, capsys):
    monkeypatch.delenv("ARI_APP_TOKEN", raising=False)
    assert api.agent_cli(["list"]) == 2
    assert "no API token: set ARI_APP_TOKEN" in capsys.readouterr().err
    assert api.agent_cli(["dance"]) == 2
    assert "invalid choice: 'dance'" in capsys.readouterr().err
    assert api.agent_cli(["--help"]) == 0


def test_cli_cannot_connect(capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert api.agent_cli(["list", "--api", f"http://127.0.0.1:{port}", "--token", "t"]) == 2
    assert capsys.readouterr().err == (
        f"ari-app agent: cannot reach the API at http://127.0.0.1:{port}: is ari-app running?\n")


async def test_serve_runs_until_cancelled(controller):
    with capture_logs() as logs:
        task = asyncio.create_task(api.serve(controller, ApiSettings(listen_port=0)))
        while not any(x["event"] == "api.listening" for x in logs):
            await asyncio.sleep(0.01)
        url = next(x["url"] for x in logs if x["event"] == "api.listening")
        assert await cli("list", "--api", url) == 1  # up, and with no tokens configured refuses everyone
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [x["event"] for x in logs if x["event"].startswith("api.")] == ["api.listening", "api.no_tokens",
                                                                          "api.stopped"]
    assert await cli("list", "--api", url) == 2  # the port is closed


# -- tokens -------------------------------------------------------------------------------------------------
def test_token_new_prints_a_token_and_a_valid_config_entry(capsys):
    import tomllib

    assert api.token_cli(["new", "--name", "alice", "--role", "agent", "--agent", "1001"]) == 0
    out = capsys.readouterr().out
    token = out.split("\n\n")[1].strip()
    entry = tomllib.loads(out[out.index("[[api.tokens]]"):])
    errors: list[str] = []
    settings = api.parse_api(entry["api"], errors)
    assert errors == []
    assert settings.authenticate(token) == ApiToken(name="alice", role="agent", agent_id="1001",
                                                    sha256=hash_token(token))


@pytest.mark.parametrize("argv, err", [
    (["new", "--name", "alice", "--role", "agent"], "--agent AGENT_ID is required for role agent"),
    (["new", "--name", "sam", "--role", "supervisor", "--agent", "1001"],
     "--agent is only for role agent (role supervisor acts on every agent)"),
    (["new", "--name", "a b", "--role", "ops"],
     "--name: must be letters, digits, _ . @ - (at most 64), got 'a b'"),
])
def test_token_new_usage_errors(argv, err, capsys):
    assert api.token_cli(argv) == 2
    assert capsys.readouterr().err == f"ari-app token: {err}\n"
    assert api.token_cli(["new", "--name", "x", "--role", "admin"]) == 2


def test_cli_token_from_the_token_file_only_when_private(tmp_path, monkeypatch, capsys):
    """issue 16: the CLI reads the token file (the demo's ~/.config/ari-app/token) when ARI_APP_TOKEN is unset."""
    from ari_app.api._cli import default_token

    f = tmp_path / "token"
    f.write_text("tok-from-file supervisor\n")
    f.chmod(0o600)
    monkeypatch.setenv("ARI_APP_TOKEN_FILE", str(f))
    monkeypatch.delenv("ARI_APP_TOKEN", raising=False)
    assert default_token() == "tok-from-file"
    monkeypatch.setenv("ARI_APP_TOKEN", "tok-from-env")
    assert default_token() == "tok-from-env"
    monkeypatch.delenv("ARI_APP_TOKEN")
    f.chmod(0o644)
    assert default_token() is None
    assert "readable by others" in capsys.readouterr().err
    monkeypatch.setenv("ARI_APP_TOKEN_FILE", str(tmp_path / "missing"))
    assert default_token() is None
