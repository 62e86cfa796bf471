"""The lifecycle events as JSON lines: who, what, where and how long; no query of their own; Redis down changes
nothing but one warning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from sandbox_service.languages.models import Language
from sandbox_service.ops import lifecycle
from sandbox_service.problems.models import Problem
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status, Verdict

Lines = Callable[[], list[dict[str, Any]]]
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_submission(owner: User, problem: Problem | None = None, **fields: Any) -> Submission:
    values: dict[str, Any] = {"language_id": "python3", "source": "print(1)", "status": Status.QUEUED,
                              "queued_at": T0, **fields}  # fmt: skip
    return Submission.objects.create(owner=owner, problem=problem, **values)


@pytest.fixture
def problem(student: User) -> Problem:
    return Problem.objects.create(title="A + B", slug="a-plus-b", owner=student, published=True)


def test_created_is_one_json_line_naming_submission_owner_language_problem_and_queue(
    languages: list[Language], student: User, problem: Problem, lifecycle_lines: Lines
) -> None:
    submission = make_submission(student, problem, queue=Queue.GRADING)
    lifecycle.submission_created(submission)
    (line,) = lifecycle_lines()
    assert line["event"] == "created" and line["message"] == "submission created"
    assert line["levelname"] == "INFO" and line["name"] == "sandbox_service.lifecycle" and "time" in line
    assert line["submission"] == str(submission.token) and line["submission_id"] == submission.pk
    # create() keeps the relations it was given: their names cost no query
    assert (line["owner"], line["language"], line["problem"], line["queue"]) == (
        "student", "python3", "a-plus-b", "grading")  # fmt: skip


def test_events_make_no_query_and_name_unloaded_relations_by_id(
    languages: list[Language], student: User, problem: Problem, lifecycle_lines: Lines,
    django_assert_num_queries: Any,
) -> None:  # fmt: skip
    submission = Submission.objects.get(pk=make_submission(student, problem).pk)
    scratch = Submission.objects.get(pk=make_submission(student).pk)
    with django_assert_num_queries(0):
        lifecycle.submission_enqueued(submission)
        lifecycle.submission_enqueued(scratch)
    first, second = lifecycle_lines()
    assert first["event"] == "queued" and (first["owner"], first["problem"]) == (student.pk, problem.pk)
    assert second["problem"] is None  # a scratch run has no problem


def test_started_logs_the_worker_and_the_wait_from_queued_to_started_in_milliseconds(
    languages: list[Language], student: User, problem: Problem, lifecycle_lines: Lines
) -> None:
    submission = Submission.objects.select_related("problem").get(pk=make_submission(student, problem).pk)
    submission.status, submission.attempts = Status.RUNNING, 1
    submission.started_at = T0 + timedelta(seconds=1, milliseconds=500)
    lifecycle.submission_started(submission, "interactive@host-a")
    (line,) = lifecycle_lines()
    assert line["event"] == "started" and line["worker"] == "interactive@host-a" and line["attempt"] == 1
    assert line["queue_wait_ms"] == 1500
    assert line["problem"] == "a-plus-b"  # select_related loaded it


def test_finished_logs_verdict_score_attempts_and_its_run_and_total_durations(
    languages: list[Language], student: User, lifecycle_lines: Lines
) -> None:
    submission = make_submission(student)
    submission.created_at = T0 - timedelta(milliseconds=250)
    submission.status, submission.verdict, submission.score, submission.max_score = Status.FINISHED, "accepted", 6, 6
    submission.attempts, submission.worker = 2, "interactive@host-b"
    submission.started_at = T0 + timedelta(seconds=3)
    submission.finished_at = T0 + timedelta(seconds=5, milliseconds=125)
    lifecycle.submission_finished(submission)
    (line,) = lifecycle_lines()
    assert line["event"] == "finished" and line["verdict"] == "accepted"
    assert (line["score"], line["max_score"], line["attempts"], line["worker"]) == (6, 6, 2, "interactive@host-b")
    assert (line["queue_wait_ms"], line["run_ms"], line["total_ms"]) == (3000, 2125, 5375)


def test_a_submission_that_failed_before_it_started_has_no_run_duration(
    languages: list[Language], student: User, lifecycle_lines: Lines
) -> None:
    submission = make_submission(student)
    submission.created_at = T0
    submission.status, submission.verdict = Status.FINISHED, Verdict.INTERNAL_ERROR
    submission.finished_at = T0 + timedelta(seconds=2)
    lifecycle.submission_finished(submission)
    (line,) = lifecycle_lines()
    assert line["verdict"] == "internal_error" and line["run_ms"] is None and line["queue_wait_ms"] is None
    assert line["total_ms"] == 2000 and line["worker"] is None


def test_requeued_logs_the_reason_and_how_long_the_failed_attempt_ran(
    languages: list[Language], student: User, lifecycle_lines: Lines
) -> None:
    submission = make_submission(student)
    submission.attempts, submission.failures, submission.worker = 1, 1, "grading@host-c"
    submission.started_at = T0 + timedelta(seconds=1)
    submission.queued_at = T0 + timedelta(seconds=1, milliseconds=40)  # requeueing sets it
    lifecycle.submission_requeued(submission, "the sandbox failed: no free slot")
    (line,) = lifecycle_lines()
    assert line["event"] == "requeued" and line["reason"] == "the sandbox failed: no free slot"
    assert (line["attempts"], line["failures"], line["worker"], line["run_ms"]) == (1, 1, "grading@host-c", 40)


def test_with_redis_down_every_event_is_still_logged_and_one_warning_says_so(
    languages: list[Language], student: User, lifecycle_lines: Lines, caplog: pytest.LogCaptureFixture
) -> None:
    submission = make_submission(student, started_at=T0, finished_at=T0 + timedelta(seconds=1),
                                 verdict=Verdict.INTERNAL_ERROR, status=Status.FINISHED)  # fmt: skip
    with caplog.at_level("WARNING", logger="sandbox_service.ops.lifecycle"):
        lifecycle.submission_started(submission, "w@h")
        lifecycle.submission_finished(submission)
        lifecycle.submission_requeued(submission, "the sandbox failed")
    assert [line["event"] for line in lifecycle_lines()] == ["started", "finished", "requeued"]
    warnings = [r for r in caplog.records if r.name == "sandbox_service.ops.lifecycle"]
    assert len(warnings) == 1 and "could not count submission metrics" in warnings[0].getMessage()


def test_a_row_loaded_with_only_a_few_fields_costs_one_query_not_one_per_field(
    languages: list[Language], student: User, lifecycle_lines: Lines, django_assert_num_queries: Any
) -> None:
    made = make_submission(student, attempts=2, failures=1)
    partial = Submission.objects.only("pk", "queue").get(pk=made.pk)  # as recovery loads the rows it sends again
    with django_assert_num_queries(1):
        lifecycle.submission_enqueued(partial)
    (line,) = lifecycle_lines()
    assert line["submission"] == str(made.token) and line["owner"] == student.pk
    assert (line["attempts"], line["failures"]) == (2, 1)


def test_an_event_that_fails_is_logged_and_never_raises_into_the_submission(
    languages: list[Language], student: User, lifecycle_lines: Lines, caplog: pytest.LogCaptureFixture
) -> None:
    partial = Submission.objects.only("pk").get(pk=make_submission(student).pk)
    Submission.objects.filter(pk=partial.pk).delete()  # its other fields can no longer be loaded
    lifecycle.submission_started(partial, "w@h")
    assert lifecycle_lines() == []
    (error,) = [r for r in caplog.records if r.name == "sandbox_service.ops.lifecycle"]
    assert "submission_started failed" in error.getMessage() and error.exc_info is not None
