"""Random SIP passwords for a development PBX that other machines can reach (scripts/pbx, issue 17).

The development config (asterisk-config/pjsip_phones.conf, the e2e trunk, the bench phones) carries
passwords everybody knows: ``dev-1001``, ``dev-caller1``, ``dev-trunk``, ``bench-sip``. They are fine
on the loopback PBX only this machine reaches. When ``PBX_BIND`` is any other address, scripts/pbx
calls this on the rendered /etc/asterisk: every ``password =`` line of every ``pjsip*.conf`` gets a
random password per auth section, the same at every start: they are kept in ``--store`` (one
``<section> <password>`` a line, mode 0600, made on first use). The file is printed to stderr so the
newcomer sees what to type into the softphone. Afterwards no known password is left in a pjsip file,
or this fails (and scripts/pbx does not start Asterisk).

    python3 scripts/lib/lan_passwords.py --etc DIR --store FILE
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

SECTION = re.compile(r"^\s*\[([^\]]+)\]")
PASSWORD = re.compile(r"^(\s*password\s*=>?\s*)(\S*)(.*)$")
KNOWN = re.compile(r"(^|[^A-Za-z0-9_])dev-|bench-sip|callcenter-dev")


def load(store: Path) -> dict[str, str]:
    if not store.exists():
        return {}
    if store.stat().st_mode & 0o077:
        raise SystemExit(f"lan_passwords: {store} is readable by others (chmod 0600 it, or delete it for new ones)")
    out = {}
    for line in store.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, password = line.split()
            out[name] = password
    return out


def save(store: Path, passwords: dict[str, str]) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(store.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# SIP passwords of the development PBX on a non-loopback bind (scripts/pbx); <auth section> <password>\n")
        f.writelines(f"{name} {password}\n" for name, password in sorted(passwords.items()))
    os.chmod(tmp, 0o600)
    os.replace(tmp, store)


def rewrite(etc: Path, passwords: dict[str, str]) -> list[str]:
    """Every password line of etc/pjsip*.conf set from ``passwords`` (new ones added); the sections changed."""
    changed = []
    for conf in sorted(etc.glob("pjsip*.conf")):
        section, out = "", []
        for line in conf.read_text().splitlines(keepends=True):
            if m := SECTION.match(line):
                section = m[1].strip()
            elif (m := PASSWORD.match(line.rstrip("\n"))) and section:
                password = passwords.setdefault(section, secrets.token_hex(12))
                line = f"{m[1]}{password}{m[3]}\n"
                changed.append(section)
            out.append(line)
        conf.write_text("".join(out))
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lan_passwords.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--etc", type=Path, required=True, help="the rendered Asterisk config directory")
    p.add_argument("--store", type=Path, required=True, help="where the passwords are kept (0600)")
    args = p.parse_args(argv)
    passwords = load(args.store)
    changed = rewrite(args.etc, passwords)
    save(args.store, passwords)
    left = [f.name for f in args.etc.glob("pjsip*.conf")
            if any(KNOWN.search(m[2]) for m in map(PASSWORD.match, f.read_text().splitlines()) if m)]
    if left:
        print(f"lan_passwords: a development password is left in {', '.join(sorted(left))}", file=sys.stderr)
        return 1
    print(f"SIP passwords (random: the PBX is reachable from the network; kept in {args.store}):", file=sys.stderr)
    for name in sorted(set(changed)):
        print(f"  {name:<22} {passwords[name]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
