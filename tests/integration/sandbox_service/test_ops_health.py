"""/readyz with real parts: ready when the database, Redis and a worker process answer (and at once, not after the
ping's timeout); 503 naming Redis when it is stopped, naming the workers when none runs; ready again, without a
restart of anything, once Redis is back."""

from __future__ import annotations

import time
from typing import Any

from django.test import Client

from tests.integration.sandbox_service.conftest import LiveDatabase, RedisServer, ServiceProcess, wait_for


def test_readyz_is_ready_as_soon_as_a_worker_answers(
    client: Client, celery_worker_process: ServiceProcess, settings: Any
) -> None:
    settings.READYZ_WORKER_TIMEOUT = 5.0
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 2.5  # the first answer ends the wait
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok", "workers": "ok: 1"}}


def test_readyz_is_503_naming_the_workers_when_none_runs(client: Client, live_db: LiveDatabase, settings: Any) -> None:
    settings.READYZ_WORKER_TIMEOUT = 0.5
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "checks": {
        "database": "ok", "redis": "ok", "workers": "error: no worker answered within 0.5 s"}}  # fmt: skip


def test_readyz_is_503_naming_redis_while_it_is_stopped_and_ready_again_once_it_is_back(
    client: Client, celery_worker_process: ServiceProcess, redis_server: RedisServer
) -> None:
    redis_server.stop()
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"] == "error: ConnectionError"  # the kind, never the address
    assert checks["workers"].startswith("unknown")
    redis_server.start()
    # the worker reconnects to its broker by itself, and this process's pooled connections are renewed
    wait_for(lambda: client.get("/readyz").status_code == 200, 60, interval=0.5, message="/readyz to be ready again")
    assert celery_worker_process.alive()
