"""FeatureCall (flows/feature.py, R-LOGIN, R-BUSY): codes and keys found wrong by fuzzing
(tests/unit/test_fuzz_feature_codes.py), with a fake ARI client."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from ari_app.ari import Channel, ChannelDtmfReceived
from ari_app.config import KeyMap
from ari_app.core import acd
from ari_app.flows.feature import FeatureCall

CALL = "1700000000.7"


class FakeAri:
    def __init__(self) -> None:
        self.played: list[list[str]] = []

    async def answer(self, channel_id: str) -> None:
        pass

    async def play(self, channel_id: str, media: list[str], *, playback_id: str) -> None:
        self.played.append(media)

    async def hangup(self, channel_id: str) -> None:
        pass


def flow(agent_at: str | None = "1001") -> tuple[FeatureCall, FakeAri, list[Any]]:
    ari, reports = FakeAri(), []
    f = FeatureCall(
        CALL,
        ari=ari,
        report=reports.append,
        keys=KeyMap(),
        pin_hashes={},
        agent_at=lambda iface: agent_at,
        schedule=lambda delay, timer: None,
        digit_timeout_s=8.0,
        max_attempts=3,
    )
    return f, ari, reports


async def test_pause_with_a_reason_key_that_is_not_configured_is_an_unknown_code():
    """*135 (reasons are 1-4) paused the agent with "break" without a word; now it is refused like any
    code not in the key map."""
    f, ari, reports = flow()
    with capture_logs() as logs:
        await f.start(Channel(id=CALL, name="PJSIP/1001-0000000a"), "*135")
    assert reports == []
    assert ari.played == [["sound:callcenter/invalid-number"]]
    assert [e for e in logs if e["event"] == "feature.unknown_code"][0]["code"] == "*135"


async def test_pause_alone_and_with_a_configured_reason():
    for code, reason in (("*13", "break"), ("*132", "lunch")):
        f, _, reports = flow()
        await f.start(Channel(id=CALL, name="PJSIP/1001-0000000a"), code)
        assert reports == [
            acd.AgentCommand(agent_id="1001", command="pause", reason=reason, source="phone", request_id=CALL)
        ]


async def test_only_single_keys_0_to_9_make_the_agent_id():
    """A digit text of "000…0" (30 zeros) went in whole past the 12-digit limit, and "²" counted as a
    digit (str.isdigit): the agent ID sent to the core was not what a phone's keys can type."""
    f, _, reports = flow(agent_at=None)
    await f.start(Channel(id=CALL, name="PJSIP/1001-0000000a"), "*11")
    for digit in ("0" * 30, "²", "١", "12", "", "1", "#"):
        await f.on_event(
            ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=CALL), digit=digit)
        )
    assert f.agent_id == "1" and f.stage == "pin"


async def test_log_in_reports_the_digits_entered_and_whether_the_pin_is_right():
    from ari_app.core.login import hash_pin

    for pin, ok in (("654321", True), ("654322", False)):
        f, ari, reports = flow(agent_at=None)
        f.pin_hashes = {"1001": hash_pin("654321", salt=b"0123456789abcdef", iterations=1000)}
        await f.start(Channel(id=CALL, name="PJSIP/1001-0000000a"), "*11")
        for digit in "1001#" + pin + "#":
            await f.on_event(
                ChannelDtmfReceived(type="ChannelDtmfReceived", channel=Channel(id=CALL), digit=digit)
            )
        assert reports == [
            acd.LoginAttempt(agent_id="1001", interface="PJSIP/1001", pin_ok=ok, request_id=CALL)
        ]
        assert ari.played == [["sound:callcenter/login-enter-id"], ["sound:callcenter/login-enter-pin"]]
