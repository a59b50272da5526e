"""The deployment test's figures (build and time-to-healthy), printed at the end of the run."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/deploy/" in str(item.fspath):
            item.add_marker(pytest.mark.deploy)


@pytest.fixture(scope="session")
def figures(request) -> dict[str, str]:
    """Seconds the deployment took, by step; printed in the terminal summary (and so in CI's log)."""
    request.config._ari_app_deploy_figures = {}
    return request.config._ari_app_deploy_figures


def pytest_terminal_summary(terminalreporter, config):
    shown = getattr(config, "_ari_app_deploy_figures", None)
    if shown:
        terminalreporter.section("deployment (docker-compose) figures")
        for key, value in shown.items():
            terminalreporter.write_line(f"{key}: {value}")
