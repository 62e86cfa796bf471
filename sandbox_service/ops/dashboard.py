"""The operations dashboard's data: queues, workers, throughput and latency, verdicts per language, sandbox failures.

Plain JSON-able data (the page renders it as tables and the script draws it as charts), read in a fixed number of
queries whatever the number of rows: one aggregate for the queues, one fetch of the few columns of the last day's
rows (everything over time is counted and sorted here, in Python: a day of rows is small, and percentiles are not
portable SQL), and one for the latest internal errors. Workers come from their Redis heartbeats, not the database.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.db.models import Count, Min, Q
from django.db.models.functions import Length, Substr
from django.utils import timezone

from sandbox_service.ops.workers import workers_online
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status, Verdict

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5  # how often the page fetches the data again
RECENT_ERRORS = 10
MESSAGE_EXCERPT = 200  # characters of an internal error's message


@dataclass(frozen=True)
class Window:
    name: str
    label: str
    length: timedelta
    bucket: timedelta


WINDOWS = (
    Window("hour", "Last hour", timedelta(hours=1), timedelta(minutes=5)),
    Window("day", "Last 24 hours", timedelta(days=1), timedelta(hours=1)),
)
# The longest window: every row the dashboard counts over time finished (or was retried) within it.
SPAN = max(w.length for w in WINDOWS)
FAILURE_BUCKET = timedelta(hours=1)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile of `values`, interpolating linearly between the two nearest ranks (numpy's and
    spreadsheets' default); None for no values. p50 of 1..21 is 11, p95 of 1..21 is 20."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _p50_p95(values: Sequence[float]) -> dict[str, float | None]:
    return {"p50": _seconds(percentile(values, 0.50)), "p95": _seconds(percentile(values, 0.95))}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end`, None if either is missing. The two times may come from different hosts (the
    web server queues, a worker starts): a slightly fast clock must not make a negative latency."""
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, always with "+00:00": the page shows its first 19 characters as the time, in UTC."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _bucket_index(moment: datetime, start: datetime, bucket: timedelta, count: int) -> int | None:
    """Which of `count` buckets of length `bucket` from `start` holds `moment` (the end itself is in the last one)."""
    if moment < start:
        return None
    index = (moment - start) // bucket
    if index == count and moment == start + bucket * count:
        return count - 1
    return index if index < count else None


def _bucket_bounds(start: datetime, bucket: timedelta, count: int) -> list[dict[str, Any]]:
    return [{"start": _iso(start + bucket * i), "end": _iso(start + bucket * (i + 1))} for i in range(count)]


# --- the queries ------------------------------------------------------------------------------------------------


def _queue_counts() -> dict[tuple[str, str], tuple[int, datetime | None]]:
    """(queue, status) -> (how many, the oldest queued_at) over the submissions not finished. Query 1."""
    rows = (Submission.objects.filter(status__in=[Status.QUEUED, Status.RUNNING])
            .order_by().values_list("queue", "status").annotate(n=Count("pk"), oldest=Min("queued_at")))  # fmt: skip
    return {(queue, status): (n, oldest) for queue, status, n, oldest in rows}


# The columns of a recent row, in this order (values_list: no model instances, no large fields).
RECENT_COLUMNS = ("status", "language_id", "verdict", "failures", "created_at", "queued_at", "started_at",
                  "finished_at")  # fmt: skip


def _recent_rows(since: datetime, now: datetime) -> list[Any]:
    """Rows that finished within [since, now], and rows retried after an infrastructure failure within it (a
    retry puts the submission back in its queue, so its queued_at is when it last failed). Query 2."""
    finished = Q(status=Status.FINISHED, finished_at__gte=since, finished_at__lte=now)
    retried = Q(failures__gt=0, queued_at__gte=since, queued_at__lte=now)
    return list(Submission.objects.filter(finished | retried).order_by().values_list(*RECENT_COLUMNS, named=True))


def _recent_internal_errors(now: datetime) -> list[dict[str, Any]]:
    """The latest internal errors however old (the last one may be what explains a quiet day), with only an
    excerpt of each message fetched. Query 3."""
    rows = (Submission.objects.filter(status=Status.FINISHED, verdict=Verdict.INTERNAL_ERROR, finished_at__lte=now)
            .order_by("-finished_at", "-pk")
            .annotate(excerpt=Substr("message", 1, MESSAGE_EXCERPT), message_length=Length("message"))
            .values_list("token", "finished_at", "excerpt", "message_length", "worker", "language_id")
            [:RECENT_ERRORS])  # fmt: skip
    return [{"token": str(token), "finished_at": _iso(finished_at),
             "message": excerpt + ("…" if length > MESSAGE_EXCERPT else ""), "worker": worker,
             "language": language}
            for token, finished_at, excerpt, length, worker, language in rows]  # fmt: skip


def _workers(now: datetime) -> tuple[list[dict[str, Any]], str]:
    """The workers whose heartbeat is recent, and an error text when Redis could not be read (the rest of the
    dashboard comes from the database and is still worth showing then)."""
    try:
        online = workers_online()
    except (redis.RedisError, OSError) as error:
        logger.warning("the dashboard could not read the workers' heartbeats: %s", error)
        return [], f"The workers' heartbeats could not be read from Redis ({type(error).__name__}: {error})."
    workers = [
        {"name": w.name, "host": w.host, "queues": list(w.queues), "concurrency": w.concurrency, "slots": w.slots,
         "pid": w.pid, "started_at": _iso(w.started_at), "seen_at": _iso(w.seen_at),
         "seen_seconds_ago": _seconds(_duration(w.seen_at, now))}  # fmt: skip
        for w in sorted(online, key=lambda w: (w.host, w.name))
    ]
    return workers, ""


# --- the sections -----------------------------------------------------------------------------------------------


def _queues(now: datetime, workers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = _queue_counts()
    workers = list(workers)
    queues = []
    for queue in Queue:
        queued, oldest = counts.get((queue.value, Status.QUEUED.value), (0, None))
        running, _ = counts.get((queue.value, Status.RUNNING.value), (0, None))
        serving = [w for w in workers if queue.value in w["queues"]]
        queues.append({
            "queue": queue.value, "queued": queued, "running": running,
            "oldest_queued_seconds": _seconds(_duration(oldest, now)) if queued else None,
            # Why a queue grows: nobody consumes it, or too few slots for what arrives.
            "workers": len(serving), "concurrency": sum(w["concurrency"] for w in serving),
        })  # fmt: skip
    return queues


def _window(window: Window, now: datetime, finished: Sequence[Any]) -> dict[str, Any]:
    """Throughput per bucket, and latencies (queue-to-start, run, total) over the window and total per bucket."""
    count = int(window.length / window.bucket)
    start = now - window.length
    waits: list[float] = []
    runs: list[float] = []
    totals: list[float] = []
    per_bucket: list[list[float]] = [[] for _ in range(count)]
    done = [0] * count
    for row in finished:
        index = _bucket_index(row.finished_at, start, window.bucket, count)
        if index is None:
            continue
        done[index] += 1
        for values, value in ((waits, _duration(row.queued_at, row.started_at)),
                              (runs, _duration(row.started_at, row.finished_at))):  # fmt: skip
            if value is not None:
                values.append(value)
        total = _duration(row.created_at, row.finished_at)
        if total is not None:
            totals.append(total)
            per_bucket[index].append(total)
    buckets = _bucket_bounds(start, window.bucket, count)
    for bucket, finished_here, bucket_totals in zip(buckets, done, per_bucket, strict=True):
        bucket.update({"finished": finished_here, "total_p50": _seconds(percentile(bucket_totals, 0.50)),
                       "total_p95": _seconds(percentile(bucket_totals, 0.95))})  # fmt: skip
    return {
        "name": window.name, "label": window.label, "start": _iso(start), "end": _iso(now),
        "bucket_seconds": int(window.bucket.total_seconds()), "finished": sum(done),
        "latency": {"queue": _p50_p95(waits), "run": _p50_p95(runs), "total": _p50_p95(totals)},
        "buckets": buckets,
    }  # fmt: skip


def _verdicts(finished: Iterable[Any]) -> dict[str, Any]:
    """Per language, how many finished with each verdict (the languages with the most first)."""
    counts: dict[str, Counter[str]] = {}
    for row in finished:
        if row.verdict:
            counts.setdefault(row.language_id, Counter())[row.verdict] += 1
    languages = sorted(counts, key=lambda language: (-sum(counts[language].values()), language))
    return {
        "verdicts": [{"verdict": v.value, "label": str(v.label)} for v in Verdict],
        "languages": [{"language": language, "total": sum(counts[language].values()),
                       "counts": {v.value: counts[language][v.value] for v in Verdict}}
                      for language in languages],
    }  # fmt: skip


def _failures(now: datetime, rows: Iterable[Any]) -> dict[str, Any]:
    """Internal errors (by when they finished) and infrastructure retries (by when the submission was last put
    back in its queue) per hour, and the latest internal errors."""
    count = int(SPAN / FAILURE_BUCKET)
    start = now - SPAN
    errors = [0] * count
    retried = [0] * count
    for row in rows:
        if row.status == Status.FINISHED and row.verdict == Verdict.INTERNAL_ERROR and row.finished_at is not None:
            index = _bucket_index(row.finished_at, start, FAILURE_BUCKET, count)
            if index is not None:
                errors[index] += 1
        if row.failures > 0 and row.queued_at is not None:
            index = _bucket_index(row.queued_at, start, FAILURE_BUCKET, count)
            if index is not None:
                retried[index] += 1
    buckets = _bucket_bounds(start, FAILURE_BUCKET, count)
    for bucket, errors_here, retried_here in zip(buckets, errors, retried, strict=True):
        bucket.update({"internal_errors": errors_here, "retried": retried_here})
    return {"bucket_seconds": int(FAILURE_BUCKET.total_seconds()), "internal_errors": sum(errors),
            "retried": sum(retried), "buckets": buckets, "recent": _recent_internal_errors(now)}  # fmt: skip


def dashboard_data(now: datetime | None = None) -> dict[str, Any]:
    """Everything the operations dashboard shows, as of `now` (default: this moment). Three queries."""
    now = now or timezone.now()
    workers, workers_error = _workers(now)
    since = now - SPAN
    rows = _recent_rows(since, now)
    # The query also brings retried rows that have not finished (for the failures): the rest counts finished ones.
    finished = [row for row in rows if row.status == Status.FINISHED and row.finished_at is not None
                and since <= row.finished_at <= now]  # fmt: skip
    return {
        "generated_at": _iso(now),
        "refresh_seconds": REFRESH_SECONDS,
        "queues": _queues(now, workers),
        "workers": workers,
        "workers_error": workers_error,
        "windows": {window.name: _window(window, now, finished) for window in WINDOWS},
        "verdicts": _verdicts(finished),
        "failures": _failures(now, rows),
    }
