"""Issue 17 item 9: the wrong-PIN limits (per agent ID and per phone) are stored, so a restart does not
reset them; a decayed state's row is deleted. SQLite and PostgreSQL."""

from __future__ import annotations

from ari_app.core.login import LockState, LoginGuard
from ari_app.store import open_store

T0 = 1_750_000_000.25


def test_lockouts_round_trip_and_empty_states_are_deleted(repo):
    assert repo.lockouts() == []
    a = LockState("agent:1001", (T0, T0 + 1.5), 0.0)
    p = LockState("phone:PJSIP/1001", (), T0 + 900.125)
    repo.save_lockouts([a, p])
    assert repo.lockouts() == [a, p]  # ordered by key; times exact (epoch seconds with fractions)
    a2 = LockState("agent:1001", (), T0 + 600)
    repo.save_lockouts([a2, LockState("phone:PJSIP/1001")])  # empty: the row goes
    assert repo.lockouts() == [a2]
    repo.save_lockouts([LockState("agent:unknown")])  # deleting what is not there is fine
    assert repo.lockouts() == [a2]


def test_a_locked_id_and_phone_stay_locked_across_a_restart(url):
    """The guard's changes stored by one process are loaded by the next (app.py does the same)."""
    store = open_store(url)
    guard = LoginGuard(max_attempts=3, phone_max_attempts=4, window_s=600, lock_s=300)
    outcomes = [guard.attempt("1001", False, T0 + i, "PJSIP/7") for i in range(3)]
    assert outcomes == ["failed", "failed", "locked"]
    store.save_lockouts(guard.drain_changed())
    store.close()

    store = open_store(url)  # a restart
    again = LoginGuard(max_attempts=3, phone_max_attempts=4, window_s=600, lock_s=300)
    again.load(store.lockouts(), T0 + 10)
    assert again.attempt("1001", True, T0 + 10, "PJSIP/8") == "still_locked"  # the right PIN, still refused
    assert again.attempt("1002", False, T0 + 11, "PJSIP/7") == "phone_locked"  # the phone's 4th failure
    store.save_lockouts(again.drain_changed())
    # the right PIN at PJSIP/8 counted against nothing
    assert {s.key for s in store.lockouts()} == {"agent:1001", "agent:1002", "phone:PJSIP/7"}
    # everything decays: loaded after the window and the lock, nothing is left, and the rows go
    later = LoginGuard(max_attempts=3, phone_max_attempts=4, window_s=600, lock_s=300)
    later.load(store.lockouts(), T0 + 2000)
    store.save_lockouts(later.drain_changed())
    assert store.lockouts() == []
    assert later.attempt("1001", True, T0 + 2000, "PJSIP/7") == "ok"
    store.close()
