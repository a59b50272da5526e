"""issue 17 item 21: ``ari-app pin-hash`` never takes the PIN on the command line (ps, shell history)."""

import io

import pytest

from ari_app.__main__ import main
from ari_app.core.login import verify_pin


def test_a_pin_as_an_argument_is_refused_and_not_hashed(capsys, monkeypatch):
    """Old code: 'ari-app pin-hash 654321' printed its hash."""
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("no prompt for a refused call"))
    assert main(["pin-hash", "654321"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "never given as an argument" in out.err and "654321" not in out.err


def test_the_pin_from_the_prompt(capsys, monkeypatch):
    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or "654321")
    assert main(["pin-hash"]) == 0
    assert verify_pin("654321", capsys.readouterr().out.strip()) and prompts == ["PIN (6-12 digits): "]


def test_the_pin_from_stdin_for_scripts(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("24680135\n"))
    assert main(["pin-hash", "--stdin"]) == 0
    assert verify_pin("24680135", capsys.readouterr().out.strip())
    monkeypatch.setattr("sys.stdin", io.StringIO("12x456\n"))
    assert main(["pin-hash", "--stdin"]) == 2
    assert "digits" in capsys.readouterr().err


def test_no_pin_typed(capsys, monkeypatch):
    def eof(prompt=""):
        raise EOFError

    monkeypatch.setattr("getpass.getpass", eof)
    assert main(["pin-hash"]) == 2
    assert "no PIN typed" in capsys.readouterr().err
