"""issue 16: the README's newcomer commands, as written: `make run` (the demo site), the test call of
"Place a test call" (its curl line, verbatim), and `make demo` end to end, on the real Asterisk.

The demo site gets its own directory (DEMO_DIR) and HOME (the CLI's token file), so nothing of a
developer's own demo is touched. Judged from the service's log lines and the demo's printout.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from servicelog import json_lines

REPO = Path(__file__).resolve().parents[2]


def readme_block(section: str) -> str:
    """The first ```sh block of a README section."""
    text = (REPO / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```sh\n(.*?)```", body, re.S).group(1)


def events(log: Path) -> list[dict]:
    return json_lines(log.read_text(errors="replace"))


def wait_for(log: Path, event: str, timeout: float, **match) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists():
            for e in events(log):
                if e.get("event") == event and all(e.get(k) == v for k, v in match.items()):
                    return e
        time.sleep(0.5)
    raise AssertionError(f"no {event} {match} in {log} within {timeout} s")


def test_make_run_the_readme_test_call_and_make_demo(asterisk, tmp_path):
    demo = tmp_path / "demo"
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("ARI_APP_TOKEN_FILE", None)  # the CLI reads the demo's token file under this HOME
    env.pop("CI", None)  # CI=true would make `make run` provision a fresh PBX root under the running one
    out = open(tmp_path / "make-run.out", "w")
    run = subprocess.Popen(["make", "run", "DEMO_OPEN=1", f"DEMO_DIR={demo}"], cwd=REPO, env=env, stdout=out,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + 180
        while True:
            try:
                if httpx.get("http://127.0.0.1:8090/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert run.poll() is None, (tmp_path / "make-run.out").read_text()[-4000:]
            assert time.monotonic() < end, (tmp_path / "make-run.out").read_text()[-4000:]
            time.sleep(1)
        printed = (tmp_path / "make-run.out").read_text()
        assert "demo-supervisor  supervisor" in printed and "MQTT broker on 127.0.0.1:1884" in printed, printed
        log = demo / "service.log"
        # "Place a test call": the curl line, as written
        curl = [line for line in readme_block("Place a test call").replace("\\\n", "").splitlines()
                if line.startswith("curl ")]
        assert len(curl) == 1, curl
        r = subprocess.run(["bash", "-c", curl[0]], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and '"state"' in r.stdout, r.stdout + r.stderr
        entered = wait_for(log, "call.entered", 20, queue="support")
        # nobody is logged in: the caller is offered the voicemail; the call ends within its 20 s
        wait_for(log, "call.diverted", 30, call_id=entered["call_id"])
        # make demo, as written
        r = subprocess.run(["make", "demo", f"DEMO_DIR={demo}"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
        shown = r.stdout
        for expected in ("call.answered              agent=1001", "purpose=apology", "call.offer_missed",
                         "transfer.completed", "voicemail.committed", "callback.attempt", "Daily figures"):
            assert expected in shown, (expected, shown[-6000:])
        # the CLI found the demo's token by itself (README "Run it")
        r = subprocess.run([str(REPO / ".venv/bin/ari-app"), "agent", "list"], env=env, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and "1001" in r.stdout, r.stdout + r.stderr
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        subprocess.run(["make", "demo-down", f"DEMO_DIR={demo}"], cwd=REPO, capture_output=True, timeout=30)
        out.close()
