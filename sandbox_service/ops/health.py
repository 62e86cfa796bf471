"""Probes for load balancers and orchestrators.

- Liveness (/healthz): the process is up and serves requests. It touches neither the database nor Redis: when
  those fail, restarting the web process does not help, and a liveness probe that fails would make the
  orchestrator restart every web process at once.
- Readiness (/readyz): this process can do its job: the database answers, Redis (the broker and the metrics)
  answers, and at least one Celery worker answers a ping, so a submission sent now would be run.

The reasons are short and public (the probes need no login): an exception's class, never its message, which may
name hosts, users or paths. The message goes to the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

from sandbox_service.celery import app as celery_app
from sandbox_service.ops.lifecycle import redis_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str  # "ok", "ok: 1", or why not


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # check name → Check.detail


def liveness() -> dict[str, str]:
    return {"status": "ok"}


def readiness() -> Readiness:
    database, redis = check_database(), check_redis()
    # Redis is the broker: without it no worker can hear a ping, and asking would only wait for the broker's retries.
    workers = check_workers() if redis.ok else Check(False, "unknown: the broker (Redis) does not answer")
    checks = {"database": database, "redis": redis, "workers": workers}
    return Readiness(ready=all(c.ok for c in checks.values()), checks={k: c.detail for k, c in checks.items()})


def check_database() -> Check:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as e:  # noqa: BLE001 - any failure means "not ready"; the class says which
        return _failed("database", e)
    return Check(True, "ok")


def check_redis() -> Check:
    try:
        redis_client().ping()
    except Exception as e:  # noqa: BLE001
        return _failed("redis", e)
    return Check(True, "ok")


def check_workers() -> Check:
    timeout = settings.READYZ_WORKER_TIMEOUT
    try:
        # limit=1: returns as soon as one worker answers; waits the whole timeout only when none does.
        replies = celery_app.control.ping(timeout=timeout, limit=1)
    except Exception as e:  # noqa: BLE001
        return _failed("workers", e)
    if not replies:
        return Check(False, f"error: no worker answered within {timeout:g} s")
    return Check(True, f"ok: {len(replies)}")


def _failed(name: str, error: Exception) -> Check:
    log.warning("readiness check %s failed: %s: %s", name, type(error).__name__, error)
    return Check(False, f"error: {type(error).__name__}")
