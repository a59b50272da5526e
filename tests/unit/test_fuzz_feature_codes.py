"""Fuzzing the feature codes dialled from an agent's phone (``flows.feature.FeatureCall``, R-LOGIN,
R-BUSY) and the supervise codes (``flows.supervise.parse_code``, R-SUPERVISE): random dialled codes,
random DTMF (0-9 * # A-D, and the odd text a malformed event may carry as its digit), digit time-outs
current and stale, hang-ups, ARI failures and the core's answers, interleaved at random.

Documented outcomes of a dialled code: the log-in code asks for the agent ID; log out, resume and
pause (``*13`` or ``*13<reason key>``) report a command for the phone's agent, or say "not logged in";
anything else is ``feature.unknown_code`` and "invalid number". While reading the agent ID and PIN,
only the digits 0-9 count (at most 12), ``#`` or the time-out ends the entry, and a log-in attempt
goes to the core with the digits entered. Settings: the ``ci`` profile (tests/unit/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from ari_app.ari import (
    AriError,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Playback,
    PlaybackFinished,
    StasisEnd,
)
from ari_app.config import KeyMap
from ari_app.core import acd
from ari_app.core.login import hash_pin
from ari_app.flows.feature import FeatureCall, FlowTimer, interface_of
from ari_app.flows.supervise import parse_code

KEYS = KeyMap()
CALL = "1700000000.7"
AGENT, PIN = "1001", "654321"
PIN_HASHES = {AGENT: hash_pin(PIN, salt=b"fuzz-salt-16byte", iterations=1000)}  # few rounds: a fast test
STAGES = {"start", "id", "pin", "waiting", "closing"}
FEATURE_PROMPTS = {
    "login-enter-id",
    "login-enter-pin",
    "login-ok",
    "login-failed",
    "login-locked",
    "logout-ok",
    "pause-ok",
    "resume-ok",
    "not-logged-in",
    "invalid-number",
}
DTMF = "0123456789*#ABCD"


class FakeAri:
    """What FeatureCall uses of AriClient; fails on demand like an unreachable Asterisk."""

    def __init__(self, fail_answer: bool, fail_play: bool) -> None:
        self.fail_answer, self.fail_play = fail_answer, fail_play
        self.played: list[list[str]] = []
        self.hangups = 0

    async def answer(self, channel_id: str) -> None:
        if self.fail_answer:
            raise AriError("answer: channel gone")

    async def play(self, channel_id: str, media: list[str], *, playback_id: str) -> None:
        assert channel_id == CALL and playback_id.startswith(CALL + "~fpb")
        self.played.append(media)
        if self.fail_play:
            raise AriError("play: channel gone")

    async def hangup(self, channel_id: str) -> None:
        self.hangups += 1


codes = st.one_of(
    st.just(KEYS.login),  # the log-in dialogue has the most to get wrong: drawn more often
    st.just(KEYS.login),
    st.sampled_from(
        [
            KEYS.login,
            KEYS.logout,
            KEYS.pause,
            KEYS.resume,
            "*131",
            "*132",
            "*134",
            "*135",
            "*139",
            "*1300",
            "*13*",
            "*11#",
            "*111",
            "*1",
            "*",
            "",
            "600",
            "*151001",
            "*13²",
            "*13١",
        ]
    ),
    st.text(alphabet=DTMF, max_size=8).map(lambda t: "*" + t),
    st.text(max_size=8),
)
odd_digits = st.sampled_from(["", "12", "²", "١", "x", " ", "#1", "1#", "0" * 30])
channel_names = st.one_of(
    st.sampled_from(
        [
            "PJSIP/1001-0000000a",
            "PJSIP/1001-0000000a;2",
            "Local/x@y-00000001;1",
            "PJSIP/sip-phone-1-0000abcd",
            "",
        ]
    ),
    st.text(max_size=30),
)


def steps():
    """One thing happening to the call: a key, a time-out, a playback ending, a hang-up, or the core
    answering (only what the flow asked, as the core does, but at any later time)."""
    return st.one_of(
        st.tuples(st.just("dtmf"), st.sampled_from(DTMF)),
        st.tuples(st.just("dtmf"), st.sampled_from(DTMF)),
        st.tuples(
            st.just("keys"),
            st.sampled_from([AGENT + "#", PIN + "#", "1001", "654321", "9999#", "#", "1234567890123#"]),
        ),
        st.tuples(st.just("dtmf"), odd_digits),
        st.tuples(st.just("timer"), st.sampled_from(["current", "stale"])),
        st.tuples(st.just("playback_finished"), st.sampled_from(["closing", "other"])),
        st.tuples(st.just("answer"), st.sampled_from(["ok", "failed", "locked", "still_locked", "phone_locked", "phone_still_locked", "refused"])),
        st.tuples(st.just("hangup"), st.sampled_from(["request", "destroyed", "stasis_end"])),
    )


def _channel(name: str = "PJSIP/1001-0000000a") -> Channel:
    return Channel(id=CALL, name=name)


async def _drive(
    code: str,
    name: str,
    agent_at: str | None,
    fail_answer: bool,
    fail_play: bool,
    plan: list[tuple[str, str]],
) -> tuple[FeatureCall, FakeAri, list[Any], list[float]]:
    ari = FakeAri(fail_answer, fail_play)
    reports: list[Any] = []
    delays: list[float] = []
    flow = FeatureCall(
        CALL,
        ari=ari,
        report=reports.append,
        keys=KEYS,
        pin_hashes=PIN_HASHES,
        agent_at=lambda iface: agent_at,
        schedule=lambda delay, timer: delays.append(delay),
        digit_timeout_s=8.0,
        max_attempts=3,
    )
    await flow.start(_channel(name), code)
    check(flow, ari, reports)
    answered = 0  # reports the core has answered
    for kind, value in plan:
        match kind:
            case "dtmf":
                await flow.on_event(
                    ChannelDtmfReceived(type="ChannelDtmfReceived", channel=_channel(), digit=value)
                )
            case "keys":
                for d in value:
                    await flow.on_event(
                        ChannelDtmfReceived(type="ChannelDtmfReceived", channel=_channel(), digit=d)
                    )
            case "timer":
                token = flow._timer if value == "current" else flow._timer - 1
                await flow.on_event(FlowTimer(CALL, token))
            case "playback_finished":
                pb = flow._closing_playback if value == "closing" else CALL + "~other"
                await flow.on_event(
                    PlaybackFinished(type="PlaybackFinished", playback=Playback(id=pb or "none"))
                )
            case "answer" if answered < len(reports):
                asked = reports[answered]
                answered += 1
                if isinstance(asked, acd.LoginAttempt):
                    outcome = (
                        ("ok" if asked.pin_ok else "failed")
                        if value in ("ok", "failed", "refused")
                        else value
                    )
                    await flow.do(acd.LoginResult(request_id=CALL, agent_id=asked.agent_id, outcome=outcome))
                else:
                    await flow.do(
                        acd.CommandResult(
                            request_id=CALL,
                            agent_id=asked.agent_id,
                            ok=value != "refused",
                            message="" if value != "refused" else "agent is not paused",
                        )
                    )
            case "hangup":
                cls = {
                    "request": ChannelHangupRequest,
                    "destroyed": ChannelDestroyed,
                    "stasis_end": StasisEnd,
                }[value]
                await flow.on_event(cls(type=cls.__name__, channel=_channel()))
                assert flow.finished
        check(flow, ari, reports)
    return flow, ari, reports, delays


def check(flow: FeatureCall, ari: FakeAri, reports: list[Any]) -> None:
    """What must hold after every step."""
    assert flow.stage in STAGES
    assert re.fullmatch(r"[0-9]*", flow.digits) and len(flow.digits) <= FeatureCall.MAX_DIGITS, flow.digits
    for media in ari.played:
        for m in media:
            assert m.removeprefix("sound:callcenter/") in FEATURE_PROMPTS, m
    for r in reports:
        assert r.request_id == CALL
        if isinstance(r, acd.LoginAttempt):
            assert re.fullmatch(r"[0-9]{1,12}", r.agent_id), r.agent_id  # what the keys could type
            assert r.interface == flow.interface
            assert not r.pin_ok or r.agent_id == AGENT  # only a stored hash can match
        else:
            assert isinstance(r, acd.AgentCommand) and r.source == "phone" and r.agent_id == AGENT
            assert r.command in ("logout", "pause", "resume")
    assert len([r for r in reports if isinstance(r, acd.AgentCommand)]) <= 1


@settings(max_examples=settings.default.max_examples * 3 // 4)
@given(
    codes,
    channel_names,
    st.sampled_from([AGENT, None]),
    st.booleans(),
    st.booleans(),
    st.lists(steps(), max_size=25),
)
@example(
    "*11",
    "PJSIP/1001-0000000a",
    None,
    False,
    False,
    [("keys", "1001#"), ("keys", "654321#"), ("answer", "ok"), ("playback_finished", "closing")],
)
@example("*11", "PJSIP/1001-0000000a", None, False, False, [("dtmf", "12")] * 7)
@example("*11", "PJSIP/1001-0000000a", None, False, False, [("dtmf", "²"), ("dtmf", "#")])
def test_any_code_and_keys_give_only_documented_outcomes(code, name, agent_at, fail_answer, fail_play, plan):
    with capture_logs() as logs:
        flow, ari, reports, delays = asyncio.run(_drive(code, name, agent_at, fail_answer, fail_play, plan))
    assert flow.interface == interface_of(name)
    assert all(d == 8.0 for d in delays)
    events = [e["event"] for e in logs]
    first = ari.played[0] if ari.played else []
    if fail_answer:  # nothing more can be done for a channel that cannot be answered
        assert events[:2] == ["feature.dialled", "feature.answer_failed"] and flow.finished
        assert not ari.played and not reports
        return
    if code == KEYS.login:
        assert first == ["sound:callcenter/login-enter-id"]
    elif code in (KEYS.logout, KEYS.resume) or (
        code.startswith(KEYS.pause) and (code == KEYS.pause or code[len(KEYS.pause) :] in KEYS.pause_reasons)
    ):
        if agent_at is None:
            assert first == ["sound:callcenter/not-logged-in"]
        else:
            command = reports[0]
            assert isinstance(command, acd.AgentCommand)
            want = "logout" if code == KEYS.logout else "resume" if code == KEYS.resume else "pause"
            assert command.command == want
            if want == "pause":  # *13 alone is a break; *13<n> the configured reason n
                assert command.reason == KEYS.pause_reasons.get(code[len(KEYS.pause) :], "break")
    else:  # not in the key map: said so, and logged
        assert "feature.unknown_code" in events and first == ["sound:callcenter/invalid-number"]
        assert not reports
    for attempt in [r for r in reports if isinstance(r, acd.LoginAttempt)]:
        if attempt.pin_ok:
            assert attempt.agent_id == AGENT


@given(st.text(alphabet=DTMF, max_size=12) | st.text(max_size=12))
@example("*15")
@example("*151001")
def test_supervise_codes_split_into_mode_and_agent(code):
    got = parse_code(code, KEYS)
    prefixes = {"listen": KEYS.listen, "whisper": KEYS.whisper, "barge": KEYS.barge}
    if got is None:
        assert not any(code.startswith(p) for p in prefixes.values())
    else:
        mode, agent = got
        assert code == prefixes[mode] + agent
