"""issue 17, item 1: every value AriClient puts in a URL is quoted; a "," can never name a second target.

Asterisk URL-decodes a query value and then splits allowMultiple parameters (eventSource, channel,
media) on ",": on 09ab527 the values went out with "," (and ":") unquoted, so an interface like
``PJSIP/x,endpoint:PJSIP/1002`` subscribed the app to a second, chosen event source.
"""

from __future__ import annotations

import pytest
from fake_ari import FakeAri

from ari_app.ari import AriBadRequest, AriClient, AriConfig


def config(url: str) -> AriConfig:
    return AriConfig(url=url, username="cc", password="s3cret", app="callcenter")


async def test_a_list_element_with_a_comma_is_refused_before_sending(ari_server: FakeAri) -> None:
    async with AriClient(config(ari_server.url)) as c:
        with pytest.raises(AriBadRequest) as e:
            await c.request("POST", "/applications/callcenter/subscription",
                            params={"eventSource": ["deviceState:PJSIP/x,endpoint:PJSIP/1002"]})
        with pytest.raises(AriBadRequest):  # a plain string for an allowMultiple parameter too
            await c.request("POST", "/bridges/b1/addChannel", params={"channel": "c1,c2"})
        with pytest.raises(AriBadRequest):  # media too: "sound:a,sound:b" would play a second file
            await c.play("c1", "sound:a,sound:b")
    assert "holds ','" in e.value.message
    assert ari_server.requests == []  # nothing reached Asterisk


@pytest.mark.parametrize("value", ["a&b=c", "x y", "100%", "#1", "a/b", "é", "a?b", "a,b"])
async def test_every_value_is_quoted_and_arrives_whole(ari_server: FakeAri, value: str) -> None:
    ari_server.reply(200, {"ok": True})
    ari_server.reply(200, {"ok": True})
    async with AriClient(config(ari_server.url)) as c:
        await c.request("POST", "/channels/c1/variable", params={"variable": "CC_X", "value": value})
        await c.request("POST", "/applications/callcenter/subscription",
                        params={"eventSource": ["deviceState:PJSIP/1001", f"deviceState:{value.replace(',', '')}"]})
    scalar, listed = ari_server.requests
    assert scalar.query == {"variable": "CC_X", "value": value}  # one parameter, not split on & or =
    raw_query = scalar.raw_path.split("?", 1)[1]
    assert "," not in raw_query and ":" not in raw_query and " " not in raw_query
    # a list: its elements joined by the one literal "," Asterisk splits on
    assert listed.query["eventSource"].split(",") == ["deviceState:PJSIP/1001",
                                                      f"deviceState:{value.replace(',', '')}"]
    assert listed.raw_path.split("?", 1)[1].count(",") == 1


async def test_the_transfer_progress_path_quotes_the_channel_id():
    """A sibling (issue 17): flows/transfer.py put the agent leg's channel ID in the path unquoted."""
    from types import SimpleNamespace

    from ari_app.flows.transfer import TransferFlow

    sent: list[tuple] = []

    async def request(method, path, **kwargs):
        sent.append((method, path, kwargs))

    flow = SimpleNamespace(xfer_refer=True, connected_leg="c1/../x?y", ari=SimpleNamespace(request=request))
    await TransferFlow._progress(flow, "channel_progress")  # type: ignore[arg-type]
    assert sent == [("POST", "/channels/c1%2F..%2Fx%3Fy/transfer_progress", {"params": {"states": "channel_progress"}})]
