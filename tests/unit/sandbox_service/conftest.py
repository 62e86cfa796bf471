"""Service unit tests: a real database (SQLite or PostgreSQL, whichever DATABASE_URL names), Celery's in-memory
broker instead of Redis (the pipeline with a real Redis and worker is in tests/integration/sandbox_service)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from sandbox_service.celery import app as celery_app
from sandbox_service.languages.models import Language
from tests.conftest import celery_use_broker


@pytest.fixture(autouse=True)
def redis_refused(settings: Any) -> str:
    """No unit test talks to a Redis (metrics counters, progress notices): settings.REDIS_URL names a local port
    where nothing listens, so every call fails at once as when Redis is down — never the service's own Redis."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    return settings.REDIS_URL


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Throttle counts live in the cache, which outlives a test: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _memory_broker() -> Iterator[None]:
    previous = celery_app.conf.broker_url
    celery_use_broker("memory://")
    yield
    celery_use_broker(previous)


@pytest.fixture
def languages(db: Any) -> list[Language]:
    rows = [Language.objects.create(id=i, name=i, available=True) for i in ("python3", "c", "bash")]
    Language.objects.create(id="java", name="java", available=False)
    return rows


@pytest.fixture
def student(db: Any) -> User:
    return User.objects.create_user("student", password="pw-student-1")


@pytest.fixture
def other_student(db: Any) -> User:
    return User.objects.create_user("other", password="pw-other-1")


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """Django's test client keeps the test's database connection across requests by not sending
    close_old_connections on request start and end; a bare WSGI handler (schemathesis calls the app directly)
    would close it mid-transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
