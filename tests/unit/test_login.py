from ari_app.core.login import LoginGuard, hash_pin, is_pin_hash, verify_pin


def test_pin_hash_roundtrip_and_salt():
    h = hash_pin("4321", iterations=1000)
    assert is_pin_hash(h) and "4321" not in h
    assert verify_pin("4321", h) and not verify_pin("4322", h)
    assert hash_pin("4321", iterations=1000) != h  # salted
    assert not verify_pin("4321", "garbage") and not verify_pin("4321", "md5$1$00$00")


def test_guard_unlocks_after_lock_time():
    g = LoginGuard(max_attempts=2, lock_s=10)
    assert g.attempt("1001", False, 0) == "failed"
    assert g.attempt("1001", False, 1) == "locked"
    assert g.attempt("1001", True, 10.999) == "still_locked"
    assert g.attempt("1001", True, 11) == "ok"
    assert g.attempt("1002", True, 0) == "ok"


# -- mutation testing (issue 7) -----------------------------------------------------------------------------
def test_r_login_a_pin_is_4_to_12_digits():
    import pytest

    for bad in ("123", "1234567890123", "12ab", "abcd", "", "12 34"):
        with pytest.raises(ValueError, match="^a PIN is 4 to 12 digits$"):
            hash_pin(bad, iterations=1)
    for good in ("1234", "123456789012"):
        assert verify_pin(good, hash_pin(good, iterations=1))


def test_pin_hash_uses_the_given_salt_or_16_random_bytes():
    salt = bytes(range(16))
    h = hash_pin("4321", salt=salt, iterations=1000)
    assert h.split("$")[:3] == ["pbkdf2_sha256", "1000", salt.hex()]
    assert h == hash_pin("4321", salt=salt, iterations=1000)
    assert len(bytes.fromhex(hash_pin("4321", iterations=1).split("$")[2])) == 16


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
    assert is_pin_hash(hash_pin("4321", iterations=1))
    for other in ("md5$1$00$00", "pbkdf2_sha256$many$00$00", "pbkdf2_sha256$1$00", "1234"):
        assert not is_pin_hash(other), other
