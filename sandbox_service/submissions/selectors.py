"""Reads on submissions, and the mapping from rows to the plain data the grader takes."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from executor import languages as registry
from executor.limits import Limits
from sandbox_service.core.roles import ADMIN, GRADER, role_of
from sandbox_service.languages.models import Language
from sandbox_service.problems.models import TestCase
from sandbox_service.submissions.grading import CheckerSpec, GradingJob, TestSpec
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status


def executor_language(language_id: str) -> registry.Language:
    """The executor's declaration of a language: its own, or, for a language an admin added (`manage.py languages
    add`), its base language's on the admin's image. UnknownLanguage if neither."""
    try:
        return registry.get(language_id)
    except registry.UnknownLanguage:
        row = Language.objects.filter(pk=language_id).exclude(base="").first()
        if row is None or row.base not in registry.REGISTRY:
            raise
        return registry.derive(registry.get(row.base), id=row.pk, name=row.name, image=row.image)


def grading_job_for(submission: Submission) -> tuple[GradingJob, bool]:
    """The grading job of a submission, and whether it is a scratch run (no problem: its own stdin)."""
    language = executor_language(submission.language_id)
    files = {
        f["name"]: base64.b64decode(f["content"]) if f.get("encoding") == "base64" else f["content"].encode()
        for f in submission.files
    }
    limits = Limits().with_changes(**submission.limits)
    problem = submission.problem
    if problem is None:
        expected = None if submission.expected_output is None else submission.expected_output.encode()
        tests = [TestSpec(order=1, stdin=submission.stdin.encode(), expected=expected, points=0)]
        checker = CheckerSpec()
        stop = False
    else:
        tests = [
            TestSpec(order=i, stdin=t.stdin.encode(), expected=t.expected_output.encode(), points=t.points,
                     test_case_id=t.pk)  # fmt: skip
            for i, t in enumerate(tests_of(submission), start=1)
        ]
        checker = CheckerSpec(kind=problem.checker, abs_tolerance=problem.float_abs_tolerance,
                              rel_tolerance=problem.float_rel_tolerance, language_id=problem.checker_language_id,
                              source=problem.checker_source)  # fmt: skip
        stop = problem.stop_on_first_failure
    job = GradingJob(language_id=language.id, language=language, source=submission.source.encode(), files=files,
                     args=list(submission.args), limits=limits, tests=tests, checker=checker,
                     stop_on_first_failure=stop, compiler_options=list(submission.compiler_options),
                     merge_stderr=submission.redirect_stderr_to_stdout,
                     runs=submission.number_of_runs if problem is None else 1,
                     compile_limits=replace(language.compile_limits, **submission.compile_limits)
                     if submission.compile_limits else None)  # fmt: skip
    return job, problem is None


def tests_of(submission: Submission) -> QuerySet[TestCase]:
    """The test cases a submission of a problem runs: all of them, or the visible ones for a Run of the examples."""
    assert submission.problem is not None
    tests = submission.problem.test_cases.order_by("order", "id")
    return tests.filter(visible=True) if submission.examples_only else tests


def excerpt_bytes(submission: Submission, scratch: bool) -> int:
    """How much output is kept: all of it (up to the output limit) for a scratch run, an excerpt per test."""
    from django.conf import settings

    if scratch:
        return int(submission.limits.get("output", 1024)) * 1024
    return int(settings.SUBMISSIONS["OUTPUT_EXCERPT_BYTES"])


def queue_depth() -> int:
    return Submission.objects.filter(status=Status.QUEUED).count()


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Students see their own; graders also those of problems they own or grade; admins see all."""
    queryset = Submission.objects.select_related("language", "problem", "owner")
    role = role_of(user)
    if role == ADMIN:
        return queryset
    if role == GRADER:
        return queryset.filter(Q(owner=user) | Q(problem__owner=user) | Q(problem__graders=user)).distinct()
    return queryset.filter(owner=user)


def submission_get(token: Any, user: AbstractBaseUser) -> Submission | None:
    return submissions_visible_to(user).filter(token=token).first()


def queue_position(submission: Submission) -> int | None:
    """1 for the next submission its queue's workers take, 2 for the one after, ...; None once it has started."""
    if submission.status != Status.QUEUED or submission.queued_at is None:
        return None
    ahead = Submission.objects.filter(status=Status.QUEUED, queue=submission.queue).filter(
        Q(queued_at__lt=submission.queued_at) | Q(queued_at=submission.queued_at, pk__lt=submission.pk))
    return ahead.count() + 1


def progress_key(submission: Submission) -> str:
    """Changes whenever what a person watching the submission sees changes (its queue position aside)."""
    return f"{submission.status}.{submission.stage}.{submission.tests_done}.{submission.attempts}"


def submissions_of(user: AbstractBaseUser) -> QuerySet[Submission]:
    """A person's own submissions, newest first, without the large fields a list does not show."""
    return (Submission.objects.filter(owner=user).select_related("language", "problem")
            .defer("source", "files", "stdin", "expected_output", "compile_output", "compile_stdout", "compile_stderr",
                   "stdout", "stderr", "output"))  # fmt: skip
