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
