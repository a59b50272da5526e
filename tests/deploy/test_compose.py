"""Production in docker-compose, built and called (issue 15): the README's "Deploy" commands on a copy
of the repository, then customer calls from a LAN through a provider trunk into the running stack.

The host: podman and docker-compose 1.29 (scripts/container-host), base images made with debootstrap
under the official names. The LAN: the network namespace `ariapp-lan`, joined to this host by a veth
pair; the stack binds SIP to the host end (10.99.0.1). Inside the namespace the agent phones live at
10.99.0.2 and the provider at 10.99.0.3 (SIPp, tests/e2e/sipp.py with SIPP_NETNS). No packet goes
anywhere but loopback and that namespace.

The tests run in file order on one stack (module fixtures): built and healthy; a DID call answered
over the LAN with RTP both ways, a wallboard on MQTT, /metrics, and `docker-compose restart ari-app`
during the conversation; a voicemail that becomes a callback, the duty agent called, the customer
dialled through the trunk; `down` + `up` keeping the store and the recording; `down -v` leaving nothing.
Judged from Asterisk (ARI, SIP messages at the provider) and the service's own log lines.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import sipp  # noqa: E402  (tests/e2e/sipp.py: SIPp phones and callers)
from servicelog import json_lines  # noqa: E402

NS = "ariapp-lan"
HOST_IP, PHONE_IP, PROVIDER_IP = "10.99.0.1", "10.99.0.2", "10.99.0.3"
SOCK = "/run/podman/podman.sock"
PROJECT = "ariappdeploy"
DID = "+862155550100"            # config/production.toml.example's [dids]: queue support
CUSTOMER = "13800138000"         # the voicemail caller, called back through the trunk
API = "http://127.0.0.1:8090"
ARI = "http://127.0.0.1:8088/ari"
ENV_KEYS = ("PBX_BIND", "ARI_PASSWORD", "AMI_SECRET", "MQTT_PASSWORD", "MQTT_WALLBOARD_PASSWORD",
            "POSTGRES_PASSWORD", "MQTT_LISTEN", "TZ", "ARI_USER")
PBX_LOCK = "/tmp/pbx-e2e.lock"   # the e2e tests' Asterisk uses the same ports (ARI 8088, AMI 5038)

STATE: dict = {}


class TrunkCaller(sipp.SippCaller):
    """A call from the provider to a DID: no digest auth (the trunk is identified by its address)."""
    scenario = str(REPO / "tests" / "deploy" / "sipp" / "trunk_uac.xml")


def sh(*cmd: str, cwd: Path | None = None, timeout: float = 600, check: bool = True, env: dict | None = None,
       input: str | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
    return r


class Site:
    """The operator's checkout: a copy of the repository with .env, secrets/, site/ and the config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS and not k.startswith("COMPOSE_")}
        self.env.update(DOCKER_HOST=f"unix://{SOCK}", COMPOSE_PROJECT_NAME=PROJECT, COMPOSE_HTTP_TIMEOUT="300")
        # as on a fresh Debian host: `docker` (which docker-compose runs for exec and run) is podman-docker's,
        # never a Docker CLI someone put in /usr/local
        self.env["PATH"] = ":".join(p for p in self.env.get("PATH", "/usr/bin:/bin").split(":")
                                    if p and not p.startswith("/usr/local"))

    def compose(self, *args: str, timeout: float = 600, check: bool = True,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return sh("docker-compose", *args, cwd=self.root, timeout=timeout, check=check, env={**self.env, **(env or {})})

    def dotenv(self, key: str) -> str:
        for line in (self.root / ".env").read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1].strip()
        raise KeyError(key)

    def token(self, name: str) -> str:
        for line in (self.root / "secrets" / "api_tokens").read_text().splitlines():
            n, _role, token = line.split()
            if n == name:
                return token
        raise KeyError(name)

    def events(self) -> list[dict]:
        """The service's JSON log lines (every run of its container so far)."""
        return json_lines(self.compose("logs", "--no-color", "--no-log-prefix", "ari-app", timeout=60).stdout)

    async def wait_event(self, event: str, timeout: float = 30, after: int = 0, **match) -> dict:
        end = time.monotonic() + timeout
        while True:
            found = [e for e in self.events()[after:] if e.get("event") == event
                     and all(e.get(k) == v for k, v in match.items())]
            if found:
                return found[0]
            if time.monotonic() > end:
                tail = "\n".join(json.dumps(e, ensure_ascii=False) for e in self.events()[-40:])
                raise AssertionError(f"no {event} {match} within {timeout} s; the service's last lines:\n{tail}")
            await asyncio.sleep(1)

    async def wait_healthy(self, timeout: float = 300) -> float:
        """Seconds until every running service of the stack is (healthy) and /health answers 200."""
        t0 = time.monotonic()
        while True:
            ps = self.compose("ps", timeout=60).stdout
            rows = [line for line in ps.splitlines() if line.startswith(PROJECT)]
            if rows and all("(healthy)" in row for row in rows):
                try:
                    if httpx.get(f"{API}/health", timeout=3).status_code == 200:
                        return time.monotonic() - t0
                except httpx.HTTPError:
                    pass
            if time.monotonic() - t0 > timeout:
                logs = self.compose("logs", "--no-color", "--tail", "40", timeout=60, check=False).stdout
                raise AssertionError(f"not healthy within {timeout} s:\n{ps}\n{logs[-6000:]}")
            await asyncio.sleep(1)

    def api(self, method: str, path: str, token: str = "supervisor", **kw) -> httpx.Response:
        return httpx.request(method, f"{API}{path}", headers={"Authorization": f"Bearer {self.token(token)}"},
                             timeout=15, **kw)

    def ari(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, f"{ARI}{path}", auth=("callcenter", self.dotenv("ARI_PASSWORD")),
                             timeout=10, **kw)


# --- the host, the LAN, the site ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lock():
    with open(PBX_LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        # a development PBX of scripts/pbx would hold ARI's and SIP's ports
        sh(str(REPO / "scripts" / "pbx"), "down", check=False, timeout=120)
        yield
        fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def lan():
    """The namespace NS and a veth pair: ah0 (host, HOST_IP) <-> ap0 (NS: PHONE_IP and PROVIDER_IP)."""
    def down() -> None:
        sh("ip", "link", "del", "ah0", check=False)
        sh("ip", "netns", "del", NS, check=False)
    down()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", "ah0", "type", "veth", "peer", "name", "ap0")
    sh("ip", "link", "set", "ap0", "netns", NS)
    sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", "ah0")
    sh("ip", "link", "set", "ah0", "up")
    for ip in (PHONE_IP, PROVIDER_IP):
        sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{ip}/24", "dev", "ap0")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "ap0", "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
    saved = {k: getattr(sipp, k) for k in ("NETNS", "PBX_HOST", "LOCAL_IP", "ARI_URL", "ARI_AUTH")}
    sipp.NETNS, sipp.PBX_HOST, sipp.LOCAL_IP = NS, HOST_IP, PHONE_IP
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(sipp, k, v)
        down()


@pytest.fixture(scope="module")
def engine(lock, figures):
    """podman behind docker-compose, the Debian base images, and the healthcheck ticker podman needs
    on a host without systemd (scripts/podman-healthchecks)."""
    t0 = time.monotonic()
    sh(str(REPO / "scripts" / "container-host"), "all", timeout=900)
    figures["engine and base images (s)"] = f"{time.monotonic() - t0:.0f}"
    ticker = subprocess.Popen([str(REPO / "scripts" / "podman-healthchecks"), "2"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        os.killpg(ticker.pid, 9)  # the loop and its podman/sleep children
        ticker.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory, engine, lan) -> Site:
    """A fresh operator's checkout, set up as README "Deploy" says, with this test's site settings."""
    root = tmp_path_factory.mktemp("deploy") / "ari-app"
    files = sh("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    # this build host's trust store, the one its pip uses (a TLS-inspecting proxy): docker/service/ca/README.md
    shutil.copy(Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"),
                root / "docker/service/ca/build-host.crt")
    s = Site(root)
    # README "Deploy", step 2: secrets, phones, PINs, tokens, the provider trunk
    sh(str(root / "scripts/setup-secrets"), "--pbx-bind", HOST_IP, "--trunk-ip", PROVIDER_IP,
       "--mqtt-listen", HOST_IP, "--qualify-s", "0", cwd=root, env=s.env)  # SIPp phones do not answer OPTIONS: no qualify here
    # the site's own choices (an operator's $EDITOR step): open all day (the CI runs at any hour), a
    # roster with all-day shifts and checks every 15 s (R-VM-CHECK) so the callback comes within the test
    cfg = root / "config/production.toml"
    text = cfg.read_text()
    text = re.sub(r'(?m)^calendar = "office"\n', "", text)
    text = re.sub(r'(?m)^check_start = .*$', 'check_start = "00:00"', text)
    text = re.sub(r'(?m)^check_every_s = .*$', "check_every_s = 15", text)
    text = re.sub(r'(?m)^stagger_s = .*$', "stagger_s = 5", text)
    text = re.sub(r'(?m)^# roster = "roster.toml".*$', 'roster = "roster.toml"', text)
    cfg.write_text(text)
    (root / "config/roster.toml").write_text(
        'timezone = "UTC"\n'
        '[teams.support]\nagents = ["1001"]\n'
        '[[teams.support.shifts]]\nname = "all"\nstart = "00:00"\nend = "24:00"\nweekdays = ["mon-sun"]\n'
        '[teams.sales]\nagents = ["2001"]\n'
        '[[teams.sales.shifts]]\nname = "all"\nstart = "00:00"\nend = "24:00"\nweekdays = ["mon-sun"]\n')
    sipp.ARI_AUTH = ("callcenter", s.dotenv("ARI_PASSWORD"))
    try:
        yield s
    finally:
        s.compose("--profile", "postgres", "down", "-v", "--remove-orphans", timeout=300, check=False)


@pytest.fixture(scope="module")
def stack(site: Site, figures) -> Site:
    t0 = time.monotonic()
    site.compose("build", timeout=1800)
    figures["docker-compose build (s)"] = f"{time.monotonic() - t0:.0f}"
    # README "Deploy": the config passes check-config inside the container, before anything runs
    r = site.compose("run", "--rm", "--no-deps", "ari-app", "ari-app", "check-config",
                     "/etc/ari-app/production.toml", timeout=120)
    assert " ok " in r.stdout + " ", r.stdout + r.stderr
    t1 = time.monotonic()
    site.compose("up", "-d", timeout=600)
    healthy = asyncio.run(site.wait_healthy())
    figures["up -d until every service is healthy (s)"] = f"{time.monotonic() - t1:.0f} (healthy after {healthy:.0f} s of polling)"
    return site


# --- the tests, in order ---------------------------------------------------------------------------------


def test_built_from_debian_bases_healthy_and_ready(stack: Site):
    ps = stack.compose("ps").stdout
    for service in ("asterisk", "mosquitto", "ari-app"):
        assert re.search(rf"{PROJECT}_{service}_1 .*Up.*\(healthy\)", ps), ps
    assert "postgres" not in ps, "the PostgreSQL service is a profile, off by default"
    health = httpx.get(f"{API}/health", timeout=5)
    assert health.status_code == 200, health.text
    checks = health.json()["checks"]
    assert {"ari", "store", "ami", "mqtt"} <= set(checks), checks
    info = stack.ari("GET", "/asterisk/info").json()
    assert info["system"]["version"].startswith("22."), info
    r = stack.compose("exec", "-T", "asterisk", "cat", "/usr/share/ari-app/asterisk-version")
    assert r.stdout.startswith("Asterisk 22."), r.stdout
    # the site's dialplan came from the config, rendered at start (not from the image)
    r = stack.compose("exec", "-T", "asterisk", "asterisk", "-rx", "dialplan show site-dids")
    assert DID.lstrip("+") in r.stdout and "callcenter-queue,support" in r.stdout, r.stdout
    r = stack.compose("exec", "-T", "asterisk", "asterisk", "-rx", "pjsip show endpoint provider")
    assert "from-trunk" in r.stdout and PROVIDER_IP in r.stdout, r.stdout
    # a new DID: the config changed, the Asterisk container reloads without a restart (no call dropped)
    cfg = stack.root / "config/production.toml"
    text, n = re.subn(r"(?m)^\[dids\].*$", '\\g<0>\n"+862155550300" = "sales"', cfg.read_text())
    assert n == 1
    cfg.write_text(text)
    stack.compose("exec", "-T", "asterisk", "ari-app-asterisk-entrypoint", "reload")
    r = stack.compose("exec", "-T", "asterisk", "asterisk", "-rx", "dialplan show site-dids")
    assert "862155550300" in r.stdout and "callcenter-queue,sales" in r.stdout, r.stdout


async def test_lan_call_through_the_trunk_answered_with_rtp_wallboard_metrics_and_restart(stack: Site, figures):
    sub = subprocess.Popen(
        ["ip", "netns", "exec", NS, "mosquitto_sub", "-h", HOST_IP, "-p", "1883", "-u", "wallboard",
         "-P", stack.dotenv("MQTT_WALLBOARD_PASSWORD"), "-t", "callcenter/#", "-v"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        async with sipp.SippPhone("1001", sh(str(stack.root / "scripts/setup-secrets"), "--show-phone", "1001",
                                             cwd=stack.root, env=stack.env).stdout.strip(), answer_after_s=1) as p1, \
                sipp.SippPhone("2001", sh(str(stack.root / "scripts/setup-secrets"), "--show-phone", "2001",
                                          cwd=stack.root, env=stack.env).stdout.strip(), answer_after_s=1):
            for agent in ("1001", "2001"):
                ep = stack.ari("GET", f"/endpoints/PJSIP/{agent}").json()
                assert ep["state"] == "online", ep
            # the supervisor logs agent 1001 in, with the CLI inside the container and the token setup made
            r = stack.compose("exec", "-T", "-e", "ARI_APP_TOKEN", "ari-app",  # README: passed through, not typed
                              "ari-app", "agent", "login", "1001", env={"ARI_APP_TOKEN": stack.token("supervisor")})
            assert "1001" in r.stdout, r.stdout + r.stderr
            mark = len(stack.events())
            caller = TrunkCaller("13900139001", "none", DID, duration_s=60, local_ip=PROVIDER_IP)
            async with caller:
                await caller.start()
                answered = await stack.wait_event("call.answered", after=mark, queue="support", agent="1001",
                                                  timeout=40)
                call_id = answered["call_id"]
                await asyncio.sleep(5)  # talk
                for leg in (call_id, f"{call_id}~a1"):
                    ch = stack.ari("GET", f"/channels/{leg}").json()
                    stats = stack.ari("GET", f"/channels/{leg}/rtp_statistics").json()
                    assert stats["rxcount"] > 50 and stats["txcount"] > 50, (ch["name"], stats)
                assert stack.ari("GET", f"/channels/{call_id}").json()["name"].startswith("PJSIP/provider-")
                # GET /metrics with the ops token
                m = stack.api("GET", "/metrics", token="ops")
                assert m.status_code == 200 and "callcenter_" in m.text, m.text[:500]
                # the service restarts during the conversation: the call goes on, is adopted, ends normally
                t0 = time.monotonic()
                stack.compose("restart", "ari-app", timeout=120)
                await stack.wait_healthy(120)
                figures["restart ari-app until healthy again (s)"] = f"{time.monotonic() - t0:.0f}"
                # the new process found the call in Asterisk and adopted it
                adopted = await stack.wait_event("call.resynced", after=mark, call_id=call_id, timeout=30)
                assert adopted["queue"] == "support", adopted
                assert stack.ari("GET", f"/channels/{call_id}").status_code == 200, "the caller is still up"
                rc = await caller.wait()
                assert rc == 0, caller.report()
            done = await stack.wait_event("call.completed", after=mark, call_id=call_id, timeout=20)
            assert done["talk_s"] >= 50, done
            assert p1.count("answered") == 1, p1.report()
    finally:
        await asyncio.sleep(2)  # the stats of the ended call reach the broker
        # the wallboard's publish is accepted by the connection (rc 0) but dropped by the ACL
        forged = sh("ip", "netns", "exec", NS, "mosquitto_pub", "-h", HOST_IP, "-u", "wallboard",
                    "-P", stack.dotenv("MQTT_WALLBOARD_PASSWORD"), "-t", "callcenter/queues/support/stats",
                    "-m", "forged-by-wallboard", check=False)
        await asyncio.sleep(1)
        sub.terminate()
        seen = sub.communicate(timeout=10)[0]
    stats = [line for line in seen.splitlines() if line.startswith("callcenter/queues/support/stats ")]
    assert stats, seen[-3000:]
    assert any(json.loads(line.split(" ", 1)[1]).get("answered_today", 0) >= 1 for line in stats), stats
    assert forged.returncode == 0, forged.stderr  # it connected and published
    assert "forged-by-wallboard" not in seen, "the wallboard user must not publish"


async def test_voicemail_becomes_a_callback_duty_agent_called_customer_dialled_through_the_trunk(stack: Site):
    r = stack.compose("exec", "-T", "-e", "ARI_APP_TOKEN", "ari-app",
                      "ari-app", "agent", "logout", "1001", env={"ARI_APP_TOKEN": stack.token("supervisor")})
    assert r.returncode == 0, r.stderr
    mark = len(stack.events())
    pw = sh(str(stack.root / "scripts/setup-secrets"), "--show-phone", "1001", cwd=stack.root,
            env=stack.env).stdout.strip()
    provider = sipp.SippPhone("provider", "none", 5060, answer_after_s=1, hangup_after_s=5, local_ip=PROVIDER_IP)
    provider._register = _no_register  # an IP-identified trunk: nothing to register
    provider._wait_online = _nothing
    async with sipp.SippPhone("1001", pw, answer_after_s=1) as duty:
        await provider.start()
        try:
            # nobody is logged in to support: the caller is offered the voicemail at once, speaks, ends with #
            caller = TrunkCaller(CUSTOMER, "none", DID, duration_s=45, dtmf="#", dtmf_at_s=35, local_ip=PROVIDER_IP)
            async with caller:
                committed = await stack.wait_event("voicemail.committed", after=mark, timeout=60)
            task_id = committed["task_id"]
            STATE["task_id"] = task_id
            assigned = await stack.wait_event("callback.assigned", after=mark, task_id=task_id, timeout=20)
            assert assigned["agent"] == "1001", assigned
            calling = await stack.wait_event("callback.calling_agent", after=mark, agent="1001", timeout=40)
            assert task_id in calling["tasks"]
            await duty.wait_for("answered", timeout=20)
            # after the message, the customer is dialled through the trunk: the provider gets the INVITE
            await provider.wait_for("INVITE", timeout=90)
            invites = provider.uas.messages.read_text(errors="replace")
            assert re.search(rf"INVITE sip:{CUSTOMER}@{re.escape(PROVIDER_IP)}", invites), invites[-3000:]
            attempt = await stack.wait_event("callback.attempt", after=mark, task_id=task_id, timeout=40)
            assert attempt["outcome"] == "reached", attempt
        finally:
            await provider.stop(unregister=False)
    recordings = [r["name"] for r in stack.ari("GET", "/recordings/stored").json()]
    assert f"callcenter/{task_id}" in recordings, recordings


async def _no_register(*_a, **_k):
    return None


async def _nothing(*_a, **_k):
    return None


async def test_down_and_up_keep_the_store_the_task_and_the_recording(stack: Site, figures):
    task_id = STATE.get("task_id")
    assert task_id, "the voicemail test made no task"
    stack.compose("down", timeout=300)
    assert not [line for line in stack.compose("ps").stdout.splitlines() if line.startswith(PROJECT)]
    t0 = time.monotonic()
    stack.compose("up", "-d", timeout=600)
    await stack.wait_healthy()
    figures["down, up -d until healthy again (s)"] = f"{time.monotonic() - t0:.0f}"
    tasks = stack.api("GET", "/callbacks")
    assert tasks.status_code == 200, tasks.text
    found = [t for t in tasks.json() if task_id in (t.get("task_id"), t.get("id"))]
    assert len(found) == 1, tasks.json()
    assert found[0]["state"] == "reached", found[0]  # the callback of the last test, kept in the store
    recordings = [r["name"] for r in stack.ari("GET", "/recordings/stored").json()]
    assert f"callcenter/{task_id}" in recordings, recordings


async def test_postgres_profile_holds_the_store(stack: Site, figures):
    """The optional PostgreSQL service: README "Deploy", PostgreSQL instead of the SQLite file."""
    pw = stack.dotenv("POSTGRES_PASSWORD")
    with open(stack.root / ".env", "a") as f:
        f.write(f"ARI_APP_STORE_URL=postgresql://ari_app:{pw}@127.0.0.1/ari_app\n")
    cfg = stack.root / "config/production.toml"
    text = cfg.read_text()
    assert re.search(r'(?m)^url = "/var/lib/ari-app/state.db"', text), "the example's [store] url changed"
    cfg.write_text(re.sub(r'(?m)^url = "/var/lib/ari-app/state.db".*$', 'url_env = "ARI_APP_STORE_URL"', text))
    t0 = time.monotonic()
    stack.compose("--profile", "postgres", "up", "-d", "--build", timeout=900)
    await stack.wait_healthy()
    figures["--profile postgres up -d until healthy (s)"] = f"{time.monotonic() - t0:.0f}"
    ps = stack.compose("--profile", "postgres", "ps").stdout
    assert re.search(rf"{PROJECT}_postgres_1 .*Up.*\(healthy\)", ps), ps
    health = httpx.get(f"{API}/health", timeout=5).json()
    assert health["checks"]["store"]["ok"] is True, health
    # the service made its schema in PostgreSQL, as the role ari_app
    r = stack.compose("exec", "-T", "postgres", "su", "postgres", "-c",
                      "psql -At -d ari_app -c \"select tableowner from pg_tables where schemaname = 'public'\"")
    owners = set(r.stdout.split())
    assert owners == {"ari_app"}, r.stdout + r.stderr


def test_down_v_leaves_nothing_running_and_no_volume(stack: Site):
    stack.compose("--profile", "postgres", "down", "-v", "--remove-orphans", timeout=300)
    containers = sh("podman", "ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [c for c in containers if c.startswith(PROJECT)], containers
    volumes = sh("podman", "volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [v for v in volumes if v.startswith(PROJECT)], volumes
    for port in (8088, 5038, 8090, 1883):  # ARI, AMI, the API, MQTT: nobody listens any more
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
