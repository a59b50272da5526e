"""Voice prompts: prompts/manifest.toml <-> the rendered files <-> ari_app.core.prompts.

Needs neither espeak-ng nor sox: the rendered prompts are committed, and
`scripts/make-prompts --check` compares hashes only.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tomllib
import wave
from pathlib import Path

import pytest

from ari_app.core import prompts
from ari_app.core.prompts import (
    MEDIA_PREFIX,
    PROMPT_IDS,
    agent_id_announcement,
    digits,
    greeting,
    media,
    number,
    position_announcement,
)
from ari_app.core.announce import queue_name

REPO = Path(__file__).resolve().parents[2]
PROMPTS = REPO / "prompts"
MAKE_PROMPTS = REPO / "scripts" / "make-prompts"
LANGS = ("zh", "en")
MANIFEST = tomllib.loads((PROMPTS / "manifest.toml").read_text(encoding="utf-8"))
WAVS = sorted((lang, pid) for lang in LANGS for pid in MANIFEST)


def wav_info(path: Path) -> tuple[int, int, int, float]:
    """(rate, channels, bits, seconds) of a PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), 8 * w.getsampwidth(), w.getnframes() / w.getframerate()


# --- manifest <-> rendered files ------------------------------------------------


def test_manifest_entries_are_well_formed():
    assert MANIFEST, "empty manifest"
    for pid, entry in MANIFEST.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", pid), pid
        assert set(entry) == {"zh", "pinyin", "en"}, pid
        assert all(isinstance(v, str) and v.strip() for v in entry.values()), pid


def test_required_texts():
    assert MANIFEST["wait-apology"]["zh"] == "对不起，请稍等！"
    assert MANIFEST["digit-1"]["zh"] == "幺"
    assert [MANIFEST[f"digit-{d}"]["zh"] for d in range(10)] == list("零幺二三四五六七八九")
    assert MANIFEST["count-1"]["zh"] == "一" and MANIFEST["count-2"]["zh"] == "两"
    assert MANIFEST["agent-id-prefix"]["zh"] == "工号"
    assert MANIFEST["agent-id-suffix"]["zh"] == "为您服务"


def test_make_prompts_check_passes():
    r = subprocess.run([sys.executable, str(MAKE_PROMPTS), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_make_prompts_is_an_executable_python_script():
    assert MAKE_PROMPTS.stat().st_mode & 0o111
    assert MAKE_PROMPTS.read_text().startswith("#!/usr/bin/env python3\n")


@pytest.mark.parametrize("lang,pid", WAVS)
def test_every_prompt_is_rendered_8khz_mono_16bit(lang, pid):
    path = PROMPTS / lang / f"{pid}.wav"
    assert path.is_file(), f"{path} missing: run scripts/make-prompts"
    rate, channels, bits, seconds = wav_info(path)
    assert (rate, channels, bits) == (8000, 1, 16), path
    assert 0.1 < seconds < 30, (path, seconds)


def test_no_rendered_file_without_manifest_entry_and_no_flat_layout():
    for lang in LANGS:
        extra = {p.stem for p in (PROMPTS / lang).glob("*.wav")} - MANIFEST.keys()
        assert not extra, f"prompts/{lang}: not in the manifest: {sorted(extra)}"
    assert not list(PROMPTS.glob("*.wav")), "prompts/*.wav: prompts live in prompts/<lang>/"


@pytest.mark.parametrize("lang", LANGS)
def test_digit_prompts_are_short(lang):
    # They are concatenated ("工号 幺零二四 为您服务"), so little silence around them.
    for pid in [*prompts.DIGIT_IDS, prompts.COUNT_ONE, prompts.COUNT_TWO]:
        seconds = wav_info(PROMPTS / lang / f"{pid}.wav")[3]
        assert seconds < 1.2, (lang, pid, seconds)


def test_music_on_hold():
    rate, channels, bits, seconds = wav_info(PROMPTS / "moh" / "callcenter-01.wav")
    assert (rate, channels, bits) == (8000, 1, 16)
    assert seconds > 10


# --- the code's ids <-> the manifest --------------------------------------------------


def test_every_id_the_code_uses_is_in_the_manifest_and_rendered():
    missing = PROMPT_IDS - MANIFEST.keys()
    assert not missing, f"not in prompts/manifest.toml: {sorted(missing)}"
    for pid in PROMPT_IDS:
        assert (PROMPTS / "zh" / f"{pid}.wav").is_file(), pid


def test_every_manifest_entry_is_used():
    assert not MANIFEST.keys() - PROMPT_IDS, "add new prompts to ari_app.core.prompts.PROMPT_IDS"


def test_dialplan_prompts_are_in_the_manifest():
    confs = [*(REPO / "dialplan").glob("*.conf"), *(REPO / "tests/e2e/asterisk").glob("*.conf")]
    used = {m for f in confs for m in re.findall(r"callcenter/([a-z0-9-]+)", f.read_text())}
    used -= {"voicemail"}  # /var/spool/asterisk/recording/callcenter-fallback
    assert used, "no callcenter/ prompts found in the dialplan"
    assert not used - MANIFEST.keys(), sorted(used - MANIFEST.keys())
    assert used <= PROMPT_IDS


def test_every_example_queue_has_a_whisper_prompt():
    # Queue names come from the configuration: each deployment's queues need a
    # queue-<name> entry in the manifest. The e2e config's many test queues do not.
    queues = tomllib.loads((REPO / "config/example.toml").read_text()).get("queues", {})
    assert queues
    for name in queues:
        assert queue_name(name) in PROMPT_IDS, name


# --- ari_app.core.prompts ----------------------------------------------------------------


def test_media():
    assert MEDIA_PREFIX == "sound:callcenter/"
    assert media("wait-apology") == "sound:callcenter/wait-apology"
    for bad in ("", "callcenter/x", " x"):
        with pytest.raises(ValueError):
            media(bad)


def test_digits():
    assert digits("1024") == ["digit-1", "digit-0", "digit-2", "digit-4"]
    assert digits("0") == ["digit-0"]
    assert digits("13800138000")[:3] == ["digit-1", "digit-3", "digit-8"]
    for bad in ("", "12a", "1 2", "-1", "+86", "١٢", "12#"):
        with pytest.raises(ValueError):
            digits(bad)


def test_number_counts_say_yi_and_liang():
    # issue 18: Mandarin numerals (tests/unit/test_numerals.py checks 0..9999 against a reference)
    assert number(0) == ["digit-0"]
    assert number(1) == ["count-1"]
    assert number(2) == ["digit-2"]  # 第二位
    assert number(2, measure=True) == ["count-2"]  # 两分钟
    assert number(12, measure=True) == ["num-10", "digit-2"]  # 十二分钟
    assert number(305) == ["digit-3", "num-100", "digit-0", "digit-5"]  # 三百零五
    assert number(11) == ["num-10", "count-1"]  # 十一
    for bad in (-1, 1.5, "3", True, None):
        with pytest.raises(ValueError):
            number(bad)


@pytest.mark.parametrize(
    "hour,want",
    [(0, "greet-morning"), (6, "greet-morning"), (10, "greet-morning"),
     (11, "greet-noon"), (12, "greet-noon"),
     (13, "greet-afternoon"), (17, "greet-afternoon"),
     (18, "greet-evening"), (23, "greet-evening")],
)
def test_greeting(hour, want):
    assert greeting(hour) == want


def test_greeting_rejects_non_hours():
    for bad in (-1, 24, 12.5, None):
        with pytest.raises(ValueError):
            greeting(bad)


def test_agent_id_announcement():
    assert agent_id_announcement("1024") == [
        "agent-id-prefix", "digit-1", "digit-0", "digit-2", "digit-4", "agent-id-suffix"]
    assert agent_id_announcement(7) == ["agent-id-prefix", "digit-7", "agent-id-suffix"]
    with pytest.raises(ValueError):
        agent_id_announcement("A12")


def test_position_announcement():
    pre, suf = "position-prefix", "position-suffix"
    assert position_announcement(3, None) == [pre, "digit-3", suf]
    assert position_announcement(1, 0) == [pre, "count-1", suf, "wait-less-than-minute"]
    assert position_announcement(2, 59.9) == [pre, "digit-2", suf, "wait-less-than-minute"]
    assert position_announcement(2, 60) == [pre, "digit-2", suf, "wait-estimate-prefix", "count-1", "minutes"]
    # whole minutes, rounded up: 61 s is 两分钟
    assert position_announcement(4, 61) == [pre, "digit-4", suf, "wait-estimate-prefix", "count-2", "minutes"]
    assert position_announcement(12, 600) == [  # 第十二位，预计等待十分钟
        pre, "num-10", "digit-2", suf, "wait-estimate-prefix", "num-10", "minutes"]
    for bad_pos in (0, -1, 1.0):
        with pytest.raises(ValueError):
            position_announcement(bad_pos, None)
    for bad_est in (-1, math.nan, math.inf):
        with pytest.raises(ValueError):
            position_announcement(1, bad_est)


def test_queue_name():
    # the whisper and the transfer's where-to (core/announce.py; prompts.queue_whisper() was its copy)
    assert queue_name("support") == "queue-support"
    assert queue_name("sales") == "queue-sales"
    assert queue_name("no-such-queue") is None  # nothing is whispered without a recording
    assert queue_name("xferq", {"queue-xferq"}) == "queue-xferq"  # a site prompt ([site_prompts.queue-xferq])


def test_callback_intro_says_the_count_as_a_numeral_and_clamps_past_what_number_says():
    # review finding (issue 18): the clamp was a rule in flows/callback.py; it is the core's
    assert prompts.callback_intro(0) == ["callback-intro", "digit-0"]
    assert prompts.callback_intro(1) == ["callback-intro", "count-1"]
    assert prompts.callback_intro(12) == ["callback-intro", "num-10", "digit-2"]  # 十二
    assert prompts.callback_intro(prompts.MAX_NUMBER) == ["callback-intro", *number(prompts.MAX_NUMBER)]
    assert prompts.callback_intro(12345) == ["callback-intro", *number(prompts.MAX_NUMBER)]  # no 万 prompt
    for bad in (-1, True, "3", 1.5):
        with pytest.raises(ValueError, match=f"not a task count: {re.escape(repr(bad))}"):
            prompts.callback_intro(bad)


def test_every_announcement_uses_known_prompts():
    seqs = [
        agent_id_announcement("1234567890"),
        *(position_announcement(p, e) for p in (1, 2, 10, 99) for e in (None, 0, 59, 60, 61, 119, 3600)),
        [greeting(h) for h in range(24)],
        [queue_name(q) for q in ("support", "sales", "lab", "slow")],
        digits("0123456789"),
    ]
    for seq in seqs:
        assert set(seq) <= PROMPT_IDS, seq
        for pid in seq:
            assert media(pid) == f"sound:callcenter/{pid}"


def test_position_announcement_refuses_a_bool_or_text_and_says_what_was_wrong():
    # mutation testing (issue 7): True is an int in Python, still no queue position
    for bad_pos in (True, False, "3"):
        with pytest.raises(ValueError, match=f"not a queue position: {bad_pos!r}"):
            position_announcement(bad_pos, None)
    with pytest.raises(ValueError, match="not a wait estimate: -1"):
        position_announcement(1, -1)


def test_prompt_builders_say_what_input_was_wrong():
    # mutation testing (issue 7): the messages name the bad value (they end up in the logs)
    with pytest.raises(ValueError, match=r"^not a prompt id: 'a/b'$"):
        media("a/b")
    for bad in ("X", "12X", "1 2"):
        with pytest.raises(ValueError, match=rf"^not a digit string: '{bad}'$"):
            digits(bad)
    with pytest.raises(ValueError, match=r"^not a non-negative integer: -1$"):
        number(-1)
    with pytest.raises(ValueError, match=r"^not an hour 0-23: 24$"):
        greeting(24)
