"""R-SILENT started by talk detection and stopped by the caller's speech (issue 18 item 5), with the caller's
audio from SIPp. Queue ``silentdetect`` (tests/e2e/config.toml): no greeting (bridged at the agent's answer),
talk detection 2 s after the bridge, the hotline's script with 2 s waits; agent 3103 answers at once and says
nothing. Judged from Asterisk's own events (ChannelTalkingStarted, PlaybackStarted/Finished, ChannelDestroyed).

Seed (hotline): "遇到无声电话时：'您好！请问有什么可以帮助您？'稍停5秒还是无声，'您好，请问有什么可以帮助您？'
稍停5秒，对方无反映，则说：'对不起，您的电话没有声音，请您换一部电话再次打来，好吗？再见！'再稍停5秒，挂机。"
"""

from __future__ import annotations

import struct
from pathlib import Path

from conftest import ari_time
from sipp import SippCaller

MEDIA = "sound:callcenter/"
QUEUE = "silentdetect"
DETECT_S, WAIT_S = 2, 2  # [queues.silentdetect] silent_detect_s, silent_wait_s
ALAW_SILENCE = 0xD5  # A-law for a zero sample
_RTP_PAYLOAD_AT = 14 + 20 + 8 + 12  # ethernet, IPv4, UDP and RTP headers of sipp.write_rtp_pcap's frames


def quiet_until(pcap: Path, speech_at_s: float | None) -> None:
    """Rewrite SippCaller's rtp.pcap (20 ms PCMA frames of speech) so that every frame before
    ``speech_at_s`` (all of them: None) carries digital silence; packets and timing stay as they were."""
    data = bytearray(pcap.read_bytes())
    off, n = 24, 0
    while off + 16 <= len(data):
        (incl,) = struct.unpack("<I", data[off + 8:off + 12])
        end = off + 16 + incl
        if speech_at_s is None or n * 0.020 < speech_at_s:
            start = off + 16 + _RTP_PAYLOAD_AT
            data[start:end] = bytes([ALAW_SILENCE]) * (end - start)
        off, n = end, n + 1
    pcap.write_bytes(bytes(data))


def caller(*, duration_s: float | None, speech_at_s: float | None) -> SippCaller:
    c = SippCaller("caller2", "dev-caller2", f"e2e-queue-{QUEUE}", duration_s=duration_s, audio_s=60,
                   timeout_s=80)
    quiet_until(c.proc.pcap, speech_at_s)
    return c


async def test_r_silent_a_silent_caller_gets_the_hotline_script_by_talk_detection_and_is_hung_up(
        service, ari, watcher):
    async with caller(duration_s=None, speech_at_s=None) as c:  # silence all along; waits for Asterisk's BYE
        answered = await service.wait_for("call.answered", queue=QUEUE, agent="3103", timeout=20)
        call_id = answered["call_id"]
        bridge = f"bridge:{call_id}~talk"
        entered = await watcher.wait("ChannelEnteredBridge", channel__id=call_id, bridge__id=f"{call_id}~talk",
                                     timeout=10)
        hello = await watcher.wait("PlaybackStarted", playback__target_uri=bridge,
                                   playback__media_uri=MEDIA + "silent-hello", timeout=10)
        assert abs(ari_time(hello) - ari_time(entered) - DETECT_S) <= 1, ari_time(hello) - ari_time(entered)
        started = await service.wait_for("call.silent_script", call_id=call_id, timeout=5)
        assert started["source"] == "talk_detect" and started["rule"] == "R-SILENT"
        # the hotline's script: hello, wait, hello again, wait, the farewell, wait, hang up
        prompts = []
        for media in ("silent-hello", "silent-hello", "silent-no-sound"):
            seen = [p["playback"]["id"] for p in prompts]
            started_pb = await watcher.wait("PlaybackStarted", playback__target_uri=bridge,
                                            playback__media_uri=MEDIA + media, timeout=20,
                                            playback__id=lambda i, s=seen: i not in s)
            done = await watcher.wait("PlaybackFinished", playback__id=started_pb["playback"]["id"], timeout=15)
            assert done["playback"]["state"] == "done"
            prompts.append(started_pb)
            if len(prompts) > 1:  # each prompt WAIT_S after the one before it finished
                before = watcher.find("PlaybackFinished", playback__id=prompts[-2]["playback"]["id"])[0]
                assert abs(ari_time(started_pb) - ari_time(before) - WAIT_S) <= 1
        gone = await watcher.wait("ChannelDestroyed", channel__id=call_id, timeout=10)
        assert abs(ari_time(gone) - ari_time(done) - WAIT_S) <= 1
        assert watcher.find("ChannelTalkingStarted", channel__id=call_id) == []  # the caller never spoke
        assert watcher.find("PlaybackStarted", playback__target_uri=bridge,
                            playback__media_uri=MEDIA + "silent-bye") == []  # the hotline's, not the standard
        rc = await c.wait(timeout=20)
        assert rc == 0, c.report()  # the BYE came from Asterisk
    done_call = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done_call["hung_up_first"] == "system"
    assert (await service.wait_for("call.silent", call_id=call_id, timeout=5))["rule"] == "R-SILENT"


async def test_r_silent_the_caller_speaking_stops_the_script_and_nobody_hangs_up(service, ari, watcher):
    # speech from 4 s after the answer: the caller is bridged with the agent at once (no greeting; measured
    # 0.01 s), the script starts 2 s later, and the first "您好…" lasts 3.8 s: the caller speaks into it
    async with caller(duration_s=24, speech_at_s=4) as c:
        answered = await service.wait_for("call.answered", queue=QUEUE, agent="3103", timeout=20)
        call_id = answered["call_id"]
        bridge = f"bridge:{call_id}~talk"
        hello = await watcher.wait("PlaybackStarted", playback__target_uri=bridge,
                                   playback__media_uri=MEDIA + "silent-hello", timeout=10)
        talking = await watcher.wait("ChannelTalkingStarted", channel__id=call_id, timeout=15)
        assert ari_time(talking) > ari_time(hello)
        stopped = await service.wait_for("call.silent_stopped", call_id=call_id, timeout=5)
        assert stopped["rule"] == "R-SILENT" and stopped["step"] == 1
        hello_done = await watcher.wait("PlaybackFinished", playback__id=hello["playback"]["id"], timeout=10)
        # spoke into the prompt: it was cut short at once (it lasts 3.8 s when played to its end)
        assert 0 <= ari_time(hello_done) - ari_time(talking) < 1.0, (ari_time(talking) - ari_time(hello),
                                                                     ari_time(hello_done) - ari_time(hello))
        assert ari_time(hello_done) - ari_time(hello) < 3.3
        rc = await c.wait(timeout=40)  # the caller hangs up at 24 s: the system never did
        assert rc == 0, c.report()
    done_call = await service.wait_for("call.completed", call_id=call_id, timeout=10)
    assert done_call["hung_up_first"] == "caller"
    after = [e for e in watcher.find("PlaybackStarted", playback__target_uri=bridge)
             if ari_time(e) > ari_time(hello)]
    assert after == []  # no second "您好…", no farewell
    assert service.events("call.silent", call_id=call_id) == []
