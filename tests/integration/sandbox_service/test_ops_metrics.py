"""/metrics on the real Redis and database: lifecycle events on real rows move the counters and histograms that a
scrape shows; queue depth, running submissions and workers are what they are now; a stopped Redis takes away only
what Redis knows, and a restarted one is used again without restarting anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sandbox_service.ops import lifecycle
from sandbox_service.ops.workers import KEY_PREFIX, WorkerInfo, worker_gone, worker_heartbeat
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status, Verdict
from tests.integration.sandbox_service.conftest import RedisServer, Users

TOKEN = "integration-metrics-token"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def scrape(client: Client, settings: Any) -> Callable[[], Samples]:
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> Samples:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(response.content.decode()) for s in f.samples}  # fmt: skip

    return scrape


@pytest.fixture
def fresh_outage(monkeypatch: pytest.MonkeyPatch) -> lifecycle.Outage:
    outage = lifecycle.Outage("count submission metrics")
    monkeypatch.setattr(lifecycle, "_metrics_outage", outage)
    return outage


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def submission(users: Users, **fields: Any) -> Submission:
    values: dict[str, Any] = {"language_id": "python3", "source": "print(1)", "queued_at": timezone.now(), **fields}
    return Submission.objects.create(owner=users.student, **values)


def test_lifecycle_events_on_real_rows_move_the_counters_and_histograms_of_a_scrape(
    users: Users, scrape: Callable[[], Samples]
) -> None:
    before = scrape()
    accepted = submission(users, queue=Queue.INTERACTIVE, status=Status.RUNNING, attempts=1)
    accepted.started_at = accepted.queued_at + timedelta(milliseconds=300)  # le 0.5, not le 0.25
    lifecycle.submission_started(accepted, "w@h")
    accepted.status, accepted.verdict = Status.FINISHED, Verdict.ACCEPTED
    accepted.finished_at = accepted.started_at + timedelta(seconds=2)  # le 2.5, not le 1
    lifecycle.submission_finished(accepted)
    # failed for good before any worker started it: counted, but no run to time
    broken = submission(users, language_id="c", queue=Queue.GRADING, status=Status.FINISHED,
                        verdict=Verdict.INTERNAL_ERROR, finished_at=timezone.now())  # fmt: skip
    lifecycle.submission_finished(broken)
    lifecycle.submission_requeued(submission(users, status=Status.QUEUED, failures=1), "the sandbox failed")
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    assert moved("sandbox_submissions_finished_total", verdict="accepted", language="python3") == 1
    assert moved("sandbox_submissions_finished_total", verdict="internal_error", language="c") == 1
    assert moved("sandbox_internal_errors_total") == 1 and moved("sandbox_sandbox_failures_total") == 1
    wait = "sandbox_queue_to_start_seconds"
    assert moved(f"{wait}_bucket", queue="interactive", le="0.25") == 0
    assert moved(f"{wait}_bucket", queue="interactive", le="0.5") == 1
    assert moved(f"{wait}_bucket", queue="interactive", le="+Inf") == 1 == moved(f"{wait}_count", queue="interactive")
    assert moved(f"{wait}_sum", queue="interactive") == pytest.approx(0.3)
    assert moved("sandbox_run_seconds_bucket", queue="interactive", le="1.0") == 0
    assert moved("sandbox_run_seconds_bucket", queue="interactive", le="2.5") == 1
    assert moved("sandbox_run_seconds_count", queue="interactive") == 1
    assert moved("sandbox_run_seconds_sum", queue="interactive") == pytest.approx(2.0)
    assert moved("sandbox_run_seconds_count", queue="grading") == 0
    assert ("sandbox_run_seconds_count", (("queue", "grading"),)) in after  # every queue, even an empty one


def test_queue_depth_and_running_are_the_rows_now_with_every_queue_listed(
    users: Users, scrape: Callable[[], Samples]
) -> None:
    for status in (Status.QUEUED, Status.QUEUED, Status.RUNNING, Status.FINISHED):
        submission(users, queue=Queue.INTERACTIVE, status=status)
    now = scrape()
    assert get(now, "sandbox_queue_depth", queue="interactive") == 2
    assert now[("sandbox_queue_depth", (("queue", "grading"),))] == 0  # listed, though empty
    assert get(now, "sandbox_submissions_running") == 1 and get(now, "sandbox_redis_up") == 1


@pytest.fixture
def no_heartbeats(redis_url: str) -> Iterator[None]:
    """Heartbeats of workers that earlier tests killed live on for three beats: start from none."""
    client = lifecycle.redis_client()
    for key in client.scan_iter(match=KEY_PREFIX + "*"):
        client.delete(key)
    yield


def test_workers_online_and_their_slots_are_the_heartbeats_in_redis(
    no_heartbeats: None, live_db: Any, scrape: Callable[[], Samples]
) -> None:
    now = timezone.now()
    for name, slots in (("metrics-a@host", 7), ("metrics-b@host", 9)):
        worker_heartbeat(WorkerInfo(name=name, host="host", queues=["interactive"], concurrency=2, slots=slots,
                                    pid=1, started_at=now, seen_at=now))  # fmt: skip
    two = scrape()
    worker_gone("metrics-a@host")
    one = scrape()
    assert (get(two, "sandbox_workers_online"), get(two, "sandbox_worker_slots")) == (2, 16)
    assert (get(one, "sandbox_workers_online"), get(one, "sandbox_worker_slots")) == (1, 9)


def test_with_redis_stopped_a_scrape_answers_from_the_database_and_recovers_when_redis_is_back(
    users: Users, scrape: Callable[[], Samples], redis_server: RedisServer
) -> None:
    submission(users, queue=Queue.GRADING, status=Status.QUEUED)
    redis_server.stop()
    down = scrape()
    assert get(down, "sandbox_redis_up") == 0 and get(down, "sandbox_queue_depth", queue="grading") == 1
    assert not any(name.startswith(("sandbox_workers", "sandbox_run_seconds")) for name, _ in down)
    redis_server.start()
    up = scrape()  # the same process, its pooled connections to the old Redis now dead
    assert get(up, "sandbox_redis_up") == 1 and ("sandbox_workers_online", ()) in up


def test_events_while_redis_is_stopped_warn_once_and_counting_resumes_when_it_is_back(
    users: Users, scrape: Callable[[], Samples], redis_server: RedisServer, fresh_outage: lifecycle.Outage,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    row = submission(users, status=Status.FINISHED, verdict=Verdict.WRONG_ANSWER, finished_at=timezone.now())
    redis_server.stop()
    with caplog.at_level("WARNING", logger="sandbox_service.ops.lifecycle"):
        for _ in range(3):
            lifecycle.submission_finished(row)  # never raises
        redis_server.start()  # empty: the test Redis keeps nothing on disk
        lifecycle.submission_finished(row)
    messages = [r.getMessage() for r in caplog.records if r.name == "sandbox_service.ops.lifecycle"]
    assert len(messages) == 2 and "could not count" in messages[0] and "answers again" in messages[1]
    assert get(scrape(), "sandbox_submissions_finished_total", verdict="wrong_answer", language="python3") == 1
