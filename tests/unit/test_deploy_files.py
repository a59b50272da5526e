"""The production deployment files: docker-compose.yml, docker/, scripts/setup-secrets.

No Docker engine is needed: `docker-compose config` only reads files, and the
entrypoints are plain sh scripts run here against a temporary root.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup-secrets"
PBX = REPO / "scripts" / "pbx"
ASTERISK_DOCKERFILE = REPO / "docker" / "asterisk" / "Dockerfile"
PACKAGES_TXT = REPO / "docker" / "asterisk" / "packages.txt"
ASTERISK_ENTRYPOINT = REPO / "docker" / "asterisk" / "entrypoint.sh"
SERVICE_DOCKERFILE = REPO / "docker" / "service" / "Dockerfile"
SERVICE_ENTRYPOINT = REPO / "docker" / "service" / "entrypoint.sh"
MOSQUITTO_CONF = REPO / "docker" / "mosquitto" / "mosquitto.conf"
DEV_CONF = REPO / "asterisk-config"

SECRET_FILES = ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf", "mosquitto_passwd")
ENV_KEYS = ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD")
AGENTS = [str(n) for n in range(1001, 1021)]
DEV_PASSWORD = re.compile(r"callcenter-dev|(?<![\w])dev-(?:caller)?\d+")
BIND = "192.0.2.10"


# --- helpers ------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without deployment values or docker-compose settings."""
    env = {
        k: v for k, v in os.environ.items() if k not in ENV_KEYS and not k.startswith(("COMPOSE_", "DOCKER_"))
    }
    env.update(extra)
    return env


def conf_values(text: str, key: str) -> list[str]:
    """Values of `key = value` lines of an Asterisk config (comments dropped)."""
    out = []
    for line in text.splitlines():
        line = line.split(";", 1)[0]
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            out.append(v.lstrip(">").strip())
    return out


def dev_passwords() -> set[str]:
    """Every password and secret in the development config."""
    found = set()
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        text = (DEV_CONF / f).read_text()
        found.update(conf_values(text, "password") + conf_values(text, "secret"))
    assert "callcenter-dev" in found and "dev-1001" in found  # the premise of these tests
    return found


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


def phone_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """{name: {template: [lines]}} of a pjsip_phones.conf."""
    sections: dict[str, dict[str, list[str]]] = {}
    cur: list[str] | None = None
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\](?:\(([^)]*)\))?", line)
        if m:
            cur = sections.setdefault(m.group(1), {}).setdefault(m.group(2) or "", [])
        elif cur is not None and line.strip() and not line.lstrip().startswith(";"):
            cur.append(line)
    return sections


def mqtt_password_ok(passwd_file: Path, user: str, password: str) -> bool:
    """Check a Mosquitto 2 "$7$" (PBKDF2-SHA512) password file entry."""
    for line in passwd_file.read_text().splitlines():
        name, _, h = line.partition(":")
        if name != user:
            continue
        parts = h.split("$")
        assert len(parts) == 5 and parts[1] == "7", f"not a mosquitto $7$ hash: {h[:12]}..."
        salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(want))
        return hmac.compare_digest(got, want)
    return False


def run_setup(directory: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SETUP), "--dir", str(directory), *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def fresh_copy(dst: Path) -> None:
    """The repository as a fresh clone would have it: tracked and not-ignored
    files (the work tree's .env and secrets/ are gitignored, so absent)."""
    files = None
    if shutil.which("git"):
        r = subprocess.run(
            ["git", "-c", "safe.directory=*", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
        )
        if r.returncode == 0:
            files = [f for f in r.stdout.decode().split("\0") if f]
    if files is None:  # not a git checkout: copy, leaving out what git ignores
        shutil.copytree(
            REPO,
            dst,
            symlinks=True,
            ignore=shutil.ignore_patterns(".git", ".venv", ".env", "secrets", "__pycache__", "var", "build"),
        )
    else:
        for f in files:
            src = REPO / f
            if src.is_file() and not src.is_symlink():
                (dst / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst / f)
    assert not (dst / ".env").exists() and not (dst / "secrets").exists()


def compose_yaml_loader(compose: str):
    """A YAML loader: PyYAML here, or the one docker-compose v1 runs with."""
    try:
        import yaml  # type: ignore[import-untyped]

        return yaml.safe_load
    except ImportError:
        pass
    with open(compose, "rb") as fh:
        first = fh.readline().decode(errors="replace")
    if not (first.startswith("#!") and "python" in first):
        pytest.skip(reason="no YAML parser (PyYAML) to read `docker-compose config`")
    interp = shlex.split(first[2:].strip())

    def load(text: str):
        r = subprocess.run(
            [*interp, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if r.returncode != 0:
            pytest.skip(reason=f"no YAML parser: {r.stderr.strip()[-200:]}")
        return json.loads(r.stdout)

    return load


@pytest.fixture(scope="module")
def compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.skip(reason="docker-compose is not installed (CI installs it and runs this check)")
    return path


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    """A directory set up by `scripts/setup-secrets --dir`."""
    d = tmp_path / "deploy"
    r = run_setup(d, PBX_BIND=BIND)
    assert r.returncode == 0, r.stderr
    return d


# --- docker-compose.yml -------------------------------------------------------


def test_env_and_secrets_are_gitignored():
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.skip(reason="not a git checkout")
    for path in (".env", "secrets/ari_users.conf", "secrets/mosquitto_passwd"):
        r = subprocess.run(["git", "-c", "safe.directory=*", "check-ignore", "-q", path], cwd=REPO)
        assert r.returncode == 0, f"{path} is not gitignored: secrets could be committed"


def test_compose_config_passes_on_a_fresh_clone(tmp_path: Path, compose: str):
    clone = tmp_path / "clone"
    fresh_copy(clone)
    r = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config", "-q"],
        cwd=clone,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"docker-compose config -q failed without .env/secrets:\n{r.stderr}"


def test_compose_passes_each_service_only_its_secrets(tmp_path: Path, compose: str):
    clone = tmp_path / "clone"
    fresh_copy(clone)
    r = run_setup(clone, PBX_BIND=BIND)
    assert r.returncode == 0, r.stderr
    env = read_env(clone / ".env")
    r = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config"],
        cwd=clone,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "is not set" not in r.stderr, r.stderr
    cfg = compose_yaml_loader(compose)(r.stdout)
    services = cfg["services"]
    assert set(services) == {"asterisk", "mosquitto", "ari-app"}
    for name, svc in services.items():
        assert svc.get("network_mode") == "host", name
        assert svc.get("restart") == "unless-stopped", name
        assert "env_file" not in svc, f"{name}: env_file breaks `config` on a fresh clone (docker-compose v1)"

    ast, mq, app = services["asterisk"], services["mosquitto"], services["ari-app"]
    assert ast["environment"] == {
        "PBX_BIND": BIND,
        "ARI_PASSWORD": env["ARI_PASSWORD"],
        "AMI_SECRET": env["AMI_SECRET"],
    }
    assert app["environment"] == {k: env[k] for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD")}
    assert not mq.get("environment")
    assert ast["build"]["dockerfile"] == "docker/asterisk/Dockerfile"
    assert app["build"]["dockerfile"] == "docker/service/Dockerfile"
    assert Path(ast["build"]["context"]).resolve() == clone.resolve()
    assert mq["image"] == "eclipse-mosquitto:2"
    assert set(app["depends_on"]) == {"asterisk", "mosquitto"}

    # secret files: from ./secrets, each only where it is needed
    files = {name: Path(s["file"]).resolve() for name, s in cfg["secrets"].items()}
    for name, path in files.items():
        assert path.parent == (clone / "secrets").resolve() and path.is_file(), name
    assert {s["source"] for s in ast["secrets"]} == {"ari_users.conf", "manager_users.conf", "pjsip_phones.conf"}
    assert {s["source"] for s in mq["secrets"]} == {"mosquitto_passwd"}
    assert not app.get("secrets")
    assert set(files) == {"ari_users.conf", "manager_users.conf", "pjsip_phones.conf", "mosquitto_passwd"}

    def mounts(svc):
        out = {}
        for v in svc.get("volumes", []):
            if isinstance(v, str):
                parts = v.split(":")
                out[parts[1]] = {"source": parts[0], "read_only": len(parts) > 2 and parts[2] == "ro"}
            else:
                out[v["target"]] = v
        return out

    app_m, ast_m = mounts(app), mounts(ast)
    conf = app_m["/etc/ari-app/config.toml"]
    assert conf["type"] == "bind" and conf["read_only"] is True
    assert Path(conf["source"]).resolve() == (clone / "config" / "production.toml").resolve()
    assert "/var/lib/ari-app" in app_m
    # voicemails are read through ARI's /recordings/stored (R-VM), not from a shared volume
    assert not any(t.startswith("/var/spool/asterisk") for t in app_m), sorted(app_m)
    assert "/var/spool/asterisk" in ast_m and "/var/log/asterisk" in ast_m
    mq_m = mounts(mq)
    conf = mq_m["/mosquitto/config/mosquitto.conf"]
    assert conf["read_only"] is True
    assert Path(conf["source"]).resolve() == (clone / "docker/mosquitto/mosquitto.conf").resolve()
    assert mq["entrypoint"][-1] in mq_m, "the mosquitto entrypoint script is not mounted"
    assert "/mosquitto/data" in mq_m


# --- scripts/setup-secrets ------------------------------------------------------


def test_setup_secrets_writes_private_files(deploy: Path):
    assert os.access(SETUP, os.X_OK), "scripts/setup-secrets is not executable"
    assert stat.S_IMODE((deploy / "secrets").stat().st_mode) == 0o700
    dev = dev_passwords()
    for path in [deploy / ".env", *(deploy / "secrets" / f for f in SECRET_FILES)]:
        assert path.is_file(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path}: {oct(path.stat().st_mode)}"
        text = path.read_text()
        assert not DEV_PASSWORD.search(text), f"{path} holds a development password"
        values = set(conf_values(text, "password") + conf_values(text, "secret")) | set(read_env(path).values())
        assert not values & dev, f"{path} holds a development password"
    assert sorted(p.name for p in (deploy / "secrets").iterdir()) == sorted(SECRET_FILES)


def test_setup_secrets_values_agree(deploy: Path):
    env = read_env(deploy / ".env")
    assert set(ENV_KEYS) <= set(env)
    assert env["PBX_BIND"] == BIND
    secrets = [env[k] for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in secrets), "expected 128 random bits, hex"
    assert len(set(secrets)) == 3
    sec = deploy / "secrets"
    assert conf_values((sec / "ari_users.conf").read_text(), "password") == [env["ARI_PASSWORD"]]
    assert conf_values((sec / "manager_users.conf").read_text(), "secret") == [env["AMI_SECRET"]]
    assert mqtt_password_ok(sec / "mosquitto_passwd", "ari-app", env["MQTT_PASSWORD"])
    assert not mqtt_password_ok(sec / "mosquitto_passwd", "ari-app", env["ARI_PASSWORD"])
    # the users and permissions of the development files are kept
    assert "[callcenter]" in (sec / "ari_users.conf").read_text()
    dev_mgr = (DEV_CONF / "manager_users.conf").read_text()
    mgr = (sec / "manager_users.conf").read_text()
    for key in ("permit", "deny", "read", "write"):
        assert conf_values(mgr, key) == conf_values(dev_mgr, key), key


def test_setup_secrets_phones(deploy: Path):
    text = (deploy / "secrets" / "pjsip_phones.conf").read_text()
    sections = phone_sections(text)
    assert list(sections) == AGENTS
    dev_agents = [n for n in phone_sections((DEV_CONF / "pjsip_phones.conf").read_text()) if n.isdigit()]
    assert list(sections) == dev_agents, "not the agent phones of asterisk-config/pjsip_phones.conf"
    assert not re.search(r"caller\d|from-callers", text), "test caller endpoints in the production phones"
    passwords = []
    for n in AGENTS:
        assert set(sections[n]) == {"phone-endpoint", "phone-auth", "phone-aor"}, n
        ep = "\n".join(sections[n]["phone-endpoint"])
        assert conf_values(ep, "auth") == [n] and conf_values(ep, "aors") == [n]
        auth = "\n".join(sections[n]["phone-auth"])
        assert conf_values(auth, "username") == [n]
        (pw,) = conf_values(auth, "password")
        assert re.fullmatch(r"[0-9a-f]{32}", pw), n
        passwords.append(pw)
    assert len(set(passwords)) == len(AGENTS)
    r = run_setup(deploy, "--show-phone", "1005")
    assert r.returncode == 0 and r.stdout.strip() == passwords[4]
    assert run_setup(deploy, "--show-phone", "caller1").returncode != 0


def test_setup_secrets_second_run_changes_nothing(deploy: Path):
    before = snapshot(deploy)
    r = run_setup(deploy, PBX_BIND="198.51.100.7")
    assert r.returncode == 0, r.stderr
    assert snapshot(deploy) == before


def test_setup_secrets_force_regenerates(deploy: Path):
    old = read_env(deploy / ".env")
    old_phones = (deploy / "secrets" / "pjsip_phones.conf").read_text()
    r = run_setup(deploy, "--force")
    assert r.returncode == 0, r.stderr
    new = read_env(deploy / ".env")
    assert new["PBX_BIND"] == BIND  # not a secret: kept
    for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD"):
        assert new[k] != old[k], k
    assert (deploy / "secrets" / "pjsip_phones.conf").read_text() != old_phones
    assert mqtt_password_ok(deploy / "secrets" / "mosquitto_passwd", "ari-app", new["MQTT_PASSWORD"])


def test_setup_secrets_refills_a_missing_file_consistently(deploy: Path):
    (deploy / "secrets" / "ari_users.conf").unlink()
    before = snapshot(deploy)
    r = run_setup(deploy)
    assert r.returncode == 0, r.stderr
    after = snapshot(deploy)
    assert {k: v for k, v in after.items() if k != "secrets/ari_users.conf"} == before
    ari = conf_values((deploy / "secrets" / "ari_users.conf").read_text(), "password")
    assert ari == [read_env(deploy / ".env")["ARI_PASSWORD"]]


def test_setup_secrets_refuses_a_mismatch(deploy: Path):
    env_file = deploy / ".env"
    env_file.write_text(re.sub(r"(?m)^AMI_SECRET=.*$", "AMI_SECRET=0123456789abcdef0123456789abcdef", env_file.read_text()))
    before = snapshot(deploy)
    r = run_setup(deploy)
    assert r.returncode != 0 and "AMI_SECRET" in r.stderr
    assert snapshot(deploy) == before


def test_setup_secrets_python_hash_fallback(tmp_path: Path):
    d = tmp_path / "d"
    r = run_setup(d, PBX_BIND=BIND, MOSQUITTO_PASSWD="none")
    assert r.returncode == 0, r.stderr
    env = read_env(d / ".env")
    assert mqtt_password_ok(d / "secrets" / "mosquitto_passwd", "ari-app", env["MQTT_PASSWORD"])


def test_setup_secrets_detects_pbx_bind(tmp_path: Path):
    r = run_setup(tmp_path / "d")
    assert r.returncode == 0, r.stderr
    bind = read_env(tmp_path / "d" / ".env")["PBX_BIND"]
    assert re.fullmatch(r"[0-9A-Za-z.:_\[\]-]+", bind), bind


def test_setup_secrets_refuses_a_bad_pbx_bind(tmp_path: Path):
    r = run_setup(tmp_path / "d", "--pbx-bind", "10.0.0.1/24")
    assert r.returncode != 0 and "PBX_BIND" in r.stderr
    assert not (tmp_path / "d").exists()


# --- the Asterisk image -------------------------------------------------------------


def pbx_packages() -> list[str]:
    text = PBX.read_text()
    m = re.search(r"^\s*PACKAGES=\(([^)]*)\)", text, re.M)
    if m:
        return m.group(1).split()
    assert "docker/asterisk/packages.txt" in text, "scripts/pbx: no PACKAGES=(...) and no docker/asterisk/packages.txt"
    return packages_txt()


def packages_txt() -> list[str]:
    return [w for line in PACKAGES_TXT.read_text().splitlines() for w in line.split("#", 1)[0].split()]


def dockerfile_packages() -> list[str]:
    text = re.sub(r"\\\n", " ", ASTERISK_DOCKERFILE.read_text())
    installs = [line for line in text.splitlines() if "apt-get install" in line]
    assert len(installs) == 1, "expected one apt-get install in docker/asterisk/Dockerfile"
    if "packages.txt" in installs[0]:
        assert re.search(r"(?m)^COPY\s+docker/asterisk/packages\.txt\s", text)
        return packages_txt()
    cmd = installs[0].split("apt-get install", 1)[1].split("&&")[0].split(";")[0]
    return [w for w in cmd.split() if not w.startswith("-")]


def test_asterisk_packages_match_scripts_pbx():
    pbx = pbx_packages()
    image = dockerfile_packages()
    assert len(set(image)) == len(image)
    assert sorted(image) == sorted(pbx), f"docker/asterisk/Dockerfile {image} != scripts/pbx {pbx}"
    assert {"asterisk", "asterisk-modules"} <= set(image)


def test_asterisk_dockerfile_layout():
    text = ASTERISK_DOCKERFILE.read_text()
    assert re.search(r"(?m)^FROM debian:sid-slim\s*$", text)
    assert 'Acquire::Check-Valid-Until "false"' in text
    assert "scripts/pbx" in text
    for src, dst in [
        ("asterisk-config/", None),
        ("dialplan/", None),
        ("prompts/zh/", "/usr/share/asterisk/sounds/callcenter/"),
        ("prompts/en/", "/usr/share/asterisk/sounds/en/callcenter/"),
        ("prompts/moh/", "/var/lib/asterisk/moh/callcenter/"),
    ]:
        m = re.search(rf"(?m)^COPY\s+{re.escape(src)}\s+(\S+)", text)
        assert m, f"no COPY {src}"
        if dst:
            assert m.group(1) == dst
    assert "/var/spool/asterisk/recording/callcenter-fallback" in text


def test_dockerfiles_use_the_base_images_package_sources():
    for f in (ASTERISK_DOCKERFILE, SERVICE_DOCKERFILE):
        text = f.read_text()
        assert "://" not in text, f"{f}: no URLs (mirrors, indexes) in Dockerfiles"
        assert "sources.list" not in text and "index-url" not in text, f


def test_service_dockerfile():
    text = SERVICE_DOCKERFILE.read_text()
    assert re.search(r"(?m)^FROM python:3\.11-slim\s*$", text)
    assert re.search(r"pip install \.", text)
    users = re.findall(r"(?m)^USER\s+(\S+)", text)
    assert users and users[-1] not in ("root", "0")
    assert '\nCMD ["ari-app", "run", "--config", "/etc/ari-app/config.toml"]' in text


def test_mosquitto_conf():
    lines = {line.strip() for line in MOSQUITTO_CONF.read_text().splitlines() if not line.startswith("#")}
    for want in (
        "allow_anonymous false",
        "password_file /mosquitto/config/passwd",
        "listener 1883 127.0.0.1",
        "persistence true",
    ):
        assert want in lines, want
    assert not any(line.startswith("listener") and line != "listener 1883 127.0.0.1" for line in lines)


# --- the entrypoints ------------------------------------------------------------------


@pytest.fixture
def asterisk_root(tmp_path: Path) -> Path:
    """A root as in the Asterisk image: the pristine config (development
    secrets files included, to check they are replaced) and an empty /run/secrets."""
    root = tmp_path / "root"
    tpl = root / "usr/share/ari-app/asterisk-etc"
    tpl.mkdir(parents=True)
    for src in (REPO / "asterisk-config", REPO / "dialplan"):
        for f in src.iterdir():
            shutil.copy2(f, tpl / f.name)
    (root / "run/secrets").mkdir(parents=True)
    return root


def run_entrypoint(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    marker = root / "started"
    return subprocess.run(
        ["sh", str(ASTERISK_ENTRYPOINT), "sh", "-c", f'umask > "{marker}"'],
        env=clean_env(ARI_APP_ROOT=str(root), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_asterisk_entrypoint_installs_production_secrets(asterisk_root: Path, deploy: Path):
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        shutil.copy2(deploy / "secrets" / f, asterisk_root / "run/secrets" / f)
    env = read_env(deploy / ".env")
    r = run_entrypoint(asterisk_root, {k: env[k] for k in ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET")})
    assert r.returncode == 0, r.stderr
    assert (asterisk_root / "started").read_text().strip() == "0027"
    etc = asterisk_root / "etc/asterisk"
    pjsip = (etc / "pjsip.conf").read_text()
    assert f"bind = {BIND}:5060" in pjsip and "@PBX_BIND@" not in pjsip
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        assert (etc / f).read_text() == (deploy / "secrets" / f).read_text(), f
    for f in etc.iterdir():
        assert not DEV_PASSWORD.search(f.read_text()), f
    assert (etc / "extensions.conf").is_file()


@pytest.mark.parametrize("dev_file", ["ari_users.conf", "manager_users.conf", "pjsip_phones.conf"])
def test_asterisk_entrypoint_refuses_development_passwords(asterisk_root: Path, deploy: Path, dev_file: str):
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        src = DEV_CONF / f if f == dev_file else deploy / "secrets" / f
        shutil.copy2(src, asterisk_root / "run/secrets" / f)
    r = run_entrypoint(asterisk_root, {"PBX_BIND": BIND})
    assert r.returncode != 0
    assert "development password" in r.stderr and dev_file in r.stderr
    assert not (asterisk_root / "started").exists()


@pytest.mark.parametrize(
    "case", ["no PBX_BIND", "bad PBX_BIND", "missing secrets file", "ARI_PASSWORD mismatch", "AMI_SECRET mismatch"]
)
def test_asterisk_entrypoint_refuses_to_start(asterisk_root: Path, deploy: Path, case: str):
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        shutil.copy2(deploy / "secrets" / f, asterisk_root / "run/secrets" / f)
    env = {"PBX_BIND": BIND}
    if case == "no PBX_BIND":
        del env["PBX_BIND"]
    elif case == "bad PBX_BIND":
        env["PBX_BIND"] = "1.2.3.4/x"
    elif case == "missing secrets file":
        (asterisk_root / "run/secrets/pjsip_phones.conf").unlink()
    elif case == "ARI_PASSWORD mismatch":
        env["ARI_PASSWORD"] = "0" * 32
    else:
        env["AMI_SECRET"] = "0" * 32
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode != 0, case
    assert "refusing to start" in r.stderr
    assert not (asterisk_root / "started").exists()


def test_service_entrypoint_requires_the_secrets(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ari-app"
    fake.write_text('#!/bin/sh\necho "started $*"\n')
    fake.chmod(0o755)
    config = tmp_path / "config.toml"
    config.write_text("")
    cmd = ["sh", str(SERVICE_ENTRYPOINT), "ari-app", "run", "--config", str(config)]
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    secrets = {"ARI_PASSWORD": "a" * 32, "AMI_SECRET": "b" * 32, "MQTT_PASSWORD": "c" * 32}

    r = subprocess.run(cmd, env=clean_env(PATH=path), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "MQTT_PASSWORD" in r.stderr and "started" not in r.stdout

    r = subprocess.run(cmd, env=clean_env(PATH=path, **secrets), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"started run --config {config}"

    config.unlink()
    r = subprocess.run(cmd, env=clean_env(PATH=path, **secrets), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "config" in r.stderr
