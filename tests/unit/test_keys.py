from ari_app.core.keys import KeyReader

CODES = {"transfer": "##", "transfer_complete": "*1", "transfer_cancel": "*2"}


def feed(reader, keys, start=0.0, gap=0.2):
    out = []
    for i, k in enumerate(keys):
        r = reader.feed(k, start + i * gap)
        if r:
            out.append(r)
    return out


def test_transfer_with_target_then_complete():
    r = KeyReader(codes=CODES)
    assert feed(r, "##2002#") == [("transfer", "2002")]
    assert feed(r, "*1", start=10) == [("transfer_complete", "")]
    assert feed(r, "*2", start=20) == [("transfer_cancel", "")]


def test_stray_digits_before_a_code_are_ignored():
    r = KeyReader(codes=CODES)
    assert feed(r, "57*1") == [("transfer_complete", "")]
    assert feed(r, "5#", start=5) == []
    assert feed(r, "#", start=5.5) == []  # "#" then "#" -> the transfer code, waiting for the target


def test_a_slow_sequence_is_forgotten():
    r = KeyReader(codes=CODES, timeout_s=4)
    assert r.feed("#", 0.0) is None and r.feed("#", 0.5) is None
    assert r.feed("2", 1.0) is None
    assert r.feed("#", 10.0) is None  # the target was abandoned
    assert feed(r, "##7#", start=20) == [("transfer", "7")]


def test_empty_target_does_nothing():
    r = KeyReader(codes=CODES)
    assert feed(r, "###") == []


def test_an_abandoned_transfer_code_is_forgotten_too():
    """Found by fuzzing: "##" then nothing kept the reader waiting for a target forever, so "*8"
    pressed a minute later was read as the start of a transfer target, not as hold."""
    r = KeyReader(codes={**CODES, "hold": "*8"}, timeout_s=4)
    assert r.feed("#", 0.0) is None and r.feed("#", 0.5) is None
    assert r.feed("*", 60.0) is None
    assert r.feed("8", 60.5) == ("hold", "")
    assert feed(r, "##5", start=100) == [] and feed(r, "#", start=200) == []  # "5" then "#" too late


def test_a_code_is_found_after_any_stray_keys():
    """Found by fuzzing: after a stray key the reader fell back to the last key alone, and did not
    check it: with hold = "8", "*" then "8" did nothing; and "00010" missed the code "0010"."""
    assert feed(KeyReader(codes={**CODES, "hold": "8"}), "*8") == [("hold", "")]
    assert feed(KeyReader(codes={"a": "0", "b": "61"}), "60") == [("a", "")]
    assert feed(KeyReader(codes={"x": "0010"}), "00010") == [("x", "")]
    assert feed(KeyReader(codes={"x": "**1"}), "***1") == [("x", "")]
