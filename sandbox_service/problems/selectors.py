"""Reads on problems: who sees which problem and which tests, a problem as an archive, a problem's scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from executor import languages as registry
from sandbox_service.core.roles import ADMIN, GRADER, role_of
from sandbox_service.problems import zipformat
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status


def problems_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Problem]:
    """Students see published problems; graders also those they own or grade; admins all of them."""
    queryset = Problem.objects.select_related("owner", "checker_language").prefetch_related("allowed_languages",
                                                                                          "graders")  # fmt: skip
    role = role_of(user)
    if role == ADMIN:
        return queryset
    if role == GRADER:
        return queryset.filter(Q(published=True) | _managed_by(user))
    return queryset.filter(published=True)


def problems_with_progress(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Problem]:
    """The problems `user` sees, each with `max_score` and, for a person logged in, `best_score` (None before the
    first finished submission) and `solved` (an accepted one). Runs of the examples do not count. One query."""
    points = (TestCase.objects.filter(problem=OuterRef("pk")).order_by().values("problem")
              .annotate(total=Sum("points")).values("total"))  # fmt: skip
    queryset = problems_visible_to(user).annotate(max_score=Coalesce(Subquery(points), 0,
                                                                     output_field=IntegerField()))  # fmt: skip
    if not user.is_authenticated:
        return queryset
    mine = Submission.objects.filter(problem=OuterRef("pk"), owner=user, examples_only=False, status=Status.FINISHED)
    return queryset.annotate(best_score=Subquery(mine.order_by("-score").values("score")[:1]),
                             solved=Exists(mine.filter(verdict="accepted")))  # fmt: skip


def problem_get(slug: str, user: AbstractBaseUser | AnonymousUser) -> Problem | None:
    return problems_visible_to(user).filter(slug=slug).first()


def problem_ids_managed_by(user: AbstractBaseUser | AnonymousUser) -> set[int] | None:
    """Ids of the problems `user` may change (as permissions.grades decides, for many problems in one query);
    None means every problem (an admin)."""
    role = role_of(user)
    if role == ADMIN:
        return None
    if role != GRADER:
        return set()
    return set(Problem.objects.filter(_managed_by(user)).values_list("pk", flat=True))


def problems_managed_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Problem]:
    """The problems `user` may change: all for an admin, owned or graded ones for a grader, none for a student."""
    role = role_of(user)
    if role == ADMIN:
        return Problem.objects.all()
    if role != GRADER:
        return Problem.objects.none()
    return Problem.objects.filter(_managed_by(user))


def _managed_by(user: Any) -> Q:
    graded = Problem.graders.through.objects.filter(user_id=user.pk).values("problem_id")
    return Q(owner_id=user.pk) | Q(pk__in=graded)


def test_cases_of(problem: Problem, *, include_hidden: bool) -> QuerySet[TestCase]:
    queryset = problem.test_cases.order_by("order", "id")
    return queryset if include_hidden else queryset.filter(visible=True)


# ------------------------------------------------------------------------------------------------ export ----


def problem_export(problem: Problem, out: IO[bytes]) -> None:
    """Write `problem` and all its tests as an archive (see zipformat), streaming the tests from the database."""
    checker_file = "source"
    if problem.checker_language_id:
        try:
            checker_file = registry.get(problem.checker_language_id).source_name
        except registry.UnknownLanguage:
            pass
    data = zipformat.ProblemData(
        title=problem.title, slug=problem.slug, statement=problem.statement,
        limits={name: getattr(problem, name) for name in zipformat.LIMIT_NAMES}, checker=problem.checker,
        abs_tolerance=problem.float_abs_tolerance, rel_tolerance=problem.float_rel_tolerance,
        checker_language=problem.checker_language_id, checker_source=problem.checker_source,
        checker_file=checker_file, stop_on_first_failure=problem.stop_on_first_failure,
        allowed_languages=tuple(problem.allowed_languages.values_list("pk", flat=True)),
    )  # fmt: skip
    zipformat.write(data, out, tests=_archive_tests(problem))


def _archive_tests(problem: Problem) -> Iterator[zipformat.TestData]:
    for test in test_cases_of(problem, include_hidden=True).iterator(chunk_size=20):
        yield zipformat.TestData(stdin=test.stdin, expected_output=test.expected_output, name=test.name,
                                 order=test.order, points=test.points, visible=test.visible)  # fmt: skip


# ------------------------------------------------------------------------------------------------ scores ----


@dataclass(frozen=True)
class ScoreRow:
    username: str
    best_score: int | None  # None: no finished submission yet
    best_token: UUID | None
    best_verdict: str
    best_submitted_at: datetime | None
    last_score: int | None
    last_token: UUID | None
    last_verdict: str
    last_submitted_at: datetime | None
    submissions: int  # all of them, finished or not


def problem_scores(problem: Problem) -> list[ScoreRow]:
    """One row per student who submitted to `problem`, by username, in one query.

    Best: the finished submission with the highest score (the earliest of equals); last: the latest finished one.
    Students are the users role_of calls students: not superusers, not staff, in neither the grader nor the admin
    group.
    """
    mine = Submission.objects.filter(problem=problem, owner=OuterRef("pk"), examples_only=False)  # Runs don't count
    finished = mine.filter(status=Status.FINISHED)
    best = finished.order_by("-score", "created_at", "pk")
    last = finished.order_by("-created_at", "-pk")
    count = mine.order_by().values("owner").annotate(n=Count("pk")).values("n")
    columns = {"score": "score", "token": "token", "verdict": "verdict", "submitted_at": "created_at"}
    annotations: dict[str, Any] = {"submission_count": Subquery(count)}
    for prefix, ordered in (("best", best), ("last", last)):
        for name, source in columns.items():
            annotations[f"{prefix}_{name}"] = Subquery(ordered.values(source)[:1])
    students = (
        User.objects.filter(pk__in=Submission.objects.filter(problem=problem, examples_only=False).values("owner_id"))
        .exclude(is_superuser=True)
        .exclude(is_staff=True)
        .exclude(groups__name__in=[GRADER, ADMIN])
        .annotate(**annotations)
        .order_by("username")
    )
    return [
        ScoreRow(
            username=u.username,
            best_score=u.best_score,
            best_token=u.best_token,
            best_verdict=u.best_verdict or "",
            best_submitted_at=u.best_submitted_at,
            last_score=u.last_score,
            last_token=u.last_token,
            last_verdict=u.last_verdict or "",
            last_submitted_at=u.last_submitted_at,
            submissions=u.submission_count or 0,
        )  # fmt: skip
        for u in students
    ]
