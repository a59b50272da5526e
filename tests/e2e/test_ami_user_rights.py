"""Issue 17 item 13 against the real Asterisk: ari-app's AMI user (asterisk-config/manager_users.conf:
read = cdr, write = nothing) can do what the service does -- log in with ``Events: cdr``, Ping, get a
call's ``Cdr`` event -- and nothing more: Originate, Command and Getvar are refused.
"""

from __future__ import annotations

import asyncio

from amicdr import AMI, AMI_SECRET, AMI_USER, CdrTap

_message = CdrTap._message  # one AMI frame: "Key: value" lines up to a blank line


async def _response(reader: asyncio.StreamReader, action_id: str) -> dict[str, str]:
    while True:
        msg = await asyncio.wait_for(_message(reader), 10)
        if msg.get("ActionID") == action_id and "Response" in msg:
            return msg


async def test_ami_user_may_ping_and_read_cdr_but_not_originate(asterisk, ari):
    reader, writer = await asyncio.open_connection(*AMI)
    try:
        await reader.readline()  # "Asterisk Call Manager/…"

        async def action(name: str, action_id: str, **fields: str) -> dict[str, str]:
            lines = [f"Action: {name}", f"ActionID: {action_id}", *(f"{k}: {v}" for k, v in fields.items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            return await _response(reader, action_id)

        login = await action("Login", "l1", Username=AMI_USER, Secret=AMI_SECRET, Events="cdr")
        assert login["Response"] == "Success", login
        assert (await action("Ping", "p1"))["Response"] == "Success"
        for name, fields in (("Originate", {"Channel": "Local/1@e2e-answer", "Application": "Wait", "Data": "1"}),
                             ("Command", {"Command": "core show channels"}),
                             ("Getvar", {"Variable": "EPOCH"})):
            r = await action(name, f"x-{name}", **fields)
            assert r["Response"] == "Error" and "Permission denied" in r.get("Message", ""), (name, r)
        # a call's CDR still arrives (the class the service reads)
        call = await ari.post("/channels", endpoint="Local/1@e2e-answer", context="e2e-answer", extension="1",
                              priority=1)
        await asyncio.sleep(1)
        await ari.delete(f"/channels/{call['id']}")
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            msg = await asyncio.wait_for(_message(reader), max(0.1, deadline - asyncio.get_running_loop().time()))
            if msg.get("Event") == "Cdr":
                break
    finally:
        writer.close()
