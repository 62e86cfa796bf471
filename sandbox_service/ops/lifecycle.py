"""The life of a submission as operators see it: created, queued, started (on which worker), finished, requeued.

Each event is one JSON line on the "sandbox_service.lifecycle" logger (settings.LOGGING formats it) and, for the
events that /metrics counts, one MULTI pipeline of HINCRBYs in Redis. Why Redis: a scrape reaches one web process,
but submissions start and finish in worker processes on other hosts; Redis is the one thing they all share, and a
MULTI pipeline is atomic, so a scrape never sees a histogram's bucket without its sum. The database row stays the
truth: a Redis failure costs a counter increment, never a submission, so it is logged once per outage and ignored.

Redis layout (read back by `ops.metrics`), every key under PREFIX:
- FINISHED_KEY, hash: "<verdict>|<language>" → count
- QUEUE_TO_START_KEY, RUN_KEY, hashes: "<queue>|<le>" → observations in that bucket alone (not cumulative: one
  HINCRBY per observation), "<queue>|sum" → seconds
- COUNTERS_KEY, hash: INTERNAL_ERRORS, SANDBOX_FAILURES → count
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec

import redis
from django.conf import settings
from prometheus_client.utils import floatToGoString
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox_service.submissions.states import Verdict

if TYPE_CHECKING:
    from redis.client import Pipeline

    from sandbox_service.submissions.models import Submission

P = ParamSpec("P")
events = logging.getLogger("sandbox_service.lifecycle")
log = logging.getLogger(__name__)

PREFIX = "sandbox:metrics:"
FINISHED_KEY = PREFIX + "finished"
QUEUE_TO_START_KEY = PREFIX + "queue_to_start_seconds"
RUN_KEY = PREFIX + "run_seconds"
COUNTERS_KEY = PREFIX + "counters"
INTERNAL_ERRORS = "internal_errors"  # submissions that finished as internal_error
SANDBOX_FAILURES = "sandbox_failures"  # infrastructure failures that sent a submission back to the queue
# Seconds; from a few milliseconds (an idle interactive queue) to minutes (a rejudge of a whole class).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, math.inf)
BUCKET_NAMES = tuple(floatToGoString(b) for b in BUCKETS)  # Prometheus's own spelling of `le`: "1.0", "+Inf"


@functools.cache
def _client(url: str) -> redis.Redis:
    # One pool per process. Short timeouts: these calls sit in a web request or between a worker's tests, and a
    # Redis that does not answer must not hold them up. One retry without backoff: a pooled connection that a
    # restarted Redis closed fails once, and the retry takes a new one.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))


def redis_client() -> redis.Redis:
    """The operations modules' Redis client (metrics, heartbeats), on settings.REDIS_URL."""
    return _client(settings.REDIS_URL)


class Outage:
    """Says once that Redis is failing, and once that it answers again: one warning per outage, not one per event."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False

    def failed(self, error: Exception) -> None:
        if not self.down:
            log.warning("could not %s in Redis (%s: %s); ignored until it answers again", self.what,
                        type(error).__name__, error)  # fmt: skip
        self.down = True

    def succeeded(self) -> None:
        if self.down:
            log.warning("Redis answers again: %s resumed", self.what)
        self.down = False


_metrics_outage = Outage("count submission metrics")


# ------------------------------------------------------------------------------------------------ events ----


def _never_raises(event: Callable[P, None]) -> Callable[P, None]:
    """An event describes a submission; no failure of its own (a bug, a database gone) may break that submission."""

    @functools.wraps(event)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            event(*args, **kwargs)
        except Exception:  # noqa: BLE001
            log.exception("the lifecycle event %s failed", event.__name__)

    return wrapper


@_never_raises
def submission_created(submission: Submission) -> None:
    _load_deferred(submission)
    _event("created", submission)


@_never_raises
def submission_enqueued(submission: Submission) -> None:
    """The Celery message was sent."""
    _load_deferred(submission)
    _event("queued", submission, attempts=submission.attempts, failures=submission.failures)


@_never_raises
def submission_started(submission: Submission, worker: str) -> None:
    _load_deferred(submission)
    wait = _seconds(submission.queued_at, submission.started_at)
    _event("started", submission, worker=worker, attempt=submission.attempts, queue_wait_ms=_ms(wait))
    if wait is not None:
        _count(lambda pipe: _observe(pipe, QUEUE_TO_START_KEY, submission.queue, wait))


@_never_raises
def submission_finished(submission: Submission) -> None:
    _load_deferred(submission)
    run = _seconds(submission.started_at, submission.finished_at)  # None: it failed for good before it started
    _event("finished", submission, verdict=submission.verdict, score=submission.score,
           max_score=submission.max_score, attempts=submission.attempts, failures=submission.failures,
           worker=submission.worker or None, queue_wait_ms=_ms(_seconds(submission.queued_at, submission.started_at)),
           run_ms=_ms(run), total_ms=_ms(_seconds(submission.created_at, submission.finished_at)))  # fmt: skip

    def count(pipe: Pipeline) -> None:
        pipe.hincrby(FINISHED_KEY, f"{submission.verdict}|{submission.language_id}", 1)
        if run is not None:
            _observe(pipe, RUN_KEY, submission.queue, run)
        if submission.verdict == Verdict.INTERNAL_ERROR:
            pipe.hincrby(COUNTERS_KEY, INTERNAL_ERRORS, 1)

    _count(count)


@_never_raises
def submission_requeued(submission: Submission, reason: str) -> None:
    """An infrastructure failure sent it back to the queue; it will be retried."""
    _load_deferred(submission)
    # Requeueing sets queued_at, so with fresh fields this is how long the failed attempt ran.
    ran = _seconds(submission.started_at, submission.queued_at)
    _event("requeued", submission, reason=reason, worker=submission.worker or None, attempts=submission.attempts,
           failures=submission.failures, run_ms=_ms(ran) if ran is not None and ran >= 0 else None)  # fmt: skip
    _count(lambda pipe: pipe.hincrby(COUNTERS_KEY, SANDBOX_FAILURES, 1))


# ----------------------------------------------------------------------------------------------- helpers ----


# What the events read. Recovery passes rows loaded with only() a few fields: reading the others one by one would
# cost a query each, so they are loaded together, once.
_READ = frozenset({"token", "owner_id", "language_id", "problem_id", "queue", "attempts", "failures", "worker",
                   "verdict", "score", "max_score", "created_at", "queued_at", "started_at", "finished_at"})


def _load_deferred(submission: Submission) -> None:
    missing = _READ & submission.get_deferred_fields()
    if missing:
        submission.refresh_from_db(fields=sorted(missing))


def _event(event: str, submission: Submission, **fields: Any) -> None:
    events.info("submission %s", event, extra={"event": event, **_identity(submission), **fields})


def _identity(submission: Submission) -> dict[str, Any]:
    """Who and what, without a query: names of relations that are already loaded, else their ids."""
    model = type(submission)
    owner = submission.owner.get_username() if model.owner.is_cached(submission) else submission.owner_id
    problem = submission.problem.slug if submission.problem_id and model.problem.is_cached(submission) else None
    return {"submission": str(submission.token), "submission_id": submission.pk, "owner": owner,
            "language": submission.language_id, "problem": problem or submission.problem_id,
            "queue": submission.queue}  # fmt: skip


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _observe(pipe: Pipeline, key: str, queue: str, seconds: float) -> None:
    seconds = max(0.0, seconds)  # clocks of different hosts disagree a little; a negative wait is a zero wait
    bucket = next(name for bound, name in zip(BUCKETS, BUCKET_NAMES, strict=True) if seconds <= bound)
    pipe.hincrby(key, f"{queue}|{bucket}", 1)
    pipe.hincrbyfloat(key, f"{queue}|sum", seconds)


def _count(write: Callable[[Pipeline], object]) -> None:
    """Run `write(pipeline)` as one MULTI/EXEC; never raise."""
    try:
        with redis_client().pipeline(transaction=True) as pipe:
            write(pipe)
            pipe.execute()
    except (redis.RedisError, OSError) as e:
        _metrics_outage.failed(e)
        return
    except Exception:  # noqa: BLE001 - metrics must never break the submission they count
        log.exception("could not count a submission event")
        return
    _metrics_outage.succeeded()
