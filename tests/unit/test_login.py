import hashlib

import pytest

from ari_app.core import login
from ari_app.core.login import LockState, LoginGuard, dummy_hash, hash_pin, is_pin_hash, verify_pin, verify_pin_timed


def test_pin_hash_roundtrip_and_salt():
    h = hash_pin("654321", iterations=1000)
    assert is_pin_hash(h) and "654321" not in h
    assert verify_pin("654321", h) and not verify_pin("654322", h)
    assert hash_pin("654321", iterations=1000) != h  # salted
    assert not verify_pin("654321", "garbage") and not verify_pin("654321", "md5$1$00$00")


def test_guard_unlocks_after_lock_time():
    g = LoginGuard(max_attempts=2, lock_s=10)
    assert g.attempt("1001", False, 0) == "failed"
    assert g.attempt("1001", False, 1) == "locked"
    assert g.attempt("1001", True, 10.999) == "still_locked"
    assert g.attempt("1001", True, 11) == "ok"
    assert g.attempt("1002", True, 0) == "ok"


# -- mutation testing (issue 7) -----------------------------------------------------------------------------
def test_r_login_a_pin_is_6_to_12_digits_by_default():
    """Issue 17: 4-digit PINs were allowed; the minimum is 6 unless [login] min_pin_length says otherwise."""
    for bad in ("123", "1234", "12345", "1234567890123", "12ab56", "abcdef", "", "12 345", "١٢٣٤٥٦"):
        with pytest.raises(ValueError, match="^a PIN is 6 to 12 digits$"):
            hash_pin(bad, iterations=1)
    for good in ("123456", "123456789012"):
        assert verify_pin(good, hash_pin(good, iterations=1))
    assert verify_pin("1234", hash_pin("1234", iterations=1, min_length=4))  # a site that chose 4
    with pytest.raises(ValueError, match="^a PIN is 8 to 12 digits$"):
        hash_pin("1234567", iterations=1, min_length=8)


def test_pin_hash_uses_the_given_salt_or_16_random_bytes():
    salt = bytes(range(16))
    h = hash_pin("654321", salt=salt, iterations=1000)
    assert h.split("$")[:3] == ["pbkdf2_sha256", "1000", salt.hex()]
    assert h == hash_pin("654321", salt=salt, iterations=1000)
    assert len(bytes.fromhex(hash_pin("654321", iterations=1).split("$")[2])) == 16


def test_r_login_a_right_pin_forgets_the_wrong_ones_before_it():
    g = LoginGuard(max_attempts=3, lock_s=10)
    assert [g.attempt("1001", False, t) for t in (0, 1)] == ["failed", "failed"]
    assert g.attempt("1001", True, 2) == "ok"
    assert [g.attempt("1001", False, t) for t in (3, 4)] == ["failed", "failed"]  # counted afresh
    assert g.attempt("1001", False, 5) == "locked"


def test_r_login_after_a_lock_the_count_starts_again():
    g = LoginGuard(max_attempts=2, lock_s=10)
    g.attempt("1001", False, 0)
    assert g.attempt("1001", False, 1) == "locked"
    assert g.attempt("1001", False, 11) == "failed"  # not locked again at the first wrong PIN
    assert g.attempt("1001", False, 12) == "locked"


def test_r_login_one_attempt_allowed_locks_at_the_first_wrong_pin():
    g = LoginGuard(max_attempts=1, lock_s=10)
    assert g.attempt("1001", False, 0) == "locked"
    assert g.attempt("1001", True, 5) == "still_locked"


def test_is_pin_hash_needs_the_scheme_and_a_number_of_iterations():
    assert is_pin_hash(hash_pin("654321", iterations=1))
    for other in ("md5$1$00$00", "pbkdf2_sha256$many$00$00", "pbkdf2_sha256$1$00", "1234"):
        assert not is_pin_hash(other), other


# -- issue 17 item 9: limits per agent ID and per phone, with decay, stored; unknown IDs cost the same -------
def test_r_login_old_failures_decay_out_of_the_window():
    """Failures counted for ever: three wrong PINs a week apart locked the ID. Now only those within
    window_s count."""
    g = LoginGuard(max_attempts=3, window_s=60, lock_s=300)
    assert [g.attempt("1001", False, t, "PJSIP/1") for t in (0, 1)] == ["failed", "failed"]
    assert g.attempt("1001", False, 61) == "failed"  # the failure at 0 (and at 1: 61 - 1 = 60) is gone
    assert g.attempt("1001", False, 62) == "failed"
    assert g.attempt("1001", False, 63) == "locked"  # 61, 62, 63: three within 60 s


def test_r_login_one_phone_is_locked_before_it_locks_many_agents():
    """One phone typing wrong PINs for every ID locked every agent out; now the phone locks first,
    after phone_max_attempts, whatever IDs it tried, and locks at most phone_max // max IDs."""
    g = LoginGuard(max_attempts=3, phone_max_attempts=7, window_s=900, lock_s=600)
    outcomes = [g.attempt(f"{1000 + i // 3}", False, i, "PJSIP/bad") for i in range(30)]
    assert outcomes[:7] == ["failed", "failed", "locked", "failed", "failed", "locked", "phone_locked"]
    assert outcomes[7:] == ["phone_still_locked"] * 23
    locked = [a for a in (f"{1000 + i}" for i in range(10)) if g.locked(a, 30)]
    assert locked == ["1000", "1001"]  # not every ID it tried
    assert g.phone_locked("PJSIP/bad", 30) and not g.phone_locked("PJSIP/good", 30)
    # the IDs tried at the locked phone are not counted: 1003 logs in at its own phone at once
    assert g.attempt("1003", True, 31, "PJSIP/good") == "ok"
    assert g.attempt("1003", True, 32, "PJSIP/bad") == "phone_still_locked"  # even the right PIN
    assert g.attempt("1003", True, 6 + 600, "PJSIP/bad") == "ok"  # the phone's lock is over


def test_r_login_the_lock_that_an_attempt_set_is_reported():
    g = LoginGuard(max_attempts=2, phone_max_attempts=2, lock_s=10)
    g.attempt("1001", False, 0, "PJSIP/1")
    assert g.just_locked == ()
    assert g.attempt("1001", False, 1, "PJSIP/1") == "locked"
    assert g.just_locked == ("phone:PJSIP/1", "agent:1001")  # both at once
    assert g.attempt("1001", True, 2, "PJSIP/2") == "still_locked" and g.just_locked == ()


def test_r_login_a_right_pin_does_not_reset_the_phones_count():
    """An agent who knows their own PIN cannot log in between guesses to keep a phone unlocked."""
    g = LoginGuard(max_attempts=3, phone_max_attempts=3, window_s=900, lock_s=60)
    assert g.attempt("2001", False, 0, "PJSIP/9") == "failed"
    assert g.attempt("1001", True, 1, "PJSIP/9") == "ok"
    assert g.attempt("2002", False, 2, "PJSIP/9") == "failed"
    assert g.attempt("1001", True, 3, "PJSIP/9") == "ok"
    assert g.attempt("2003", False, 4, "PJSIP/9") == "phone_locked"


def test_r_login_state_is_drained_for_the_store_and_loaded_back():
    g = LoginGuard(max_attempts=2, phone_max_attempts=5, window_s=100, lock_s=50)
    g.attempt("1001", False, 10, "PJSIP/1")
    assert sorted(g.drain_changed(), key=lambda s: s.key) == [
        LockState("agent:1001", (10,), 0.0), LockState("phone:PJSIP/1", (10,), 0.0)]
    assert g.drain_changed() == []
    g.attempt("1001", False, 11, "PJSIP/1")
    stored = {s.key: s for s in g.drain_changed()}
    assert stored["agent:1001"] == LockState("agent:1001", (), 61.0)
    again = LoginGuard(max_attempts=2, phone_max_attempts=5, window_s=100, lock_s=50)
    again.load(stored.values(), 20)
    assert again.locked("1001", 20) and again.attempt("1001", True, 20, "PJSIP/2") == "still_locked"
    assert again.drain_changed() == []  # nothing decayed yet
    # loaded after everything decayed: the states are dropped, and drained as empty (rows deleted)
    later = LoginGuard(max_attempts=2, phone_max_attempts=5, window_s=100, lock_s=50)
    later.load(stored.values(), 500)
    assert sorted(s.key for s in later.drain_changed() if s.empty) == ["agent:1001", "phone:PJSIP/1"]


def test_r_login_decayed_states_of_other_keys_are_dropped_at_each_attempt():
    """Memory (and the store's table) stays bounded: IDs tried long ago are forgotten."""
    g = LoginGuard(max_attempts=3, phone_max_attempts=100, window_s=60, lock_s=60)
    for i in range(50):
        g.attempt(str(9000 + i), False, i, "PJSIP/x")
    g.drain_changed()
    g.attempt("1001", True, 1000, "PJSIP/y")
    assert g._state == {}
    assert len([s for s in g.drain_changed() if s.empty]) == 51  # 50 IDs and the phone: rows deleted


def test_unknown_ids_cost_one_pbkdf2_of_the_configured_iterations(monkeypatch):
    """Issue 17: an unknown agent ID skipped PBKDF2, so the answer came faster for IDs that do not
    exist. Now it runs one, with the same iterations as the configured hashes."""
    calls: list[int] = []
    real = hashlib.pbkdf2_hmac

    def counting(name, pin, salt, iterations):
        calls.append(iterations)
        return real(name, pin, salt, iterations)

    monkeypatch.setattr(login.hashlib, "pbkdf2_hmac", counting)
    known = hash_pin("654321", iterations=2000)
    calls.clear()
    assert verify_pin_timed("654321", known) and calls == [2000]
    for stored in (None, "", "garbage"):
        calls.clear()
        assert not verify_pin_timed("654321", stored, iterations=2000)
        assert calls == [2000], stored
    calls.clear()
    assert not verify_pin_timed("000000000000", None)  # no PIN matches the dummy
    assert calls == [120_000]
    assert is_pin_hash(dummy_hash(5)) and dummy_hash(5) == dummy_hash(5)
