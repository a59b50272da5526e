"""e2e fixtures: the real Asterisk 22 (scripts/pbx) and the service as a real process.

Never a mocked PBX here. The PBX is provisioned and started once per
session (PBX_E2E=1 adds the test-only dialplan); each test gets a fresh
service process with its own working directory (store, log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PBX = REPO / "scripts" / "pbx"
PBX_ROOT = Path(os.environ.get("PBX_ROOT", "/var/lib/ari-app/pbx"))
E2E_CONFIG = REPO / "tests" / "e2e" / "config.toml"
ARI_URL = "http://127.0.0.1:8088/ari"
ARI_AUTH = ("callcenter", "callcenter-dev")
# the API token whose sha256 is in tests/e2e/config.toml (test-only, never a production secret)
E2E_TOKEN = "e2e-supervisor-token-0123456789abcdef0123456789"
E2E_API = "http://127.0.0.1:18090"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def pbx(*args: str, check: bool = True, ci: bool | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PBX_E2E": "1"}
    if ci is False:
        env.pop("CI", None)
    return subprocess.run([str(PBX), *args], env=env, check=check, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def asterisk():
    """Asterisk 22 running in its chroot, with the test dialplan."""
    # CI=true makes provision build afresh; `make test` has just done that, so reuse it here.
    r = pbx("provision", check=False, ci=False)
    assert r.returncode == 0, f"scripts/pbx provision failed:\n{r.stderr[-3000:]}"
    r = pbx("up", check=False)
    assert r.returncode == 0, f"scripts/pbx up failed:\n{r.stderr[-3000:]}"
    yield PBX_ROOT
    if not os.environ.get("PBX_KEEP_UP"):  # PBX_KEEP_UP=1: leave Asterisk running (shared development PBX)
        pbx("down", check=False)


class Ari:
    """A small ARI client for the tests' own checks (not the service's client)."""

    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=ARI_URL, auth=ARI_AUTH, timeout=10)

    async def get(self, path: str, **params: Any) -> Any:
        r = await self.http.get(path, params=params)
        r.raise_for_status()
        return r.json()

    async def post(self, path: str, json_body: Any = None, **params: Any) -> Any:
        r = await self.http.post(path, params=params, json=json_body)
        r.raise_for_status()
        return r.json() if r.content else None

    async def delete(self, path: str) -> None:
        await self.http.delete(path)

    async def channels(self) -> list[dict]:
        return await self.get("/channels")

    async def bridges(self) -> list[dict]:
        return await self.get("/bridges")

    async def call_queue(self, queue: str, *, talk_s: int = 30, context: str = "e2e-caller", exten: str = "talk",
                         variables: dict[str, str] | None = None, caller_id: str | None = None,
                         formats: str | None = None) -> dict:
        """A Local-channel caller: ;2 runs the queue dialplan, ;1 runs the given test context.

        ``caller_id``: the number the queue side sees (a CALLERID(num) variable reaches only ;1).
        ``formats``: the caller's codec, as a phone's (``"ulaw"``). Left out, a Local channel takes a high-rate
        signed linear, and Asterisk resamples every frame it hears (music on hold) for it: harmless for a few
        callers, but 50 waiting callers used both cores of the test machine (fault tests, issue 7)."""
        params = {"callerId": caller_id} if caller_id else {}
        if formats:
            params["formats"] = formats
        return await self.post("/channels", {"variables": {"E2E_TALK_S": str(talk_s), **(variables or {})}},
                               endpoint=f"Local/{queue}@callcenter-queue", context=context, extension=exten,
                               priority=1, **params)

    async def hangup_all(self) -> None:
        for ch in await self.channels():
            await self.delete(f"/channels/{ch['id']}")
        for br in await self.bridges():
            await self.delete(f"/bridges/{br['id']}")

    async def recordings(self) -> list[str]:
        return [r["name"] for r in await self.get("/recordings/stored")]

    async def clear_recordings(self) -> None:
        """Voicemails of earlier tests (task and fallback recordings) would become other tests' callbacks."""
        for name in await self.recordings():
            if name.startswith(("callcenter/", "callcenter-fallback/")):
                await self.delete("/recordings/stored/" + name.replace("/", "%2F"))

    async def wait_empty(self, timeout: float) -> tuple[list, list]:
        end = time.monotonic() + timeout
        while True:
            chans, bridges = await self.channels(), await self.bridges()
            if (not chans and not bridges) or time.monotonic() > end:
                return chans, bridges
            await asyncio.sleep(0.1)

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def api():
    """The service's HTTP API as the e2e supervisor (token hash in tests/e2e/config.toml)."""
    async with httpx.AsyncClient(base_url=E2E_API, headers={"Authorization": f"Bearer {E2E_TOKEN}"},
                                 timeout=10) as client:
        yield client


def config_with(tmp_path: Path, extra: str, name: str = "config.toml") -> Path:
    """tests/e2e/config.toml plus ``extra`` TOML, written to ``tmp_path/name`` with the roster file it
    names copied beside it."""
    shutil.copy(E2E_CONFIG.parent / "roster.toml", tmp_path / "roster.toml")
    path = tmp_path / name
    path.write_text(E2E_CONFIG.read_text() + extra)
    return path


@pytest.fixture
async def ari(asterisk):
    client = Ari()
    await client.hangup_all()
    await client.clear_recordings()
    yield client
    await client.hangup_all()
    await client.aclose()


class Watcher:
    """Every ARI event Asterisk emits (a second app with subscribeAll), with its own timestamps."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._task: asyncio.Task | None = None
        self._ws = None

    async def start(self) -> "Watcher":
        import websockets

        url = ("ws://127.0.0.1:8088/ari/events?app=e2e-watch&subscribeAll=true"
               f"&api_key={ARI_AUTH[0]}%3A{ARI_AUTH[1]}")
        self._ws = await websockets.connect(url, max_queue=None)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self._ws:
            self.events.append(json.loads(raw))

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def find(self, type_: str, **match: Any) -> list[dict]:
        return [e for e in self.events if e.get("type") == type_ and _matches(e, match)]

    def media_of(self, playback_id: str) -> list[str]:
        """The media URIs one playback of several media played, in order (Asterisk sends a PlaybackStarted
        for each item, with the item's ``media_uri``)."""
        return [e["playback"]["media_uri"] for e in self.find("PlaybackStarted", playback__id=playback_id)]

    async def wait(self, type_: str, timeout: float = 15, **match: Any) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.find(type_, **match)
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no ARI {type_} {match} within {timeout}s; last events: "
                             + ", ".join(e.get("type", "?") for e in self.events[-15:]))


def _matches(event: dict, match: dict[str, Any]) -> bool:
    """``channel__id="x"`` matches event["channel"]["id"] == "x"; a callable value is a predicate."""
    for key, want in match.items():
        node: Any = event
        for part in key.split("__"):
            node = node.get(part) if isinstance(node, dict) else None
        if callable(want) and not want(node):
            return False
        if not callable(want) and node != want:
            return False
    return True


def ari_time(event: dict) -> float:
    """ARI timestamps: '2026-11-26T15:17:40.460+0000'."""
    from datetime import datetime

    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@pytest.fixture
async def watcher(asterisk):
    w = await Watcher().start()
    yield w
    await w.stop()


class Service:
    """The service as a real process; its JSON log lines are the observable facts.

    Every one started is remembered (``running``): one a test leaves behind (a failed set-up) is stopped
    before the next test starts, or it would keep taking the Stasis app from the next test's service."""

    running: list["Service"] = []

    def __init__(self, workdir: Path, config: Path = E2E_CONFIG, env: dict[str, str] | None = None,
                 log_name: str = "service.log") -> None:
        self.workdir, self.config, self.env = workdir, config, env
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / log_name
        self._log = None

    def start(self) -> "Service":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ari_app", "run", "--config", str(self.config)],
                                     cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env} if self.env else None)
        Service.running.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def lines(self) -> list[dict]:
        out = []
        for raw in self.log_path.read_bytes().splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"event": "<not json>", "raw": raw.decode(errors="replace")})
        return out

    def events(self, name: str, **match: Any) -> list[dict]:
        return [e for e in self.lines() if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]

    async def wait_for(self, name: str, timeout: float = 15, count: int = 1, **match: Any) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.events(name, **match)
            if len(found) >= count:
                return found[count - 1]
            if not self.alive():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {count}x {name} {match} within {timeout}s (alive={self.alive()}); log tail:\n"
                             + self.tail())

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            self.proc.send_signal(sig)  # type: ignore[union-attr]
            try:
                self.proc.wait(10)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.proc.kill()  # type: ignore[union-attr]
                self.proc.wait()  # type: ignore[union-attr]
        if self._log:
            self._log.close()
            self._log = None

    def errors(self) -> list[dict]:
        return [e for e in self.lines() if e.get("level") in ("error", "critical") or e.get("event") == "<not json>"]


@pytest.fixture(autouse=True)
def no_service_left_behind():
    """After each test: any service process it started and did not stop is stopped (a CI run once left one
    running after its fixture's set-up failed; it took the Stasis app from later services for minutes)."""
    yield
    while Service.running:
        Service.running.pop().stop()


@pytest.fixture
async def service(asterisk, ari, tmp_path):
    svc = Service(tmp_path).start()
    try:
        await svc.wait_for("ari.resynced")
        yield svc
    finally:
        svc.stop()
    assert not svc.errors(), f"service logged errors: {svc.errors()[:3]}"
