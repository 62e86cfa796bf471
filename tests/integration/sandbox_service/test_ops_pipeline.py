"""Operations seen through the whole pipeline (a real worker process grading in the sandbox): each submission's life
is in the JSON-lines logs (created and queued by the web side, started and finished by the worker, with durations),
and /metrics counts what happened."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

from .conftest import ServiceProcess, Users, wait_for

TOKEN = "pipeline-metrics-token"


def json_lines(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            found.append(json.loads(line[start:]))
        except json.JSONDecodeError:
            continue
    return [event for event in found if event.get("name") == "sandbox_service.lifecycle"]


@pytest.fixture
def web_side_events() -> Iterator[list[logging.LogRecord]]:
    """The lifecycle records of this process (the web side), as its JSON formatter would write them."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("sandbox_service.lifecycle")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(response.content.decode()) for s in f.samples}  # fmt: skip


def test_a_submissions_life_is_logged_as_json_lines_on_both_sides_with_durations(
        users: Users, celery_worker_process: ServiceProcess, web_side_events: list[logging.LogRecord],
        django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        submission = services.submission_create(owner=users.student, language_id="python3", source="print(1)",
                                                stdin="")  # fmt: skip
    wait_for(lambda: Submission.objects.filter(pk=submission.pk, status=Status.FINISHED).exists(), 60)
    token = str(submission.token)
    mine = [r for r in web_side_events if getattr(r, "submission", None) == token]
    assert [r.getMessage() for r in mine][:2] == ["submission created", "submission queued"]
    assert mine[0].event == "created" and mine[0].queue == "interactive" and mine[0].language == "python3"  # type: ignore[attr-defined]

    worker_events = wait_for(lambda: [e for e in json_lines(celery_worker_process.log()) if e.get("submission") == token
                                      and e["event"] in ("started", "finished")] or None, 10)  # fmt: skip
    started, finished = worker_events[0], worker_events[-1]
    assert started["event"] == "started" and started["worker"] == celery_worker_process.name
    assert started["queue_wait_ms"] >= 0
    assert finished["event"] == "finished" and finished["verdict"] == "accepted" and finished["attempts"] == 1
    assert 0 <= finished["run_ms"] <= finished["total_ms"]


def test_metrics_count_what_the_pipeline_did(
        users: Users, celery_worker_process: ServiceProcess, settings: Any,
        django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    settings.METRICS_TOKEN = TOKEN
    client = Client()
    before = samples(client)
    sources = ["print(1)", "print(2)", "raise SystemExit(3)"]  # two accepted, one runtime error
    with django_capture_on_commit_callbacks(execute=True):
        made = [services.submission_create(owner=users.grader, language_id="python3", source=s, stdin="")
                for s in sources]  # fmt: skip
    wait_for(lambda: Submission.objects.filter(pk__in=[m.pk for m in made], status=Status.FINISHED).count() == 3, 60)
    after = samples(client)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("sandbox_submissions_finished_total", verdict="accepted", language="python3") == 2
    assert moved("sandbox_submissions_finished_total", verdict="runtime_error", language="python3") == 1
    assert moved("sandbox_queue_to_start_seconds_count", queue="interactive") == 3
    assert moved("sandbox_run_seconds_count", queue="interactive") == 3
    assert moved("sandbox_run_seconds_bucket", queue="interactive", le="+Inf") == 3
    assert after[("sandbox_workers_online", ())] >= 1
    assert after[("sandbox_queue_depth", (("queue", "interactive"),))] == 0
