"""R-SUPERVISE: the pure parts (codes, who may supervise, which call), the flow against a fake ARI
(what it asks Asterisk for, in which order, and what it leaves behind), config and the HTTP route.
R-PRIVACY: every use ends in one ``audit.supervise`` line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from ari_app import api
from ari_app.api import CommandRefused, UnknownAgent
from ari_app.api._controller import SUPERVISE_MODES
from ari_app.ari import (
    AriNotFound, Bridge, Channel, ChannelDestroyed, ChannelHangupRequest, ChannelLeftBridge, Playback,
    PlaybackFinished, StasisEnd, StasisStart,
)
from ari_app.config import AgentConfig, ConfigError, KeyMap, parse
from ari_app.flows import supervise
from ari_app.flows.supervise import (
    MODES, Permission, SuperviseCall, Target, find_target, parse_code, supervisor_at,
)
from api_auth import SETTINGS, TOKENS


# -- feature codes ---------------------------------------------------------------------------------------
def test_parse_code_default_key_map():
    keys = KeyMap()
    assert parse_code("*151001", keys) == ("listen", "1001")
    assert parse_code("*162002", keys) == ("whisper", "2002")
    assert parse_code("*173", keys) == ("barge", "3")
    assert parse_code("*15", keys) == ("listen", "")  # no agent: the flow refuses it
    assert parse_code("*15x", keys) == ("listen", "x")
    for other in ("*11", "*12", "*13", "*132", "*14", "*1", "600", ""):
        assert parse_code(other, keys) is None, other


def test_parse_code_follows_the_configured_keys():
    keys = KeyMap(listen="*81", whisper="*82", barge="#83")
    assert parse_code("*811001", keys) == ("listen", "1001")
    assert parse_code("#831001", keys) == ("barge", "1001")
    assert parse_code("*151001", keys) is None


def test_parse_code_a_mode_without_a_code_never_matches():
    # mutation testing (issue 7): a mode missing from the key map has no code at all
    from ari_app.core.supervise import parse_code as core_parse_code

    assert core_parse_code("*151001", {"listen": "*15"}) == ("listen", "1001")
    for code in ("XXXX1001", "1001", ""):
        assert core_parse_code(code, {"listen": "*15"}) is None, code


def test_modes_are_the_same_in_the_flow_and_the_api():
    assert MODES == SUPERVISE_MODES == ("listen", "whisper", "barge")


# -- who may supervise ---------------------------------------------------------------------------------------
AGENTS = {
    "1001": AgentConfig(agent_id="1001", interface="PJSIP/1001", queues=("support",)),
    "1010": AgentConfig(agent_id="1010", interface="PJSIP/1010", queues=(), role="supervisor"),
    "1011": AgentConfig(agent_id="1011", interface="", queues=(), role="supervisor"),
}


def test_a_supervisor_logged_in_at_the_phone_may():
    assert supervisor_at("PJSIP/1005", logged_in="1011", agents=AGENTS) == Permission("1011")
    assert supervisor_at("PJSIP/1010", logged_in="1010", agents=AGENTS).allowed


def test_a_supervisors_own_idle_phone_may_not():
    """Issue 17: the supervisor's configured desk phone supervised while nobody was logged in there:
    whoever sat down at it listened in without a PIN. Now the supervisor logs in (*11, PIN) first."""
    assert supervisor_at("PJSIP/1010", logged_in=None, agents=AGENTS) == Permission(
        None, "not_logged_in", "not-logged-in")


def test_an_ordinary_agent_may_not_even_at_a_supervisors_desk():
    for iface in ("PJSIP/1001", "PJSIP/1010"):
        p = supervisor_at(iface, logged_in="1001", agents=AGENTS)
        assert p == Permission(None, "not_a_supervisor", "login-failed") and not p.allowed
    # an agent logged in that the configuration does not know (removed since): not a supervisor
    assert supervisor_at("PJSIP/1010", logged_in="7777", agents=AGENTS).reason == "not_a_supervisor"


def test_a_shared_supervisors_desk_may_only_for_the_one_logged_in_there():
    shared = {a: AgentConfig(agent_id=a, interface="PJSIP/desk", queues=(), role="supervisor")
              for a in ("1000", "900", "950")}
    assert not supervisor_at("PJSIP/desk", logged_in=None, agents=shared).allowed
    assert supervisor_at("PJSIP/desk", logged_in="950", agents=shared) == Permission("950")


def test_agents_without_a_role_are_ordinary_agents():
    # the mapping may hold any objects with agent_id and interface; no ``role`` means an agent
    plain = {"1001": SimpleNamespace(agent_id="1001", interface="PJSIP/1001")}
    assert supervisor_at("PJSIP/1001", logged_in="1001", agents=plain).reason == "not_a_supervisor"
    assert supervisor_at("PJSIP/1001", logged_in=None, agents=plain).reason == "not_logged_in"


def test_a_phone_of_nobody_may_not():
    for iface in ("PJSIP/1020", "Local/*151001@from-agents", ""):
        assert supervisor_at(iface, logged_in=None, agents=AGENTS) == Permission(
            None, "not_logged_in", "not-logged-in")


def test_the_prompts_exist_and_are_not_new():
    from ari_app.core import prompts
    for p in (supervise.PROMPT_NOT_LOGGED_IN, supervise.PROMPT_NOT_SUPERVISOR, supervise.PROMPT_NO_CALL):
        assert p in prompts.PROMPT_IDS


# -- which call ----------------------------------------------------------------------------------------------
def flow(call_id, leg=None, agent="1001", ended_by=None, finished=False):
    legs = {f"{call_id}~a1": SimpleNamespace(agent_id=agent)}
    return SimpleNamespace(call_id=call_id, connected_leg=leg, legs=legs, ended_by=ended_by,
                           finished=finished, talk_bridge=f"{call_id}~talk")


def test_find_target_the_agents_connected_call():
    calls = {"c1": flow("c1", "c1~a1"), "c2": flow("c2", "c2~a1", agent="1002")}
    assert find_target("1001", "c1", calls) == Target("c1", "1001", "c1~a1", "c1~talk")
    assert find_target("1002", "c2", calls) == Target("c2", "1002", "c2~a1", "c2~talk")
    assert find_target("1002", None, calls) == Target("c2", "1002", "c2~a1", "c2~talk")  # searched


def test_find_target_none_while_ringing_ended_or_someone_elses():
    assert find_target("1001", "c1", {"c1": flow("c1")}) is None  # ringing: not connected yet
    assert find_target("1001", "c1", {"c1": flow("c1", "c1~a1", ended_by="caller")}) is None
    assert find_target("1001", "c1", {"c1": flow("c1", "c1~a1", finished=True)}) is None
    assert find_target("1001", "c1", {"c1": flow("c1", "c1~a1", agent="1002")}) is None  # handed over
    assert find_target("1001", "c9", {"c1": flow("c1", "c1~a1")}) is None  # the core's call is gone
    assert find_target("1001", None, {"f": SimpleNamespace(finished=False)}) is None  # a feature call


def test_channel_ids_are_dispatcher_keys():
    ids = {supervise.new_channel_id() for _ in range(50)}
    assert len(ids) == 50 and all("~" not in i and i.startswith("sup-") for i in ids)


# -- the flow against a fake ARI -----------------------------------------------------------------------------
class FakeAri:
    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail = fail or {}

    def __getattr__(self, name):
        async def method(*args, **kwargs):
            self.calls.append((name, *args, kwargs) if kwargs else (name, *args))
            if name in self.fail:
                raise self.fail[name]
        return method

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


SUP = "1795700000.10"  # the supervisor's channel
TARGET = Target("c1", "1001", "c1~a1", "c1~talk")


def make(ari=None, *, allowed=True, target=TARGET, clock=None):
    times = iter(clock or [100.0, 130.0, 160.0])
    return SuperviseCall(
        SUP, ari=ari or FakeAri(), app="callcenter", keys=KeyMap(), known_agents={"1001", "1010"},
        locate=lambda agent: target if agent == "1001" else None,
        authorize=lambda iface: Permission("1010") if allowed else Permission(None, "not_logged_in",
                                                                               "not-logged-in"),
        clock=lambda: next(times))


def ch(cid, name=""):
    return Channel(id=cid, name=name or f"PJSIP/1010-0000000{len(cid) % 10}")


def ev(cls, cid, **kw):
    return cls(type=cls.__name__, channel=ch(cid), **kw)


async def test_listen_snoops_on_the_agent_leg_in_its_own_bridge_and_tears_down_on_hangup():
    ari = FakeAri()
    f = make(ari)
    with capture_logs() as logs:
        await f.start(ch(SUP, "PJSIP/1010-0000002a"), "*151001")
        assert ari.calls == [
            ("answer", SUP),
            ("create_bridge", f"{SUP}~sup", {"name": f"{SUP}~sup"}),
            ("snoop", "c1~a1", {"app": "callcenter", "spy": "both", "whisper": "none",
                                "snoop_id": f"{SUP}~snoop", "app_args": "supervise-snoop"}),
        ]
        await f.on_event(ev(StasisStart, f"{SUP}~snoop"))
        assert ari.calls[-1] == ("add_channel", f"{SUP}~sup", [SUP, f"{SUP}~snoop"])
        assert f.stage == "active" and not f.finished
        ari.calls.clear()
        await f.on_event(ev(ChannelHangupRequest, SUP))  # the supervisor hangs up
        assert ari.calls == [("hangup", f"{SUP}~snoop"), ("destroy_bridge", f"{SUP}~sup"), ("hangup", SUP)]
        assert f.finished
        await f.on_event(ev(StasisEnd, SUP))  # late events change nothing
        assert len(ari.calls) == 3
    started = [e for e in logs if e["event"] == "supervise.started"]
    assert len(started) == 1 and started[0]["supervisor"] == "1010" and started[0]["via"] == "phone"
    (audit,) = [e for e in logs if e["event"] == "audit.supervise"]
    assert audit == {
        "event": "audit.supervise", "log_level": "info", "supervisor": "1010", "via": "phone",
        "agent": "1001", "mode": "listen", "call_id": "c1", "supervisor_channel": SUP, "rule": "R-SUPERVISE",
        "start": 100.0, "end": 130.0, "duration_s": 30.0, "ended": "supervisor_hung_up"}


async def test_whisper_goes_to_the_agent_only():
    ari = FakeAri()
    await make(ari).start(ch(SUP), "*161001")
    snoop = [c for c in ari.calls if c[0] == "snoop"]
    assert snoop[0][1] == "c1~a1" and snoop[0][2]["spy"] == "both" and snoop[0][2]["whisper"] == "out"


async def test_the_call_ends_the_snoop_goes_and_the_supervisor_is_hung_up():
    ari = FakeAri()
    f = make(ari)
    with capture_logs() as logs:
        await f.start(ch(SUP), "*161001")
        await f.on_event(ev(StasisStart, f"{SUP}~snoop"))
        ari.calls.clear()
        await f.on_event(ev(ChannelDestroyed, f"{SUP}~snoop"))
    assert ari.calls == [("hangup", f"{SUP}~snoop"), ("destroy_bridge", f"{SUP}~sup"), ("hangup", SUP)]
    assert f.finished
    (audit,) = [e for e in logs if e["event"] == "audit.supervise"]
    assert audit["ended"] == "call_ended" and audit["mode"] == "whisper"


async def test_barge_joins_the_talk_bridge_and_ends_with_it():
    ari = FakeAri()
    f = make(ari)
    with capture_logs() as logs:
        await f.start(ch(SUP), "*171001")
        assert ari.calls == [("answer", SUP), ("add_channel", "c1~talk", SUP)]
        assert f.stage == "active"
        await f.on_event(ChannelLeftBridge(type="ChannelLeftBridge", bridge=Bridge(id=f"{SUP}~sup"),
                                           channel=ch(SUP)))  # not the talk bridge: nothing
        assert not f.finished
        await f.on_event(ChannelLeftBridge(type="ChannelLeftBridge", bridge=Bridge(id="c1~talk"),
                                           channel=ch(SUP)))
    assert ari.calls[2:] == [("hangup", SUP)]  # no snoop, no bridge of its own to remove
    assert f.finished
    (audit,) = [e for e in logs if e["event"] == "audit.supervise"]
    assert (audit["mode"], audit["ended"], audit["call_id"]) == ("barge", "call_ended", "c1")


async def test_barge_supervisor_hangs_up_the_call_goes_on():
    ari = FakeAri()
    f = make(ari)
    await f.start(ch(SUP), "*171001")
    await f.on_event(ev(ChannelHangupRequest, SUP))
    assert ari.calls[2:] == [("hangup", SUP)]  # nothing of the call is touched
    assert f.finished


@pytest.mark.parametrize("allowed,code,reason,prompt", [
    (False, "*151001", "not_logged_in", "not-logged-in"),
    (True, "*159999", "unknown_agent", "invalid-number"),
    (True, "*15", "unknown_agent", "invalid-number"),
    (True, "*151010", "own_call", "invalid-number"),
    (True, "*151001", "no_live_call", "invalid-number"),
])
async def test_refused_a_prompt_then_hang_up_nothing_attached(allowed, code, reason, prompt):
    ari = FakeAri()
    f = make(ari, allowed=allowed, target=None if reason == "no_live_call" else TARGET)
    with capture_logs() as logs:
        await f.start(ch(SUP), code)
        assert ari.calls == [("answer", SUP),
                             ("play", SUP, [f"sound:callcenter/{prompt}"], {"playback_id": f"{SUP}~spb1"})]
        await f.on_event(PlaybackFinished(type="PlaybackFinished", playback=Playback(id=f"{SUP}~spb1")))
    assert ari.calls[-1] == ("hangup", SUP) and f.finished
    (refused,) = [e for e in logs if e["event"] == "supervise.refused"]
    assert refused["reason"] == reason and refused["rule"] == "R-SUPERVISE"
    assert not [e for e in logs if e["event"] in ("audit.supervise", "supervise.started")]


async def test_refused_and_the_phone_hangs_up_during_the_prompt():
    f = make(allowed=False)
    await f.start(ch(SUP), "*151001")
    await f.on_event(ev(ChannelHangupRequest, SUP))
    assert f.finished


async def test_the_call_ended_before_the_snoop_could_be_made():
    ari = FakeAri(fail={"snoop": AriNotFound(404, "POST", "/channels/c1~a1/snoop", "Channel not found")})
    f = make(ari)
    with capture_logs() as logs:
        await f.start(ch(SUP), "*151001")
    assert ari.names() == ["answer", "create_bridge", "snoop", "hangup", "destroy_bridge", "play"]
    assert [e["reason"] for e in logs if e["event"] == "supervise.refused"] == ["no_live_call"]


async def test_a_snoop_that_arrives_after_the_end_is_hung_up():
    ari = FakeAri()
    f = make(ari)
    await f.start(ch(SUP), "*151001")
    await f.on_event(ev(ChannelHangupRequest, SUP))
    ari.calls.clear()
    f.finished = False  # (the service would have dropped it; its orphan branch hangs the snoop up)
    await f.on_event(ev(StasisStart, f"{SUP}~snoop"))
    assert ari.calls == [("hangup", f"{SUP}~snoop")]


async def test_api_dial_then_attach_on_answer():
    ari = FakeAri()
    f = make(ari)
    with capture_logs() as logs:
        await f.dial("Local/77@e2e-sup-tone", supervisor="sam", agent_id="1001", mode="whisper")
        (name, endpoint, kw), = ari.calls
        assert (name, endpoint) == ("originate", "Local/77@e2e-sup-tone")
        assert kw["app"] == "callcenter" and kw["app_args"] == "supervise" and kw["channel_id"] == SUP
        await f.on_event(ev(StasisStart, SUP))  # answered
        assert [c[0] for c in ari.calls] == ["originate", "create_bridge", "snoop"]  # no answer(): it is up
        await f.on_event(ev(StasisStart, f"{SUP}~snoop"))
        await f.on_event(ev(ChannelHangupRequest, SUP))
    (audit,) = [e for e in logs if e["event"] == "audit.supervise"]
    assert (audit["supervisor"], audit["via"], audit["mode"], audit["agent"]) == (
        "sam", "api", "whisper", "1001")


async def test_api_dial_not_answered():
    ari = FakeAri()
    f = make(ari)
    with capture_logs() as logs:
        await f.dial("PJSIP/1010", supervisor="sam", agent_id="1001", mode="listen")
        await f.on_event(ChannelDestroyed(type="ChannelDestroyed", channel=ch(SUP), cause=19,
                                          cause_txt="No answer"))
    assert f.finished and ari.names() == ["originate"]
    assert [e["cause"] for e in logs if e["event"] == "supervise.unanswered"] == [19]
    assert not [e for e in logs if e["event"] == "audit.supervise"]


async def test_api_dial_rejects_an_unknown_mode():
    with pytest.raises(ValueError):
        await make().dial("PJSIP/1010", supervisor="sam", agent_id="1001", mode="spy")


async def test_lost_on_reconnect_still_writes_the_audit_line():
    f = make()
    await f.start(ch(SUP), "*171001")
    with capture_logs() as logs:
        f.lost("ari_reconnected")
        f.lost("ari_reconnected")
    assert f.finished
    assert [e["ended"] for e in logs if e["event"] == "audit.supervise"] == ["ari_reconnected"]


# -- config --------------------------------------------------------------------------------------------------
GOOD = {"ari": {"password": "x"}, "queues": {"support": {}}}


def test_config_role_and_keys():
    cfg = parse({**GOOD, "agents": {"1001": {"queues": ["support"]},
                                    "1010": {"interface": "PJSIP/1010", "role": "supervisor"}}})
    assert cfg.agents["1001"].role == "agent" and cfg.agents["1010"].role == "supervisor"
    assert (cfg.keys.listen, cfg.keys.whisper, cfg.keys.barge) == ("*15", "*16", "*17")
    cfg = parse({**GOOD, "keys": {"listen": "*81", "whisper": "*82", "barge": "*83"}})
    assert (cfg.keys.listen, cfg.keys.whisper, cfg.keys.barge) == ("*81", "*82", "*83")


def test_config_errors():
    with pytest.raises(ConfigError) as e:
        parse({**GOOD, "agents": {"1010": {"role": "boss"}},
               "keys": {"listen": "*13", "whisper": "*6", "barge": "*1x"}})
    assert e.value.errors == [
        "agents.1010.role: must be one of agent, supervisor, got 'boss'",
        "keys.barge: must be keys 0-9 * #, got '*1x'",
        "keys.pause: '*13' is a prefix of keys.listen ('*13'): they collide",
        "keys.listen: '*13' is a prefix of keys.pause ('*13'): they collide",
    ]
    with pytest.raises(ConfigError) as e:
        parse({**GOOD, "keys": {"whisper": "*1"}})
    assert "keys.whisper: '*1' is a prefix of keys.login ('*11'): they collide" in e.value.errors


# -- the HTTP route ------------------------------------------------------------------------------------------


class FakeController:
    def __init__(self) -> None:
        self.requests: list[tuple] = []

    def agents(self):
        return []

    def ari_connected(self):
        return True

    def phones(self):  # issue 17: POST /supervise calls only a supervisor's configured phone
        return api.PhoneBook(own={"1001": ("PJSIP/1001",), "1010": ("PJSIP/1010", "Local/1010@sup-desk")},
                             supervisor=frozenset({"PJSIP/1010", "Local/1010@sup-desk"}))

    async def supervise(self, agent_id, mode, interface, *, supervisor):
        if agent_id == "9999":
            raise UnknownAgent(agent_id)
        if agent_id == "1002":
            raise CommandRefused(f"agent {agent_id} is not on a live call")
        self.requests.append((agent_id, mode, interface, supervisor))
        return {"agent_id": agent_id, "mode": mode, "interface": interface, "call_id": "c1",
                "supervisor_channel": "sup-1"}


@pytest.fixture
def controller():
    return FakeController()


@pytest.fixture
async def client(controller):
    async with TestClient(TestServer(api.build_app(controller, SETTINGS))) as c:
        yield c


def auth(name):
    return {"Authorization": f"Bearer {TOKENS[name]}"}


BODY = {"agent_id": "1001", "mode": "listen", "interface": "PJSIP/1010"}


async def test_api_supervisor_and_ops_may(client, controller):
    for name in ("sam", "olga"):
        r = await client.post("/supervise", json=BODY, headers=auth(name))
        assert r.status == 202, await r.text()
        assert (await r.json())["supervisor_channel"] == "sup-1"
    assert controller.requests == [("1001", "listen", "PJSIP/1010", "sam"),
                                   ("1001", "listen", "PJSIP/1010", "olga")]


async def test_api_any_of_a_supervisors_configured_phones(client, controller):
    """issue 17: [agents.<id>] phones lists more phones of a supervisor; each may be called."""
    r = await client.post("/supervise", json={**BODY, "interface": "Local/1010@sup-desk"}, headers=auth("sam"))
    assert r.status == 202, await r.text()
    assert controller.requests == [("1001", "listen", "Local/1010@sup-desk", "sam")]


async def test_api_agents_and_strangers_may_not(client, controller):
    r = await client.post("/supervise", json=BODY, headers=auth("alice"))
    assert r.status == 403 and "may not supervise" in (await r.json())["error"]
    r = await client.post("/supervise", json=BODY)
    assert r.status == 401
    assert controller.requests == []


@pytest.mark.parametrize("body,message", [
    ({**BODY, "mode": "spy"}, "mode: must be one of listen, whisper, barge"),
    ({"agent_id": "1001", "mode": "listen"}, "interface: missing"),
    ({**BODY, "agent_id": "10a1"}, "agent_id: must be an agent ID"),
    ({**BODY, "interface": "1010"}, "interface: must be a dial string"),
    # issue 17: only a supervisor's configured phone, never a caller's dial string (on 09ab527: 202)
    ({**BODY, "interface": "PJSIP/1001"}, "interface: PJSIP/1001 is not a supervisor's phone"),
    ({**BODY, "interface": "Local/900861012345678@from-agents"}, "interface: Local/900861012345678@from-agents is not"),
    ({**BODY, "interface": "PJSIP/1010,endpoint:PJSIP/1001"}, "interface: must be a dial string"),
    ({**BODY, "interface": "PJSIP/1010\n"}, "interface: must be a dial string"),
    ({**BODY, "extra": 1}, "extra: unknown field"),
])
async def test_api_bad_bodies(client, controller, body, message):
    r = await client.post("/supervise", json=body, headers=auth("sam"))
    assert r.status == 400 and (await r.json())["error"].startswith(message), await r.text()
    assert controller.requests == []


async def test_api_unknown_agent_and_no_live_call(client):
    r = await client.post("/supervise", json={**BODY, "agent_id": "9999"}, headers=auth("sam"))
    assert r.status == 404
    r = await client.post("/supervise", json={**BODY, "agent_id": "1002"}, headers=auth("sam"))
    assert r.status == 409 and (await r.json())["error"] == "agent 1002 is not on a live call"


async def test_api_every_request_is_audited(client):
    with capture_logs() as logs:
        await client.post("/supervise", json={**BODY, "mode": "barge"}, headers=auth("olga"))
        await client.post("/supervise", json=BODY, headers=auth("alice"))
    audits = [e for e in logs if e["event"] == "audit.api"]
    assert [(a["token"], a["action"], a["status"]) for a in audits] == [("olga", "supervise", 202),
                                                                         ("alice", "supervise", 403)]
    assert (audits[0]["agent_id"], audits[0]["mode"], audits[0]["interface"]) == (
        "1001", "barge", "PJSIP/1010")


# -- the service's routing (app.py) --------------------------------------------------------------------------
@pytest.fixture
def service(tmp_path):
    from ari_app.app import Service
    from ari_app.core.agents import AgentState
    from ari_app.store import Store

    cfg = parse({**GOOD, "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]},
                                    "1010": {"interface": "PJSIP/1010", "role": "supervisor"}}})
    svc = Service(cfg, store=Store(tmp_path / "state.db"), ari=FakeAri(), clock=lambda: 1000.0)
    a = svc.acd.agents["1001"]
    a.state, a.call_id = AgentState.ON_CALL, "c1"
    svc.calls["c1"] = flow("c1", "c1~a1")
    return svc


def stasis(cid, *args, name="PJSIP/1010-00000001"):
    return StasisStart(type="StasisStart", channel=Channel(id=cid, name=name), args=args)


def log_in(svc, agent_id, interface):
    from ari_app.core import acd
    svc._apply(lambda: svc.acd.handle(acd.AgentCommand(agent_id=agent_id, command="login", interface=interface,
                                                       source="phone"), 1000.0))
    assert svc._agent_at(interface) == agent_id


async def test_service_refuses_the_supervisors_idle_desk_phone(service):
    """Issue 17: nobody logged in at PJSIP/1010 (supervisor 1010's configured phone) listened in."""
    await service._on_item(SUP, stasis(SUP, "feature", "*151001"))
    f = service.calls[SUP]
    assert (f.stage, f.supervisor, f.target) == ("closing", "", None)
    assert ("play", SUP, ["sound:callcenter/not-logged-in"], {"playback_id": f"{SUP}~spb1"}) in service.ari.calls
    assert not any(c[0] == "snoop" for c in service.ari.calls)


async def test_service_routes_the_three_codes_to_the_supervise_flow(service):
    log_in(service, "1010", "PJSIP/1010")  # *11 with the supervisor's PIN
    await service._on_item(SUP, stasis(SUP, "feature", "*161001"))
    f = service.calls[SUP]
    assert isinstance(f, SuperviseCall) and (f.mode, f.supervisor, f.target) == ("whisper", "1010", Target(
        "c1", "1001", "c1~a1", "c1~talk"))
    # the snoop's StasisStart reaches the same flow by its key
    assert service._key(stasis(f"{SUP}~snoop", "supervise-snoop", name="Snoop/c1~a1-00000001")) == SUP
    await service._on_item(SUP, stasis(f"{SUP}~snoop", "supervise-snoop", name="Snoop/c1~a1-00000001"))
    assert f.stage == "active"
    await service._on_item(SUP, ev(ChannelHangupRequest, SUP))
    assert SUP not in service.calls  # finished and dropped


async def test_service_other_feature_codes_still_go_to_the_feature_flow(service):
    from ari_app.flows.feature import FeatureCall
    await service._on_item("x1", stasis("x1", "feature", "*14"))
    assert isinstance(service.calls["x1"], FeatureCall)


async def test_service_an_ordinary_phone_is_refused(service):
    service.acd.agents["1001"].interface = "PJSIP/1001"
    await service._on_item(SUP, stasis(SUP, "feature", "*151001", name="PJSIP/1001-00000001"))
    assert service.calls[SUP].stage == "closing"
    play = ("play", SUP, ["sound:callcenter/login-failed"], {"playback_id": f"{SUP}~spb1"})
    assert play in service.ari.calls


async def test_service_orphans_a_supervisor_channel_and_a_snoop_whose_flow_is_gone(service):
    await service._on_item("sup-1", stasis("sup-1", "supervise", name="Local/1@x-00000001;1"))
    await service._on_item("sup-1", stasis("sup-1~snoop", "supervise-snoop", name="Snoop/c1~a1-00000002"))
    assert ("hangup", "sup-1") in service.ari.calls and ("hangup", "sup-1~snoop") in service.ari.calls
    assert "sup-1" not in service.calls


async def test_service_api_supervise(service):
    result = await service.supervise("1001", "barge", "PJSIP/1010", supervisor="sam")
    sup = result["supervisor_channel"]
    assert result == {"agent_id": "1001", "mode": "barge", "interface": "PJSIP/1010", "call_id": "c1",
                      "supervisor_channel": sup}
    assert isinstance(service.calls[sup], SuperviseCall)
    assert service.ari.calls[-1][0:2] == ("originate", "PJSIP/1010")
    with pytest.raises(UnknownAgent):
        await service.supervise("9999", "listen", "PJSIP/1010", supervisor="sam")
    service.acd.agents["1001"].call_id = None
    del service.calls["c1"]
    with pytest.raises(CommandRefused, match="not on a live call"):
        await service.supervise("1001", "listen", "PJSIP/1010", supervisor="sam")


async def test_service_api_supervise_originate_refused(service):
    from ari_app.ari import AriBadRequest
    service.ari.fail["originate"] = AriBadRequest(400, "POST", "/channels", "Invalid endpoint")
    with pytest.raises(CommandRefused, match="could not call PJSIP/1010"):
        await service.supervise("1001", "listen", "PJSIP/1010", supervisor="sam")
    assert [k for k in service.calls if k.startswith("sup-")] == []
