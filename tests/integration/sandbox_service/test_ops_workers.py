"""Heartbeats of real worker processes: listed with what they consume and run as soon as they are ready, beating
again and again; gone at once after a clean stop, after three missed beats when killed; still beating after Redis
went away and came back, with one warning in the worker's log."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable

from sandbox_service.ops.workers import WorkerInfo, workers_online
from tests.integration.sandbox_service.conftest import RedisServer, ServiceProcess, wait_for

FAST = {"WORKER_HEARTBEAT_SECONDS": "0.5"}  # a key lives 1.5 s


def listed(name: str) -> WorkerInfo | None:
    return next((w for w in workers_online() if w.name == name), None)


def test_a_ready_worker_is_listed_with_its_queues_concurrency_and_slots_and_keeps_beating(
    celery_worker_factory: Callable[..., ServiceProcess],
) -> None:
    worker = celery_worker_factory(env={**FAST, "EXECUTOR_SLOTS": "5"}, queues="grading", concurrency=3)
    first = listed(worker.name)  # the first beat is written before the worker says it is ready
    assert first is not None
    assert (first.queues, first.concurrency, first.slots) == (["grading"], 3, 5)
    assert (first.host, first.pid) == (socket.gethostname(), worker.pid)
    assert first.started_at <= first.seen_at
    later = wait_for(lambda: (w := listed(worker.name)) and w.seen_at > first.seen_at and w, 5,
                     message="a second heartbeat")  # fmt: skip
    assert later.started_at == first.started_at


def test_a_worker_that_stops_cleanly_is_gone_at_once(celery_worker_factory: Callable[..., ServiceProcess]) -> None:
    worker = celery_worker_factory(env={"WORKER_HEARTBEAT_SECONDS": "30"})  # its key would live 90 s
    assert listed(worker.name) is not None
    worker.stop()
    assert listed(worker.name) is None


def test_a_killed_worker_is_gone_after_three_missed_heartbeats(
    celery_worker_factory: Callable[..., ServiceProcess],
) -> None:
    worker = celery_worker_factory(env=FAST)
    worker.kill_group(signal.SIGKILL)
    killed = time.monotonic()
    assert listed(worker.name) is not None  # nobody removed it: the last beat is at most 0.5 s old
    wait_for(lambda: listed(worker.name) is None, 5, interval=0.05, message="the killed worker's key to expire")
    assert time.monotonic() - killed < 2.0


def test_a_worker_outlives_a_redis_outage_and_is_listed_again_when_redis_is_back(
    celery_worker_factory: Callable[..., ServiceProcess], redis_server: RedisServer
) -> None:
    worker = celery_worker_factory(env=FAST)
    redis_server.stop()
    time.sleep(2.5)  # several failed beats
    assert worker.alive()
    redis_server.start()  # empty: the key came back only if the worker wrote it again
    wait_for(lambda: listed(worker.name), 10, message="the worker's heartbeat after the outage")
    assert worker.alive()
    wait_for(lambda: "resumed" in worker.log(), 5, message="the worker to log that its heartbeat resumed")
    assert worker.log().count("could not write the heartbeat") == 1
