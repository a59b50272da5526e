"""The site part of scripts/setup-secrets (Python standard library only; run by it).

    python3 scripts/site_setup.py config  --example E --out C [--tokens-out F] [--pins-out F]
    python3 scripts/site_setup.py phones  --config C --out F [--qualify-s N]
    python3 scripts/site_setup.py trunk   --out F --ip ADDR [--name provider]
    python3 scripts/site_setup.py tz      --config C

config: the production config from the example: every placeholder ``pin_hash`` becomes the hash of a
new random 6-digit PIN (ari_app.core.login.hash_pin, the service's own format), and two API tokens
are added (``ops`` and ``supervisor``; the config keeps only their sha256, as ``ari-app token new``
does). The PINs and the tokens are printed once and written 0600 to the files given.
phones: one PJSIP phone per agent interface ``PJSIP/<name>`` of the config (and supervisors'
phones: agents with role supervisor), each with its own random password; ``qualify_frequency`` N s (0: none, for test phones that
do not answer OPTIONS).
trunk: an IP-identified provider trunk (config/site/pjsip_trunks.conf.example, "provider B").
tz: the time zone of the config's first calendar (for TZ in .env), or nothing.
mqtt-prefix: the config's [mqtt] prefix (for MQTT_PREFIX in .env: the broker's ACL).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ari_app.core.login import hash_pin  # noqa: E402  (stdlib only: the service's own PIN format)

SERVICE_GID = 2601  # the ari-app group of docker/service/Dockerfile (APP_GID)
PLACEHOLDER = re.compile(r'^(\s*pin_hash\s*=\s*)"<[^"\n]*>"(.*)$', re.M)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
ADDRESS = re.compile(r"^[0-9A-Za-z.:_\[\]-]{1,100}$")


def write_private(path: Path, text: str) -> None:
    """Write text to path, mode 0600 from the start, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


AGENT_TABLE = re.compile(r'^\s*\[agents\.(?:"([^"]+)"|([^\]\s]+))\]', re.M)


def agent_sections(text: str) -> list[str]:
    """The agent ids of the [agents.<id>] tables, in file order."""
    return [a or b for a, b in AGENT_TABLE.findall(text)]


def make_config(example: Path, out: Path, tokens_out: Path | None, pins_out: Path | None) -> None:
    text = example.read_text()
    agents = agent_sections(text)
    pins: list[tuple[str, str]] = []
    # the n-th placeholder belongs to the n-th [agents.*] table before it
    def fill(m: re.Match) -> str:
        before = text[: m.start()]
        owner = agent_sections(before)
        agent = owner[-1] if owner else "?"
        pin = f"{secrets.randbelow(10**6):06d}"
        pins.append((agent, pin))
        return f'{m.group(1)}"{hash_pin(pin)}"'
    text = PLACEHOLDER.sub(fill, text)
    tokens = []
    block = ["", "# API tokens made by scripts/setup-secrets (the tokens themselves were printed once and",
             "# written to secrets/api_tokens; only their sha256 is kept here). More: ari-app token new"]
    for name, role in (("ops", "ops"), ("supervisor", "supervisor")):
        token = secrets.token_urlsafe(32)
        tokens.append((name, role, token))
        block += ["[[api.tokens]]", f'name = "{name}"', f'role = "{role}"',
                  f'sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"', ""]
    text = text.rstrip("\n") + "\n" + "\n".join(block)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    tmp.write_text(text)
    # PIN hashes inside (6-digit PINs: hashes are worth guarding): 0640, group 2601 = the service's
    # user in its image (docker/service/Dockerfile APP_GID), which reads it through the config mount
    os.chmod(tmp, 0o640)
    try:
        os.chown(tmp, -1, SERVICE_GID)
    except PermissionError:
        os.chmod(tmp, 0o644)
        print(f"setup-secrets: warning: not root, {out} is 0644 (the service must read it)", file=sys.stderr)
    tomllib.loads(text)   # never leave a file that is not TOML
    os.replace(tmp, out)
    print(f"setup-secrets: wrote {out} ({len(agents)} agents, {len(pins)} PINs, {len(tokens)} API tokens)",
          file=sys.stderr)
    if pins:
        print("Agent PINs (log in from the phone with *11; shown once, also in "
              f"{pins_out or 'nowhere else'}):")
        for agent, pin in pins:
            print(f"  agent {agent}: PIN {pin}")
    print(f"API tokens (shown once, also in {tokens_out or 'nowhere else'}):")
    for name, role, token in tokens:
        print(f"  {name} ({role}): {token}")
    if pins_out:
        write_private(pins_out, "".join(f"{a} {p}\n" for a, p in pins))
    if tokens_out:
        write_private(tokens_out, "".join(f"{n} {r} {t}\n" for n, r, t in tokens))


def phone_names(config: dict) -> list[str]:
    names: list[str] = []
    # supervisors are agents with role = "supervisor": their phones are here too; and each agent's
    # further phones ([agents.<id>] phones, issue 17: the only ones the API may log it in at)
    agents = [a for a in config.get("agents", {}).values() if isinstance(a, dict)]
    interfaces = [i for a in agents
                  for i in [a.get("interface", ""), *(a["phones"] if isinstance(a.get("phones"), list) else [])]]
    for iface in interfaces:
        if isinstance(iface, str) and iface.startswith("PJSIP/"):
            name = iface.split("/", 1)[1]
            if not SAFE_NAME.fullmatch(name):
                sys.exit(f"setup-secrets: phone name {name!r} (from {iface!r}) must be letters, digits, . _ -")
            if name not in names:
                names.append(name)
    return names


PHONE_SECTION = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\(phone-endpoint\)", re.M)


def make_phones(config_path: Path, out: Path, qualify_s: int, stamp: str, *, add_missing: bool = False) -> None:
    """Every phone anew; or, with add_missing, only the phones the existing file lacks, appended (the
    others keep their passwords)."""
    config = tomllib.loads(config_path.read_text())
    names = phone_names(config)
    if not names:
        sys.exit(f"setup-secrets: no agent phones (interface = \"PJSIP/<name>\") in {config_path}")
    if add_missing:
        existing = out.read_text()
        new = [n for n in names if n not in set(PHONE_SECTION.findall(existing))]
        if new:
            write_private(out, existing.rstrip("\n") + "\n\n" + "\n".join(
                [f"; added {stamp}", *phone_lines(new, qualify_s)]))
            print(f"setup-secrets: phones added: {' '.join(new)}", file=sys.stderr)
        return
    lines = [f"; production phones, {stamp}", "; one password: scripts/setup-secrets --show-phone <name>",
             f"; made from the agents' interfaces in {config_path.name}; qualify every {qualify_s} s", "",
             *phone_lines(names, qualify_s)]
    write_private(out, "\n".join(lines))
    print(f"setup-secrets: phones {' '.join(names)}", file=sys.stderr)


def phone_lines(names: list[str], qualify_s: int) -> list[str]:
    lines: list[str] = []
    for name in names:
        lines += [f"[{name}](phone-endpoint)", f"auth = {name}", f"aors = {name}",
                  f'callerid = "Agent {name}" <{name}>',
                  f"[{name}](phone-auth)", f"username = {name}", f"password = {secrets.token_hex(16)}",
                  f"[{name}](phone-aor)", f"qualify_frequency = {qualify_s}", ""]
    return lines


def make_trunk(out: Path, ip: str, name: str) -> None:
    if not ADDRESS.fullmatch(ip):
        sys.exit(f"setup-secrets: --trunk-ip {ip!r} is not an address")
    if not SAFE_NAME.fullmatch(name):
        sys.exit(f"setup-secrets: trunk name {name!r} must be letters, digits, . _ -")
    bare = ip.strip("[]")
    host = f"[{bare}]" if ":" in bare else bare  # an IPv6 address in a SIP URI is bracketed
    ip = bare
    text = f"""; The provider trunk: identified by its address, no registration (made by
; scripts/setup-secrets --trunk-ip; the other kind, a registration with a user
; and password: config/site/pjsip_trunks.conf.example). Calls from it land in
; [from-trunk]: the DIDs of the service config's [dids] table.
[{name}]
type = endpoint
context = from-trunk
disallow = all
allow = alaw,ulaw
direct_media = no
dtmf_mode = rfc4733
rtp_symmetric = yes
aors = {name}
language = zh

[{name}]
type = aor
contact = sip:{host}:5060
qualify_frequency = 0

[{name}]
type = identify
endpoint = {name}
match = {ip}
"""
    write_private(out, text)


def main() -> None:
    ap = argparse.ArgumentParser(prog="site_setup.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("--example", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--tokens-out", type=Path)
    c.add_argument("--pins-out", type=Path)
    p = sub.add_parser("phones")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--qualify-s", type=int, default=60)
    p.add_argument("--stamp", default="generated by scripts/setup-secrets")
    p.add_argument("--add-missing", action="store_true", help="keep the file's phones, add the config's new ones")
    t = sub.add_parser("trunk")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--ip", required=True)
    t.add_argument("--name", default="provider")
    z = sub.add_parser("tz")
    z.add_argument("--config", type=Path, required=True)
    m = sub.add_parser("mqtt-prefix")
    m.add_argument("--config", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd == "config":
        make_config(a.example, a.out, a.tokens_out, a.pins_out)
    elif a.cmd == "phones":
        if not 0 <= a.qualify_s <= 3600:
            sys.exit("setup-secrets: --qualify-s is 0 (off) to 3600")
        make_phones(a.config, a.out, a.qualify_s, a.stamp, add_missing=a.add_missing)
    elif a.cmd == "trunk":
        make_trunk(a.out, a.ip, a.name)
    elif a.cmd == "mqtt-prefix":
        mqtt = tomllib.loads(a.config.read_text()).get("mqtt", {})
        prefix = mqtt.get("prefix", "callcenter") if isinstance(mqtt, dict) else "callcenter"
        if not isinstance(prefix, str) or not re.fullmatch(r"[0-9A-Za-z_-]+", prefix):
            sys.exit(f"setup-secrets: [mqtt] prefix {prefix!r}: the broker's ACL takes letters, digits, - and _")
        print(prefix)
    else:
        cals = tomllib.loads(a.config.read_text()).get("calendars", {})
        for cal in cals.values():
            if isinstance(cal, dict) and isinstance(cal.get("timezone"), str):
                print(cal["timezone"])
                return


if __name__ == "__main__":
    main()
