import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "spec-coverage"


def test_every_rule_built_so_far_is_in_core_flows_and_tests():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_the_check_fails_for_a_rule_nobody_implemented():
    r = subprocess.run([sys.executable, str(SCRIPT), "R-NOT-A-RULE-XYZ"], capture_output=True, text=True)
    assert r.returncode == 1
