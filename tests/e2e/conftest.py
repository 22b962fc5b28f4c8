"""End-to-end tests: when one fails, the log of the ``nunchi up`` process it ran against
(its ``server`` fixture, if it has one) is attached to the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach ``server.log_tail()`` to a failed test's report."""
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("server")
    log_tail = getattr(server, "log_tail", None)
    if report.failed and callable(log_tail):
        report.sections.append(("nunchi up log", str(log_tail())))
