"""/metrics: what Prometheus scrapes, computed at scrape time by one collector in a registry of its own.

Counters and latency histograms come from Redis (`ops.lifecycle` writes them from every web and worker process);
queue depth and running submissions from the database (one GROUP BY); workers from their heartbeats. If Redis does
not answer, the scrape still answers with what the database gives, and says so: `sandbox_redis_up 0`.
A registry of its own, not prometheus_client's global one: the global one would add this process's own figures
(its memory, its garbage collector), which say nothing about the service and differ per gunicorn process.
"""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from sandbox_service.core.roles import ADMIN, role_of
from sandbox_service.ops import lifecycle
from sandbox_service.ops.workers import WorkerInfo, workers_online
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status

log = logging.getLogger(__name__)


class Access(enum.Enum):
    GRANTED = "granted"
    NO_CREDENTIALS = "no credentials"  # 401
    WRONG_CREDENTIALS = "wrong credentials"  # 403


def metrics_access(authorization: str, user: AbstractBaseUser | AnonymousUser) -> Access:
    """Who may read the metrics: a bearer of METRICS_TOKEN (a scraper), or an admin's session (a person)."""
    token = settings.METRICS_TOKEN
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token and hmac.compare_digest(given.strip().encode(), token.encode()):
        return Access.GRANTED
    if user.is_authenticated and role_of(user) == ADMIN:
        return Access.GRANTED
    if not authorization and not user.is_authenticated:
        return Access.NO_CREDENTIALS
    return Access.WRONG_CREDENTIALS


@dataclass(frozen=True)
class _RedisFigures:
    finished: dict[bytes, bytes]
    queue_to_start: dict[bytes, bytes]
    run: dict[bytes, bytes]
    counters: dict[bytes, bytes]
    workers: list[WorkerInfo]


class SandboxCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _database_metrics()
        try:
            figures = _read_redis()
        except (redis.RedisError, OSError) as e:
            log.warning("metrics without Redis: %s: %s", type(e).__name__, e)
            yield GaugeMetricFamily("sandbox_redis_up", "Whether Redis answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("sandbox_redis_up", "Whether Redis answered this scrape.", value=1)
        yield from _redis_metrics(figures)


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(SandboxCollector())


def metrics_text() -> bytes:
    """The Prometheus text format (prometheus_client.CONTENT_TYPE_LATEST)."""
    return generate_latest(REGISTRY)


def _database_metrics() -> Iterator[Metric]:
    waiting = {str(q): 0 for q in Queue}
    running = 0
    # One query for both; order_by() drops the model's default ordering, which has no place in a GROUP BY.
    rows = (Submission.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).order_by()
            .values_list("status", "queue").annotate(n=Count("pk")))  # fmt: skip
    for status, queue, n in rows:
        if status == Status.QUEUED:
            waiting[queue] = waiting.get(queue, 0) + n
        else:
            running += n
    depth = GaugeMetricFamily("sandbox_queue_depth", "Submissions waiting for a worker, per queue.", labels=["queue"])
    for queue, n in sorted(waiting.items()):
        depth.add_metric([queue], n)
    yield depth
    yield GaugeMetricFamily("sandbox_submissions_running", "Submissions a worker is running now.", value=running)


def _read_redis() -> _RedisFigures:
    with lifecycle.redis_client().pipeline(transaction=False) as pipe:
        for key in (lifecycle.FINISHED_KEY, lifecycle.QUEUE_TO_START_KEY, lifecycle.RUN_KEY, lifecycle.COUNTERS_KEY):
            pipe.hgetall(key)
        finished, queue_to_start, run, counters = pipe.execute()
    return _RedisFigures(finished, queue_to_start, run, counters, workers_online())


def _redis_metrics(figures: _RedisFigures) -> Iterator[Metric]:
    finished = CounterMetricFamily("sandbox_submissions_finished", "Submissions finished, by verdict and language.",
                                   labels=["verdict", "language"])  # fmt: skip
    for field, value in sorted(figures.finished.items()):
        verdict, _, language = field.decode().partition("|")
        finished.add_metric([verdict, language], int(value))
    yield finished
    yield _histogram("sandbox_queue_to_start_seconds", "From queued to started by a worker, per queue.",
                     figures.queue_to_start)  # fmt: skip
    yield _histogram("sandbox_run_seconds", "From started to finished (compile and every test), per queue.",
                     figures.run)  # fmt: skip
    yield CounterMetricFamily("sandbox_internal_errors", "Submissions that finished as internal_error.",
                              value=int(figures.counters.get(lifecycle.INTERNAL_ERRORS.encode(), 0)))  # fmt: skip
    yield CounterMetricFamily("sandbox_sandbox_failures",
                              "Infrastructure failures that sent a submission back to the queue for a retry.",
                              value=int(figures.counters.get(lifecycle.SANDBOX_FAILURES.encode(), 0)))  # fmt: skip
    yield GaugeMetricFamily("sandbox_workers_online", "Celery workers whose heartbeat is recent.",
                            value=len(figures.workers))  # fmt: skip
    yield GaugeMetricFamily("sandbox_worker_slots", "Sandbox slots of the online workers' hosts, summed.",
                            value=sum(w.slots for w in figures.workers))  # fmt: skip


def _histogram(name: str, documentation: str, stored: dict[bytes, bytes]) -> HistogramMetricFamily:
    """Per-bucket counts as stored (see ops.lifecycle) → Prometheus's cumulative buckets; every queue, even empty."""
    per_queue: dict[str, dict[str, float]] = {str(q): {} for q in Queue}
    for field, value in stored.items():
        queue, _, part = field.decode().rpartition("|")
        per_queue.setdefault(queue, {})[part] = float(value)
    family = HistogramMetricFamily(name, documentation, labels=["queue"])
    for queue, parts in sorted(per_queue.items()):
        cumulative, buckets = 0, []
        for bucket in lifecycle.BUCKET_NAMES:
            cumulative += int(parts.get(bucket, 0))
            buckets.append((bucket, cumulative))
        family.add_metric([queue], buckets, sum_value=parts.get("sum", 0.0))
    return family
