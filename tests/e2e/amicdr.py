"""Asterisk's own CDR, read straight from AMI (cdr_manager) by the tests: an independent recount.

Deliberately not the service's AMI client: a few lines of asyncio on the raw
protocol (``Key: Value`` lines, a blank line ends a message), so that the
figures the service reports are checked against what Asterisk itself wrote.
"""

from __future__ import annotations

import asyncio
import contextlib

AMI = ("127.0.0.1", 5038)
AMI_USER, AMI_SECRET = "callcenter", "callcenter-dev"  # asterisk-config/manager_users.conf (development only)


class CdrTap:
    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self._task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def start(self) -> "CdrTap":
        reader, self._writer = await asyncio.open_connection(*AMI)
        await reader.readline()  # "Asterisk Call Manager/…"
        self._writer.write(f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\n"
                           "Events: cdr\r\n\r\n".encode())
        await self._writer.drain()
        reply = await self._message(reader)
        assert reply.get("Response") == "Success", f"AMI login refused: {reply}"
        self._task = asyncio.create_task(self._read(reader))
        return self

    @staticmethod
    async def _message(reader: asyncio.StreamReader) -> dict[str, str]:
        msg: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("AMI closed the connection")
            text = line.decode(errors="replace").rstrip("\r\n")
            if not text:
                if msg:
                    return msg
                continue
            key, _, value = text.partition(":")
            msg[key.strip()] = value.strip()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            msg = await self._message(reader)
            if msg.get("Event") == "Cdr":
                self.rows.append(msg)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            self._writer.close()
