"""Issue 17 item 12: the development PBX (scripts/pbx) installs the well-known SIP passwords (dev-1001,
dev-caller1, the e2e trunk's, the bench phones') only on a loopback bind. Bound to any other address,
each auth section gets a random password, kept 0600 and the same at every start, printed for the
newcomer's softphone. ``scripts/pbx render DIR`` writes exactly what ``up`` installs, without root.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PBX = REPO / "scripts" / "pbx"
KNOWN = re.compile(r"dev-|bench-sip")


def render(tmp_path: Path, bind: str, name: str = "etc", **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / name
    r = subprocess.run([str(PBX), "render", str(out)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PBX_BIND": bind, "PBX_PHONE_PASSWORDS": str(tmp_path / "passwords"),
                            "PBX_E2E": "1", "PBX_BENCH": "1", **env})
    return r, out


def passwords(etc: Path) -> dict[str, str]:
    """``<auth section>`` → password, over every pjsip*.conf."""
    found = {}
    for conf in sorted(etc.glob("pjsip*.conf")):
        section = ""
        for line in conf.read_text().splitlines():
            if m := re.match(r"\s*\[([^\]]+)\]", line):
                section = m[1]
            elif m := re.match(r"\s*password\s*=\s*(\S+)", line):
                found[section] = m[1]
    return found


@pytest.mark.parametrize("bind", ["192.0.2.10", "0.0.0.0", "[2001:db8::5]", "pbx.lan"])
def test_a_network_bind_gets_random_passwords_never_the_development_ones(tmp_path: Path, bind: str):
    r, etc = render(tmp_path, bind)
    assert r.returncode == 0, r.stderr
    assert f"bind = {bind}:5060" in (etc / "pjsip.conf").read_text()
    found = passwords(etc)
    assert {"1001", "1020", "caller1", "trunk", "bench-sip-auth"} <= set(found), found
    assert not [s for s, p in found.items() if KNOWN.search(p)]
    for conf in etc.glob("pjsip*.conf"):
        assert not re.search(r"password\s*=\s*(dev-|bench-sip)", conf.read_text()), conf
        assert stat.S_IMODE(conf.stat().st_mode) == 0o640, conf
    assert all(re.fullmatch(r"[0-9a-f]{24}", p) for p in found.values())
    assert len(set(found.values())) == len(found)  # one per phone
    store = tmp_path / "passwords"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    # printed, so the newcomer can register a softphone
    assert re.search(rf"^\s+1001\s+{found['1001']}$", r.stderr, re.M), r.stderr
    assert "reachable from the network" in r.stderr


def test_the_random_passwords_stay_the_same_at_every_start(tmp_path: Path):
    r1, first = render(tmp_path, "192.0.2.10", "one")
    r2, second = render(tmp_path, "192.0.2.10", "two")
    assert r1.returncode == r2.returncode == 0, r1.stderr + r2.stderr
    assert passwords(first) == passwords(second)


def test_loopback_keeps_the_development_passwords(tmp_path: Path):
    """The tests, make demo and the README's softphone on this machine use dev-1001."""
    for bind in ("127.0.0.1", "[::1]"):
        r, etc = render(tmp_path, bind, name=f"etc-{bind.strip('[]:.')}")
        assert r.returncode == 0, r.stderr
        found = passwords(etc)
        assert (found["1001"], found["caller1"], found["trunk"]) == ("dev-1001", "dev-caller1", "dev-trunk")
    assert not (tmp_path / "passwords").exists()


def test_a_password_file_others_can_read_is_refused(tmp_path: Path):
    store = tmp_path / "passwords"
    store.write_text("1001 0123456789abcdef01234567\n")
    store.chmod(0o644)
    r, _ = render(tmp_path, "192.0.2.10")
    assert r.returncode != 0 and "readable by others" in r.stderr, r.stderr


@pytest.mark.parametrize("bind", ["a/b", "1.2.3.4;x", "1.2.3.4 5"])
def test_a_bind_that_is_not_an_address_is_refused(tmp_path: Path, bind: str):
    r, _ = render(tmp_path, bind, PBX_BIND=bind)
    assert r.returncode != 0 and ("not an address" in r.stderr), r.stderr


def test_render_never_empties_a_directory_that_has_files(tmp_path: Path):
    keep = tmp_path / "etc" / "mine.txt"
    keep.parent.mkdir()
    keep.write_text("keep")
    r, _ = render(tmp_path, "127.0.0.1")
    assert r.returncode != 0 and "not empty" in r.stderr and keep.read_text() == "keep"
