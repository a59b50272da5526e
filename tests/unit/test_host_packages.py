"""issue 16: one list of the host's Debian packages (scripts/packages.txt), installed by `make run` / `make test`
when missing (scripts/host-packages), used by the service image; .ci/run is `make test` and its summary."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIST = REPO / "scripts" / "packages.txt"
TOOL = REPO / "scripts" / "host-packages"


def entries() -> dict[str, list[str]]:
    out = {}
    for line in LIST.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, *purposes = line.split()
            out[name] = purposes
    return out


def listed(purpose: str) -> list[str]:
    r = subprocess.run([str(TOOL), "list", purpose], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_every_package_has_known_purposes_once():
    e = entries()
    assert e and all(p and set(p) <= {"run", "demo", "test", "service"} for p in e.values()), e
    names = [line.split()[0] for line in LIST.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(names) == len(set(names))


def test_list_gives_the_packages_of_a_purpose():
    e = entries()
    for purpose in ("run", "demo", "test", "service"):
        assert listed(purpose) == [n for n, p in e.items() if purpose in p]
    # what the tests themselves start: SIPp, sox, PostgreSQL, Mosquitto, podman behind docker-compose
    assert {"sip-tester", "sox", "postgresql", "mosquitto", "podman", "docker-compose", "debootstrap"} <= set(listed("test"))
    assert {"python3-venv", "debootstrap", "curl"} <= set(listed("run"))
    assert "sip-tester" in listed("demo")  # make demo's phones and callers


def test_the_service_image_installs_the_service_packages():
    text = (REPO / "docker/service/Dockerfile").read_text()
    assert re.search(r"(?m)^COPY scripts/packages\.txt ", text)
    assert '$i == "service"' in text
    assert "!scripts/packages.txt" in (REPO / "docker/service/Dockerfile.dockerignore").read_text()
    assert {"python3", "python3-venv", "tzdata", "fonts-wqy-microhei", "tini"} <= set(listed("service"))


def shims(tmp_path: Path, uid: int, installed: set[str]) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f'#!/bin/sh\n[ "$1" = -u ] && echo {uid} || exec /usr/bin/id "$@"\n')
    ok = " ".join(sorted(installed))
    (bin_dir / "dpkg-query").write_text(
        '#!/bin/sh\nfor p in ' + ok + '; do [ "$p" = "$4" ] && { printf "install ok installed"; exit 0; }; done\nexit 1\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_nothing_missing_does_nothing(tmp_path: Path):
    env = shims(tmp_path, 1000, set(entries()))
    r = subprocess.run([str(TOOL), "test"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_not_root_and_missing_says_what_to_install(tmp_path: Path):
    env = shims(tmp_path, 1000, set(entries()) - {"sox", "sip-tester"})
    r = subprocess.run([str(TOOL), "test"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "missing Debian packages for 'make test': sip-tester sox" in r.stderr
    assert "apt-get install -y --no-install-recommends sip-tester sox" in r.stderr


def test_make_run_and_test_install_first_and_ci_is_make_test():
    make = (REPO / "Makefile").read_text()
    assert re.search(r"(?m)^run: host-run venv ", make) and re.search(r"(?m)^test: host-test venv ", make)
    assert re.search(r"(?m)^demo: host-demo venv", make)
    ci = (REPO / ".ci/run").read_text()
    assert "apt-get" not in ci and re.search(r"(?m)^make test \|\| status=\$\?$", ci)
