"""issue 17 item 5 against the real Asterisk: an agent's 9<number> is digits only.

[callcenter-outbound] used to run Dial(PJSIP/${EXTEN}@${CC_TRUNK},60) on whatever followed the 9
(``_X.`` matches any character): "9123&Local/e2e-probe@e2e-probe/n&PJSIP/1" made Dial call
Local/e2e-probe@e2e-probe as a second target. Now anything but 0-9 hears the invalid-number prompt and
nothing is dialled; a clean number still reaches Dial. The calls come from
tests/e2e/asterisk/extensions_e2e.conf [e2e-outbound-inject] (a Goto into [from-agents]).
"""

from __future__ import annotations

import asyncio


async def run(ari, watcher, exten: str) -> str:
    ch = await ari.post("/channels", endpoint=f"Local/{exten}@e2e-outbound-inject", context="e2e-tools",
                        extension="e2e-echo", priority=1)
    return ch["id"]


async def test_an_ampersand_in_an_agents_outside_number_adds_no_second_target(asterisk, ari, watcher):
    await run(ari, watcher, "inject")
    refused = await watcher.wait("ChannelDialplan", timeout=15, dialplan_app="Playback",
                                 dialplan_app_data="callcenter/invalid-number",
                                 channel__dialplan__context="callcenter-outbound")
    assert refused["channel"]["name"].startswith("Local/inject@e2e-outbound-inject")
    await asyncio.sleep(2)  # the old dialplan had created the probe's channel well within this
    probes = [e for e in watcher.find("ChannelCreated")
              if str(e["channel"]["name"]).startswith("Local/e2e-probe@e2e-probe")]
    dials = watcher.find("ChannelDialplan", dialplan_app="Dial", channel__dialplan__context="callcenter-outbound")
    assert probes == [] and dials == [], (probes, dials)

    await run(ari, watcher, "clean")  # the control: digits only still go out through the trunk
    dial = await watcher.wait("ChannelDialplan", timeout=15, dialplan_app="Dial",
                              channel__dialplan__context="callcenter-outbound")
    assert dial["dialplan_app_data"] == "PJSIP/13800000001@trunk,60"
    await ari.hangup_all()
