"""The problems API: who may do what, problem and test case CRUD, import and export, scores."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox_service.problems import services as problem_services
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Verdict
from tests.unit.sandbox_service.problems import archives
from tests.unit.sandbox_service.submissions.test_services import grade_result, outcome

pytestmark = pytest.mark.django_db

URL = "/api/v1/problems/"
ROLES = ("anonymous", "student", "owner", "helper", "other_grader", "admin")


# ---------------------------------------------------------------------------------------------- fixtures ----


@pytest.fixture(autouse=True)
def _no_request_rates(settings: Any) -> None:
    """The API's per-account rates would end a long parametrized run with 429s (user ids repeat across tests)."""
    settings.API_THROTTLE_RATES = {"read": None, "submit": None, "write": None}


def make_user(username: str, role: str) -> User:
    """Without a password: hashing one costs a third of a second, and the API tests authenticate directly."""
    user = User.objects.create(username=username, is_staff=role in ("grader", "admin"), is_superuser=role == "admin")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def users(db: Any) -> dict[str, User]:
    return {
        "student": make_user("stu", "student"),
        "owner": make_user("olga", "grader"),  # owns the problem
        "helper": make_user("hugo", "grader"),  # grades it
        "other_grader": make_user("otto", "grader"),  # neither
        "admin": make_user("ada", "admin"),
    }


def client(user: User | None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def as_(users: dict[str, User], role: str) -> APIClient:
    return client(users.get(role))


@pytest.fixture
def problem(users: dict[str, User], languages: Any) -> Problem:
    problem = problem_services.problem_create(
        owner=users["owner"], title="A + B", slug="a-plus-b", statement="Add them.", published=True,
        limits={"cpu_time": 1.0, "memory": 128}, allowed_languages=["python3", "c"], graders=["hugo"],
    )  # fmt: skip
    problem_services.test_case_create(problem, stdin="1 2\n", expected_output="3\n", visible=True, name="sample")
    problem_services.test_case_create(problem, stdin="5 7\n", expected_output="12\n", points=2, name="secret")
    return problem


def cases_of(problem: Problem) -> tuple[TestCase, TestCase]:
    visible, hidden = problem.test_cases.order_by("order")
    return visible, hidden


def snapshot() -> tuple[list[Any], ...]:
    """Every row a problem write could touch."""
    return (
        list(Problem.objects.order_by("pk").values()),
        list(TestCase.objects.order_by("pk").values()),
        list(Problem.allowed_languages.through.objects.order_by("pk").values()),
        list(Problem.graders.through.objects.order_by("pk").values()),
    )


def upload(data: bytes, name: str = "problem.zip") -> dict[str, Any]:
    return {"archive": SimpleUploadedFile(name, data, content_type="application/zip")}


# ------------------------------------------------------------------------------------- permission matrix ----

P = URL + "{slug}/"
OK_ALL = dict.fromkeys(ROLES[1:], 200)
MANAGERS = {"student": 403, "owner": 200, "helper": 200, "other_grader": 403, "admin": 200}
CREATORS = {"student": 403, "owner": 201, "helper": 201, "other_grader": 201, "admin": 201}


def _only(code: int, base: dict[str, int]) -> dict[str, int]:
    return {role: code if status != 403 else 403 for role, status in base.items()}


# (operation, method, path, body, status by role); {slug}, {visible} and {hidden} are filled in.
MATRIX = [
    ("list problems", "get", URL, None, OK_ALL),
    ("create problem", "post", URL, "create", CREATORS),
    ("import problem", "post", URL + "import/", "import", CREATORS),
    ("read problem", "get", P, None, OK_ALL),
    ("replace problem", "put", P, "put", MANAGERS),
    ("change problem", "patch", P, "patch", MANAGERS),
    ("delete problem", "delete", P, None, _only(204, MANAGERS)),
    ("export problem", "get", P + "export/", None, MANAGERS),
    ("scores", "get", P + "scores.csv", None, MANAGERS),
    ("list tests", "get", P + "tests/", None, OK_ALL),
    ("create test", "post", P + "tests/", "test", _only(201, MANAGERS)),
    ("read visible test", "get", P + "tests/{visible}/", None, OK_ALL),
    ("read hidden test", "get", P + "tests/{hidden}/", None, {**MANAGERS, "student": 404, "other_grader": 404}),
    ("replace test", "put", P + "tests/{visible}/", "test", MANAGERS),
    ("change test", "patch", P + "tests/{visible}/", "test", MANAGERS),
    ("change hidden test", "patch", P + "tests/{hidden}/", "test", {**MANAGERS, "student": 404, "other_grader": 404}),
    ("delete test", "delete", P + "tests/{visible}/", None, _only(204, MANAGERS)),
]
PROBLEM_SCOPED = {operation for operation, _, url, _, _ in MATRIX if "{slug}" in url}


def _body(kind: str | None, role: str) -> tuple[Any, str]:
    slug = f"new-{role.replace('_', '-')}"
    if kind == "create":
        return {"title": "New", "slug": slug}, "json"
    if kind == "import":
        return upload(archives.valid(slug=slug)), "multipart"
    if kind == "put":
        return {"title": "Renamed", "slug": "a-plus-b", "published": True}, "json"
    if kind == "patch":
        return {"title": "Renamed"}, "json"
    if kind == "test":
        return {"stdin": "2 2\n", "expected_output": "4\n"}, "json"
    return None, "json"


@pytest.mark.parametrize("published", [True, False], ids=["published", "unpublished"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("operation", "method", "url", "body", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
def test_permission_matrix(users: dict[str, User], problem: Problem, role: str, published: bool, operation: str,
                           method: str, url: str, body: str | None, expected: dict[str, int]) -> None:  # fmt: skip
    """Anonymous: 401 everywhere. An unpublished problem does not exist (404) for students and other graders."""
    Problem.objects.filter(pk=problem.pk).update(published=published)
    visible, hidden = cases_of(problem)
    data, format = _body(body, role)
    response = getattr(as_(users, role), method)(url.format(slug=problem.slug, visible=visible.pk,
                                                            hidden=hidden.pk), data, format=format)  # fmt: skip
    if role == "anonymous":
        wanted = 401
    elif not published and operation in PROBLEM_SCOPED and role in ("student", "other_grader"):
        wanted = 404
    else:
        wanted = expected[role]
    assert response.status_code == wanted, getattr(response, "data", response)


# ------------------------------------------------------------------------------------------------ reading ----


def test_the_list_shows_each_role_the_problems_it_may_read(users: dict[str, User], problem: Problem) -> None:
    problem_services.problem_create(owner=users["other_grader"], title="Draft of otto", slug="otto-draft")
    problem_services.problem_create(owner=users["admin"], title="Draft graded by olga", slug="olga-graded",
                                    graders=["olga"])  # fmt: skip
    Problem.objects.filter(pk=problem.pk).update(published=False)
    problem_services.problem_create(owner=users["admin"], title="Published", slug="public", published=True)

    def slugs(role: str) -> list[str]:
        response = as_(users, role).get(URL)
        assert response.status_code == 200
        return sorted(p["slug"] for p in response.json()["results"])

    assert slugs("student") == ["public"]
    assert slugs("owner") == ["a-plus-b", "olga-graded", "public"]
    assert slugs("helper") == ["a-plus-b", "public"]
    assert slugs("other_grader") == ["otto-draft", "public"]
    assert slugs("admin") == ["a-plus-b", "olga-graded", "otto-draft", "public"]


def test_only_those_who_may_change_a_problem_see_its_graders_and_checker(users: dict[str, User],
                                                                         problem: Problem) -> None:  # fmt: skip
    problem_services.problem_update(problem, checker="custom", checker_language="python3",
                                    checker_source="import sys; sys.exit(0)")  # fmt: skip
    for role in ("student", "other_grader"):
        body = as_(users, role).get(f"{URL}a-plus-b/").json()
        assert body["title"] == "A + B" and body["limits"]["memory"] == 128 and body["checker"] == "custom"
        assert not {"graders", "owner", "checker_source", "checker_language"} & set(body), role
        listed = as_(users, role).get(URL).json()["results"][0]
        assert "checker_source" not in listed and "graders" not in listed
    body = as_(users, "helper").get(f"{URL}a-plus-b/").json()
    assert body["graders"] == ["hugo"] and body["owner"] == "olga" and body["checker_source"].startswith("import")
    assert body["allowed_languages"] == ["c", "python3"] and body["checker_language"] == "python3"
    assert as_(users, "helper").get(URL).json()["results"][0]["graders"] == ["hugo"]


def test_the_problem_list_makes_a_fixed_number_of_queries(users: dict[str, User], languages: Any,
                                                          django_assert_max_num_queries: Any) -> None:  # fmt: skip
    for i in range(15):
        problem_services.problem_create(owner=users["owner"], title=f"P{i}", slug=f"p{i}", published=True,
                                        allowed_languages=["c", "python3"], graders=["hugo", "otto"])  # fmt: skip
    for role in ("student", "owner", "admin"):
        with django_assert_max_num_queries(7):
            response = as_(users, role).get(URL)
        assert response.status_code == 200 and response.json()["count"] == 15


def test_students_never_see_hidden_tests(users: dict[str, User], problem: Problem) -> None:
    visible, hidden = cases_of(problem)
    student = as_(users, "student")
    listed = student.get(f"{URL}a-plus-b/tests/").json()
    assert [t["id"] for t in listed["results"]] == [visible.pk] and listed["count"] == 1
    assert listed["results"][0]["expected_output"] == "3\n"
    assert student.get(f"{URL}a-plus-b/tests/{hidden.pk}/").status_code == 404
    assert "secret" not in student.get(f"{URL}a-plus-b/").content.decode()
    managed = as_(users, "helper").get(f"{URL}a-plus-b/tests/").json()
    assert [t["id"] for t in managed["results"]] == [visible.pk, hidden.pk]
    assert as_(users, "other_grader").get(f"{URL}a-plus-b/tests/").json()["count"] == 1


def test_an_unknown_problem_or_test_is_404(users: dict[str, User], problem: Problem) -> None:
    admin = as_(users, "admin")
    assert admin.get(f"{URL}nope/").status_code == 404
    assert admin.get(f"{URL}nope/tests/").status_code == 404
    assert admin.get(f"{URL}a-plus-b/tests/999999/").status_code == 404
    other = problem_services.problem_create(owner=users["admin"], title="Other", slug="other", published=True)
    foreign = problem_services.test_case_create(other, stdin="x")
    assert admin.get(f"{URL}a-plus-b/tests/{foreign.pk}/").status_code == 404  # a test of another problem


# --------------------------------------------------------------------------------------- creating, changing ----


def test_create_makes_the_requester_the_owner(users: dict[str, User], languages: Any) -> None:
    payload = {
        "title": "Floats", "slug": "floats", "statement": "# Sum\n\nPrint *a* + *b*.", "published": True,
        "limits": {"cpu_time": 0.5, "wall_time": 2, "memory": 64, "processes": 8, "output": 16},
        "allowed_languages": ["python3"], "checker": "float", "float_abs_tolerance": 0.001,
        "float_rel_tolerance": 0, "stop_on_first_failure": True, "graders": ["hugo"],
    }  # fmt: skip
    response = as_(users, "owner").post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == "olga" and body["graders"] == ["hugo"] and body["slug"] == "floats"
    assert body["limits"] == {"cpu_time": 0.5, "wall_time": 2.0, "memory": 64, "processes": 8, "output": 16}
    problem = Problem.objects.get(slug="floats")
    assert problem.owner == users["owner"] and problem.checker == "float" and problem.float_abs_tolerance == 0.001
    assert list(problem.allowed_languages.values_list("pk", flat=True)) == ["python3"]
    assert problem.stop_on_first_failure and problem.published and problem.statement.startswith("# Sum")


def test_a_created_problem_takes_the_defaults(users: dict[str, User]) -> None:
    body = as_(users, "admin").post(URL, {"title": "T", "slug": "t"}, format="json").json()
    assert body["limits"] == dict.fromkeys(["cpu_time", "wall_time", "memory", "processes", "output"])
    assert body["checker"] == "whitespace" and body["published"] is False and body["allowed_languages"] == []
    assert body["owner"] == "ada" and body["graders"] == []


BAD_PROBLEMS = [
    ({"slug": "x"}, "title"),
    ({"title": "x"}, "slug"),
    ({"title": "x", "slug": "not a slug"}, "slug"),
    ({"title": "x", "slug": "a-plus-b"}, "slug"),  # taken
    ({"title": "x", "slug": "import"}, "slug"),  # the import URL
    ({"title": "x\0", "slug": "x"}, "title"),
    ({"title": "   ", "slug": "x"}, "title"),
    ({"title": "x", "slug": "x", "statement": "a\0b"}, "statement"),
    ({"title": "x", "slug": "x", "limits": {"memory": 10**7}}, "limits.memory"),
    ({"title": "x", "slug": "x", "limits": {"cpu_time": 0.001}}, "limits.cpu_time"),
    ({"title": "x", "slug": "x", "limits": {"wall_time": 61}}, "limits.wall_time"),
    ({"title": "x", "slug": "x", "limits": {"processes": 1000}}, "limits.processes"),
    ({"title": "x", "slug": "x", "limits": {"output": 10**6}}, "limits.output"),
    ({"title": "x", "slug": "x", "limits": {"memory": 1.5}}, "limits.memory"),
    ({"title": "x", "slug": "x", "limits": {"memory": "lots"}}, "limits.memory"),
    ({"title": "x", "slug": "x", "limits": {"colour": 3}}, "limits.colour"),
    ({"title": "x", "slug": "x", "limits": 5}, "limits"),
    ({"title": "x", "slug": "x", "allowed_languages": ["python3", "cobol"]}, "allowed_languages"),
    ({"title": "x", "slug": "x", "allowed_languages": "python3"}, "allowed_languages"),
    ({"title": "x", "slug": "x", "checker": "magic"}, "checker"),
    ({"title": "x", "slug": "x", "checker": "float", "float_abs_tolerance": -1}, "float_abs_tolerance"),
    ({"title": "x", "slug": "x", "float_rel_tolerance": "nan"}, "float_rel_tolerance"),
    ({"title": "x", "slug": "x", "checker": "custom", "checker_source": "exit 0"}, "checker_language"),
    ({"title": "x", "slug": "x", "checker": "custom", "checker_language": "python3"}, "checker_source"),
    ({"title": "x", "slug": "x", "checker_language": "cobol"}, "checker_language"),
    ({"title": "x", "slug": "x", "checker_source": "\0"}, "checker_source"),
    ({"title": "x", "slug": "x", "graders": ["nobody"]}, "graders"),
    ({"title": "x", "slug": "x", "graders": ["stu"]}, "graders"),  # a student cannot grade
    ({"title": "x", "slug": "x", "published": "maybe"}, "published"),
    ({"title": "x", "slug": "x", "publised": True}, "publised"),  # a typo is not ignored
]


@pytest.mark.parametrize(("payload", "field"), BAD_PROBLEMS)
def test_bad_problem_input_answers_400_naming_the_field(users: dict[str, User], problem: Problem,
                                                        payload: dict[str, Any], field: str) -> None:  # fmt: skip
    before = snapshot()
    response = as_(users, "owner").post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert snapshot() == before


def test_limits_are_checked_against_the_operators_maxima(users: dict[str, User], monkeypatch: Any) -> None:
    monkeypatch.setenv("EXECUTOR_MAX_MEMORY", "512")
    owner = as_(users, "owner")
    refused = owner.post(URL, {"title": "x", "slug": "x", "limits": {"memory": 1024}}, format="json")
    assert refused.status_code == 400 and "512" in refused.json()["limits.memory"][0]
    assert owner.post(URL, {"title": "x", "slug": "x", "limits": {"memory": 512}}, format="json").status_code == 201


def test_patch_changes_only_what_it_names(users: dict[str, User], problem: Problem) -> None:
    owner = as_(users, "owner")
    response = owner.patch(f"{URL}a-plus-b/", {"limits": {"memory": 256, "cpu_time": None}, "statement": "New."},
                           format="json")  # fmt: skip
    assert response.status_code == 200, response.json()
    problem.refresh_from_db()
    assert problem.memory == 256 and problem.cpu_time is None and problem.statement == "New."
    assert problem.title == "A + B" and problem.published
    assert sorted(problem.allowed_languages.values_list("pk", flat=True)) == ["c", "python3"]
    assert list(problem.graders.values_list("username", flat=True)) == ["hugo"]


def test_put_replaces_every_field_but_the_graders(users: dict[str, User], problem: Problem) -> None:
    response = as_(users, "helper").put(f"{URL}a-plus-b/", {"title": "Sum", "slug": "sum"}, format="json")
    assert response.status_code == 200, response.json()
    problem.refresh_from_db()
    assert problem.slug == "sum" and problem.title == "Sum" and problem.statement == ""
    assert problem.memory is None and problem.cpu_time is None and not problem.published
    assert not problem.allowed_languages.exists()
    assert list(problem.graders.values_list("username", flat=True)) == ["hugo"]
    assert as_(users, "helper").get(f"{URL}sum/").status_code == 200


def test_what_a_get_returns_can_be_put_back_unchanged(users: dict[str, User], problem: Problem) -> None:
    owner = as_(users, "owner")
    before = owner.get(f"{URL}a-plus-b/").json()
    response = owner.put(f"{URL}a-plus-b/", before, format="json")
    assert response.status_code == 200, response.json()
    after = response.json()
    assert {k: v for k, v in after.items() if k != "updated_at"} == {k: v for k, v in before.items()
                                                                     if k != "updated_at"}  # fmt: skip
    visible, _ = cases_of(problem)
    test = owner.get(f"{URL}a-plus-b/tests/{visible.pk}/").json()
    assert owner.put(f"{URL}a-plus-b/tests/{visible.pk}/", test, format="json").json() == test


def test_only_the_owner_and_admins_change_the_graders(users: dict[str, User], problem: Problem) -> None:
    helper = as_(users, "helper").patch(f"{URL}a-plus-b/", {"graders": ["hugo", "otto"]}, format="json")
    assert helper.status_code == 403 and "graders" in helper.json()["detail"]
    assert as_(users, "owner").patch(f"{URL}a-plus-b/", {"graders": ["otto"]}, format="json").status_code == 200
    assert list(problem.graders.values_list("username", flat=True)) == ["otto"]
    # hugo no longer grades it: it is now unpublished to him too
    Problem.objects.filter(pk=problem.pk).update(published=False)
    assert as_(users, "helper").get(f"{URL}a-plus-b/").status_code == 404
    assert as_(users, "admin").patch(f"{URL}a-plus-b/", {"graders": []}, format="json").status_code == 200
    assert not problem.graders.exists()


def test_a_bad_update_answers_400_and_changes_nothing(users: dict[str, User], problem: Problem) -> None:
    problem_services.problem_create(owner=users["owner"], title="Other", slug="other")
    before = snapshot()
    owner = as_(users, "owner")
    for payload, field in [({"slug": "other"}, "slug"), ({"limits": {"memory": 10**7}}, "limits.memory"),
                           ({"checker": "custom"}, "checker_language"), ({"title": "ok", "graders": ["x"]}, "graders"),
                           ({"allowed_languages": ["cobol"], "title": "ok"}, "allowed_languages")]:  # fmt: skip
        response = owner.patch(f"{URL}a-plus-b/", payload, format="json")
        assert response.status_code == 400 and field in response.json(), (payload, response.json())
    assert snapshot() == before


def test_a_problem_with_submissions_is_deleted_only_when_forced(users: dict[str, User], problem: Problem) -> None:
    services.submission_create(owner=users["student"], language_id="python3", source="print(3)", problem=problem)
    owner = as_(users, "owner")
    refused = owner.delete(f"{URL}a-plus-b/")
    assert refused.status_code == 409 and "1 submissions" in refused.json()["detail"]
    assert Problem.objects.filter(pk=problem.pk).exists()
    assert owner.delete(f"{URL}a-plus-b/?force=true").status_code == 204
    assert not Problem.objects.filter(pk=problem.pk).exists() and not Submission.objects.exists()


def test_a_method_no_operation_handles_is_405_listing_the_others(users: dict[str, User], problem: Problem) -> None:
    response = as_(users, "admin").delete(URL)
    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert as_(users, "admin").post(f"{URL}a-plus-b/", {}, format="json").status_code == 405
    assert client(None).delete(URL).status_code == 401


# ---------------------------------------------------------------------------------------------- test cases ----


def test_tests_are_created_in_order_and_changed(users: dict[str, User], problem: Problem) -> None:
    owner = as_(users, "owner")
    created = owner.post(f"{URL}a-plus-b/tests/", {"stdin": "a\r\nb", "expected_output": "ü\n", "points": 3,
                                                   "name": "crlf"}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["order"] == 3 and body["points"] == 3 and body["visible"] is False and body["stdin"] == "a\r\nb"
    test = TestCase.objects.get(pk=body["id"])
    assert test.problem == problem and test.expected_output == "ü\n"
    changed = owner.patch(f"{URL}a-plus-b/tests/{test.pk}/", {"visible": True, "order": 0}, format="json")
    assert changed.status_code == 200 and changed.json()["stdin"] == "a\r\nb"
    test.refresh_from_db()
    assert test.visible and test.order == 0 and test.points == 3
    replaced = owner.put(f"{URL}a-plus-b/tests/{test.pk}/", {"stdin": "x"}, format="json").json()
    assert replaced["expected_output"] == "" and replaced["points"] == 1 and replaced["order"] == 0
    assert owner.delete(f"{URL}a-plus-b/tests/{test.pk}/").status_code == 204
    assert not TestCase.objects.filter(pk=test.pk).exists()


BAD_TESTS = [
    ({"stdin": "1\0"}, "stdin"),
    ({"expected_output": "\0"}, "expected_output"),
    ({"name": "n" * 101}, "name"),
    ({"name": "a\0"}, "name"),
    ({"points": -1}, "points"),
    ({"points": 10**7}, "points"),
    ({"order": -1}, "order"),
    ({"visible": "perhaps"}, "visible"),
    ({"stdin": 5, "input": "x"}, "input"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_TESTS)
def test_bad_test_input_answers_400_naming_the_field(users: dict[str, User], problem: Problem,
                                                     payload: dict[str, Any], field: str) -> None:  # fmt: skip
    visible, _ = cases_of(problem)
    before = snapshot()
    owner = as_(users, "owner")
    for response in (owner.post(f"{URL}a-plus-b/tests/", payload, format="json"),
                     owner.patch(f"{URL}a-plus-b/tests/{visible.pk}/", payload, format="json")):  # fmt: skip
        assert response.status_code == 400 and field in response.json(), response.json()
    assert snapshot() == before


def test_test_sizes_and_counts_are_capped(users: dict[str, User], problem: Problem, monkeypatch: Any) -> None:
    owner = as_(users, "owner")
    monkeypatch.setattr(problem_services, "MAX_TEST_FIELD_BYTES", 1000)
    big = owner.post(f"{URL}a-plus-b/tests/", {"stdin": "é" * 501}, format="json")  # 1002 bytes
    assert big.status_code == 400 and "stdin" in big.json()
    assert owner.post(f"{URL}a-plus-b/tests/", {"expected_output": "é" * 500}, format="json").status_code == 201
    monkeypatch.setattr(problem_services, "MAX_PROBLEM_TEST_CHARS", 1000)
    total = owner.post(f"{URL}a-plus-b/tests/", {"stdin": "x" * 600}, format="json")
    assert total.status_code == 400 and "tests" in total.json()
    monkeypatch.setattr(problem_services, "MAX_TESTS", 3)
    many = owner.post(f"{URL}a-plus-b/tests/", {"stdin": "1"}, format="json")
    assert many.status_code == 400 and "at most 3" in many.json()["tests"][0]
    assert problem.test_cases.count() == 3


def test_the_real_cap_is_16_mib_per_test(users: dict[str, User], problem: Problem) -> None:
    response = as_(users, "owner").post(f"{URL}a-plus-b/tests/", {"stdin": "x" * (16 * 1024 * 1024 + 1)},
                                        format="json")  # fmt: skip
    assert response.status_code == 400 and "16 MiB" in response.json()["stdin"][0]


# ------------------------------------------------------------------------------------------ import, export ----


def state(problem: Problem) -> dict[str, Any]:
    """Everything of a problem that an archive carries."""
    problem.refresh_from_db()
    fields = ["title", "slug", "statement", "cpu_time", "wall_time", "memory", "processes", "output", "checker",
              "float_abs_tolerance", "float_rel_tolerance", "checker_language_id", "checker_source",
              "stop_on_first_failure"]  # fmt: skip
    return {
        **{name: getattr(problem, name) for name in fields},
        "allowed_languages": sorted(problem.allowed_languages.values_list("pk", flat=True)),
        "tests": list(problem.test_cases.order_by("order", "id").values_list(
            "order", "name", "stdin", "expected_output", "points", "visible")),
    }  # fmt: skip


@pytest.fixture
def rich(users: dict[str, User], problem: Problem) -> Problem:
    """The problem with everything an archive can carry set to something other than its default."""
    problem_services.problem_update(
        problem, statement="# A + B\r\n\nÜnïcode ✓ and `code`.\n", limits={"wall_time": 3.5, "processes": 4,
                                                                           "output": 32},
        checker="custom", checker_language="python3", checker_source="import sys\nsys.exit(0)\n",
        float_abs_tolerance=0.25, float_rel_tolerance=0.0, stop_on_first_failure=True,
    )  # fmt: skip
    problem_services.test_case_create(problem, stdin="", expected_output="", order=10, visible=True)
    problem_services.test_case_create(problem, stdin="a\r\nb\n\n", expected_output="ü ✓\n", order=10, points=0)
    return problem


def export(api: APIClient, slug: str) -> bytes:
    response = api.get(f"{URL}{slug}/export/")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_export_downloads_a_zip_in_the_documented_layout(users: dict[str, User], rich: Problem) -> None:
    response = as_(users, "helper").get(f"{URL}a-plus-b/export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="a-plus-b.zip"'
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert sorted(archive.namelist()) == ["checker/main.py", "problem.json", "statement.md"] + [
            f"tests/00{n}.{ext}" for n in range(1, 5) for ext in ("in", "out")]  # fmt: skip
        assert archive.read("tests/002.out") == b"12\n" and archive.read("checker/main.py").startswith(b"import")


def test_export_then_import_gives_an_identical_problem(users: dict[str, User], rich: Problem) -> None:
    owner = as_(users, "owner")
    expected = state(rich)
    data = export(owner, "a-plus-b")
    assert owner.delete(f"{URL}a-plus-b/").status_code == 204
    response = owner.post(f"{URL}import/", upload(data), format="multipart")
    assert response.status_code == 201, response.json()
    imported = Problem.objects.get(slug="a-plus-b")
    assert state(imported) == expected
    assert imported.owner == users["owner"] and not imported.published and not imported.graders.exists()
    assert export(owner, "a-plus-b") == data  # and exports the same bytes again


def test_import_with_replace_restores_the_problem_keeping_its_owner_graders_and_submissions(
    users: dict[str, User], rich: Problem
) -> None:
    helper = as_(users, "helper")
    expected = state(rich)
    data = export(helper, "a-plus-b")
    submission = services.submission_create(owner=users["student"], language_id="python3", source="1",
                                            problem=rich)  # fmt: skip
    problem_services.problem_update(rich, title="Changed", limits={"memory": 64}, checker="exact",
                                    allowed_languages=["c"])  # fmt: skip
    problem_services.test_case_create(rich, stdin="new")
    taken = helper.post(f"{URL}import/", upload(data), format="multipart")
    assert taken.status_code == 400 and "exists already" in taken.json()["problem.json"][0]
    response = helper.post(f"{URL}import/?replace=true", upload(data), format="multipart")
    assert response.status_code == 200, response.json()
    rich.refresh_from_db()
    assert state(rich) == expected
    assert rich.owner == users["owner"] and rich.published and list(rich.graders.all()) == [users["helper"]]
    assert Submission.objects.get(pk=submission.pk).problem == rich


def test_replace_needs_the_right_to_change_the_problem(users: dict[str, User], problem: Problem) -> None:
    before = snapshot()
    response = as_(users, "other_grader").post(f"{URL}import/?replace=true", upload(archives.valid()),
                                               format="multipart")  # fmt: skip
    assert response.status_code == 403
    assert snapshot() == before


def test_import_without_an_archive_is_400(users: dict[str, User]) -> None:
    assert "archive" in as_(users, "owner").post(f"{URL}import/", {}, format="multipart").json()


def _with(slug: str, **entries: Any) -> bytes:
    return archives.build({**archives.members(slug=slug), **entries})


def _many_members(slug: str) -> bytes:
    return archives.build([*archives.members(slug=slug).items(), *((f"junk/{i}", "") for i in range(2000))])


def _over_total(slug: str) -> bytes:
    return _with(slug, **{"tests/001.in": "1" * 700, "tests/002.in": "2" * 700})  # each under its cap


HOSTILE = {
    "traversal": (lambda slug: _with(slug, **{"../x": "evil"}), "../x"),
    "absolute": (lambda slug: _with(slug, **{"/etc/x": "evil"}), "/etc/x"),
    "symlink": (lambda slug: _with(slug, **{"tests/001.in": archives.symlink("tests/001.in")}), "tests/001.in"),
    "bomb": (lambda slug: archives.with_declared_size(_with(slug, **{"tests/001.in": "1" * 10**7}), "tests/001.in",
                                                      10), "tests/001.in"),
    "too many members": (_many_members, "archive"),
    "over the total size": (_over_total, "archive"),
    "invalid JSON": (lambda slug: _with(slug, **{"problem.json": "{nope"}), "problem.json"),
    "unknown field": (lambda slug: archives.valid(slug=slug, colour="red"), "problem.json"),
    "unknown nested field": (lambda slug: archives.valid(slug=slug, limits={"memory": 64, "swap": 0}),
                             "problem.json"),
    "not a zip": (lambda slug: b"PK\x03\x04 not really", "archive"),
    "NUL in a test": (lambda slug: _with(slug, **{"tests/002.out": "1\0"}), "tests/002.out"),
    # These pass the archive's checks and fail in the services, after the problem's row was written: all is undone.
    "limit above the maximum": (lambda slug: archives.valid(slug=slug, limits={"memory": 10**7}), "problem.json"),
    "unknown language": (lambda slug: archives.valid(slug=slug, allowed_languages=["cobol"]), "problem.json"),
    "points of the last test": (lambda slug: archives.valid(slug=slug, tests=[{}, {"points": 10**9}]),
                                "problem.json"),
}  # fmt: skip


@pytest.mark.parametrize("replace", [False, True], ids=["new", "replace"])
@pytest.mark.parametrize(("make", "member"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_archive_is_refused_naming_the_member_and_writes_nothing(
    users: dict[str, User], problem: Problem, make: Any, member: str, replace: bool, monkeypatch: Any
) -> None:
    monkeypatch.setattr(problem_services, "ARCHIVE_CAPS", replace_caps(total_bytes=1000))
    data = make("a-plus-b" if replace else "brand-new")
    before = snapshot()
    response = as_(users, "owner").post(f"{URL}import/{'?replace=true' if replace else ''}", upload(data),
                                        format="multipart")  # fmt: skip
    assert response.status_code == 400 and member in response.json(), response.json()
    assert snapshot() == before


def replace_caps(**changes: int) -> Any:
    return replace(problem_services.ARCHIVE_CAPS, **changes)


def test_an_archive_larger_than_the_upload_cap_is_refused(users: dict[str, User], monkeypatch: Any) -> None:
    monkeypatch.setattr(problem_services, "ARCHIVE_CAPS", replace_caps(archive_bytes=100))
    response = as_(users, "owner").post(f"{URL}import/", upload(archives.valid()), format="multipart")
    assert response.status_code == 400 and "larger than" in response.json()["archive"][0]
    assert not Problem.objects.exists()


def test_an_imported_problem_names_its_archive_fields_in_errors(users: dict[str, User], languages: Any) -> None:
    response = as_(users, "owner").post(f"{URL}import/", upload(archives.valid(checker={"kind": "custom"})),
                                        format="multipart")  # fmt: skip
    assert response.status_code == 400 and response.json()["problem.json"][0].startswith("checker.language:")
    too_big = as_(users, "owner").post(f"{URL}import/", upload(archives.valid(limits={"memory": 4096})),
                                       format="multipart")  # fmt: skip
    assert too_big.json() == {"problem.json": ["limits.memory: 4096 is above the maximum of 2048"]}
    statement = archives.build({**archives.members(), "statement.md": "x" * (1024 * 1024 + 1)})
    assert "statement.md" in as_(users, "owner").post(f"{URL}import/", upload(statement), format="multipart").json()
    assert not Problem.objects.exists()


# ------------------------------------------------------------------------------------------------- scores ----


def finish(submission: Submission, score: int, verdict: str, at: datetime) -> None:
    Submission.objects.filter(pk=submission.pk).update(created_at=at)
    started = services.submission_start(submission.pk, "worker")
    assert started is not None
    result = replace(grade_result(outcome(1, points=score)), verdict=verdict, max_score=3)
    assert services.submission_record_result(submission.pk, started.attempts, result, scratch=False)


def submit(user: User, problem: Problem) -> Submission:
    return services.submission_create(owner=user, language_id="python3", source="print(3)", problem=problem)


@pytest.fixture
def scored(users: dict[str, User], problem: Problem) -> dict[str, Any]:
    """amy: three finished (1, 3, 1) and a Run of the examples; bob: one still queued; cat: two of 3 points, then
    one running; +mel: one compile error; dan: a Run of the examples only; the owner and an admin also submitted
    (not students: not in the scores)."""
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    amy, bob, cat, mel = (make_user(name, "student") for name in ("amy", "bob", "cat", "+mel"))
    subs: dict[str, Any] = {}
    for i, (score, verdict) in enumerate([(1, Verdict.WRONG_ANSWER), (3, Verdict.ACCEPTED),
                                          (1, Verdict.WRONG_ANSWER)]):  # fmt: skip
        subs[f"amy{i}"] = submit(amy, problem)
        finish(subs[f"amy{i}"], score, verdict, t0 + timedelta(minutes=i))
    subs["bob0"] = submit(bob, problem)
    for i in range(2):
        subs[f"cat{i}"] = submit(cat, problem)
        finish(subs[f"cat{i}"], 3, Verdict.ACCEPTED, t0 + timedelta(minutes=10 + i))
    subs["cat2"] = submit(cat, problem)
    services.submission_start(subs["cat2"].pk, "worker")
    subs["mel0"] = submit(mel, problem)
    finish(subs["mel0"], 0, Verdict.COMPILE_ERROR, t0 + timedelta(hours=1))
    for role in ("owner", "admin"):
        finish(submit(users[role], problem), 3, Verdict.ACCEPTED, t0)
    for who in (amy, make_user("dan", "student")):  # Runs of the examples: not graded, not in the scores
        run = submit(who, problem)
        Submission.objects.filter(pk=run.pk).update(examples_only=True)
        finish(run, 3, Verdict.ACCEPTED, t0 + timedelta(hours=2))
    other = problem_services.problem_create(owner=users["owner"], title="Other", slug="other", published=True)
    finish(submit(amy, other), 3, Verdict.ACCEPTED, t0)  # another problem's: not counted
    return subs


def test_scores_csv_has_one_row_per_student_with_best_and_last(users: dict[str, User], problem: Problem,
                                                              scored: dict[str, Any]) -> None:  # fmt: skip
    response = as_(users, "helper").get(f"{URL}a-plus-b/scores.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="a-plus-b-scores.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["username", "best_score", "best_token", "best_verdict", "best_submitted_at", "last_score",
                       "last_token", "last_verdict", "last_submitted_at", "submissions"]  # fmt: skip
    s = {key: str(sub.token) for key, sub in scored.items()}
    assert rows[1:] == [
        ["'+mel", "0", s["mel0"], "compile_error", "2024-05-01T13:00:00+00:00",
         "0", s["mel0"], "compile_error", "2024-05-01T13:00:00+00:00", "1"],
        ["amy", "3", s["amy1"], "accepted", "2024-05-01T12:01:00+00:00",
         "1", s["amy2"], "wrong_answer", "2024-05-01T12:02:00+00:00", "3"],
        ["bob", "", "", "", "", "", "", "", "", "1"],
        ["cat", "3", s["cat0"], "accepted", "2024-05-01T12:10:00+00:00",
         "3", s["cat1"], "accepted", "2024-05-01T12:11:00+00:00", "3"],
    ]  # fmt: skip


def test_scores_take_a_fixed_number_of_queries(users: dict[str, User], problem: Problem, scored: dict[str, Any],
                                               django_assert_max_num_queries: Any) -> None:  # fmt: skip
    admin = as_(users, "admin")
    with django_assert_max_num_queries(7):
        few = admin.get(f"{URL}a-plus-b/scores.csv")
    for i in range(10):
        finish(submit(make_user(f"extra{i}", "student"), problem), i % 4, Verdict.WRONG_ANSWER, datetime.now(UTC))
    with django_assert_max_num_queries(7):
        many = admin.get(f"{URL}a-plus-b/scores.csv")
    assert len(many.content.decode().splitlines()) == len(few.content.decode().splitlines()) + 10


def test_scores_of_a_problem_without_submissions_are_just_the_header(users: dict[str, User],
                                                                     problem: Problem) -> None:  # fmt: skip
    assert as_(users, "owner").get(f"{URL}a-plus-b/scores.csv").content.decode().splitlines() == [
        "username,best_score,best_token,best_verdict,best_submitted_at,last_score,last_token,last_verdict,"
        "last_submitted_at,submissions"]  # fmt: skip


# ------------------------------------------------------------------------------------------------ fuzzing ----

# Loaded when the module is collected, from the app's own /api/schema/: every problems operation, with generated
# valid and invalid input, must never answer 5xx and must answer only what its schema documents.
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler()).include(
    path_regex=r"^/api/v1/problems/(import/|\{slug\}/(tests/.*|export/|scores\.csv)?)?$"
)
FUZZ_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzz_world(languages: Any) -> dict[str, Any]:
    """An admin's token (so the input gets past permissions) and a problem `p` with one test, which every
    generated slug and test id is pointed at (a random slug would only ever be a 404)."""
    admin = make_user("fuzz-admin", "admin")
    problem = problem_services.problem_create(owner=admin, title="P", slug="p", published=True)
    test = problem_services.test_case_create(problem, stdin="1\n", expected_output="1\n")
    return {"headers": {"Authorization": f"Token {Token.objects.create(user=admin).key}"}, "test_id": test.pk}




@pytest.mark.usefixtures("wsgi_keeps_the_test_connection")
@SCHEMA.parametrize()
@hypothesis.settings(max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "20")), deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck), database=None)  # fmt: skip
def test_the_problems_api_keeps_to_its_schema(case: Any, fuzz_world: dict[str, Any]) -> None:
    for name, value in (("slug", "p"), ("test_id", fuzz_world["test_id"])):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    case.call_and_validate(headers=fuzz_world["headers"], checks=FUZZ_CHECKS)


def test_the_fuzzing_covers_every_problems_operation() -> None:
    operations = {(r.ok().method.upper(), r.ok().path) for r in SCHEMA.get_all_operations()}
    assert operations == {
        ("GET", "/api/v1/problems/"), ("POST", "/api/v1/problems/"), ("POST", "/api/v1/problems/import/"),
        ("GET", "/api/v1/problems/{slug}/"), ("PUT", "/api/v1/problems/{slug}/"),
        ("PATCH", "/api/v1/problems/{slug}/"), ("DELETE", "/api/v1/problems/{slug}/"),
        ("GET", "/api/v1/problems/{slug}/export/"), ("GET", "/api/v1/problems/{slug}/scores.csv"),
        ("GET", "/api/v1/problems/{slug}/tests/"), ("POST", "/api/v1/problems/{slug}/tests/"),
        ("GET", "/api/v1/problems/{slug}/tests/{test_id}/"), ("PUT", "/api/v1/problems/{slug}/tests/{test_id}/"),
        ("PATCH", "/api/v1/problems/{slug}/tests/{test_id}/"), ("DELETE", "/api/v1/problems/{slug}/tests/{test_id}/"),
    }, operations  # fmt: skip
