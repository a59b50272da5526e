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
