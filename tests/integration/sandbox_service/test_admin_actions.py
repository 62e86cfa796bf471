"""Admin actions against the real pipeline: a rejudge after a test case is fixed changes the verdict (a real
worker grades it again in the sandbox); the languages' self-test action runs each self-test in the sandbox."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

from .conftest import ServiceProcess, Users, wait_for


def finished(submission: Submission) -> Submission | None:
    submission.refresh_from_db()
    return submission if submission.status == Status.FINISHED else None


def test_a_rejudge_after_fixing_a_test_case_changes_the_verdict(
        users: Users, celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    problem = Problem.objects.create(title="Double", slug="double", owner=users.grader, published=True)
    case = TestCase.objects.create(problem=problem, order=1, stdin="21\n", expected_output="41\n")  # a typo
    submission = services.submission_create(owner=users.student, language_id="python3",
                                            source="print(2 * int(input()))", problem=problem)  # fmt: skip
    assert wait_for(lambda: finished(submission), 60).verdict == "wrong_answer"

    admin = Client()
    admin.force_login(users.admin)
    change = reverse("admin:problems_problem_change", args=[problem.pk])
    form = {"title": "Double", "slug": "double", "checker": "whitespace", "float_abs_tolerance": "1e-06",
            "float_rel_tolerance": "1e-06", "owner": users.grader.pk, "published": "on",
            "test_cases-TOTAL_FORMS": "1", "test_cases-INITIAL_FORMS": "1", "test_cases-0-id": case.pk,
            "test_cases-0-problem": problem.pk, "test_cases-0-order": "1", "test_cases-0-points": "1",
            "test_cases-0-stdin": "21\n", "test_cases-0-expected_output": "42\n"}  # fmt: skip
    response = admin.post(change, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    case.refresh_from_db()
    assert case.expected_output.strip() == "42"

    response = admin.post(reverse("admin:problems_problem_changelist"),
                          {"action": "rejudge", "_selected_action": [problem.pk]})  # fmt: skip
    assert response.status_code == 302  # queued again: the worker may already have taken it
    again = wait_for(lambda: Submission.objects.filter(pk=submission.pk, attempts=2, status=Status.FINISHED).first(),
                     60)  # fmt: skip
    assert again.verdict == "accepted" and again.queue == "grading"


def test_the_self_test_action_runs_each_selected_language_in_the_sandbox(users: Users) -> None:
    Language.objects.filter(pk__in=["python3", "bash"]).update(available=False, self_test_message="stale")
    admin = Client()
    admin.force_login(users.admin)
    response = admin.post(reverse("admin:languages_language_changelist"),
                          {"action": "self_test", "_selected_action": ["python3", "bash"]}, follow=True)  # fmt: skip
    assert "2 of 2 languages passed their self-test" in response.content.decode()
    rows = Language.objects.filter(pk__in=["python3", "bash"])
    assert all(row.available and row.self_test_message == "self-test passed" for row in rows)
