"""The minimal pages: a person can log in, pick a problem, submit, and see the result, without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def problem(languages: Any) -> Problem:
    problem = Problem.objects.create(title="A + B", slug="a-plus-b", published=True, statement="Add <b>two</b>.")
    TestCase.objects.create(problem=problem, order=1, stdin="1 2\n", expected_output="3\n", visible=True)
    TestCase.objects.create(problem=problem, order=2, stdin="secret\n", expected_output="hidden\n", visible=False)
    Problem.objects.create(title="Draft", slug="draft", published=False)
    return problem


def test_home_lists_published_problems_only(client: Client, problem: Problem) -> None:
    page = client.get("/").content.decode()
    assert "A + B" in page and "Draft" not in page


def test_a_problem_page_needs_a_login_and_shows_only_visible_examples(client: Client, problem: Problem,
                                                                      student: User) -> None:  # fmt: skip
    assert client.get("/problems/a-plus-b/").status_code == 302
    client.force_login(student)
    page = client.get("/problems/a-plus-b/").content.decode()
    assert "1 2" in page and "secret" not in page
    assert "Add &lt;b&gt;two&lt;/b&gt;." in page  # the statement is text, not HTML
    assert client.get("/problems/draft/").status_code == 404


def test_submitting_creates_a_submission_and_shows_its_page(
    client: Client, problem: Problem, student: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(student)
    source = "print('<script>alert(1)</script>')"
    with django_capture_on_commit_callbacks():
        response = client.post("/problems/a-plus-b/", {"language": "python3", "source": source})
    submission = Submission.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/submissions/{submission.token}/"
    page = client.get(response["Location"]).content.decode()
    assert "queued" in page and 'http-equiv="refresh"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_another_students_submission_page_is_404(client: Client, problem: Problem, student: User,
                                                 other_student: User) -> None:  # fmt: skip
    theirs = services.submission_create(owner=other_student, language_id="python3", source="print(1)",
                                        problem=problem)  # fmt: skip
    client.force_login(student)
    assert client.get(f"/submissions/{theirs.token}/").status_code == 404
