"""issue 17 item 5: the dialplan puts only digits into a dial string (dialplan/extensions.conf).

An Asterisk pattern's ``.`` matches any character: ``_X.`` took ``123&PJSIP/x`` and
``Dial(PJSIP/${EXTEN}@${CC_TRUNK})`` then called a second target. The e2e check is
tests/e2e/test_outbound_digits.py.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIALPLANS = [REPO / "dialplan" / "extensions.conf", REPO / "dialplan" / "extensions_site.conf"]


def contexts(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            current = m[1]
            out.setdefault(current, [])
        elif line and current:
            out[current].append(line)
    return out


def test_no_dial_string_takes_the_dialled_extension_as_it_came():
    for path in DIALPLANS:
        for name, lines in contexts(path).items():
            for line in lines:
                if "Dial(" in line:
                    assert "${EXTEN" not in line, f"{path.name} [{name}]: {line}"


def test_the_outbound_number_is_filtered_and_anything_else_refused():
    lines = contexts(DIALPLANS[0])["callcenter-outbound"]
    assert lines[0] == "exten => _X.,1,Set(CC_DIAL_NUMBER=${FILTER(0-9,${EXTEN})})"
    [dial] = [i for i, ln in enumerate(lines) if "Dial(" in ln]
    assert lines[dial] == "same => n,Dial(PJSIP/${CC_DIAL_NUMBER}@${CC_TRUNK},60)"
    # before the Dial: a number that FILTER shortened (any character but 0-9) goes to the refusal
    checks = [ln for ln in lines[:dial] if "GotoIf(" in ln]
    assert "same => n,GotoIf($[${LEN(${CC_DIAL_NUMBER})} != ${LEN(${EXTEN})}]?refused)" in checks
    refusal = lines[dial + 1:]
    assert refusal[1:3] == ["same => n(refused),NoOp(outbound number refused: digits only)",
                            "same => n,Playback(callcenter/invalid-number)"], refusal


def test_agents_outside_line_and_feature_codes():
    lines = contexts(DIALPLANS[0])["from-agents"]
    # 9 and at least 3 more characters ("." is one or more): 9110, 9119, 9120 reach the outbound context
    assert "exten => _9XX.,1,Goto(callcenter-outbound,${EXTEN:1},1)" in lines
    stasis = [ln for ln in lines if "Stasis(" in ln]
    assert stasis == ["same => n,Stasis(${CC_APP},feature,${FILTER(0-9*#,${EXTEN})})"]


def test_a_queue_calls_priority_is_digits_only_before_stasis():
    """CC_PRIORITY comes from a trunk's context; a "," in it would add Stasis arguments (issue 17 sibling)."""
    lines = contexts(DIALPLANS[0])["callcenter-queue"]
    stasis = next(i for i, ln in enumerate(lines) if "Stasis(" in ln)
    assert "same => n,Set(CC_PRIORITY=${FILTER(0-9,${CC_PRIORITY})})" in lines[:stasis]
