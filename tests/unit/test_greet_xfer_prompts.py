"""What the caller hears from the agent side, in order (issue 18 items 2 and 3): R-GREET, R-XFER-CONSENT,
R-XFER-NAME. The ACD core with a fake clock; every sequence is a tuple of prompt ids."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ari_app.core import announce, prompts
from ari_app.core.acd import Acd, AgentCommand, CallArrived, CallBridged, Connect, OfferAnswered, QueueRules
from ari_app.core.agents import Agent
from ari_app.core.hours import Calendar, parse_window
from ari_app.core.transfer import (
    EndTransfer, HoldForTransfer, TransferCommand, TransferRequest, TransferUpdate, XferEvent,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 15, 0, tzinfo=SH).timestamp()  # Wednesday 15:00 in Shanghai: 下午
CAL = Calendar(timezone="Asia/Shanghai", windows=(parse_window("mon-sun 00:00-23:59"),))
ID_1024 = ("agent-id-prefix", "digit-1", "digit-0", "digit-2", "digit-4")


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def make(*, site_prompts=(), **rules):
    acd = Acd([QueueRules(name="support", calendar=CAL, **rules), QueueRules(name="sales"),
               QueueRules(name="billing")],
              [Agent(agent_id="1024", interface="PJSIP/1024", queues=("support",)),
               Agent(agent_id="1002", interface="PJSIP/1002", queues=("other",)),
               Agent(agent_id="1003", interface="PJSIP/1003", queues=("other",))],
              site_prompts=site_prompts)
    for a in ("1024", "1002", "1003"):
        acd.handle(AgentCommand(agent_id=a, command="login"), T0 - 100)
    return acd


def answer(acd):
    acd.handle(CallArrived(call_id="c1", queue="support", entered_at=T0), T0)
    [c] = of(acd.handle(OfferAnswered(call_id="c1", agent_id="1024"), T0 + 2), Connect)
    return c


# -- R-GREET ----------------------------------------------------------------------------------
def test_r_greet_full_greeting_in_the_seed_order():
    # seed: 接通电话时,应说:"您好,中国××(工号)为您服务!"
    c = answer(make())
    assert c.greeting == ("hello", "org-callcenter", *ID_1024, "agent-id-suffix")


def test_r_greet_the_organisation_is_the_queue_s():
    c = answer(make(greeting_org="org-hotline", site_prompts={"org-hotline"}))
    assert c.greeting == ("hello", "org-hotline", *ID_1024, "agent-id-suffix")


def test_r_greet_an_organisation_prompt_asterisk_lacks_falls_back_to_the_built_in_one():
    # configured, but not installed on the PBX (flows/site_prompts.py found it missing): never a gap
    c = answer(make(greeting_org="org-hotline", site_prompts=()))
    assert c.greeting == ("hello", "org-callcenter", *ID_1024, "agent-id-suffix")


def test_r_greet_time_of_day_option_takes_the_place_of_hello():
    # seed: "早上/中午/下午好,欢迎致电斐贝女性网,请问有什么可以帮到您?"
    c = answer(make(greeting_time_of_day=True))
    assert c.greeting == ("greet-afternoon", "org-callcenter", *ID_1024, "agent-id-suffix")


def test_r_greet_off_plays_nothing():
    c = answer(make(greeting=False))
    assert (c.greeting, c.whisper) == ((), ())


def test_r_greet_defaults_live_in_the_core_only():
    rules = QueueRules(name="q")
    assert (rules.greeting_org, rules.greeting_time_of_day) == ("org-callcenter", False)
    assert rules.greeting_org in prompts.PROMPT_IDS


def test_whisper_uses_a_site_queue_name_when_the_manifest_has_none():
    acd = Acd([QueueRules(name="billing", calendar=CAL)],
              [Agent(agent_id="1024", interface="PJSIP/1024", queues=("billing",))], site_prompts={"queue-billing"})
    acd.handle(AgentCommand(agent_id="1024", command="login"), T0 - 100)
    acd.handle(CallArrived(call_id="c1", queue="billing", entered_at=T0), T0)
    [c] = of(acd.handle(OfferAnswered(call_id="c1", agent_id="1024"), T0 + 2), Connect)
    assert c.whisper == ("queue-billing",)
    assert announce.queue_name("billing") is None  # not built in: only the site's prompt names it
    assert announce.queue_name("sales") == "queue-sales"  # built in (prompts/manifest.toml)


# -- R-XFER-CONSENT, R-XFER-NAME ---------------------------------------------------------------
def connected(acd):
    answer(acd)
    acd.handle(CallBridged(call_id="c1", agent_id="1024"), T0 + 3)


def hold_prompts(acd, target):
    out = acd.handle(TransferRequest(call_id="c1", target=target, request_id="r1"), T0 + 10)
    [hold] = of(out, HoldForTransfer)
    return hold.prompts


@pytest.mark.parametrize(("target", "site", "expected"), [
    # seed: 转接客户的电话时,应向客户解释为什么电话需要转接,并要取得客户的同意
    ("queue:sales", (), ("xfer-to", "queue-sales", "please-wait")),
    ("queue:billing", ("queue-billing",), ("xfer-to", "queue-billing", "please-wait")),
    ("queue:billing", (), ("xfer-please-hold",)),  # no name prompt for that queue
    ("1002", ("agent-name-1002",), ("xfer-to", "agent-name-1002", "please-wait")),
    ("1002", (), ("xfer-please-hold",)),  # no name configured: the core never asks for one
    ("8001", (), ("xfer-please-hold",)),  # an extension
])
def test_r_xfer_consent_the_hold_prompt_says_where_to(target, site, expected):
    acd = make(site_prompts=site)
    connected(acd)
    assert hold_prompts(acd, target) == expected


def complete(acd, target):
    hold_prompts(acd, target)
    acd.handle(TransferUpdate(call_id="c1", event=XferEvent.CALLER_HELD), T0 + 11)
    acd.handle(TransferUpdate(call_id="c1", event=XferEvent.TARGET_ANSWERED), T0 + 14)
    [end] = of(acd.handle(TransferCommand(call_id="c1", command="complete"), T0 + 20), EndTransfer)
    assert end.outcome == "completed"
    return end.prompts


def test_r_xfer_name_the_caller_hears_the_target_s_name_and_id():
    # seed: 被转接电话接听后需告知被转接电话人的姓名 / 感谢客户的等待 "不好意思让您久等"
    acd = make(site_prompts={"agent-name-1002"})
    connected(acd)
    assert complete(acd, "1002") == ("xfer-connected-to", "agent-name-1002", "agent-id-prefix", "digit-1",
                                     "digit-0", "digit-0", "digit-2", "xfer-sorry-wait")


def test_r_xfer_name_only_when_the_target_has_a_name():
    acd = make(site_prompts={"agent-name-1003"})  # another agent's name: not 1002's
    connected(acd)
    assert complete(acd, "1002") == ("xfer-connected-to", "agent-id-prefix", "digit-1", "digit-0", "digit-0",
                                     "digit-2", "xfer-sorry-wait")


def test_transfer_connected_to_an_extension_apologises_only():
    assert announce.transfer_connected(None, None) == ("xfer-sorry-wait",)


def test_every_fixed_prompt_of_these_sequences_is_in_the_manifest():
    fixed = {*announce.greeting("1", time_of_day="greet-noon"), *announce.transfer_hold("x"),
             *announce.transfer_hold(None), *announce.transfer_connected("1", None)} - {"x"}
    assert fixed <= prompts.PROMPT_IDS
