"""Operations unit tests: no Redis (every Redis call is refused at once, as when it is down); the lifecycle's JSON
lines read back through the formatter settings.LOGGING gives them. Counting in a real Redis, real workers and
readiness with a worker are in tests/integration/sandbox_service/test_ops_*.py."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox_service.ops import lifecycle


@pytest.fixture(autouse=True)
def redis_refused(redis_refused: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The service unit tests' refused Redis (tests/unit/sandbox_service/conftest.py), and a lifecycle that has seen
    no outage yet."""
    monkeypatch.setattr(lifecycle, "_metrics_outage", lifecycle.Outage("count submission metrics"))
    return redis_refused


@pytest.fixture
def lifecycle_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What the "sandbox_service.lifecycle" logger writes, each line parsed as JSON (it fails if one is not)."""
    logger = logging.getLogger("sandbox_service.lifecycle")
    formatters = [h.formatter for h in logger.handlers if h.formatter is not None]
    if not formatters:
        pytest.fail("settings.LOGGING gives the lifecycle logger no formatted handler", pytrace=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatters[0])
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
