import io
import json
import logging

import structlog

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ari_app.events.logging import configure, mask_number


def test_mask_number():
    assert mask_number("13812345678") == "*******5678"
    assert mask_number("1234567") == "*****67"  # issue 17 item 7: was 123****4567, 7 of 7 digits shown
    assert mask_number("1001") == "***1"
    assert mask_number("123") == "***"
    assert mask_number("") == ""


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_mask_shows_at_most_four_digits_and_fewer_than_it_hides(number: str):
    """issue 17 item 7: for every length 1-20, at most 4 digits show, more are hidden than shown, the
    length is kept and what shows is the number's own tail."""
    masked = mask_number(number)
    assert masked is not None and len(masked) == len(number)
    shown = masked.lstrip("*")
    assert shown == "" or number.endswith(shown)
    assert "*" not in shown
    assert len(shown) <= 4 and len(shown) < len(masked) - len(shown)


@pytest.mark.parametrize("level", ["warning", "error", "critical"])
def test_audit_lines_are_written_whatever_the_level(level: str):
    """issue 17 item 11: audit.* lines are info; log_level = "warning" dropped them (the audit could be
    switched off). Other info lines are still dropped."""
    out = io.StringIO()
    configure(level, stream=out, json=True)
    log = structlog.get_logger()
    log.info("audit.api", token="ops", path="/callbacks")
    log.info("call.entered", queue="support")
    log.debug("audit.nothing_at_debug_either_way")
    log.critical("service.failed")
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events[0] == "audit.api" and "call.entered" not in events and events[-1] == "service.failed"
    structlog.reset_defaults()


def test_exception_lines_pass_the_level_filter():
    out = io.StringIO()
    configure("error", stream=out, json=True)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger().exception("bus.sink_failed")
    assert json.loads(out.getvalue())["event"] == "bus.sink_failed"
    structlog.reset_defaults()


def test_json_lines_with_context_and_masked_callers():
    out = io.StringIO()
    configure("info", stream=out, json=True)
    log = structlog.get_logger()
    with structlog.contextvars.bound_contextvars(call_id="c1"):
        log.info("call.entered", caller="13812345678", queue="support")
    log.debug("hidden")
    logging.getLogger("httpx").warning("library says %s", "hi")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["event"] == "call.entered" and lines[0]["call_id"] == "c1"
    assert lines[0]["caller"] == "*******5678" and "13812345678" not in out.getvalue()
    assert lines[1]["event"] == "library says hi" and lines[1]["level"] == "warning"
    assert len(lines) == 2
    structlog.reset_defaults()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_in_a_terminal_too_unless_console_is_asked():
    """issue 16: the README's jq recipes work however the service was started."""
    out = _Tty()
    configure("info", stream=out)
    structlog.get_logger().info("call.entered", queue="support")
    assert json.loads(out.getvalue())["event"] == "call.entered"
    out = _Tty()
    configure("info", stream=out, json=False)
    structlog.get_logger().info("call.entered", queue="support")
    assert "call.entered" in out.getvalue()
    try:
        json.loads(out.getvalue())
    except ValueError:
        pass
    else:
        raise AssertionError("the console format is not JSON")
    structlog.reset_defaults()


def test_run_takes_the_log_format():
    from unittest import mock

    from ari_app import __main__ as cli

    with mock.patch.object(cli, "_run", return_value=0) as run:
        assert cli.main(["run", "--config", "x.toml"]) == 0
        assert cli.main(["run", "--config", "x.toml", "--log-format", "console"]) == 0
    assert [c.args for c in run.call_args_list] == [("x.toml", "json"), ("x.toml", "console")]
    try:
        cli.main(["run", "--config", "x.toml", "--log-format", "yaml"])
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("an unknown log format is refused")


def test_mask_digit_runs_masks_every_long_run_in_a_text():
    from ari_app.events.logging import mask_digit_runs

    assert mask_digit_runs("callcenter-fallback/support_1740963600_13800135678_1.2") == \
        "callcenter-fallback/support_******3600_*******5678_1.2"
    assert mask_digit_runs("queue 1234 of 12") == "queue 1234 of 12"  # short runs stay
    assert mask_digit_runs("") == ""
