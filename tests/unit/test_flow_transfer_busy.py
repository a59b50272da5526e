"""R-XFER-CONFIRM in the flow (flows/transfer.py): a busy transfer target's reason is "busy", as Asterisk
says in the target leg's Dial event; the leg itself is destroyed with cause 0 ("Unknown"), which used to
be the reason logged (seen against the real Asterisk: tests/e2e/test_transfer.py busy target). Fake ARI."""

from test_flow_recording import CALL, T1, Harness

from ari_app.ari import Channel, ChannelDestroyed, ChannelHangupRequest, Dial
from ari_app.core.transfer import DialTarget, HoldForTransfer, TransferUpdate, XferEvent

X = f"{CALL}~x1"


async def dialled(h: Harness) -> None:
    await h.start()
    await h.connect()
    await h.do(HoldForTransfer(call_id=CALL, transfer_id=X, prompts=("xfer-please-hold",)),
               DialTarget(call_id=CALL, transfer_id=X, interface="Local/3004@e2e-busy", timeout_s=4))


def failures(h: Harness) -> list[TransferUpdate]:
    return [r for r in h.reported if isinstance(r, TransferUpdate) and r.event == XferEvent.TARGET_FAILED]


def dial(status: str, peer: str = T1) -> Dial:
    return Dial(type="Dial", peer=Channel(id=peer), dialstatus=status)


async def test_a_busy_target_fails_with_reason_busy_not_the_legs_unknown_cause():
    h = Harness(recording=False)
    await dialled(h)
    await h.ev(dial(""), dial("BUSY"),
               ChannelHangupRequest(type="ChannelHangupRequest", channel=Channel(id=T1), cause=0),
               ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=T1), cause=0, cause_txt="Unknown"))
    [failed] = failures(h)
    assert failed.reason == "busy"


async def test_without_a_dial_status_the_cause_is_the_reason():
    h = Harness(recording=False)
    await dialled(h)
    await h.ev(dial("RINGING"), dial("BUSY", peer="someone-else"),
               ChannelDestroyed(type="ChannelDestroyed", channel=Channel(id=T1), cause=21, cause_txt="Call Rejected"))
    [failed] = failures(h)
    assert failed.reason == "Call Rejected"
