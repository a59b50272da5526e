"""R-XFER-CONSENT in the flow (flows/transfer.py): while the transfer target rings, the consulting agent hears
ringback (Asterisk's China ring tone) on its own leg, not silence; it stops when the target answers or the
transfer ends. And the caller hears the core's prompts as given. Fake ARI, no Asterisk, no sleeps."""

from test_flow_recording import A1, CALL, T1, Harness, stasis

from ari_app.ari import AriUnavailable
from ari_app.core.transfer import Consult, DialTarget, EndTransfer, HoldForTransfer
from ari_app.flows.transfer import RINGBACK

X = f"{CALL}~x1"


async def ringing(h: Harness, prompts=("xfer-to", "agent-name-3002", "please-wait")):
    await h.start()
    await h.connect()
    await h.do(HoldForTransfer(call_id=CALL, transfer_id=X, prompts=prompts),
               DialTarget(call_id=CALL, transfer_id=X, interface="Local/3002@x", timeout_s=4))


def plays(h: Harness):
    return [(c[1][0], list(c[1][1])) for c in h.ari.named("play")]


async def test_the_agent_hears_ringback_while_the_target_rings_until_it_answers():
    h = Harness(recording=False)
    await ringing(h)
    assert (CALL, ["sound:callcenter/xfer-to", "sound:callcenter/agent-name-3002", "sound:callcenter/please-wait"]
            ) in plays(h)  # R-XFER-CONSENT: where to, as the core decided
    assert plays(h)[-1] == (A1, [RINGBACK])
    ringback = h.playback("xfer-ringback")
    assert h.ari.named("stop_playback") == []
    await h.ev(stasis(T1, "target", CALL))
    await h.do(Consult(call_id=CALL, transfer_id=X))
    assert h.ari.named("stop_playback") == [("stop_playback", (ringback,), {})]
    # stopped once: the transfer's end stops nothing more
    await h.do(EndTransfer(call_id=CALL, transfer_id=X, outcome="completed", prompts=("xfer-sorry-wait",)))
    assert len(h.ari.named("stop_playback")) == 1


async def test_ringback_stops_when_the_target_fails():
    h = Harness(recording=False)
    await ringing(h, prompts=("xfer-please-hold",))
    ringback = h.playback("xfer-ringback")
    await h.do(EndTransfer(call_id=CALL, transfer_id=X, outcome="target_failed", prompts=("hold-sorry",)))
    assert h.ari.named("stop_playback") == [("stop_playback", (ringback,), {})]


async def test_no_ringback_when_the_target_cannot_be_dialled():
    h = Harness(recording=False)
    h.ari.fail["originate"] = AriUnavailable("POST", "/channels", "timeout")
    await ringing(h)
    assert RINGBACK not in [m for _, media in plays(h) for m in media]


def test_ringback_is_china_s_ring_tone_from_the_pbx_s_indications():
    from pathlib import Path
    conf = (Path(__file__).resolve().parents[2] / "asterisk-config" / "indications.conf").read_text()
    assert RINGBACK == "tone:ring;tonezone=cn" and "\n[cn]\n" in conf and "\nring = 450/1000,0/4000\n" in conf
