"""The production deployment files: docker-compose.yml, docker/, scripts/setup-secrets.

No container engine is needed: `docker-compose config` only reads files, the
entrypoints are plain sh scripts run here against a temporary root (tests-only
variables point them there), and the images are checked by reading their
Dockerfiles. tests/deploy/ builds and runs the real stack.
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
import sys
import tomllib
from pathlib import Path

import pytest

from ari_app.core.login import verify_pin

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup-secrets"
PBX = REPO / "scripts" / "pbx"
PBX_SITE_PY = REPO / "ari_app" / "pbx_site.py"
EXAMPLE_TOML = REPO / "config" / "example.toml"
PRODUCTION_EXAMPLE = REPO / "config" / "production.toml.example"
ASTERISK_DOCKERFILE = REPO / "docker" / "asterisk" / "Dockerfile"
PACKAGES_TXT = REPO / "docker" / "asterisk" / "packages.txt"
ASTERISK_ENTRYPOINT = REPO / "docker" / "asterisk" / "entrypoint.sh"
SERVICE_DOCKERFILE = REPO / "docker" / "service" / "Dockerfile"
SERVICE_ENTRYPOINT = REPO / "docker" / "service" / "entrypoint.sh"
REQUIREMENTS_LOCK = REPO / "docker" / "service" / "requirements.lock"
MOSQUITTO_DOCKERFILE = REPO / "docker" / "mosquitto" / "Dockerfile"
MOSQUITTO_CONF = REPO / "docker" / "mosquitto" / "mosquitto.conf"
MOSQUITTO_ENTRYPOINT = REPO / "docker" / "mosquitto" / "entrypoint.sh"
POSTGRES_DOCKERFILE = REPO / "docker" / "postgres" / "Dockerfile"
DOCKERFILES = {
    "asterisk": ASTERISK_DOCKERFILE,
    "ari-app": SERVICE_DOCKERFILE,
    "mosquitto": MOSQUITTO_DOCKERFILE,
    "postgres": POSTGRES_DOCKERFILE,
}
DEV_CONF = REPO / "asterisk-config"

SECRET_FILES = ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf", "mosquitto_passwd")
SHOWN_ONCE_FILES = ("agent_pins", "api_tokens")  # the PINs and API tokens themselves
ENV_KEYS = (
    "PBX_BIND",
    "ARI_PASSWORD",
    "AMI_SECRET",
    "MQTT_PASSWORD",
    "MQTT_WALLBOARD_PASSWORD",
    "POSTGRES_PASSWORD",
    "MQTT_LISTEN",
    "MQTT_PREFIX",
    "TZ",
)
RANDOM_KEYS = ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD", "MQTT_WALLBOARD_PASSWORD", "POSTGRES_PASSWORD")
FORCED_KEYS = ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD", "MQTT_WALLBOARD_PASSWORD")  # --force: new
# variables the entrypoints read: never inherited from the shell running the tests
ENTRYPOINT_VARS = (
    "ARI_APP_CONFIG",
    "ARI_APP_SITE",
    "ARI_APP_ROOT",
    "ASTERISK_ALLOW_UNSUPPORTED",
    "PBX_SITE_PY",
    "MQTT_WS_LISTEN",
    "MQTT_PREFIX",
    "MOSQUITTO_RUN_DIR",
    "MOSQUITTO_TEMPLATE",
    "MOSQUITTO_PASSWD_SECRET",
    "MOSQUITTO_PASSWD",
)
DEV_PASSWORD = re.compile(r"callcenter-dev|(?<![\w])dev-(?:caller)?\d+")
BIND = "192.0.2.10"
TRUNK_IP = "198.51.100.20"
ASTERISK_22 = "Asterisk 22.5.2~dfsg+~cs6.15.60671435-1"  # `asterisk -V` of Debian's package


# --- helpers ------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without deployment values or docker-compose settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ENV_KEYS and k not in ENTRYPOINT_VARS and not k.startswith(("COMPOSE_", "DOCKER_"))
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
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":  # as docker-compose reads it
                v = v[1:-1]
            env[k.strip()] = v
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


def typed_sections(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """[(name, {key: [values]})] of an Asterisk config, one entry per [section]."""
    out: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        m = re.fullmatch(r"\[([^\]]+)\].*", line)
        if m:
            out.append((m.group(1), {}))
        elif "=" in line and out:
            k, _, v = line.partition("=")
            out[-1][1].setdefault(k.strip(), []).append(v.lstrip(">").strip())
    return out


def mqtt_users(passwd_file: Path) -> list[str]:
    return [line.partition(":")[0] for line in passwd_file.read_text().splitlines() if line.strip()]


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
    files (the work tree's .env, secrets/, site/ and config/production.toml are
    gitignored, so absent)."""
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
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".env", "secrets", "site", "production.toml", "__pycache__", "var", "build"
            ),
        )
    else:
        for f in files:
            src = REPO / f
            if src.is_file() and not src.is_symlink():
                (dst / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst / f)
    assert not (dst / ".env").exists() and not (dst / "secrets").exists()
    assert not (dst / "config" / "production.toml").exists() and not (dst / "site").exists()


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


def mounts(svc: dict) -> dict[str, dict]:
    """{target: {"source", "read_only", "type"}} of a service's volumes in `docker-compose config`."""
    out = {}
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            kind = "bind" if parts[0].startswith(("/", ".")) else "volume"
            out[parts[1]] = {"source": parts[0], "read_only": len(parts) > 2 and parts[2] == "ro", "type": kind}
        else:
            out[v["target"]] = {"read_only": False, **v}
    return out


def ari_app_command() -> list[str]:
    exe = Path(sys.executable).with_name("ari-app")
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    return [sys.executable, "-m", "ari_app"]


def write_shim(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    p = bin_dir / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)


def root_shims(bin_dir: Path, log: Path, user: str) -> str:
    """A PATH on which the entrypoint runs "as root" of an image with `user`: `id -u`
    says 0, `id <user>` succeeds, and `chown` only records its arguments (the
    test may run unprivileged, and no host path may change owner)."""
    write_shim(
        bin_dir,
        "id",
        f'case "$1" in -u) echo 0 ;; {user}) echo "uid=2600({user}) gid=2600({user})" ;; *) exec /usr/bin/id "$@" ;; esac\n',
    )
    write_shim(bin_dir, "chown", f'printf "%s\\n" "$*" >>"{log}"\n')
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def user_shims(bin_dir: Path) -> str:
    """A PATH on which `id -u` says 1000: the entrypoint's root-only steps are skipped."""
    write_shim(bin_dir, "id", 'case "$1" in -u) echo 1000 ;; *) exec /usr/bin/id "$@" ;; esac\n')
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


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


@pytest.fixture(scope="module")
def compose_site(tmp_path_factory: pytest.TempPathFactory, compose: str):
    """A fresh clone set up by setup-secrets, and its `docker-compose config`: (clone, .env, config)."""
    clone = tmp_path_factory.mktemp("compose") / "clone"
    fresh_copy(clone)
    r = run_setup(clone, PBX_BIND=BIND, MOSQUITTO_PASSWD="none")
    assert r.returncode == 0, r.stderr
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
    return clone, read_env(clone / ".env"), compose_yaml_loader(compose)(r.stdout)


# --- docker-compose.yml -------------------------------------------------------


def test_env_and_secrets_are_gitignored():
    if not shutil.which("git") or not (REPO / ".git").exists():
        pytest.skip(reason="not a git checkout")
    for path in (
        ".env",
        "secrets/ari_users.conf",
        "secrets/mosquitto_passwd",
        "secrets/agent_pins",
        "secrets/api_tokens",
        "config/production.toml",  # PIN hashes and token hashes of one site
        "site/pjsip_trunks.conf",  # the provider's password
    ):
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


def test_compose_passes_each_service_only_its_secrets(compose_site):
    clone, env, cfg = compose_site
    services = cfg["services"]
    assert set(services) == {"asterisk", "mosquitto", "ari-app", "postgres"}
    ast, mq, app, pg = (services[n] for n in ("asterisk", "mosquitto", "ari-app", "postgres"))
    for name, svc in services.items():
        assert svc.get("network_mode") == "host", name
        assert "env_file" not in svc, f"{name}: env_file breaks `config` on a fresh clone (docker-compose v1)"
        assert svc["build"]["dockerfile"] == str(DOCKERFILES[name].relative_to(REPO)), name
        assert Path(svc["build"]["context"]).resolve() == clone.resolve(), name

    # each service gets only the variables it needs; the wallboard's password goes nowhere
    assert ast["environment"] == {
        "PBX_BIND": BIND,
        "ARI_PASSWORD": env["ARI_PASSWORD"],
        "AMI_SECRET": env["AMI_SECRET"],
        "TZ": env["TZ"],
    }
    assert app["environment"] == {
        **{k: env[k] for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD", "TZ")},
        "ARI_APP_STORE_URL": "",
    }
    assert mq["environment"] == {
        "MQTT_LISTEN": env["MQTT_LISTEN"],
        "MQTT_WS_LISTEN": "",
        "MQTT_PREFIX": "callcenter",
        "TZ": env["TZ"],
    }
    assert pg["environment"] == {"POSTGRES_PASSWORD": env["POSTGRES_PASSWORD"], "TZ": env["TZ"]}

    # secret files: from ./secrets, each only where it is needed
    files = {name: Path(s["file"]).resolve() for name, s in cfg["secrets"].items()}
    for name, path in files.items():
        assert path.parent == (clone / "secrets").resolve() and path.is_file(), name
    assert {s["source"] for s in ast["secrets"]} == {"ari_users.conf", "manager_users.conf", "pjsip_phones.conf"}
    assert {s["source"] for s in mq["secrets"]} == {"mosquitto_passwd"}
    assert not app.get("secrets") and not pg.get("secrets")
    assert set(files) == {"ari_users.conf", "manager_users.conf", "pjsip_phones.conf", "mosquitto_passwd"}

    app_m, ast_m, mq_m = mounts(app), mounts(ast), mounts(mq)
    # ari-app: the whole config/ (production.toml and what it names, e.g. the roster), read-only
    conf = app_m["/etc/ari-app"]
    assert conf["type"] == "bind" and conf["read_only"] is True
    assert Path(conf["source"]).resolve() == (clone / "config").resolve()
    assert app["command"] == ["ari-app", "run", "--config", "/etc/ari-app/production.toml"]
    assert (clone / "config" / "production.toml").is_file()
    assert app_m["/var/lib/ari-app"]["type"] == "volume"
    # voicemails are read through ARI's /recordings/stored (R-VM), not from a shared volume
    assert not any(t.startswith("/var/spool/asterisk") for t in app_m), sorted(app_m)
    # asterisk: the same config (the dialplan numbers are rendered from it) and the site's files,
    # where the entrypoint looks by default
    entry = ASTERISK_ENTRYPOINT.read_text()
    conf = ast_m["/etc/ari-app/config.toml"]
    assert conf["type"] == "bind" and conf["read_only"] is True
    assert Path(conf["source"]).resolve() == (clone / "config" / "production.toml").resolve()
    assert "${ARI_APP_CONFIG:-$R/etc/ari-app/config.toml}" in entry
    site = ast_m["/etc/ari-app/site"]
    assert site["type"] == "bind" and site["read_only"] is True
    assert Path(site["source"]).resolve() == (clone / "site").resolve() and (clone / "site").is_dir()
    assert "${ARI_APP_SITE:-$R/etc/ari-app/site}" in entry
    for target in ("/var/spool/asterisk", "/var/log/asterisk", "/var/lib/asterisk"):
        assert ast_m[target]["type"] == "volume", target
    assert mq_m["/var/lib/mosquitto"]["type"] == "volume"
    assert mounts(pg)["/var/lib/ari-app-pg"]["type"] == "volume"


def test_compose_lifecycle(compose_site):
    """Healthchecks, start order, restarts, log limits, volumes, the postgres profile."""
    _, env, cfg = compose_site
    services = cfg["services"]
    for name, svc in services.items():
        assert svc.get("restart") == "always", name
        hc = svc.get("healthcheck")
        assert hc and hc.get("test") and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        assert not hc.get("disable"), name
        for key in ("interval", "timeout", "retries", "start_period"):
            assert hc.get(key), f"{name}: healthcheck without {key}"
        log = svc.get("logging") or {}
        assert log.get("driver") == "json-file" and log.get("options", {}).get("max-size"), f"{name}: no log limit"
        assert svc["environment"]["TZ"] == env["TZ"] == "Asia/Shanghai", name  # the example's calendar
        if name == "postgres":
            assert svc.get("profiles") == ["postgres"], "postgres must start only with --profile postgres"
        else:
            assert not svc.get("profiles"), name
    assert services["ari-app"]["healthcheck"]["test"] == ["CMD", "ari-app", "health", "--timeout", "3",
                                                         "--config", "/etc/ari-app/production.toml"]
    assert services["ari-app"]["depends_on"] == {
        "asterisk": {"condition": "service_healthy"},
        "mosquitto": {"condition": "service_healthy"},
    }
    for name in ("asterisk", "mosquitto", "postgres"):
        assert not services[name].get("depends_on"), name
    # the astdb (registrations, device states) and every other named volume are declared
    assert mounts(services["asterisk"])["/var/lib/asterisk"]["source"] == "asterisk-lib"
    used = {m["source"] for svc in services.values() for m in mounts(svc).values() if m["type"] == "volume"}
    assert used == set(cfg["volumes"]), (used, set(cfg["volumes"]))
    assert "asterisk-lib" in used


# --- scripts/setup-secrets ------------------------------------------------------


def test_setup_secrets_writes_private_files(deploy: Path):
    assert os.access(SETUP, os.X_OK), "scripts/setup-secrets is not executable"
    assert stat.S_IMODE((deploy / "secrets").stat().st_mode) == 0o700
    dev = dev_passwords()
    private = [deploy / ".env", *(deploy / "secrets" / f for f in SECRET_FILES + SHOWN_ONCE_FILES)]
    for path in private:
        assert path.is_file(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path}: {oct(path.stat().st_mode)}"
    for path in [*private, deploy / "config" / "production.toml"]:
        text = path.read_text()
        assert not DEV_PASSWORD.search(text), f"{path} holds a development password"
        values = set(conf_values(text, "password") + conf_values(text, "secret")) | set(read_env(path).values())
        assert not values & dev, f"{path} holds a development password"
    assert sorted(p.name for p in (deploy / "secrets").iterdir()) == sorted(SECRET_FILES + SHOWN_ONCE_FILES)


def test_setup_secrets_config_is_readable_by_the_service(deploy: Path):
    """config/ is mounted into ari-app (uid 2601, not root): the config holds only hashes,
    and the service must be able to read it and the directory it is in (docker/README.md)."""
    cfg = deploy / "config" / "production.toml"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640 and cfg.stat().st_gid == 2601  # PIN hashes: not for all
    assert stat.S_IMODE(cfg.parent.stat().st_mode) & 0o005 == 0o005, oct(cfg.parent.stat().st_mode)
    assert stat.S_IMODE((deploy / "site").stat().st_mode) == 0o755


def test_setup_secrets_values_agree(deploy: Path):
    env = read_env(deploy / ".env")
    assert set(ENV_KEYS) <= set(env)
    assert env["PBX_BIND"] == BIND
    secrets = [env[k] for k in RANDOM_KEYS]
    assert all(re.fullmatch(r"[0-9a-f]{32}", s) for s in secrets), "expected 128 random bits, hex"
    assert len(set(secrets)) == len(RANDOM_KEYS)
    assert env["MQTT_LISTEN"] == "127.0.0.1", "MQTT (no TLS) on the LAN only when asked: --mqtt-listen"
    assert env["MQTT_PREFIX"] == "callcenter"  # the config's [mqtt] prefix: the broker's ACL
    assert env["TZ"] == "Asia/Shanghai"  # config/production.toml.example's first calendar
    sec = deploy / "secrets"
    assert conf_values((sec / "ari_users.conf").read_text(), "password") == [env["ARI_PASSWORD"]]
    assert conf_values((sec / "manager_users.conf").read_text(), "secret") == [env["AMI_SECRET"]]
    # the development files' users and permissions are kept
    assert "[callcenter]" in (sec / "ari_users.conf").read_text()
    dev_mgr = (DEV_CONF / "manager_users.conf").read_text()
    mgr = (sec / "manager_users.conf").read_text()
    for key in ("permit", "deny", "read", "write"):
        assert conf_values(mgr, key) == conf_values(dev_mgr, key), key


def test_setup_secrets_mosquitto_users(deploy: Path):
    env = read_env(deploy / ".env")
    passwd = deploy / "secrets" / "mosquitto_passwd"
    assert mqtt_users(passwd) == ["ari-app", "wallboard"]
    assert mqtt_password_ok(passwd, "ari-app", env["MQTT_PASSWORD"])
    assert mqtt_password_ok(passwd, "wallboard", env["MQTT_WALLBOARD_PASSWORD"])
    assert not mqtt_password_ok(passwd, "ari-app", env["MQTT_WALLBOARD_PASSWORD"])
    assert not mqtt_password_ok(passwd, "wallboard", env["MQTT_PASSWORD"])


def test_setup_secrets_python_hash_fallback(tmp_path: Path):
    d = tmp_path / "d"
    r = run_setup(d, PBX_BIND=BIND, MOSQUITTO_PASSWD="none")
    assert r.returncode == 0, r.stderr
    env = read_env(d / ".env")
    passwd = d / "secrets" / "mosquitto_passwd"
    assert mqtt_users(passwd) == ["ari-app", "wallboard"]
    assert mqtt_password_ok(passwd, "ari-app", env["MQTT_PASSWORD"])
    assert mqtt_password_ok(passwd, "wallboard", env["MQTT_WALLBOARD_PASSWORD"])


def config_phones(config: Path) -> list[str]:
    """The phone names of the agents' PJSIP interfaces, in file order, once each."""
    names: list[str] = []
    for agent in tomllib.loads(config.read_text())["agents"].values():
        iface = agent.get("interface", "")
        if iface.startswith("PJSIP/") and iface[6:] not in names:
            names.append(iface[6:])
    return names


def check_phones(text: str, names: list[str], qualify: int) -> list[str]:
    """The phones of a pjsip_phones.conf are exactly `names`; returns their passwords."""
    sections = phone_sections(text)
    assert list(sections) == names
    assert not re.search(r"caller\d|from-callers", text), "test caller endpoints in the production phones"
    passwords = []
    for n in names:
        assert set(sections[n]) == {"phone-endpoint", "phone-auth", "phone-aor"}, n
        ep = "\n".join(sections[n]["phone-endpoint"])
        assert conf_values(ep, "auth") == [n] and conf_values(ep, "aors") == [n]
        auth = "\n".join(sections[n]["phone-auth"])
        assert conf_values(auth, "username") == [n]
        (pw,) = conf_values(auth, "password")
        assert re.fullmatch(r"[0-9a-f]{32}", pw), n
        passwords.append(pw)
        aor = "\n".join(sections[n]["phone-aor"])
        assert conf_values(aor, "qualify_frequency") == [str(qualify)], n
    assert len(set(passwords)) == len(names)
    # the templates they use are in pjsip.conf (pjsip_phones.conf is replaced in production)
    pjsip = (DEV_CONF / "pjsip.conf").read_text()
    for template in ("phone-endpoint", "phone-auth", "phone-aor"):
        assert re.search(rf"(?m)^\[{template}\]\(!\)", pjsip), f"no template [{template}](!) in pjsip.conf"
    return passwords


def test_setup_secrets_phones(deploy: Path):
    names = config_phones(deploy / "config" / "production.toml")
    assert names == ["1001", "2001"], "config/production.toml.example's agents"
    passwords = check_phones((deploy / "secrets" / "pjsip_phones.conf").read_text(), names, 60)
    r = run_setup(deploy, "--show-phone", "2001")
    assert r.returncode == 0 and r.stdout.strip() == passwords[1]
    assert run_setup(deploy, "--show-phone", "caller1").returncode != 0
    assert run_setup(deploy, "--show-phone", "1002").returncode != 0


@pytest.mark.parametrize("qualify", [0, 25])
def test_setup_secrets_qualify(tmp_path: Path, qualify: int):
    d = tmp_path / "d"
    r = run_setup(d, "--qualify-s", str(qualify), PBX_BIND=BIND)
    assert r.returncode == 0, r.stderr
    check_phones((d / "secrets" / "pjsip_phones.conf").read_text(), ["1001", "2001"], qualify)


@pytest.mark.parametrize("bad", ["x", "-5", "3601", ""])
def test_setup_secrets_refuses_a_bad_qualify(tmp_path: Path, bad: str):
    r = run_setup(tmp_path / "d", "--qualify-s", bad, PBX_BIND=BIND)
    assert r.returncode != 0 and "qualify" in r.stderr
    assert not (tmp_path / "d" / "secrets" / "pjsip_phones.conf").exists()


def test_setup_secrets_phones_follow_an_existing_config(tmp_path: Path):
    """A config written before setup-secrets is used as it is: its agents get the phones."""
    d = tmp_path / "d"
    (d / "config").mkdir(parents=True)
    text = EXAMPLE_TOML.read_text() + (
        '\n[agents.3001]\ninterface = "PJSIP/desk-3001"\nqueues = ["support"]\n'
        '\n[agents.3002]\ninterface = "SIP/legacy"\nqueues = ["support"]\n'
    )
    (d / "config" / "production.toml").write_text(text)
    r = run_setup(d, PBX_BIND=BIND)
    assert r.returncode == 0, r.stderr
    assert (d / "config" / "production.toml").read_text() == text
    assert not (d / "secrets" / "agent_pins").exists() and not (d / "secrets" / "api_tokens").exists()
    check_phones((d / "secrets" / "pjsip_phones.conf").read_text(), ["1001", "1002", "desk-3001"], 60)
    assert read_env(d / ".env")["TZ"] == "UTC"  # config/example.toml has no calendar


def test_setup_secrets_adds_the_phones_of_new_agents_and_keeps_the_others(deploy: Path):
    """An agent added to the config later gets a phone on the next run; existing phones keep their passwords."""
    phones = deploy / "secrets" / "pjsip_phones.conf"
    before = check_phones(phones.read_text(), ["1001", "2001"], 60)
    with open(deploy / "config" / "production.toml", "a") as f:
        f.write('\n[agents.3001]\nqueues = ["sales"]\ninterface = "PJSIP/3001"\n')
    r = run_setup(deploy)
    assert r.returncode == 0, r.stderr
    assert "phones added: 3001" in r.stderr
    after = check_phones(phones.read_text(), ["1001", "2001", "3001"], 60)
    assert after[:2] == before and after[2] not in before
    assert stat.S_IMODE(phones.stat().st_mode) == 0o600
    again = phones.read_text()
    assert run_setup(deploy).returncode == 0 and phones.read_text() == again  # nothing new: unchanged

def test_setup_secrets_config_passes_check_config(deploy: Path):
    env = read_env(deploy / ".env")
    secrets = {k: env[k] for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD")}
    cmd = [*ari_app_command(), "check-config", "config/production.toml"]
    run_env = clean_env(PYTHONPATH=str(REPO), **secrets)
    r = subprocess.run(cmd, cwd=deploy, env=run_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout and "2 agents" in r.stdout and "PJSIP/{number}@provider" in r.stdout
    # the check is real: without a secret it fails
    del run_env["MQTT_PASSWORD"]
    r = subprocess.run(cmd, cwd=deploy, env=run_env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "MQTT_PASSWORD" in r.stderr


def test_setup_secrets_pins_verify(deploy: Path):
    config = tomllib.loads((deploy / "config" / "production.toml").read_text())
    pins = dict(line.split() for line in (deploy / "secrets" / "agent_pins").read_text().splitlines())
    assert set(pins) == set(config["agents"]) == {"1001", "2001"}
    for agent, pin in pins.items():
        assert re.fullmatch(r"[0-9]{6}", pin), agent
        stored = config["agents"][agent]["pin_hash"]
        assert verify_pin(pin, stored), agent
        assert not verify_pin(f"{(int(pin) + 1) % 10**6:06d}", stored), agent
        assert not re.search(rf"[\"=]\s*{pin}\b", (deploy / "config" / "production.toml").read_text()), agent


def test_setup_secrets_api_tokens(deploy: Path, monkeypatch: pytest.MonkeyPatch):
    from ari_app import config as config_mod

    env = read_env(deploy / ".env")
    for k in ("ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD"):
        monkeypatch.setenv(k, env[k])
    path = deploy / "config" / "production.toml"
    text = path.read_text()
    rows = [line.split() for line in (deploy / "secrets" / "api_tokens").read_text().splitlines()]
    assert [(name, role) for name, role, _ in rows] == [("ops", "ops"), ("supervisor", "supervisor")]
    entries = {t["name"]: t for t in tomllib.loads(text)["api"]["tokens"]}
    cfg = config_mod.load(path)
    for name, role, token in rows:
        assert len(token) >= 40 and token not in text, name
        assert entries[name]["sha256"] == hashlib.sha256(token.encode()).hexdigest(), name
        assert entries[name]["role"] == role
        found = cfg.api.authenticate(token)  # the service's own check
        assert found is not None and (found.name, found.role) == (name, role)
    assert cfg.api.authenticate("x" + rows[0][2]) is None


def test_setup_secrets_prints_pins_and_tokens_once(tmp_path: Path):
    d = tmp_path / "d"
    first = run_setup(d, PBX_BIND=BIND)
    assert first.returncode == 0, first.stderr
    shown = [line.split()[-1] for line in (d / "secrets" / "api_tokens").read_text().splitlines()]
    shown += [line.split()[1] for line in (d / "secrets" / "agent_pins").read_text().splitlines()]
    for value in shown:
        assert value in first.stdout
    again = run_setup(d)
    assert again.returncode == 0, again.stderr
    for value in shown:
        assert not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", again.stdout + again.stderr), value


def test_setup_secrets_second_run_changes_nothing(deploy: Path):
    before = snapshot(deploy)
    r = run_setup(deploy, PBX_BIND="198.51.100.7")
    assert r.returncode == 0, r.stderr
    assert snapshot(deploy) == before


def test_setup_secrets_never_overwrites_the_config(deploy: Path):
    cfg = deploy / "config" / "production.toml"
    edited = cfg.read_text().replace('caller_id = "4008001234"', 'caller_id = "4008005678"')
    assert edited != cfg.read_text()
    cfg.write_text(edited)
    shown = {f: (deploy / "secrets" / f).read_bytes() for f in SHOWN_ONCE_FILES}
    for args in ((), ("--force",)):
        r = run_setup(deploy, *args)
        assert r.returncode == 0, r.stderr
        assert cfg.read_text() == edited, args
        assert {f: (deploy / "secrets" / f).read_bytes() for f in SHOWN_ONCE_FILES} == shown, args


def test_setup_secrets_mqtt_listen_and_force_keeps_other_env_lines(deploy: Path):
    with open(deploy / ".env", "a") as f:
        f.write("ARI_APP_STORE_URL=postgresql://ari_app:x@127.0.0.1/ari_app\nMQTT_WS_LISTEN=192.0.2.10:9001\n")
    r = run_setup(deploy, "--force", "--mqtt-listen", BIND)
    assert r.returncode == 0, r.stderr
    env = read_env(deploy / ".env")
    assert env["MQTT_LISTEN"].split() == ["127.0.0.1", BIND]
    assert env["ARI_APP_STORE_URL"] == "postgresql://ari_app:x@127.0.0.1/ari_app"  # not this script's: kept
    assert env["MQTT_WS_LISTEN"] == "192.0.2.10:9001"
    assert run_setup(deploy, "--mqtt-listen", "not an address!").returncode != 0

def test_setup_secrets_force_regenerates(deploy: Path):
    old = read_env(deploy / ".env")
    old_phones = (deploy / "secrets" / "pjsip_phones.conf").read_text()
    r = run_setup(deploy, "--force")
    assert r.returncode == 0, r.stderr
    new = read_env(deploy / ".env")
    for k in ("PBX_BIND", "MQTT_LISTEN", "TZ"):  # not secrets: kept
        assert new[k] == old[k], k
    for k in FORCED_KEYS:
        assert new[k] != old[k], k
    assert new["POSTGRES_PASSWORD"] == old["POSTGRES_PASSWORD"], "a store URL in .env holds it"
    assert (deploy / "secrets" / "pjsip_phones.conf").read_text() != old_phones
    check_phones((deploy / "secrets" / "pjsip_phones.conf").read_text(), ["1001", "2001"], 60)
    passwd = deploy / "secrets" / "mosquitto_passwd"
    assert mqtt_password_ok(passwd, "ari-app", new["MQTT_PASSWORD"])
    assert mqtt_password_ok(passwd, "wallboard", new["MQTT_WALLBOARD_PASSWORD"])


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


def test_setup_secrets_upgrades_an_older_deployment(deploy: Path):
    """A site set up before the wallboard user existed: .env without the new keys, a
    password file with the service's user only. A re-run adds the keys and the
    wallboard user, and changes no existing value."""
    env_file, passwd = deploy / ".env", deploy / "secrets" / "mosquitto_passwd"
    old = read_env(env_file)
    env_file.write_text("".join(f"{k}={old[k]}\n" for k in ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD")))
    ari_line = next(line for line in passwd.read_text().splitlines() if line.startswith("ari-app:"))
    passwd.write_text(ari_line + "\n")
    r = run_setup(deploy)
    assert r.returncode == 0, r.stderr
    new = read_env(env_file)
    assert set(ENV_KEYS) <= set(new)
    for k in ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD"):
        assert new[k] == old[k], k
    assert passwd.read_text().splitlines()[0] == ari_line
    assert mqtt_users(passwd) == ["ari-app", "wallboard"]
    assert mqtt_password_ok(passwd, "wallboard", new["MQTT_WALLBOARD_PASSWORD"]), "the wallboard cannot log in"
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o600
    before = snapshot(deploy)
    assert run_setup(deploy).returncode == 0
    assert snapshot(deploy) == before


def test_setup_secrets_refuses_a_wallboard_mismatch(deploy: Path):
    env_file = deploy / ".env"
    env_file.write_text(
        re.sub(r"(?m)^MQTT_WALLBOARD_PASSWORD=.*$", "MQTT_WALLBOARD_PASSWORD=" + "0" * 32, env_file.read_text())
    )
    before = snapshot(deploy)
    r = run_setup(deploy)
    assert r.returncode != 0 and "MQTT_WALLBOARD_PASSWORD" in r.stderr
    assert snapshot(deploy) == before


def test_setup_secrets_trunk_ip(tmp_path: Path):
    d = tmp_path / "d"
    r = run_setup(d, "--trunk-ip", TRUNK_IP, PBX_BIND=BIND)
    assert r.returncode == 0, r.stderr
    trunk = d / "site" / "pjsip_trunks.conf"
    assert stat.S_IMODE(trunk.stat().st_mode) == 0o600  # a provider's password goes here; root reads it at start
    endpoint = tomllib.loads((d / "config" / "production.toml").read_text())["trunk"]["endpoint"]
    by_type = {}
    for name, keys in typed_sections(trunk.read_text()):
        assert name == endpoint, "the trunk is the config's [trunk] endpoint"
        (kind,) = keys["type"]
        by_type[kind] = keys
    assert set(by_type) == {"endpoint", "aor", "identify"}
    assert by_type["identify"]["match"] == [TRUNK_IP] and by_type["identify"]["endpoint"] == [endpoint]
    assert by_type["endpoint"]["context"] == ["from-trunk"] and by_type["endpoint"]["aors"] == [endpoint]
    assert by_type["aor"]["contact"] == [f"sip:{TRUNK_IP}:5060"]
    assert "[from-trunk]" in (REPO / "dialplan" / "extensions.conf").read_text()
    # never overwritten (the site may have edited it)
    trunk.write_text(trunk.read_text() + "; edited\n")
    before = trunk.read_text()
    r = run_setup(d, "--trunk-ip", "203.0.113.9")
    assert r.returncode == 0, r.stderr
    assert trunk.read_text() == before


def test_setup_secrets_refuses_a_bad_trunk_ip(tmp_path: Path):
    r = run_setup(tmp_path / "d", "--trunk-ip", "1.2.3.4\n[evil]", PBX_BIND=BIND)
    assert r.returncode != 0 and "trunk-ip" in r.stderr
    assert not (tmp_path / "d" / "site" / "pjsip_trunks.conf").exists()


def test_setup_secrets_detects_pbx_bind(tmp_path: Path):
    r = run_setup(tmp_path / "d")
    assert r.returncode == 0, r.stderr
    bind = read_env(tmp_path / "d" / ".env")["PBX_BIND"]
    assert re.fullmatch(r"[0-9A-Za-z.:_\[\]-]+", bind), bind


def test_setup_secrets_refuses_a_bad_pbx_bind(tmp_path: Path):
    r = run_setup(tmp_path / "d", "--pbx-bind", "10.0.0.1/24")
    assert r.returncode != 0 and "PBX_BIND" in r.stderr
    assert not (tmp_path / "d").exists()


# --- the images -------------------------------------------------------------------


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
    """The packages of docker/asterisk/Dockerfile's install of the PBX (packages.txt);
    the image-only extras (python3 for pbx_site.py, tini) are another install."""
    text = re.sub(r"\\\n", " ", ASTERISK_DOCKERFILE.read_text())
    installs = [line for line in text.splitlines() if "apt-get install" in line]
    assert installs, "no apt-get install in docker/asterisk/Dockerfile"
    pbx = [i for i in installs if "packages.txt" in i]
    if pbx:
        assert len(pbx) == 1 and re.search(r"(?m)^COPY\s+docker/asterisk/packages\.txt\s", text)
        return packages_txt()
    assert len(installs) == 1, "expected one apt-get install in docker/asterisk/Dockerfile"
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
        ("asterisk-config/", "/usr/share/ari-app/asterisk-etc/"),
        ("dialplan/", "/usr/share/ari-app/asterisk-etc/"),
        ("prompts/zh/", "/usr/share/asterisk/sounds/callcenter/"),
        ("prompts/en/", "/usr/share/asterisk/sounds/en/callcenter/"),
        ("prompts/moh/", "/usr/share/ari-app/moh/"),  # into the /var/lib/asterisk volume at every start
        ("ari_app/pbx_site.py", "/usr/local/lib/ari-app/pbx_site.py"),
        ("docker/asterisk/entrypoint.sh", "/usr/local/sbin/ari-app-asterisk-entrypoint"),
    ]:
        m = re.search(rf"(?m)^COPY\s+{re.escape(src)}\s+(\S+)", text)
        assert m, f"no COPY {src}"
        assert m.group(1) == dst, src
    assert "/var/spool/asterisk/recording/callcenter-fallback" in text
    # the version the image got, where the entrypoint checks it; the astdb's pristine copy
    assert re.search(r"asterisk -V\s*\|\s*tee /usr/share/ari-app/asterisk-version", text)
    assert "cp -a /var/lib/asterisk /usr/share/ari-app/var-lib-asterisk" in text
    assert re.search(r'(?m)^VOLUME \[.*"/var/lib/asterisk".*\]', text)
    assert "python3" in text and "tomllib" in text  # pbx_site.py runs in the image
    # the development secrets are not in the image's config
    assert "rm -f ari_users.conf manager_users.conf pjsip_phones.conf" in text


def test_dockerfiles_use_debian_bases_only():
    want = {"asterisk": "debian:sid-slim", "ari-app": "debian:bookworm-slim",
            "mosquitto": "debian:bookworm-slim", "postgres": "debian:bookworm-slim"}
    found = sorted(p.relative_to(REPO) for p in (REPO / "docker").glob("*/Dockerfile"))
    assert found == sorted(p.relative_to(REPO) for p in DOCKERFILES.values())
    for name, path in DOCKERFILES.items():
        froms = re.findall(r"(?im)^\s*FROM\s+(.*?)\s*$", path.read_text())
        assert froms == [want[name]], f"{path}: FROM {froms}"


def test_dockerfiles_use_the_base_images_package_sources():
    for f in DOCKERFILES.values():
        text = f.read_text()
        assert "://" not in text, f"{f}: no URLs (mirrors, indexes) in Dockerfiles"
        assert "sources.list" not in text and "index-url" not in text, f


def dockerignore_patterns(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_dockerignore_admits_every_copy_source():
    """BuildKit reads docker/<x>/Dockerfile.dockerignore: "*" then "!path" for each COPY source."""
    for name, dockerfile in DOCKERFILES.items():
        ignore = dockerfile.with_name("Dockerfile.dockerignore")
        patterns = dockerignore_patterns(ignore)
        assert patterns[0] == "*", ignore
        allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
        for src in re.findall(r"(?m)^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+\s*$", dockerfile.read_text()):
            src = src.rstrip("/")
            assert any(src == a or src.startswith(a + "/") for a in allowed), f"{name}: COPY {src} is ignored"
            assert (REPO / src).exists(), f"{name}: COPY {src}: no such file"


def test_service_dockerfile():
    text = SERVICE_DOCKERFILE.read_text()
    flat = re.sub(r"\\\n", " ", text)
    assert re.search(r"(?m)^FROM debian:bookworm-slim\s*$", text)
    m = re.search(r"(?m)^COPY\s+docker/service/requirements\.lock\s+(\S+)", text)
    assert m, "the lock file is not copied into the image"
    installs = [line for line in flat.splitlines() if "pip install" in line]
    assert len(installs) == 1, installs
    assert "--require-hashes" in installs[0] and f"-r {m.group(1)}" in installs[0]
    assert not re.search(r"pip install\s+(?:\S+\s+)*\.(\s|$)", flat), "the project is copied, not pip-installed unpinned"
    assert re.search(r"(?m)^COPY\s+ari_app\s", text)
    users = re.findall(r"(?m)^USER\s+(\S+)", text)
    assert users and users[-1] not in ("root", "0")
    assert '\nCMD ["ari-app", "run", "--config", "/etc/ari-app/config.toml"]' in text
    assert re.search(r'(?m)^HEALTHCHECK .*CMD \["ari-app", "health", "--timeout", "3"\]', flat)


def requirement_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert m, req
    return normalise(m.group(1))


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, tuple[str, list[str]]]:
    """{name: (version, [hashes])} of docker/service/requirements.lock."""
    out: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", REQUIREMENTS_LOCK.read_text())
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*(.*)$", line)
        assert m, f"not a pinned requirement: {line[:80]}"
        name = normalise(m.group(1))
        assert name not in out, f"{name} locked twice"
        out[name] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3)))
    return out


def test_requirements_lock_pins_every_dependency():
    lock = locked()
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no --hash (pip --require-hashes refuses the file)"
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps
    try:
        from packaging.requirements import Requirement
    except ImportError:  # names only
        Requirement = None  # noqa: N806
    for dep in deps:
        name = requirement_name(dep)
        assert name in lock, f"pyproject.toml's {dep!r} is not in docker/service/requirements.lock"
        if Requirement is not None:
            req = Requirement(dep)
            assert req.specifier.contains(lock[name][0], prereleases=True), f"{name}=={lock[name][0]} not {req}"
            for extra in req.extras:  # psycopg[binary]: the compiled libpq wheel (pip --only-binary)
                assert f"{name}-{extra}" in lock, f"{dep}: {name}-{extra} is not locked"


def test_mosquitto_conf():
    """The image's template: no anonymous clients, the files the entrypoint renders; the
    listeners are the entrypoint's (MQTT_LISTEN), never the template's."""
    lines = {line.strip() for line in MOSQUITTO_CONF.read_text().splitlines() if not line.startswith("#")}
    for want in (
        "allow_anonymous false",
        "password_file /run/mosquitto/passwd",
        "acl_file /run/mosquitto/acl",
        "persistence true",
        "persistence_location /var/lib/mosquitto/",
    ):
        assert want in lines, want
    assert not any(line.startswith(("listener", "port ", "bind_address")) for line in lines)
    text = MOSQUITTO_DOCKERFILE.read_text()
    assert re.search(r"(?m)^COPY\s+docker/mosquitto/mosquitto\.conf\s+/usr/share/ari-app/mosquitto\.conf\s*$", text)
    assert re.search(r'(?m)^CMD \["mosquitto", "-c", "/run/mosquitto/mosquitto\.conf"\]', text)


def test_mosquitto_acl_matches_the_service_config():
    """The ACL's prefix (compose's MQTT_PREFIX default) and user are the production config's [mqtt]."""
    mqtt = tomllib.loads(PRODUCTION_EXAMPLE.read_text())["mqtt"]
    compose_text = (REPO / "docker-compose.yml").read_text()
    assert re.search(rf"MQTT_PREFIX: \$\{{MQTT_PREFIX:-{re.escape(mqtt['prefix'])}\}}", compose_text)
    assert mqtt["username"] == "ari-app" and mqtt["password_env"] == "MQTT_PASSWORD"


def test_asterisk_supported_versions_agree():
    """The entrypoint's supported majors are the range ari_app checks over ARI."""
    from ari_app.app import SUPPORTED_ASTERISK

    (lo, hi) = SUPPORTED_ASTERISK
    assert lo[1] == 0 and hi[1] == 0, "a range of whole majors"
    m = re.search(r'(?m)^SUPPORTED_MAJORS="([^"]*)"', ASTERISK_ENTRYPOINT.read_text())
    assert m
    assert m.group(1).split() == [str(v) for v in range(lo[0], hi[0])] == ["22"]


# --- the Asterisk entrypoint ---------------------------------------------------------


@pytest.fixture
def asterisk_root(tmp_path: Path) -> Path:
    """A root as in the Asterisk image: the pristine config (development secrets
    files included, to check they are replaced), the recorded Asterisk version,
    the service config at /etc/ari-app/config.toml and an empty /run/secrets."""
    root = tmp_path / "root"
    tpl = root / "usr/share/ari-app/asterisk-etc"
    tpl.mkdir(parents=True)
    for src in (REPO / "asterisk-config", REPO / "dialplan"):
        for f in src.iterdir():
            shutil.copy2(f, tpl / f.name)
    (root / "usr/share/ari-app/asterisk-version").write_text(ASTERISK_22 + "\n")
    (root / "etc/ari-app").mkdir(parents=True)
    shutil.copy2(EXAMPLE_TOML, root / "etc/ari-app/config.toml")
    (root / "run/secrets").mkdir(parents=True)
    return root


def install_secrets(root: Path, deploy: Path) -> dict[str, str]:
    """The deployment's secrets where compose mounts them; returns the entrypoint's environment."""
    for f in ("ari_users.conf", "manager_users.conf", "pjsip_phones.conf"):
        shutil.copy2(deploy / "secrets" / f, root / "run/secrets" / f)
    env = read_env(deploy / ".env")
    return {k: env[k] for k in ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET")}


def run_entrypoint(root: Path, env: dict[str, str], path: str | None = None) -> subprocess.CompletedProcess[str]:
    marker = root / "started"
    extra = {"PATH": path} if path else {}
    return subprocess.run(
        ["sh", str(ASTERISK_ENTRYPOINT), "sh", "-c", f'umask > "{marker}"'],
        env=clean_env(ARI_APP_ROOT=str(root), PBX_SITE_PY=str(PBX_SITE_PY), **extra, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_asterisk_entrypoint_installs_production_secrets(asterisk_root: Path, deploy: Path):
    shutil.copy2(deploy / "config" / "production.toml", asterisk_root / "etc/ari-app/config.toml")
    r = run_entrypoint(asterisk_root, install_secrets(asterisk_root, deploy))
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
    site = (etc / "extensions_site.conf").read_text()
    assert "CC_TRUNK = provider" in site and "exten => +862155550100,1,Goto(callcenter-queue,support,1)" in site
    assert "supported: 22.x" in r.stderr


@pytest.mark.parametrize("dev_file", ["ari_users.conf", "manager_users.conf", "pjsip_phones.conf"])
def test_asterisk_entrypoint_refuses_development_passwords(asterisk_root: Path, deploy: Path, dev_file: str):
    install_secrets(asterisk_root, deploy)
    shutil.copy2(DEV_CONF / dev_file, asterisk_root / "run/secrets" / dev_file)
    r = run_entrypoint(asterisk_root, {"PBX_BIND": BIND})
    assert r.returncode != 0
    assert "development password" in r.stderr and dev_file in r.stderr
    assert not (asterisk_root / "started").exists()


@pytest.mark.parametrize(
    "case",
    [
        "no PBX_BIND",
        "bad PBX_BIND",
        "missing secrets file",
        "ARI_PASSWORD mismatch",
        "AMI_SECRET mismatch",
        "no service config",
        "development password in a site file",
    ],
)
def test_asterisk_entrypoint_refuses_to_start(asterisk_root: Path, deploy: Path, case: str):
    env = install_secrets(asterisk_root, deploy)
    expect = {
        "no PBX_BIND": "PBX_BIND",
        "bad PBX_BIND": "PBX_BIND",
        "missing secrets file": "pjsip_phones.conf",
        "ARI_PASSWORD mismatch": "ARI_PASSWORD",
        "AMI_SECRET mismatch": "AMI_SECRET",
        "no service config": "no service config",
        "development password in a site file": "pjsip_site.conf",
    }[case]
    if case == "no PBX_BIND":
        del env["PBX_BIND"]
    elif case == "bad PBX_BIND":
        env["PBX_BIND"] = "1.2.3.4/x"
    elif case == "missing secrets file":
        (asterisk_root / "run/secrets/pjsip_phones.conf").unlink()
    elif case == "ARI_PASSWORD mismatch":
        env["ARI_PASSWORD"] = "0" * 32
    elif case == "AMI_SECRET mismatch":
        env["AMI_SECRET"] = "0" * 32
    elif case == "no service config":
        (asterisk_root / "etc/ari-app/config.toml").unlink()
    else:
        (asterisk_root / "etc/ari-app/site").mkdir()
        (asterisk_root / "etc/ari-app/site/pjsip_site.conf").write_text("[9999](phone-auth)\npassword = dev-9999\n")
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode != 0, case
    assert "refusing to start" in r.stderr and expect in r.stderr, r.stderr
    assert not (asterisk_root / "started").exists()


@pytest.mark.parametrize(
    "version, ok",
    [
        (ASTERISK_22, True),
        ("Asterisk 22.0.0", True),
        ("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1\nsecond line ignored", True),
        ("Asterisk 21.10.2~dfsg-1", False),
        ("Asterisk 23.0.0", False),
        ("Asterisk 220.1.0", False),
        ("Asterisk 2.2.0", False),
        ("Asterisk GIT-master-abc123", False),
        ("garbage", False),
        ("", False),
        (None, False),  # no version file
    ],
)
def test_asterisk_entrypoint_checks_the_version(asterisk_root: Path, deploy: Path, version: str | None, ok: bool):
    env = install_secrets(asterisk_root, deploy)
    vfile = asterisk_root / "usr/share/ari-app/asterisk-version"
    if version is None:
        vfile.unlink()
    else:
        vfile.write_text(version + "\n" if version else "")
    r = run_entrypoint(asterisk_root, env)
    if ok:
        assert r.returncode == 0, r.stderr
        assert (asterisk_root / "started").exists()
        assert "supported" in r.stderr and "warning" not in r.stderr
    else:
        assert r.returncode != 0
        assert not (asterisk_root / "started").exists()
        assert "refusing to start" in r.stderr
        if version:
            assert version.splitlines()[0] in r.stderr and "outside the supported range (22.x)" in r.stderr
            assert "ASTERISK_ALLOW_UNSUPPORTED=1" in r.stderr
        else:
            assert "asterisk-version" in r.stderr


@pytest.mark.parametrize("value, ok", [("1", True), ("0", False), ("yes", False), ("", False)])
def test_asterisk_entrypoint_version_override(asterisk_root: Path, deploy: Path, value: str, ok: bool):
    env = install_secrets(asterisk_root, deploy)
    (asterisk_root / "usr/share/ari-app/asterisk-version").write_text("Asterisk 21.10.2~dfsg-1\n")
    r = run_entrypoint(asterisk_root, {**env, "ASTERISK_ALLOW_UNSUPPORTED": value})
    assert (r.returncode == 0) is ok, r.stderr
    assert (asterisk_root / "started").exists() is ok
    if ok:
        assert "warning" in r.stderr and "Asterisk 21.10.2" in r.stderr and "ASTERISK_ALLOW_UNSUPPORTED=1" in r.stderr


SITE_FILES = {
    "pjsip_trunks.conf": "; site trunk\n[provider]\ntype = endpoint\ncontext = from-trunk\n",
    "pjsip_site.conf": "; site pjsip\n[transport-tls]\ntype = transport\n",
    "extensions_custom.conf": "; site dialplan\n[custom]\nexten => 777,1,Hangup()\n",
}


def test_asterisk_entrypoint_installs_site_files(asterisk_root: Path, deploy: Path):
    env = install_secrets(asterisk_root, deploy)
    site = asterisk_root / "etc/ari-app/site"
    site.mkdir()
    for name, text in SITE_FILES.items():
        (site / name).write_text(text)
    # examples and notes are skipped, not refused
    (site / "pjsip_trunks.conf.example").write_text("[example]\n")
    (site / "README.md").write_text("notes\n")
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    etc = asterisk_root / "etc/asterisk"
    for name, text in SITE_FILES.items():
        assert (etc / name).read_text() == text, name
        assert f"site file {name} installed" in r.stderr
    assert not (etc / "pjsip_trunks.conf.example").exists() and not (etc / "README.md").exists()
    # a file removed from site/ is gone after the next start (/etc/asterisk is rendered anew)
    (site / "pjsip_site.conf").unlink()
    (asterisk_root / "started").unlink()
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    assert not (etc / "pjsip_site.conf").exists() and (etc / "pjsip_trunks.conf").exists()
    # ARI_APP_SITE names another directory
    other = asterisk_root / "elsewhere"
    other.mkdir()
    (other / "pjsip_site.conf").write_text("; from elsewhere\n")
    r = run_entrypoint(asterisk_root, {**env, "ARI_APP_SITE": str(other)})
    assert r.returncode == 0, r.stderr
    assert (etc / "pjsip_site.conf").read_text() == "; from elsewhere\n" and not (etc / "pjsip_trunks.conf").exists()


def test_asterisk_entrypoint_installs_the_site_prompts(asterisk_root: Path, deploy: Path):
    """Issue 18 (R-XFER-NAME, R-GREET): site/prompts/<lang>/*.wav (scripts/make-prompts --site) go beside the
    image's prompts, Mandarin also as the default; a file where the directory should be is refused."""
    env = install_secrets(asterisk_root, deploy)
    site = asterisk_root / "etc/ari-app/site"
    for lang in ("zh", "en"):
        (site / "prompts" / lang).mkdir(parents=True)
        (site / "prompts" / lang / "agent-name-1001.wav").write_bytes(f"RIFF {lang}".encode())
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    sounds = asterisk_root / "usr/share/asterisk/sounds"
    assert (sounds / "callcenter/agent-name-1001.wav").read_bytes() == b"RIFF zh"
    assert (sounds / "zh/callcenter/agent-name-1001.wav").read_bytes() == b"RIFF zh"
    assert (sounds / "en/callcenter/agent-name-1001.wav").read_bytes() == b"RIFF en"
    assert "site prompts installed: 2 files" in r.stderr
    shutil.rmtree(site / "prompts")
    (site / "prompts").write_text("not a directory\n")
    (asterisk_root / "started").unlink()
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode != 0 and "must be a directory" in r.stderr and "refusing to start" in r.stderr


@pytest.mark.parametrize(
    "name", ["pjsip.conf", "pjsip_phones.conf", "extensions_site.conf", "extensions.conf", "trunks.conf", "notes.txt"]
)
def test_asterisk_entrypoint_refuses_an_unknown_site_file(asterisk_root: Path, deploy: Path, name: str):
    env = install_secrets(asterisk_root, deploy)
    site = asterisk_root / "etc/ari-app/site"
    site.mkdir()
    (site / "pjsip_trunks.conf").write_text(SITE_FILES["pjsip_trunks.conf"])
    (site / name).write_text("; would replace the image's config\n")
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode != 0
    assert f"unknown site file {site}/{name}" in r.stderr and "refusing to start" in r.stderr
    assert not (asterisk_root / "started").exists()


@pytest.mark.parametrize("name", ["pjsip_trunks.conf~", "pjsip_trunks.conf.bak", "pjsip_trunks.conf.orig",
                                  "pjsip_trunks.conf.swp"])
def test_asterisk_entrypoint_ignores_editor_backups_in_the_site(asterisk_root: Path, deploy: Path, name: str):
    """A backup an editor left in site/ is no reason to keep the PBX down: a warning, not a refusal."""
    env = install_secrets(asterisk_root, deploy)
    site = asterisk_root / "etc/ari-app/site"
    site.mkdir()
    (site / name).write_text("; an old copy\n")
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    assert f"ignoring {site}/{name}" in r.stderr
    assert not (asterisk_root / "etc/asterisk" / name).exists()


def test_asterisk_entrypoint_logs_to_the_console_only(asterisk_root: Path, deploy: Path):
    r = run_entrypoint(asterisk_root, install_secrets(asterisk_root, deploy))
    assert r.returncode == 0, r.stderr
    logger = (asterisk_root / "etc/asterisk/logger.conf").read_text()
    assert "console =>" in logger and "messages.log" not in logger
    assert "messages.log" in (REPO / "asterisk-config/logger.conf").read_text()  # the development PBX keeps it


def test_no_asterisk_log_takes_verbose_messages():
    """issue 17 item 21: verbose(3) wrote every dialplan step, callers' and dialled numbers with it, to
    messages.log. No log channel takes verbose now (console or file)."""
    for line in (REPO / "asterisk-config/logger.conf").read_text().splitlines():
        line = line.split(";", 1)[0]
        if "=>" in line:
            levels = [x.strip() for x in line.split("=>", 1)[1].split(",")]
            assert not any(x.startswith(("verbose", "debug", "dtmf", "*")) for x in levels), line


def test_asterisk_entrypoint_reload_renders_then_reloads_and_a_failure_changes_nothing(
        asterisk_root: Path, deploy: Path, tmp_path: Path):
    env = install_secrets(asterisk_root, deploy)
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    etc = asterisk_root / "etc/asterisk"
    calls = tmp_path / "asterisk.log"
    bin_dir = tmp_path / "bin"
    write_shim(bin_dir, "asterisk", f'printf "%s\\n" "$*" >>"{calls}"\n')
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    cfg = asterisk_root / "etc/ari-app/config.toml"
    text, n = re.subn(r"(?m)^\[dids\].*$", '\\g<0>\n"+862155550999" = "sales"', cfg.read_text())
    assert n == 1, "config/example.toml has one [dids] table"
    cfg.write_text(text)

    def reload() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(ASTERISK_ENTRYPOINT), "reload"],
                              env=clean_env(ARI_APP_ROOT=str(asterisk_root), PBX_SITE_PY=str(PBX_SITE_PY),
                                            PATH=path, **env), capture_output=True, text=True, timeout=60)
    r = reload()
    assert r.returncode == 0, r.stderr
    assert "862155550999" in (etc / "extensions_site.conf").read_text()
    assert calls.read_text().splitlines() == ["-rx core reload"]
    assert not (asterisk_root / "etc/asterisk.new").exists() and not (asterisk_root / "etc/asterisk.old").exists()
    # a config that cannot be rendered: refused, the running config untouched, no reload
    before = {f.name: f.read_text() for f in etc.iterdir()}
    cfg.write_text(cfg.read_text().replace('"+862155550999" = "sales"', '"+862155550999" = "nosuchqueue"'))
    r = reload()
    assert r.returncode != 0 and "cannot render" in r.stderr, r.stderr
    assert {f.name: f.read_text() for f in etc.iterdir()} == before
    assert calls.read_text().splitlines() == ["-rx core reload"]

@pytest.mark.parametrize(
    "name, includer",
    [
        ("pjsip_trunks.conf", "asterisk-config/pjsip.conf"),
        ("pjsip_site.conf", "asterisk-config/pjsip.conf"),
        ("extensions_custom.conf", "dialplan/extensions.conf"),
    ],
)
def test_asterisk_site_files_are_included(name: str, includer: str):
    """Each site file the entrypoint accepts is read by Asterisk (an optional include)."""
    assert name in re.search(r'(?m)^SITE_FILES="([^"]*)"', ASTERISK_ENTRYPOINT.read_text()).group(1).split()
    assert re.search(rf"(?m)^#(?:try)?include\s+{re.escape(name)}\s*$", (REPO / includer).read_text())


SMALL_CONFIG = """
[ari]
app = "acme"

[trunk]
endpoint = "carrier-1"
caller_id = "8005550100"

[queues.billing]
number = "700"
voicemail_number = "790"

[dids]
"+4930123456" = "billing"

[agents.3001]
interface = "PJSIP/3001"
queues = ["billing"]
"""


def pbx_site_render(path: Path) -> str:
    from ari_app import pbx_site

    return pbx_site.render_file(str(path))


def test_asterisk_entrypoint_renders_the_dialplan_numbers(asterisk_root: Path, deploy: Path, tmp_path: Path):
    env = install_secrets(asterisk_root, deploy)
    config = tmp_path / "site.toml"
    config.write_text(SMALL_CONFIG)
    r = run_entrypoint(asterisk_root, {**env, "ARI_APP_CONFIG": str(config)})
    assert r.returncode == 0, r.stderr
    out = (asterisk_root / "etc/asterisk/extensions_site.conf").read_text()
    assert out == pbx_site_render(config)
    lines = set(out.splitlines())
    for want in (
        "CC_APP = acme",
        "CC_TRUNK = carrier-1",
        "CC_OUTBOUND_CID = 8005550100",
        "exten => 700,1,Goto(callcenter-queue,billing,1)",
        "exten => 790,1,Set(CC_QUEUE=billing)",
        "exten => +4930123456,1,Goto(callcenter-queue,billing,1)",
        "exten => 4930123456,1,Goto(callcenter-queue,billing,1)",
    ):
        assert want in lines, want
    # the image's copy (the render of config/example.toml) is replaced, not kept beside it
    assert "exten => 600,1,Goto(callcenter-queue,support,1)" not in lines
    assert "#include extensions_site.conf" in (asterisk_root / "etc/asterisk/extensions.conf").read_text()


def test_asterisk_entrypoint_renders_the_example_as_committed(asterisk_root: Path, deploy: Path):
    """config/example.toml (at the default path) renders as dialplan/extensions_site.conf,
    but for the header naming the source."""
    env = install_secrets(asterisk_root, deploy)
    (asterisk_root / "usr/share/ari-app/asterisk-etc/extensions_site.conf").write_text("; stale\n")
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    out = (asterisk_root / "etc/asterisk/extensions_site.conf").read_text().splitlines()
    committed = (REPO / "dialplan/extensions_site.conf").read_text().splitlines()
    assert out[0] == f"; generated from {asterisk_root}/etc/ari-app/config.toml by pbx_site.py; do not edit"
    assert out[1:] == committed[1:]


@pytest.mark.parametrize(
    "change, message",
    [
        ('number = "700"', 'number = "900"'),  # agents dial 9<number> for an outside line
        ('"+4930123456" = "billing"', '"+4930123456" = "nosuch"'),
        ('app = "acme"', 'app = "acme'),  # not TOML
    ],
    ids=["starts with 9", "unknown queue", "not TOML"],
)
def test_asterisk_entrypoint_refuses_a_config_it_cannot_render(
    asterisk_root: Path, deploy: Path, tmp_path: Path, change: str, message: str
):
    env = install_secrets(asterisk_root, deploy)
    config = tmp_path / "bad.toml"
    config.write_text(SMALL_CONFIG.replace(change, message))
    r = run_entrypoint(asterisk_root, {**env, "ARI_APP_CONFIG": str(config)})
    assert r.returncode != 0
    assert "cannot render the dialplan numbers" in r.stderr and "refusing to start" in r.stderr
    assert not (asterisk_root / "started").exists()


def test_asterisk_entrypoint_restores_astdb_without_overwriting(asterisk_root: Path, deploy: Path, tmp_path: Path):
    """As root: /var/lib/asterisk (a volume) gets what the package put there only where
    missing; the music on hold is the image's, always."""
    env = install_secrets(asterisk_root, deploy)
    pristine = asterisk_root / "usr/share/ari-app/var-lib-asterisk"
    (pristine / "keys").mkdir(parents=True)
    (pristine / "astdb.sqlite3").write_text("pristine astdb")
    (pristine / "keys/README").write_text("pristine keys")
    moh = asterisk_root / "usr/share/ari-app/moh"
    moh.mkdir(parents=True)
    (moh / "hold-1.wav").write_text("hold 1")
    lib = asterisk_root / "var/lib/asterisk"
    (lib / "moh/callcenter").mkdir(parents=True)
    (lib / "astdb.sqlite3").write_text("registrations")  # the volume of a running site
    (lib / "moh/callcenter/old.wav").write_text("an older image's")
    chowns = tmp_path / "chown.log"
    path = root_shims(tmp_path / "bin", chowns, "asterisk")

    for _ in range(2):  # and again: a restart changes nothing
        r = run_entrypoint(asterisk_root, env, path)
        assert r.returncode == 0, r.stderr
        assert (lib / "astdb.sqlite3").read_text() == "registrations"
        assert (lib / "keys/README").read_text() == "pristine keys"
        assert sorted(p.name for p in (lib / "moh/callcenter").iterdir()) == ["hold-1.wav"]
    log = chowns.read_text().splitlines()
    # the config is rendered into etc/asterisk.new, then swapped in
    assert f"-R asterisk:asterisk {lib}" in log and f"-R root:asterisk {asterisk_root}/etc/asterisk.new" in log
    for p in (asterisk_root / "etc/asterisk").iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o640, p
    for d in ("var/spool/asterisk", "var/spool/asterisk/recording/callcenter-fallback"):
        assert stat.S_IMODE((asterisk_root / d).stat().st_mode) == 0o750, d  # R-PRIVACY

    # a new (empty) volume gets the whole pristine copy
    shutil.rmtree(lib)
    r = run_entrypoint(asterisk_root, env, path)
    assert r.returncode == 0, r.stderr
    assert (lib / "astdb.sqlite3").read_text() == "pristine astdb"
    assert (lib / "moh/callcenter/hold-1.wav").read_text() == "hold 1"


# --- the Mosquitto entrypoint ---------------------------------------------------------


@pytest.fixture
def mqtt_passwd(deploy: Path) -> Path:
    return deploy / "secrets" / "mosquitto_passwd"


def run_mosquitto(tmp: Path, passwd: Path, env: dict[str, str], path: str | None = None):
    """The entrypoint with its files in tmp/run; the command records that it ran."""
    marker = tmp / "started"
    if marker.exists():
        marker.unlink()
    extra = {
        "MOSQUITTO_RUN_DIR": str(tmp / "run"),
        "MOSQUITTO_TEMPLATE": str(MOSQUITTO_CONF),
        "MOSQUITTO_PASSWD_SECRET": str(passwd),
        "PATH": path or user_shims(tmp / "user-bin"),
    }
    return subprocess.run(
        ["sh", str(MOSQUITTO_ENTRYPOINT), "sh", "-c", f'echo "$*" > "{marker}"', "-", "ran"],
        env=clean_env(**extra, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def listeners(conf: str) -> list[tuple[str, str, str]]:
    """[(port, address, protocol)] of a mosquitto.conf."""
    out: list[list[str]] = []
    for line in conf.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["listener"]:
            out.append([words[1], words[2] if len(words) > 2 else "", "mqtt"])
        elif words[:1] == ["protocol"] and out:
            out[-1][2] = words[1]
    return [tuple(x) for x in out]  # type: ignore[misc]


def acl_rules(acl: str) -> list[tuple[str, str, str]]:
    """[(user, access, topic)] of an ACL file; anything but user/topic lines fails."""
    rules, user = [], None
    for line in acl.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
        else:
            assert words[0] == "topic" and user is not None, f"unexpected ACL line {line!r}"
            rules.append((user, words[1], words[2]))
    return rules


def test_mosquitto_entrypoint_renders_config_and_acl(tmp_path: Path, mqtt_passwd: Path):
    chowns = tmp_path / "chown.log"
    path = root_shims(tmp_path / "bin", chowns, "mosquitto")
    r = run_mosquitto(
        tmp_path, mqtt_passwd, {"MQTT_LISTEN": f"127.0.0.1 {BIND}", "MQTT_WS_LISTEN": f"{BIND}:9001"}, path
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "started").read_text().strip() == "ran"
    run = tmp_path / "run"
    conf = (run / "mosquitto.conf").read_text()
    template = MOSQUITTO_CONF.read_text()
    assert conf.startswith(template), "the image's settings come first, unchanged"
    assert listeners(conf) == [("1883", "127.0.0.1", "mqtt"), ("1883", BIND, "mqtt"), ("9001", BIND, "websockets")]
    assert (run / "passwd").read_bytes() == mqtt_passwd.read_bytes()
    assert acl_rules((run / "acl").read_text()) == [
        ("ari-app", "readwrite", "callcenter/#"),
        ("wallboard", "read", "callcenter/#"),
    ]
    # what the template points at is what was rendered
    for key, name in (("password_file", "passwd"), ("acl_file", "acl")):
        assert f"{key} /run/mosquitto/{name}" in template
    assert stat.S_IMODE((run / "passwd").stat().st_mode) == 0o600
    assert stat.S_IMODE((run / "acl").stat().st_mode) == 0o600
    assert stat.S_IMODE((run / "mosquitto.conf").stat().st_mode) == 0o644
    assert f"-R mosquitto:mosquitto {run}" in chowns.read_text()


@pytest.mark.parametrize(
    "env, want",
    [
        ({}, [("1883", "127.0.0.1", "mqtt")]),
        ({"MQTT_LISTEN": BIND}, [("1883", "127.0.0.1", "mqtt"), ("1883", BIND, "mqtt")]),
        ({"MQTT_LISTEN": f"{BIND}  127.0.0.1 {BIND}"}, [("1883", "127.0.0.1", "mqtt"), ("1883", BIND, "mqtt")]),
        ({"MQTT_LISTEN": "wallboard-net.lan"}, [("1883", "127.0.0.1", "mqtt"), ("1883", "wallboard-net.lan", "mqtt")]),
        # mosquitto takes a bare IPv6 address ("[::1]": "Name or service not known"); PBX_BIND,
        # and so setup-secrets' MQTT_LISTEN, writes it in brackets
        ({"MQTT_LISTEN": "[2001:db8::5]"}, [("1883", "127.0.0.1", "mqtt"), ("1883", "2001:db8::5", "mqtt")]),
        (
            {"MQTT_WS_LISTEN": "127.0.0.1:9001 [::1]:9002"},
            [("1883", "127.0.0.1", "mqtt"), ("9001", "127.0.0.1", "websockets"), ("9002", "::1", "websockets")],
        ),
    ],
    ids=["default", "LAN", "duplicates", "host name", "IPv6", "websockets"],
)
def test_mosquitto_entrypoint_listeners(tmp_path: Path, mqtt_passwd: Path, env: dict[str, str], want):
    r = run_mosquitto(tmp_path, mqtt_passwd, env)
    assert r.returncode == 0, r.stderr
    assert listeners((tmp_path / "run/mosquitto.conf").read_text()) == want


def test_mosquitto_entrypoint_prefix(tmp_path: Path, mqtt_passwd: Path):
    r = run_mosquitto(tmp_path, mqtt_passwd, {"MQTT_PREFIX": "acme-cc_2"})
    assert r.returncode == 0, r.stderr
    assert acl_rules((tmp_path / "run/acl").read_text()) == [
        ("ari-app", "readwrite", "acme-cc_2/#"),
        ("wallboard", "read", "acme-cc_2/#"),
    ]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MQTT_LISTEN": "10.0.0.1/24"}, "MQTT_LISTEN"),
        ({"MQTT_LISTEN": "10.0.0.1;listener"}, "MQTT_LISTEN"),
        ({"MQTT_WS_LISTEN": BIND}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": f"{BIND}:"}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": f"{BIND}:90x1"}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": ":9001"}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": f"{BIND}:0"}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": f"{BIND}:65536"}, "MQTT_WS_LISTEN"),
        ({"MQTT_WS_LISTEN": "10.0.0.1/8:9001"}, "MQTT_WS_LISTEN"),
        ({"MQTT_PREFIX": "call/center"}, "MQTT_PREFIX"),
        ({"MQTT_PREFIX": "cc/#"}, "MQTT_PREFIX"),
        ({"MQTT_PREFIX": "call center"}, "MQTT_PREFIX"),
        ({"MQTT_PREFIX": "+"}, "MQTT_PREFIX"),
    ],
)
def test_mosquitto_entrypoint_refuses(tmp_path: Path, mqtt_passwd: Path, env: dict[str, str], message: str):
    r = run_mosquitto(tmp_path, mqtt_passwd, env)
    assert r.returncode != 0
    assert "error" in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "started").exists()
    assert not (tmp_path / "run/mosquitto.conf").exists()


@pytest.mark.parametrize("case", ["missing", "empty", "no ari-app user"])
def test_mosquitto_entrypoint_needs_the_password_file(tmp_path: Path, mqtt_passwd: Path, case: str):
    passwd = tmp_path / "passwd"
    if case == "empty":
        passwd.write_text("")
    elif case == "no ari-app user":
        passwd.write_text("".join(line + "\n" for line in mqtt_passwd.read_text().splitlines() if line.startswith("wallboard:")))
    r = run_mosquitto(tmp_path, passwd, {})
    assert r.returncode != 0 and "setup-secrets" in r.stderr
    assert not (tmp_path / "started").exists()


# --- the service entrypoint ------------------------------------------------------------


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
