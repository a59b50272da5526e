"""Issue 17 item 13: the AMI user of ari-app has the least privilege it needs, in development and in
production. The service logs in, sends Ping and reads ``Cdr`` events (class ``cdr``); nothing else.

The real Asterisk's answer to these rights (Ping and Cdr accepted, Originate refused) is
tests/e2e/test_ami_user_rights.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_deploy_files import (  # noqa: F401  (fixtures)
    BIND, DEV_CONF, REPO, asterisk_root, conf_values, deploy, install_secrets, run_entrypoint,
)

AMI_CODE = REPO / "ari_app" / "ami"
OLD_RIGHTS = ("read = system,call,agent,user,config,dtmf,reporting,cdr,dialplan\n"
              "write = system,call,originate,reporting\n")


def user_section(text: str, user: str = "callcenter") -> str:
    m = re.search(rf"^\[{user}\][^\n]*\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert m, f"no [{user}] in:\n{text}"
    return m[1]


def rights(text: str) -> tuple[set[str], set[str]]:
    """The (read, write) classes of the AMI user ``callcenter``; each key exactly once."""
    sec = user_section(text)
    read, write = conf_values(sec, "read"), conf_values(sec, "write")
    assert len(read) == 1 and len(write) == 1, (read, write)
    return ({c.strip() for c in read[0].split(",") if c.strip()},
            {c.strip() for c in write[0].split(",") if c.strip()})


def test_the_service_sends_only_login_and_ping_and_reads_only_cdr():
    """What the rights below are derived from: a new AMI action or event class needs its right here."""
    code = "\n".join(p.read_text() for p in AMI_CODE.glob("*.py"))
    assert set(re.findall(r'"Action":\s*"(\w+)"', code)) == {"Login", "Ping"}
    assert set(re.findall(r'classes=\((.*?)\)', code)) == {'"cdr",'}


def test_development_ami_user_reads_cdr_and_writes_nothing():
    assert rights((DEV_CONF / "manager_users.conf").read_text()) == ({"cdr"}, set())


def test_setup_secrets_gives_the_production_user_the_same_rights(deploy: Path):  # noqa: F811
    mgr = (deploy / "secrets" / "manager_users.conf").read_text()
    assert rights(mgr) == ({"cdr"}, set())
    assert "callcenter-dev" not in mgr


def test_asterisk_entrypoint_narrows_an_older_secrets_file(asterisk_root: Path, deploy: Path):  # noqa: F811
    """A site set up before issue 17 keeps its secret; the rendered file has the image's rights."""
    env = install_secrets(asterisk_root, deploy)
    old = asterisk_root / "run/secrets/manager_users.conf"
    text = old.read_text()
    text = re.sub(r"^read *=.*\n", "", text, flags=re.M)
    text = re.sub(r"^write *=.*\n", "", text, flags=re.M) + OLD_RIGHTS
    old.write_text(text)
    assert rights(text) != ({"cdr"}, set())
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    rendered = (asterisk_root / "etc/asterisk/manager_users.conf").read_text()
    assert rights(rendered) == ({"cdr"}, set())
    assert conf_values(user_section(rendered), "secret") == [env["AMI_SECRET"]]  # the secret is kept
    assert "AMI user callcenter: rights set to read = cdr" in r.stderr


def test_asterisk_entrypoint_adds_missing_rights_lines(asterisk_root: Path, deploy: Path):  # noqa: F811
    """No read/write line at all would leave Asterisk's default: the rendered user has both."""
    env = install_secrets(asterisk_root, deploy)
    old = asterisk_root / "run/secrets/manager_users.conf"
    old.write_text(re.sub(r"^(read|write) *=.*\n", "", old.read_text(), flags=re.M))
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    assert rights((asterisk_root / "etc/asterisk/manager_users.conf").read_text()) == ({"cdr"}, set())


def test_asterisk_entrypoint_keeps_a_current_file_as_it_is(asterisk_root: Path, deploy: Path):  # noqa: F811
    env = install_secrets(asterisk_root, deploy)
    r = run_entrypoint(asterisk_root, env)
    assert r.returncode == 0, r.stderr
    assert (asterisk_root / "etc/asterisk/manager_users.conf").read_text() == (
        deploy / "secrets" / "manager_users.conf").read_text()
    assert "rights set to" not in r.stderr
