"""scripts/spec-coverage: every rule of SPEC.md's tables is in the code and named by a test function."""

import importlib.util
import os
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "spec-coverage"
_loader = SourceFileLoader("spec_coverage", str(SCRIPT))
cov = importlib.util.module_from_spec(importlib.util.spec_from_loader("spec_coverage", _loader))
sys.modules["spec_coverage"] = cov  # its dataclasses look their module up
_loader.exec_module(cov)


def run(*args: str, spec: Path | None = None) -> subprocess.CompletedProcess:
    env = {"SPEC_MD": str(spec)} if spec is not None else {}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_every_rule_of_the_spec_is_in_core_flows_and_tests():
    r = run()
    assert r.returncode == 0, r.stdout
    assert "R-PRIVACY " in r.stdout and "unit tests only" in r.stdout


def test_the_check_fails_for_a_rule_nobody_implemented():
    r = run("R-NOT-A-RULE-XYZ")
    assert r.returncode == 1
    assert "R-NOT-A-RULE-XYZ: not a rule of SPEC.md" in r.stdout


def test_the_rules_are_read_from_the_spec_tables_including_privacy_rows():
    text = ("| ID | Seed line | What |\n|---|---|---|\n| R-RING | 三声 | rings |\n"
            "| R-PRIVACY (recordings) | … | mode 0640 |\n| R-PRIVACY (callbacks) | … | … |\n"
            "| R-VM-RR | … | rota |\nR-NOT-IN-A-TABLE is prose\n")
    assert cov.spec_rules(text) == ["R-RING", "R-PRIVACY", "R-VM-RR"]


def test_a_spec_rule_no_code_and_no_test_names_fails_with_its_name(tmp_path):
    """The old script checked a fixed list of rules (R-PRIVACY left out): a new SPEC rule passed unseen."""
    rule = "R-NEVER-" + "BUILT-XYZ"  # spelt apart: this test's own body must not name it
    spec = tmp_path / "SPEC.md"
    spec.write_text(f"| ID | Seed | What |\n|---|---|---|\n| R-RING | … | … |\n| {rule} | … | … |\n")
    r = run(spec=spec)
    assert r.returncode == 1, r.stdout
    assert f"{rule}: no core, no shell, no tests" in r.stdout
    assert "R-RING" in r.stdout.split("NOT COVERED")[0]


def test_only_a_tests_name_or_docstring_names_a_rule(tmp_path, monkeypatch):
    """A rule in a comment, a string in the body, a decorator or the module docstring is no test of it:
    ``# R-WAIT`` above ``assert True`` proved nothing and used to count."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text('"""R-WRAP and R-HOLD are tested here (they are not)."""\n\n'
                                     "def test_something():\n    assert 1 + 1 == 2\n\n\n"
                                     "def test_r_hold_is_named_by_the_test():\n    assert True\n\n\n"
                                     "class TestBusy:\n    \"\"\"R-BUSY: the pause timer.\"\"\"\n\n"
                                     "    def test_timer(self):\n        assert True\n\n\n"
                                     "async def test_wait():\n    # R-WAIT: the apology\n    assert True\n\n\n"
                                     "def test_limit():\n    \"\"\"R-WAITLIMIT: the position.\"\"\"\n\n\n"
                                     "def test_string():\n    rule = 'R-HANGUP'\n    assert rule\n\n\n"
                                     "@pytest.mark.parametrize('r', ['R-SHIFT'])\ndef test_marked(r):\n    assert r\n")
    monkeypatch.setattr(cov, "ROOT", tmp_path)
    found = cov.test_functions(tests)
    assert [t.nodeid for t in found] == ["tests/test_x.py::test_something",
                                         "tests/test_x.py::test_r_hold_is_named_by_the_test",
                                         "tests/test_x.py::TestBusy::test_timer", "tests/test_x.py::test_wait",
                                         "tests/test_x.py::test_limit", "tests/test_x.py::test_string",
                                         "tests/test_x.py::test_marked"]

    def named(rule):
        pattern, slug = cov._pattern(rule), cov._slug(rule)
        return [t.name for t in found if slug.search(t.name) or pattern.search(t.text)]

    assert named("R-WRAP") == []  # the module docstring
    assert named("R-HOLD") == ["test_r_hold_is_named_by_the_test"]  # the name
    assert named("R-BUSY") == ["test_timer"]  # the class's docstring
    assert named("R-WAIT") == []  # a comment
    assert named("R-WAITLIMIT") == ["test_limit"]  # the docstring
    assert named("R-HANGUP") == []  # a string in the body
    assert named("R-SHIFT") == []  # a decorator


def test_e2e_and_unit_tests_are_told_apart():
    e2e = cov.coverage("R-XFER-CONFIRM", cov.test_functions())
    assert e2e.e2e and all(n.startswith("tests/e2e/") for n in e2e.e2e)
    assert all(not n.startswith("tests/e2e/") for n in e2e.unit)


def test_an_unbuilt_rule_is_allow_listed_with_a_reason_and_listed():
    r = run()
    for rule, reason in cov.NOT_BUILT.items():
        assert reason
        assert f"{rule} allowed unbuilt: {reason}" in r.stdout
