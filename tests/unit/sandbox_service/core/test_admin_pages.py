"""The admin as each role sees it: every page renders with real data, each action works, a grader sees only what
they grade, list pages load no sources, sources are highlighted and outputs are text."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sandbox_service.core.models import Quota
from sandbox_service.core.services import Role, role_groups_ensure
from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Status

pytestmark = pytest.mark.django_db


def make(username: str, role: str) -> User:
    groups = role_groups_ensure()
    user = User.objects.create_user(username, password="pw-" + username + "-1", is_staff=role != Role.STUDENT,
                                    is_superuser=role == Role.ADMIN)  # fmt: skip
    user.groups.add(groups[role])
    return user


@pytest.fixture
def people(languages: Any) -> dict[str, User]:
    return {name: make(name, role) for name, role in
            [("boss", Role.ADMIN), ("tina", Role.GRADER), ("gus", Role.GRADER), ("sam", Role.STUDENT)]}  # fmt: skip


@pytest.fixture
def data(people: dict[str, User]) -> dict[str, Any]:
    """tina owns "mine" (with a submission by sam); gus owns "theirs" (with one by sam too)."""
    mine = Problem.objects.create(title="Mine", slug="mine", owner=people["tina"], published=True)
    theirs = Problem.objects.create(title="Theirs", slug="theirs", owner=people["gus"], published=True)
    case = TestCase.objects.create(problem=mine, order=1, stdin="1\n", expected_output="1\n", visible=True)
    TestCase.objects.create(problem=theirs, order=1, stdin="2\n", expected_output="2\n")
    on_mine = services.submission_create(owner=people["sam"], language_id="python3",
                                         source="print('<b>hi</b>')  # MARKER-SOURCE", problem=mine)  # fmt: skip
    on_theirs = services.submission_create(owner=people["sam"], language_id="python3", source="print(2)",
                                           problem=theirs)  # fmt: skip
    Submission.objects.filter(pk=on_mine.pk).update(
        status=Status.FINISHED, verdict="wrong_answer", finished_at=timezone.now(),
        compile_output=b"<script>alert(1)</script>", stdout=b"<i>out</i>")  # fmt: skip
    TestResult.objects.create(submission=on_mine, test_case=case, order=1, verdict="wrong_answer")
    scratch = services.submission_create(owner=people["sam"], language_id="bash", source="echo", stdin="x")
    Quota.objects.create(user=people["sam"], submissions_per_hour=5, note="a quota")
    Quota.objects.create(group=Group.objects.get(name=Role.STUDENT), max_cpu_time=3.0)
    return {"mine": mine, "theirs": theirs, "on_mine": on_mine, "on_theirs": on_theirs, "scratch": scratch}


def as_(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_admin_page_renders_with_real_data_for_an_admin(people: dict[str, User], data: dict[str, Any]) -> None:
    client = as_(people["boss"])
    assert client.get("/admin/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        if model_admin.has_add_permission(type("R", (), {"user": people["boss"]})()):  # type: ignore[arg-type]
            assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 200
        first = model._default_manager.first()
        if first is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert client.get(change).status_code == 200, change


def test_a_submission_page_highlights_the_source_and_shows_outputs_as_text(people: dict[str, User],
                                                                           data: dict[str, Any]) -> None:  # fmt: skip
    page = as_(people["boss"]).get(reverse("admin:submissions_submission_change", args=[data["on_mine"].pk]))
    html = page.content.decode()
    assert '<span style="color' in html and "MARKER-SOURCE" in html  # Pygments' colours
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "&lt;i&gt;out&lt;/i&gt;" in html


def test_the_submission_list_loads_no_source_or_output(people: dict[str, User], data: dict[str, Any]) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = as_(people["boss"]).get(reverse("admin:submissions_submission_changelist"))
    assert response.status_code == 200 and "MARKER-SOURCE" not in response.content.decode()
    selects = [q["sql"] for q in queries.captured_queries if "submissions_submission" in q["sql"]]
    assert selects and not any('"source"' in sql or '"stdout"' in sql or '"compile_output"' in sql for sql in selects)


def test_the_submission_list_filters_by_verdict_language_problem_user_and_date(
        people: dict[str, User], data: dict[str, Any]) -> None:  # fmt: skip
    client = as_(people["boss"])
    url = reverse("admin:submissions_submission_changelist")
    today = timezone.now()
    cases = {
        "verdict__exact=wrong_answer": 1, "language__id__exact=bash": 1, f"problem__id__exact={data['mine'].pk}": 1,
        f"owner__id__exact={people['sam'].pk}": 3, f"created_at__year={today.year}": 3, "q=theirs": 1,
    }  # fmt: skip
    for query, count in cases.items():
        page = client.get(f"{url}?{query}")
        assert page.status_code == 200 and page.context["cl"].result_count == count, query


def test_a_grader_sees_only_the_problems_and_submissions_they_grade(people: dict[str, User],
                                                                    data: dict[str, Any]) -> None:  # fmt: skip
    client = as_(people["tina"])
    problems = client.get(reverse("admin:problems_problem_changelist")).context["cl"].result_list
    assert [p.slug for p in problems] == ["mine"]
    submissions = client.get(reverse("admin:submissions_submission_changelist")).context["cl"].result_list
    assert [s.pk for s in submissions] == [data["on_mine"].pk]
    theirs = client.get(reverse("admin:problems_problem_change", args=[data["theirs"].pk]))
    assert theirs.status_code == 302  # Django's answer to an object outside the queryset: back to the index
    assert client.get(reverse("admin:submissions_submission_change", args=[data["on_theirs"].pk])).status_code == 302
    for forbidden in ("admin:core_quota_changelist", "admin:auth_user_changelist", "admin:api_apitoken_changelist"):
        assert client.get(reverse(forbidden)).status_code == 403, forbidden
    assert "rejudge" not in client.get(reverse("admin:submissions_submission_changelist")).content.decode()


def test_a_student_cannot_use_the_admin(people: dict[str, User], data: dict[str, Any]) -> None:
    response = as_(people["sam"]).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_user_list_shows_each_role_and_filters_by_it(people: dict[str, User]) -> None:
    client = as_(people["boss"])
    url = reverse("admin:auth_user_changelist")
    for role, names in ((Role.ADMIN, {"boss"}), (Role.GRADER, {"tina", "gus"}), (Role.STUDENT, {"sam"})):
        listed = client.get(f"{url}?role={role}").context["cl"].result_list
        assert {u.username for u in listed} == names, role
    assert "<td class=\"field-role\">grader</td>" in client.get(url).content.decode()


def test_rejudge_selected_requeues_on_the_grading_queue(people: dict[str, User], data: dict[str, Any],
                                                        django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = as_(people["boss"]).post(reverse("admin:submissions_submission_changelist"),
                                            {"action": "rejudge", "_selected_action": [data["on_mine"].pk]})
    assert response.status_code == 302 and len(sent) == 1
    rejudged = Submission.objects.get(pk=data["on_mine"].pk)
    assert rejudged.status == Status.QUEUED and rejudged.queue == "grading"


def zip_of(files: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    buffer.seek(0)
    buffer.name = "tests.zip"
    return buffer


def test_test_cases_upload_from_a_zip_in_natural_order(people: dict[str, User], data: dict[str, Any]) -> None:
    url = reverse("admin:problems_problem_upload_tests", args=[data["mine"].pk])
    client = as_(people["tina"])
    assert "Upload test cases" in client.get(reverse("admin:problems_problem_change", args=[data["mine"].pk])
                                             ).content.decode()  # fmt: skip
    archive = zip_of({"tests/10.in": "10\n", "tests/10.out": "100\n", "tests/2.in": "2\n", "tests/2.ans": "4\n"})
    response = client.post(url, {"archive": archive})
    assert response.status_code == 302
    tests = list(data["mine"].test_cases.order_by("order").values_list("order", "name", "stdin", "expected_output"))
    assert tests == [(1, "", "1\n", "1\n"), (2, "2", "2\n", "4\n"), (3, "10", "10\n", "100\n")]
    response = client.post(url, {"archive": zip_of({"a.in": "a\n", "a.out": "A\n"}), "replace": "on"})
    assert list(data["mine"].test_cases.values_list("name", flat=True)) == ["a"]


@pytest.mark.parametrize(("files", "error"), [
    ({"../evil.in": "x", "../evil.out": "y"}, "empty path components are not accepted"),
    ({"1.in": "x"}, "has no matching .out file"),
    ({"1.in": "x", "1.out": "y", "notes.txt": "z"}, "not a test file"),
    ({"1.in": "x", "1.out": "y", "1.ans": "z"}, "a second expected output"),
])  # fmt: skip
def test_a_bad_tests_zip_is_refused_naming_the_member_and_changes_nothing(
        people: dict[str, User], data: dict[str, Any], files: dict[str, str], error: str) -> None:  # fmt: skip
    before = list(data["mine"].test_cases.values_list("pk", flat=True))
    response = as_(people["tina"]).post(reverse("admin:problems_problem_upload_tests", args=[data["mine"].pk]),
                                        {"archive": zip_of(files), "replace": "on"})  # fmt: skip
    assert response.status_code == 400 and error in response.content.decode()
    assert list(data["mine"].test_cases.values_list("pk", flat=True)) == before


def test_a_grader_cannot_upload_tests_to_a_problem_they_do_not_grade(people: dict[str, User],
                                                                     data: dict[str, Any]) -> None:  # fmt: skip
    response = as_(people["tina"]).post(reverse("admin:problems_problem_upload_tests", args=[data["theirs"].pk]),
                                        {"archive": zip_of({"a.in": "a", "a.out": "b"})})  # fmt: skip
    assert response.status_code == 404 and data["theirs"].test_cases.count() == 1


def test_a_languages_default_limit_above_its_maximum_is_refused(people: dict[str, User], languages: Any) -> None:
    url = reverse("admin:languages_language_change", args=["python3"])
    form = {"enabled": "on", "cpu_time": "5", "wall_time": "10", "memory": "256", "processes": "64", "output": "1024",
            "max_cpu_time": "4"}  # fmt: skip
    response = as_(people["boss"]).post(url, form)
    assert response.status_code == 200 and "above this language" in response.content.decode()
    assert Language.objects.get(pk="python3").max_cpu_time is None
    form["max_cpu_time"] = "6"
    assert as_(people["boss"]).post(url, form).status_code == 302
    assert Language.objects.get(pk="python3").max_cpu_time == 6
