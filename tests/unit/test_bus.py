from structlog.testing import capture_logs

from ari_app.events.bus import Bus, log_sink


def test_every_sink_gets_the_fact_and_a_failing_sink_does_not_stop_the_others():
    got = []

    def broken(event, fields):
        raise RuntimeError("down")

    bus = Bus([broken, lambda e, f: got.append((e, dict(f)))])
    with capture_logs() as logs:
        bus.publish("agent.paused", {"agent": "1001"})
    assert got == [("agent.paused", {"agent": "1001"})]
    assert logs[0]["event"] == "bus.sink_failed" and logs[0]["bus_event"] == "agent.paused"


def test_log_sink_alerts_are_warnings():
    with capture_logs() as logs:
        log_sink("agent.busy_overrun", {"agent": "1001", "reason": "lunch", "rule": "R-BUSY"})
        log_sink("call.queued", {"call_id": "c1"})
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [("agent.busy_overrun", "warning"),
                                                                     ("call.queued", "info")]
    assert logs[0]["reason"] == "lunch"
