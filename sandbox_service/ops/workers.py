"""Worker heartbeats: each Celery worker writes what it is (queues, processes, sandbox slots) to Redis every
WORKER_HEARTBEAT_SECONDS, with a time to live of three beats; /metrics and the dashboard read who is online.

Why a heartbeat key rather than asking the workers (a control broadcast): a scrape must not wait for the slowest
worker to answer, and a worker busy in a long run still beats (the thread is the main process's, not the pool's).
A worker that stops cleanly deletes its key at once; one that is killed is gone after three missed beats.

The Celery side (the receivers of `worker_ready` and `worker_shutdown` below) works only once this module is
imported in the worker process: `OpsConfig.ready()` imports it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.utils import timezone

from executor.config import Config
from sandbox_service.ops.lifecycle import Outage, redis_client

log = logging.getLogger(__name__)

KEY_PREFIX = "sandbox:workers:"
MISSED_BEATS = 3  # a worker silent for this many beats counts as gone


@dataclass(frozen=True)
class WorkerInfo:
    name: str  # Celery node name, e.g. interactive@host
    host: str  # socket.gethostname()
    queues: list[str]  # the queues it consumes
    concurrency: int  # its pool's processes
    slots: int  # sandbox slots of its host (the executor's Config.slots)
    pid: int  # the worker's main process
    started_at: datetime
    seen_at: datetime  # its last heartbeat

    def to_json(self) -> str:
        data = asdict(self)
        data.update(started_at=self.started_at.isoformat(), seen_at=self.seen_at.isoformat())
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerInfo:
        data = json.loads(text)
        for name in ("started_at", "seen_at"):
            data[name] = datetime.fromisoformat(data[name])
        return cls(**data)


def worker_heartbeat(info: WorkerInfo) -> None:
    """Say that `info.name` is alive until three beats from now. Raises redis.RedisError if Redis does not answer."""
    ttl_ms = max(1, round(MISSED_BEATS * settings.WORKER_HEARTBEAT_SECONDS * 1000))
    redis_client().set(KEY_PREFIX + info.name, info.to_json(), px=ttl_ms)


def worker_gone(name: str) -> None:
    """A clean shutdown: gone now, not three beats later. Raises redis.RedisError if Redis does not answer."""
    redis_client().delete(KEY_PREFIX + name)


def workers_online() -> list[WorkerInfo]:
    """The workers whose last heartbeat is recent, by name. Raises redis.RedisError if Redis does not answer."""
    client = redis_client()
    keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=500))
    found = []
    for value in client.mget(keys) if keys else []:
        if value is None:  # expired between SCAN and MGET
            continue
        try:
            found.append(WorkerInfo.from_json(value))
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring an unreadable worker heartbeat: %r", value[:200])
    return sorted(found, key=lambda w: w.name)


# ----------------------------------------------------------------------------------------- the Celery side ----


class _Heartbeat(threading.Thread):
    """Beats until stopped. Reads queues and pool size at each beat: both change at run time (add_consumer,
    autoscale). A failed beat (Redis down) is logged once per outage and tried again at the next one."""

    def __init__(self, consumer: Any) -> None:
        super().__init__(name=f"heartbeat {consumer.hostname}", daemon=True)
        self.consumer = consumer
        self.stopped = threading.Event()
        now = timezone.now()
        self.info = WorkerInfo(name=consumer.hostname, host=socket.gethostname(), queues=[], concurrency=0,
                               slots=Config.from_env().slots, pid=os.getpid(), started_at=now, seen_at=now)  # fmt: skip
        self.outage = Outage(f"write the heartbeat of worker {consumer.hostname}")

    def run(self) -> None:
        while not self.stopped.wait(settings.WORKER_HEARTBEAT_SECONDS):
            self.beat()

    def beat(self) -> None:
        try:
            self.info = replace(self.info, queues=_queues(self.consumer), concurrency=_concurrency(self.consumer),
                                seen_at=timezone.now())  # fmt: skip
            worker_heartbeat(self.info)
        except (redis.RedisError, OSError) as e:
            self.outage.failed(e)
            return
        except Exception:  # noqa: BLE001 - a heartbeat must never kill its worker
            log.exception("the heartbeat of worker %s failed", self.info.name)
            return
        self.outage.succeeded()


def _queues(consumer: Any) -> list[str]:
    queues = getattr(getattr(consumer, "task_consumer", None), "queues", None) or []
    names = {q.name for q in queues}
    if not names:  # not consuming yet: what it was told to consume (-Q), else every declared queue
        declared = consumer.app.amqp.queues
        names = set(declared.consume_from or declared)
    return sorted(names)


def _concurrency(consumer: Any) -> int:
    pool = getattr(consumer, "pool", None)
    processes = getattr(pool, "num_processes", None)
    if isinstance(processes, int) and processes > 0:
        return processes
    return int(getattr(getattr(consumer, "controller", None), "concurrency", 0) or 0)


_heartbeats: dict[str, _Heartbeat] = {}
_lock = threading.Lock()


@worker_ready.connect(dispatch_uid="sandbox_service.ops.workers.start_heartbeat")
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    """`sender` is the worker's consumer. The first beat is written here, before Celery logs "ready", so a worker
    that says it is ready is listed."""
    try:
        with _lock:
            running = _heartbeats.get(sender.hostname)
            if running is not None and running.is_alive():
                return
            heartbeat = _Heartbeat(sender)
            _heartbeats[sender.hostname] = heartbeat
        heartbeat.beat()
        heartbeat.start()
    except Exception:  # noqa: BLE001 - a worker without a heartbeat still works; it is only not listed
        log.exception("could not start the heartbeat of worker %s", getattr(sender, "hostname", "?"))


@worker_shutdown.connect(dispatch_uid="sandbox_service.ops.workers.stop_heartbeat")
def _stop_heartbeat(sender: Any = None, **_: Any) -> None:
    """`sender` is the WorkController. Stop beating first, then delete the key, so no late beat brings it back."""
    name = getattr(sender, "hostname", None)
    with _lock:
        heartbeat = _heartbeats.pop(name, None) if name else None
    if heartbeat is None:
        return
    heartbeat.stopped.set()
    heartbeat.join(timeout=5)
    try:
        worker_gone(heartbeat.info.name)
    except (redis.RedisError, OSError) as e:
        log.warning("could not remove the heartbeat of worker %s (%s); it expires by itself", name, e)
