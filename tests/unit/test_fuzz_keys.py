"""Fuzzing the in-call key reader (``core.keys.KeyReader``): random DTMF strings (0-9 * # A-D), long
input, random gaps around the time-out, random key maps of the shape the config allows.

The reader is checked against the behaviour its docstring and tests document, written out plainly:
a command fires exactly when its code ends the keys pressed since the last command (stray keys
before it do not matter); a command that takes an argument collects keys up to ``#`` and fires
only with a non-empty argument; a sequence, argument included, not continued within ``timeout_s``
of its last key is forgotten. Key maps are prefix-free (the config refuses a code that is a prefix
of another) and here also infix-free (no code inside another), so "the code ends the input" is
unambiguous. Settings: the ``ci`` profile (tests/unit/conftest.py).
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from ari_app.core.keys import KeyReader

DTMF = "0123456789*#ABCD"
DEFAULT_CODES = {
    "transfer": "##",
    "transfer_complete": "*1",
    "transfer_cancel": "*2",
    "hold": "*8",
    "silent": "*9",
}
TIMEOUT = 4.0


class Spec:
    """The documented behaviour, as directly as it can be written (no clever buffer)."""

    def __init__(self, codes: dict[str, str], takes_argument: frozenset[str], timeout_s: float) -> None:
        self.codes, self.takes_argument, self.timeout_s = codes, takes_argument, timeout_s
        self.pressed = ""  # keys since the last command (or time-out)
        self.command: str | None = None  # reading this command's argument
        self.last: float | None = None

    def feed(self, key: str, now: float) -> tuple[str, str] | None:
        if self.last is not None and now - self.last > self.timeout_s:
            self.pressed, self.command = "", None  # anything pending is forgotten
        self.last = now
        if self.command is not None:
            if key == "#":
                command, arg = self.command, self.pressed
                self.pressed, self.command = "", None
                return (command, arg) if arg else None
            self.pressed += key
            return None
        self.pressed += key
        for command, code in self.codes.items():
            if self.pressed.endswith(code):
                self.pressed = ""
                if command in self.takes_argument:
                    self.command = command
                    return None
                return (command, "")
        return None


def _infix_free(codes: list[str]) -> bool:
    return all(a == b or a not in b for a in codes for b in codes)


# a small alphabet makes codes overlap (a code's end is another's start: "**1", "0010"), where readers err
key_maps = (
    st.sampled_from(["0123456789*#", "01*"])
    .flatmap(
        lambda alphabet: st.lists(
            st.text(alphabet=alphabet, min_size=1, max_size=4), min_size=1, max_size=6, unique=True
        )
    )
    .filter(_infix_free)
    .map(lambda cs: {f"cmd{i}": c for i, c in enumerate(cs)})
)

# gaps around the time-out: quick presses, exactly the time-out (not "more than"), just over, long pauses
gaps = st.one_of(
    st.floats(0, 1.5), st.sampled_from([0.0, TIMEOUT, TIMEOUT + 1e-6, TIMEOUT + 0.5, 60.0, 3600.0])
)


def presses(alphabet: str = DTMF, max_size: int = 60):
    return st.lists(st.tuples(st.sampled_from(alphabet), gaps), max_size=max_size)


def _run(reader: KeyReader, spec: Spec, keys: list[tuple[str, float]], start: float = 1000.0) -> list:
    now, fired = start, []
    for key, gap in keys:
        now += gap
        got = reader.feed(key, now)
        assert got == spec.feed(key, now), (key, now, fired)
        assert got is None or (isinstance(got, tuple) and got[0] in reader.codes and isinstance(got[1], str))
        if got is not None:
            fired.append(got)
    return fired


@given(presses())
@example([("#", 0.5), ("#", 0.5), ("2", 0.5), ("0", 0.5), ("0", 0.5), ("2", 0.5), ("#", 0.5)])
@example([("#", 0.5), ("#", 0.5), ("*", 60.0), ("8", 0.5)])  # an abandoned ## must not swallow *8
@example([("*", 0.5), ("*", 0.5), ("1", 0.5)])  # a stray * before *1
def test_default_in_call_keys_follow_the_spec(keys):
    reader = KeyReader(codes=DEFAULT_CODES, timeout_s=TIMEOUT)
    fired = _run(reader, Spec(DEFAULT_CODES, frozenset({"transfer"}), TIMEOUT), keys)
    for command, arg in fired:  # the documented outcomes of the service's key map
        if command == "transfer":
            assert arg and "#" not in arg
        else:
            assert command in DEFAULT_CODES and arg == ""


@given(key_maps, st.data())
def test_any_configurable_key_map_follows_the_spec(codes, data):
    takes = frozenset(data.draw(st.sets(st.sampled_from(sorted(codes)), max_size=1)))
    reader = KeyReader(codes=codes, takes_argument=takes, timeout_s=TIMEOUT)
    _run(
        reader, Spec(codes, takes, TIMEOUT), data.draw(presses(DTMF if data.draw(st.booleans()) else "01*#"))
    )


@given(key_maps, st.data())
def test_a_code_after_a_pause_always_fires(codes, data):
    """What users rely on: whatever was pressed before (a half code, an abandoned argument), after a
    pause longer than the time-out, pressing a code runs it."""
    takes = frozenset(data.draw(st.sets(st.sampled_from(sorted(codes)), max_size=1)))
    reader = KeyReader(codes=codes, takes_argument=takes, timeout_s=TIMEOUT)
    now = 0.0
    for key in data.draw(st.text(alphabet=DTMF, max_size=12)):
        now += 0.3
        reader.feed(key, now)
    command = data.draw(st.sampled_from(sorted(codes)))
    now += data.draw(st.sampled_from([TIMEOUT + 1e-6, TIMEOUT + 1, 600.0]))
    fired = []
    for key in codes[command] + ("1#" if command in takes else ""):
        fired.append(reader.feed(key, now))
        now += 0.3
    assert [f for f in fired if f is not None] == [(command, "1" if command in takes else "")]


@given(st.integers(1, 5000))
def test_a_very_long_target_is_read_whole(n):
    reader = KeyReader(codes=DEFAULT_CODES, timeout_s=TIMEOUT)
    target = ("1234567890" * (n // 10 + 1))[:n]
    keys = [("#", 0.1), ("#", 0.1)] + [(d, 0.1) for d in target] + [("#", 0.1)]
    assert _run(reader, Spec(DEFAULT_CODES, frozenset({"transfer"}), TIMEOUT), keys) == [("transfer", target)]


@given(st.lists(st.tuples(st.text(max_size=3), gaps), max_size=30))
def test_non_dtmf_strings_only_give_documented_outcomes(keys):
    """A malformed event may carry any text as its digit ("", "12", "x"): never an exception."""
    reader = KeyReader(codes=DEFAULT_CODES, timeout_s=TIMEOUT)
    now = 0.0
    for key, gap in keys:
        now += gap
        got = reader.feed(key, now)
        assert got is None or (got[0] in DEFAULT_CODES and isinstance(got[1], str))
        assert got is None or got[0] == "transfer" or got[1] == ""
