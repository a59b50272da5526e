"""issue 16: the demo site `make run` starts: scripts/demo-site renders config/demo.toml with its tokens."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

from ari_app import config as config_mod

REPO = Path(__file__).resolve().parents[2]


def render(tmp_path: Path, **env: str) -> Path:
    demo = tmp_path / "demo"
    r = subprocess.run([str(REPO / "scripts/demo-site"), "up"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "DEMO_DIR": str(demo), "DEMO_BROKER": "0", "HOME": str(tmp_path),
                            "PYTHON": sys.executable, **env})
    assert r.returncode == 0, r.stderr
    return demo


def test_the_demo_config_is_valid_with_everything_on_and_its_tokens(tmp_path: Path):
    demo = render(tmp_path)
    cfg = config_mod.load(demo / "config.toml")
    assert set(cfg.queues) == {"support", "sales"} and all(q.calendar == "office" for q in cfg.queues.values())
    assert cfg.callbacks is not None and cfg.mqtt is not None and cfg.recording.enabled and cfg.ami is not None
    assert all(a.pin_hash for a in cfg.agents.values())
    assert [a.agent_id for a in cfg.agents.values() if a.role == "supervisor"] == ["1009"]
    tokens = [line.split() for line in (demo / "tokens").read_text().splitlines()]
    assert [(n, r) for n, r, _ in tokens] == [("demo-supervisor", "supervisor"), ("demo-ops", "ops")]
    assert {t.sha256 for t in cfg.api.tokens} == {hashlib.sha256(t.encode()).hexdigest() for _, _, t in tokens}
    assert stat.S_IMODE((demo / "tokens").stat().st_mode) == 0o600
    cli = tmp_path / ".config/ari-app/token"
    assert cli.read_text().strip() == tokens[0][2] and stat.S_IMODE(cli.stat().st_mode) == 0o600
    # a second start keeps the tokens
    assert render(tmp_path).joinpath("tokens").read_text() == (demo / "tokens").read_text()


def test_demo_open_opens_the_calendar_all_day(tmp_path: Path):
    closed = config_mod.load(render(tmp_path / "a") / "config.toml").calendars["office"].windows
    opened = config_mod.load(render(tmp_path / "b", DEMO_OPEN="1") / "config.toml").calendars["office"].windows
    assert closed != opened and opened == ("mon-sun 00:00-24:00",)
