"""Problem services and selectors on a real database: validation, visibility, import, scores."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from sandbox_service.problems import selectors, services
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services as submission_services
from sandbox_service.submissions.states import Verdict
from tests.unit.sandbox_service.problems import archives
from tests.unit.sandbox_service.submissions.test_services import grade_result, outcome

pytestmark = pytest.mark.django_db


def make_user(username: str, *, group: str | None = None, **flags: bool) -> User:
    user = User.objects.create(username=username, **flags)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def grader(db: Any) -> User:
    return make_user("gil", group="grader")  # a grader by group alone, not staff


def test_a_grader_by_group_alone_owns_grades_and_sees_its_drafts(grader: User, languages: Any) -> None:
    admin = make_user("root", is_superuser=True)
    mine = services.problem_create(owner=grader, title="Mine", slug="mine")
    graded = services.problem_create(owner=admin, title="Graded", slug="graded", graders=["gil"])
    services.problem_create(owner=admin, title="Hidden", slug="hidden")
    public = services.problem_create(owner=admin, title="Public", slug="public", published=True)
    assert set(selectors.problems_visible_to(grader)) == {mine, graded, public}
    assert selectors.problem_ids_managed_by(grader) == {mine.pk, graded.pk}
    assert selectors.problem_ids_managed_by(admin) is None and selectors.problem_ids_managed_by(make_user("s")) == set()
    grader.groups.clear()  # no longer a grader: a student, who sees published problems only and manages none
    assert list(selectors.problems_visible_to(grader)) == [public]
    assert selectors.problem_ids_managed_by(grader) == set()


def test_whole_limits_given_as_whole_floats_are_stored_as_integers(grader: User) -> None:
    problem = services.problem_create(owner=grader, title="T", slug="t", limits={"memory": 128.0, "cpu_time": 1})
    problem.refresh_from_db()
    assert problem.memory == 128 and problem.cpu_time == 1.0 and problem.wall_time is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"published": "yes"}, "published"),
    ({"stop_on_first_failure": 1}, "stop_on_first_failure"),
    ({"limits": {"memory": True}}, "limits.memory"),
    ({"limits": ["memory"]}, "limits"),
    ({"float_abs_tolerance": float("inf")}, "float_abs_tolerance"),
    ({"statement": b"bytes"}, "statement"),
    ({"allowed_languages": [1]}, "allowed_languages"),
    ({"graders": "gil"}, "graders"),
])  # fmt: skip
def test_the_services_check_types_themselves(grader: User, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(services.ProblemError) as error:
        services.problem_create(owner=grader, title="T", slug="t", **fields)
    assert error.value.field == field
    assert not Problem.objects.exists()


def test_an_unknown_field_is_a_programming_error(grader: User) -> None:
    with pytest.raises(TypeError):
        services.problem_create(owner=grader, title="T", slug="t", colour="red")


def test_a_new_test_goes_after_the_last_one(grader: User) -> None:
    problem = services.problem_create(owner=grader, title="T", slug="t")
    assert services.test_case_create(problem).order == 1
    services.test_case_create(problem, order=10)
    assert services.test_case_create(problem, stdin="x").order == 11


def test_an_import_that_fails_on_its_last_test_writes_nothing(grader: User, languages: Any) -> None:
    problem = services.problem_create(owner=grader, title="Old", slug="a-plus-b")
    services.test_case_create(problem, stdin="old")
    bad = archives.valid(title="New", tests=[{}, {"points": services.MAX_POINTS + 1}])
    with pytest.raises(services.ProblemError) as error:
        services.problem_import(owner=grader, archive=io.BytesIO(bad), replace=True, may_replace=lambda p: True)
    assert (error.value.field, error.value.message) == ("problem.json", "tests[1].points: a whole number from 0 to "
                                                                        f"{services.MAX_POINTS}")  # fmt: skip
    problem.refresh_from_db()
    assert problem.title == "Old" and list(problem.test_cases.values_list("stdin", flat=True)) == ["old"]


def test_an_import_over_a_problem_one_may_not_change_is_refused(grader: User) -> None:
    services.problem_create(owner=grader, title="Old", slug="a-plus-b")
    with pytest.raises(services.ReplaceRefused):
        services.problem_import(owner=grader, archive=io.BytesIO(archives.valid()), replace=True)
    assert Problem.objects.get().title == "Old"


def test_an_import_makes_an_unpublished_problem_of_its_importer(grader: User) -> None:
    problem, created = services.problem_import(owner=grader, archive=io.BytesIO(archives.valid()))
    assert created and problem.owner == grader and not problem.published
    assert list(problem.test_cases.values_list("order", "name", "stdin", "expected_output", "points", "visible")) == [
        (1, "sample", "1 2\n", "3\n", 0, True), (2, "hidden", "5 7\n", "12\n", 5, False)]  # fmt: skip
    assert problem.statement == "Add *a* and *b*." and problem.cpu_time == 1.0 and problem.memory == 128


def test_a_problem_named_like_an_api_path_is_refused(grader: User) -> None:
    with pytest.raises(services.ProblemError, match="reserved"):
        services.problem_create(owner=grader, title="T", slug="import")


def test_scores_break_ties_by_the_earliest_and_leave_out_graders(grader: User, languages: Any) -> None:
    problem = services.problem_create(owner=make_user("owner", is_staff=True), title="T", slug="t", published=True)
    TestCase.objects.create(problem=problem, order=1)
    student = make_user("sam")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    tokens = []
    for i, (score, user) in enumerate([(2, student), (2, student), (1, student), (2, grader)]):
        submission = submission_services.submission_create(owner=user, language_id="python3", source="1",
                                                           problem=problem)  # fmt: skip
        type(submission).objects.filter(pk=submission.pk).update(created_at=t0 + timedelta(minutes=i))
        submission_services.submission_start(submission.pk, "w")
        result = replace(grade_result(outcome(1, points=score)), verdict=Verdict.WRONG_ANSWER)
        submission_services.submission_record_result(submission.pk, 1, result, scratch=False)
        tokens.append(submission.token)
    [row] = selectors.problem_scores(problem)  # gil is a grader by group: not a student
    assert (row.username, row.best_score, row.best_token, row.last_score, row.last_token, row.submissions) == (
        "sam", 2, tokens[0], 1, tokens[2], 3)  # fmt: skip
    assert row.best_submitted_at == t0 and row.last_verdict == "wrong_answer"
