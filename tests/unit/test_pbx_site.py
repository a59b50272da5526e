"""ari_app/pbx_site.py (issue 15): the dialplan's numbers, DIDs and trunk globals rendered from the
service config: what is rendered, every refusal, determinism, the standalone script the Asterisk
image runs, and the committed dialplan/extensions_site.conf being the render of config/example.toml."""

from __future__ import annotations

import ast
import copy
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_app import config, pbx_site
from ari_app.__main__ import main as ari_app_main
from ari_app.pbx_site import SiteError, check, render

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ari_app" / "pbx_site.py"

BASE = {
    "ari": {"password": "x", "app": "callcenter"},
    "trunk": {"endpoint": "provider", "caller_id": "4008001234"},
    "queues": {
        "support": {"number": "600", "voicemail_number": "690"},
        "sales": {"number": "601", "voicemail_number": "691"},
        "billing": {"number": "1000"},
    },
    "dids": {"+862155550100": "support", "02155550111": "sales"},
    "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}},
}

HOSTILE = ["600\nexten => 1,1,System(rm -rf /)", "600,1", "600&601", "${SHELL}", "600;x", "6 0", "600\r",
           "\u0666\u0660\u0660"]  # the last: Arabic-Indic digits, str.isdigit() but not 0-9


def errors(data, **kw) -> list[str]:
    return check(data, **kw)


def rendered(data, source="site.toml") -> str:
    return render(data, source)


def section(text: str, name: str) -> list[str]:
    """The lines of ``[name]`` (comments and blank lines left out)."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line == f"[{name}]"
        elif inside and line.strip() and not line.startswith(";"):
            lines.append(line)
    return lines


def with_(path: str, value, data=None):
    """A deep copy of BASE (or ``data``) with the dotted ``path`` set (``None``: removed)."""
    out = copy.deepcopy(BASE if data is None else data)
    *parents, last = path.split(".")
    t = out
    for p in parents:
        t = t.setdefault(p, {})
    if value is None:
        t.pop(last, None)
    else:
        t[last] = value
    return out


# -- what is rendered ------------------------------------------------------------------------------------

def test_queue_numbers_and_voicemail_numbers():
    assert section(rendered(BASE), "site-numbers") == [
        "exten => 600,1,Goto(callcenter-queue,support,1)",
        "exten => 601,1,Goto(callcenter-queue,sales,1)",
        "exten => 1000,1,Goto(callcenter-queue,billing,1)",  # numeric order, not string order
        "exten => 690,1,Set(CC_QUEUE=support)",
        " same => n,Goto(callcenter-voicemail,s,1)",
        "exten => 691,1,Set(CC_QUEUE=sales)",
        " same => n,Goto(callcenter-voicemail,s,1)",
    ]


def test_dids_match_with_and_without_plus():
    assert section(rendered(BASE), "site-dids") == [
        "exten => +02155550111,1,Goto(callcenter-queue,sales,1)",
        "exten => 02155550111,1,Goto(callcenter-queue,sales,1)",
        "exten => +862155550100,1,Goto(callcenter-queue,support,1)",
        "exten => 862155550100,1,Goto(callcenter-queue,support,1)",
    ]


def test_globals_from_ari_and_trunk():
    data = with_("ari.app", "cc2")
    assert section(rendered(data), "globals") == [
        "CC_APP = cc2",
        "CC_VOICEMAIL_DIR = /var/spool/asterisk/recording/callcenter-fallback",
        "CC_OUTBOUND_CID = 4008001234",
        "CC_TRUNK = provider",
    ]


def test_globals_defaults_without_trunk_or_app():
    data = with_("trunk", None, with_("ari.app", None))
    assert section(rendered(data), "globals") == [
        "CC_APP = callcenter",
        "CC_VOICEMAIL_DIR = /var/spool/asterisk/recording/callcenter-fallback",
        "CC_OUTBOUND_CID =",  # empty: [callcenter-outbound] keeps the trunk's own caller ID
        "CC_TRUNK = trunk",
    ]


def test_no_numbers_no_dids_still_defines_the_contexts():
    data = {"queues": {"support": {}}}
    text = rendered(data)
    assert "[site-numbers]\n; (no queue has a number)\n" in text and "[site-dids]\n; (no [dids])\n" in text
    assert section(text, "site-numbers") == [] and section(text, "site-dids") == []


def test_header_names_the_config_and_the_script():
    text = rendered(BASE, "/etc/ari-app/config.toml")
    assert text.splitlines()[0] == "; generated from /etc/ari-app/config.toml by pbx_site.py; do not edit"
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_a_config_path_with_a_newline_stays_in_the_comment():
    text = rendered(BASE, "/tmp/x\n[globals]\nCC_APP=evil.toml")
    assert text.splitlines()[0].startswith("; generated from '/tmp/x\\n[globals]")
    lines = text.splitlines()
    assert lines.count("[globals]") == 1 and not any(line.startswith("CC_APP=") for line in lines)


def test_contexts_and_order_of_the_file():
    heads = [line for line in rendered(BASE).splitlines() if line.startswith("[")]
    assert heads == ["[globals]", "[site-numbers]", "[site-dids]"]


# -- refusals ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["6x0", "", "1" * 21, 600, True, ["600"], *HOSTILE])
@pytest.mark.parametrize("key", ["number", "voicemail_number"])
def test_numbers_are_strings_of_digits(key, value):
    assert errors(with_(f"queues.billing.{key}", value)) == [
        f'queues.billing.{key}: must be a string of 1-20 digits, e.g. "600", got {value!r}']


@pytest.mark.parametrize("key", ["number", "voicemail_number"])
def test_numbers_never_start_with_the_outbound_prefix(key):
    assert errors(with_(f"queues.billing.{key}", "900")) == [
        f"queues.billing.{key}: must not start with 9 (agents dial 9<number> for an outside line), got '900'"]


def test_a_number_is_used_once():
    data = with_("queues.billing.number", "600")
    data["queues"]["billing"]["voicemail_number"] = "690"
    data["queues"]["sales"]["voicemail_number"] = "601"  # its own queue number
    assert errors(data) == [  # queues in name order: the first one keeps the number
        "queues.sales.voicemail_number: '601' is already queues.sales.number",
        "queues.support.number: '600' is already queues.billing.number",
        "queues.support.voicemail_number: '690' is already queues.billing.voicemail_number",
    ]


def test_a_number_is_not_an_agent_id():
    assert errors(with_("queues.billing.number", "1001")) == [
        "queues.billing.number: '1001' is also agent 1001's ID (transfers to 1001 reach the agent): "
        "pick another number"]


def test_a_queue_reached_by_number_needs_a_two_letter_name():
    data = copy.deepcopy(BASE)
    data["queues"]["x"] = {"number": "602"}
    data["dids"]["4001"] = "x"
    assert errors(data) == [
        "queues.x.number: queue 'x' is reached through [callcenter-queue] (_[a-z].), which needs a name of "
        "2 characters or more; rename the queue",
        "dids.4001: queue 'x' is reached through [callcenter-queue] (_[a-z].), which needs a name of "
        "2 characters or more; rename the queue",
    ]


@pytest.mark.parametrize("did", ["++86", "86-21", "", "1" * 21, "+", "tel:+86", *HOSTILE])
def test_did_keys_are_digits_with_an_optional_plus(did):
    assert errors(with_("dids", {did: "support"})) == [
        f"dids.{pbx_site.toml_key(did)}: a DID is 1-20 digits with an optional leading +, got {did!r}"]


def test_did_values_are_existing_queues():
    assert errors(with_("dids", {"4001": "nope", "4002": 5, "4003": "support\n", "4004": "${X}"})) == [
        "dids.4001: unknown queue 'nope' (queues: billing, sales, support)",
        "dids.4002: must be a queue name, got 5",
        "dids.4003: unknown queue 'support\\n' (queues: billing, sales, support)",
        "dids.4004: unknown queue '${X}' (queues: billing, sales, support)",
    ]


def test_a_did_is_listed_once_with_or_without_plus():
    assert errors(with_("dids", {"862155550100": "sales", "+862155550100": "support"})) == [
        "dids.862155550100: the same DID as dids.\"+862155550100\" (each DID is matched with and without +)"]


def test_dids_must_be_a_table():
    assert errors(with_("dids", ["+86"])) == [
        "dids: must be a table of \"<called number>\" = \"<queue>\", got ['+86']"]


@pytest.mark.parametrize("endpoint", ["", "a b", "a@b", "x" * 41, "trunk/1", 5, *HOSTILE])
def test_the_trunk_endpoint_is_a_pjsip_name(endpoint):
    assert errors(with_("trunk.endpoint", endpoint)) == [
        "trunk.endpoint: must be a PJSIP endpoint name (1-40 letters, digits, _ . -), "
        f"got {endpoint!r}"]


def test_good_endpoint_names():
    for name in ("trunk", "provider-1", "ACME_sip.2", "x" * 40):
        assert errors(with_("trunk.endpoint", name)) == [], name


@pytest.mark.parametrize("cid", ["+400", "", "400 800", 4008001234, *HOSTILE])
def test_the_caller_id_is_digits(cid):
    assert errors(with_("trunk.caller_id", cid)) == [f"trunk.caller_id: must be digits (1-20), got {cid!r}"]


@pytest.mark.parametrize("app", ["Callcenter", "", "cc,1", "cc\n", 5])
def test_the_app_is_a_name(app):
    assert errors(with_("ari.app", app)) == [f"ari.app: must be a lower-case name, got {app!r}"]


def test_env_indirection_is_refused_where_the_service_environment_is_missing():
    data = with_("trunk.caller_id_env", "CID", with_("ari.app_env", "APP"))
    assert errors(data) == [
        "ari.app_env: the dialplan is rendered where the service's environment is not; set ari.app itself",
        "trunk.caller_id_env: the dialplan is rendered where the service's environment is not; "
        "set trunk.caller_id itself",
    ]


def test_bad_shapes_and_queue_names():
    assert errors({"ari": 5, "trunk": "x", "queues": {"Bad": {}, "ok": 3}, "agents": []}) == [
        "ari: must be a table, got 5",
        "trunk: must be a table, got 'x'",
        "queues.Bad: queue names are lower-case letters, digits, - and _, got 'Bad'",
        "queues.ok: must be a table, got 3",
        "agents: must be a table, got []",
    ]
    assert errors({"queues": {}}) == ["queues: at least one queue is required, e.g. [queues.support]"]
    assert errors([1]) == ["config: must be a table of sections"]


def test_every_problem_at_once_and_render_refuses():
    data = with_("queues.support.number", "9")
    data["dids"]["+1"] = "nope"
    data["trunk"]["endpoint"] = "a b"
    with pytest.raises(SiteError) as e:
        render(data, "x.toml")
    assert e.value.errors == [
        "trunk.endpoint: must be a PJSIP endpoint name (1-40 letters, digits, _ . -), got 'a b'",
        "queues.support.number: must not start with 9 (agents dial 9<number> for an outside line), got '9'",
        "dids.\"+1\": unknown queue 'nope' (queues: billing, sales, support)",
    ]
    assert str(e.value).startswith("x.toml: invalid configuration:\n  trunk.endpoint: ")


safe_line = re.compile(
    r"(;[^\n]*|\[(globals|site-numbers|site-dids)\]|CC_[A-Z_]+ =( [A-Za-z0-9_./-]+)?"
    r"|exten => \+?[0-9]{1,20},1,"
    r"(Goto\(callcenter-queue,[a-z][a-z0-9_-]{1,31},1\)|Set\(CC_QUEUE=[a-z][a-z0-9_-]{1,31}\))"
    r"| same => n,Goto\(callcenter-voicemail,s,1\)|)")
hostile_text = st.one_of(st.none(), st.text(max_size=12),  # None: the key is left out
                         st.sampled_from(HOSTILE + ["600", "+601", "602", "support", "trunk"]))
FIELDS = ("number", "vm", "did", "queue", "endpoint", "cid", "app")


@given(st.dictionaries(st.sampled_from(FIELDS), hostile_text, min_size=1, max_size=4))
def test_nothing_but_checked_values_reaches_the_file(changes):
    v = {"number": "600", "vm": "690", "did": "+862155550100", "queue": "support", "endpoint": "provider",
         "cid": "4008001234", "app": "callcenter"} | changes

    def given_(**kw):
        return {k: x for k, x in kw.items() if x is not None}

    data = {"ari": given_(app=v["app"]), "trunk": given_(endpoint=v["endpoint"], caller_id=v["cid"]),
            "queues": {"support": given_(number=v["number"], voicemail_number=v["vm"])},
            "dids": {v["did"]: v["queue"]} if v["did"] is not None and v["queue"] is not None else {}}
    try:
        text = render(data, "fuzz.toml")
    except SiteError as e:
        assert e.errors and all("\n" not in line for line in e.errors)
        return
    for line in text.splitlines()[1:]:
        assert safe_line.fullmatch(line), repr(line)


# -- determinism and the files -----------------------------------------------------------------------------

def test_the_same_config_renders_the_same_bytes_in_any_key_order():
    reordered = copy.deepcopy(BASE)
    reordered["queues"] = dict(reversed(list(reordered["queues"].items())))
    reordered["dids"] = dict(reversed(list(reordered["dids"].items())))
    reordered = dict(reversed(list(reordered.items())))
    assert render(reordered, "a.toml") == render(BASE, "a.toml") == render(copy.deepcopy(BASE), "a.toml")


def test_committed_site_file_is_the_render_of_the_example_config():
    example = tomllib.loads((REPO / "config/example.toml").read_text(encoding="utf-8"))
    committed = (REPO / "dialplan/extensions_site.conf").read_text(encoding="utf-8")
    assert committed == render(example, "config/example.toml"), (
        "regenerate: ari-app pbx-render --config config/example.toml --out dialplan/extensions_site.conf")


def test_the_example_config_keeps_the_numbers_the_e2e_tests_dial():
    text = (REPO / "dialplan/extensions_site.conf").read_text(encoding="utf-8")
    for line in ("exten => 600,1,Goto(callcenter-queue,support,1)",
                 "exten => 601,1,Goto(callcenter-queue,sales,1)",
                 "exten => 690,1,Set(CC_QUEUE=support)", "exten => 691,1,Set(CC_QUEUE=sales)",
                 "CC_OUTBOUND_CID = 4008001234", "CC_TRUNK = trunk", "CC_APP = callcenter"):
        assert line in text.splitlines(), line


def test_the_static_dialplan_includes_the_site_file_and_no_longer_has_its_values():
    text = (REPO / "dialplan/extensions.conf").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert "#include extensions_site.conf" in lines
    assert lines.index("#include extensions_site.conf") < lines.index("[from-callers]")
    assert "[globals]" not in lines and not any(line.startswith("exten => 6") for line in lines)
    from_callers = lines[lines.index("[from-callers]"):]
    assert from_callers[1] == "include => site-numbers"
    from_trunk = lines[lines.index("[from-trunk]"):]
    assert from_trunk[1:3] == ["include => site-dids", "include => from-trunk-unknown"]
    assert "include => site-numbers" not in from_trunk[:from_trunk.index("")]  # a provider never reaches 600


def test_the_module_imports_only_the_standard_library():
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import: the Asterisk image has pbx_site.py alone"
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def write_config(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


EXAMPLE = (REPO / "config/example.toml").read_text(encoding="utf-8")


def run_alone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script as the Asterisk image runs it: a copy alone in a directory, isolated (-I: no
    environment, no script directory on sys.path; -S: no site-packages, so no ari_app at all)."""
    alone = tmp_path / "lib"
    alone.mkdir(exist_ok=True)
    (alone / "pbx_site.py").write_bytes(SCRIPT.read_bytes())
    return subprocess.run([sys.executable, "-I", "-S", str(alone / "pbx_site.py"), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_standalone_render_isolated(tmp_path):
    cfg = write_config(tmp_path, EXAMPLE)
    out = tmp_path / "etc" / "extensions_site.conf"
    out.parent.mkdir()
    r = run_alone(tmp_path, "render", "--config", str(cfg), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == render(tomllib.loads(EXAMPLE), str(cfg))
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in out.parent.iterdir()) == ["extensions_site.conf"]  # no temporary file left


def test_the_file_is_replaced_by_a_rename_never_rewritten_in_place(tmp_path):
    out = tmp_path / "extensions_site.conf"
    out.write_text("old\n", encoding="utf-8")
    reader = tmp_path / "what-a-reader-has-open"
    os.link(out, reader)  # a reader holding the old file (the same inode) never sees a half-written one
    pbx_site.write_atomic(str(out), "new\n")
    assert (out.read_text(encoding="utf-8"), reader.read_text(encoding="utf-8")) == ("new\n", "old\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extensions_site.conf", "what-a-reader-has-open"]


def test_standalone_refuses_a_bad_config_and_leaves_the_old_file(tmp_path):
    cfg = write_config(tmp_path, EXAMPLE.replace('number = "601"', 'number = "601\\nexten => 1,1,Hangup()"'))
    out = tmp_path / "extensions_site.conf"
    out.write_text("old\n", encoding="utf-8")
    r = run_alone(tmp_path, "render", "--config", str(cfg), "--out", str(out))
    assert r.returncode == 2
    assert r.stderr == (f"{cfg}: invalid configuration:\n"
                        "  queues.sales.number: must be a string of 1-20 digits, e.g. \"600\", "
                        "got '601\\nexten => 1,1,Hangup()'\n")
    assert out.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "extensions_site.conf", "lib"]


@pytest.mark.parametrize("content, message", [
    (None, "file not found"),
    (b"[queues\n", "not valid TOML: "),
    (b"\xff\xfe", "not UTF-8 text: "),
])
def test_standalone_unreadable_config(tmp_path, content, message):
    cfg = tmp_path / "config.toml"
    if content is not None:
        cfg.write_bytes(content)
    r = run_alone(tmp_path, "check", "--config", str(cfg))
    assert r.returncode == 2 and r.stderr.startswith(f"{cfg}: invalid configuration:\n  {message}"), r.stderr


def test_standalone_check_and_stdout(tmp_path):
    cfg = write_config(tmp_path, EXAMPLE)
    r = run_alone(tmp_path, "check", "--config", str(cfg))
    assert (r.returncode, r.stdout) == (0, f"{cfg}: ok (dialplan numbers)\n"), r.stderr
    r = run_alone(tmp_path, "render", "--config", str(cfg), "--out", "-")
    assert (r.returncode, r.stdout) == (0, render(tomllib.loads(EXAMPLE), str(cfg))), r.stderr


def test_standalone_unwritable_output(tmp_path):
    cfg = write_config(tmp_path, EXAMPLE)
    r = run_alone(tmp_path, "render", "--config", str(cfg), "--out", str(tmp_path / "missing" / "x.conf"))
    assert r.returncode == 1 and "cannot write" in r.stderr


def test_python_dash_m_runs_the_same(tmp_path):
    cfg = write_config(tmp_path, EXAMPLE)
    out = tmp_path / "x.conf"
    r = subprocess.run([sys.executable, "-m", "ari_app.pbx_site", "render", "--config", str(cfg),
                        "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == render(tomllib.loads(EXAMPLE), str(cfg))


def test_ari_app_pbx_render(tmp_path, capsys):
    cfg = write_config(tmp_path, EXAMPLE)
    out = tmp_path / "x.conf"
    out.write_text("old\n", encoding="utf-8")
    assert ari_app_main(["pbx-render", "--config", str(cfg), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render(tomllib.loads(EXAMPLE), str(cfg))
    bad = write_config(tmp_path, EXAMPLE.replace('"+862155550100" = "support"', '"+862155550100" = "nope"'))
    assert ari_app_main(["pbx-render", "--config", str(bad), "--out", str(out)]) == 2
    assert "dids.\"+862155550100\": unknown queue 'nope' (queues: sales, support)" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == render(tomllib.loads(EXAMPLE), str(cfg))


# -- the service config: the same rules ---------------------------------------------------------------------

SERVICE = {"ari": {"password": "x"}, "queues": {"support": {}, "sales": {}},
           "agents": {"1001": {"interface": "PJSIP/1001", "queues": ["support"]}}}


def config_errors(data) -> list[str]:
    with pytest.raises(config.ConfigError) as e:
        config.parse(data)
    return e.value.errors


def test_config_reads_the_new_keys():
    data = copy.deepcopy(SERVICE)
    data["queues"]["support"] |= {"number": "600", "voicemail_number": "690"}
    data["dids"] = {"+862155550100": "support"}
    data["trunk"] = {"endpoint": "provider"}
    cfg = config.parse(data)
    assert (cfg.queues["support"].number, cfg.queues["support"].voicemail_number) == ("600", "690")
    assert (cfg.queues["sales"].number, cfg.queues["sales"].voicemail_number) == ("", "")
    assert cfg.dids == {"+862155550100": "support"}
    assert cfg.trunk.dial == "PJSIP/{number}@provider" and cfg.trunk.endpoint("138") == "PJSIP/138@provider"


def test_config_dial_wins_over_endpoint_and_dial_is_still_required_alone():
    data = {**SERVICE, "trunk": {"endpoint": "provider", "dial": "Local/{number}@x"}}
    assert config.parse(data).trunk.dial == "Local/{number}@x"
    assert config_errors({**SERVICE, "trunk": {"caller_id": "400"}}) == [
        "trunk.dial: missing (a dial string with {number}, e.g. 'PJSIP/{number}@trunk')"]


def test_check_config_reports_the_dialplan_rules_once(tmp_path, capsys):
    data = copy.deepcopy(SERVICE)
    data["queues"]["support"]["number"] = "900"
    data["queues"]["sales"] |= {"number": "1001", "voicemail_number": "60\n0"}
    data["dids"] = {"+86": "nope"}
    data["trunk"] = {"endpoint": "a;b", "caller_id": "+400"}
    data["queues"]["Bad"] = {"number": "601"}
    assert config_errors(data) == [
        "trunk.caller_id: must be digits (1-20), got '+400'",  # config's own message, once
        "queues.Bad: queue names are lower-case letters, digits, - and _, got 'Bad'",
        "trunk.endpoint: must be a PJSIP endpoint name (1-40 letters, digits, _ . -), got 'a;b'",
        "queues.sales.number: '1001' is also agent 1001's ID (transfers to 1001 reach the agent): "
        "pick another number",
        "queues.sales.voicemail_number: must be a string of 1-20 digits, e.g. \"600\", got '60\\n0'",
        "queues.support.number: must not start with 9 (agents dial 9<number> for an outside line), got '900'",
        "dids.\"+86\": unknown queue 'nope' (queues: sales, support)",
    ]
    p = tmp_path / "c.toml"
    p.write_text('[ari]\npassword = "x"\n[queues.support]\nnumber = "900"\n', encoding="utf-8")
    assert ari_app_main(["check-config", str(p)]) == 2
    assert "queues.support.number: must not start with 9" in capsys.readouterr().err


def test_config_unknown_keys_next_to_the_new_ones_are_still_reported():
    data = copy.deepcopy(SERVICE)
    data["queues"]["support"] |= {"number": "600", "numbr": "601", "number_env": "X"}
    data["trunk"] = {"endpoint": "trunk", "endpoint_env": "X"}
    assert config_errors(data) == [
        "trunk.endpoint_env: unknown key",
        "queues.support.numbr: unknown key",
        "queues.support.number_env: unknown key",
    ]


def test_example_and_production_configs_pass_both():
    for path in ("config/example.toml", "config/production.toml.example", "tests/e2e/config.toml"):
        data = tomllib.loads((REPO / path).read_text(encoding="utf-8"))
        assert check(data) == [], path
        assert check(data, shared=False) == [], path
