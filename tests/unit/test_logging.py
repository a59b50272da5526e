import io
import json
import logging

import structlog

from ari_app.events.logging import configure, mask_number


def test_mask_number():
    assert mask_number("13812345678") == "138****5678"
    assert mask_number("1001") == "**01"
    assert mask_number("") == ""


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
    assert lines[0]["caller"] == "138****5678" and "13812345678" not in out.getvalue()
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
