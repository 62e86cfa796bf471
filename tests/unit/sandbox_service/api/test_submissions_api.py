"""The core's submission API: statuses and the fields named in errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from tests.unit.sandbox_service.submissions.test_services import grade_result, outcome

pytestmark = pytest.mark.django_db
URL = "/api/v1/submissions/"


@pytest.fixture
def client(student: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(student)
    return api


def test_anonymous_requests_are_refused(languages: Any) -> None:
    assert APIClient().post(URL, {"language": "python3", "source": "print(1)"}, format="json").status_code == 401


def test_create_answers_201_with_the_token(client: APIClient, languages: Any) -> None:
    response = client.post(URL, {"language": "python3", "source": "print(input())", "stdin": "hi\n"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["token"]
    assert Submission.objects.get(token=body["token"]).stdin == "hi\n"


@pytest.mark.parametrize(("payload", "field"), [
    ({"source": "x"}, "language"),
    ({"language": "python3"}, "source"),
    ({"language": "cobol", "source": "x"}, "language"),
    ({"language": "python3", "source": "x", "limits": {"memory": 10**7}}, "limits.memory"),
    ({"language": "python3", "source": "x", "files": [{"name": "/etc/x", "content": ""}]}, "files[0].name"),
    ({"language": "python3", "source": "x", "problem": "nope"}, "problem"),
])  # fmt: skip
def test_bad_input_answers_400_naming_the_field(client: APIClient, languages: Any, payload: dict[str, Any],
                                                field: str) -> None:  # fmt: skip
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Submission.objects.exists()


def test_rate_limit_answers_429_and_full_queue_503_with_retry_after(
    client: APIClient, languages: Any, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    assert client.post(URL, {"language": "python3", "source": "1"}, format="json").status_code == 201
    limited = client.post(URL, {"language": "python3", "source": "2"}, format="json")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 100, "MAX_QUEUED": 1}
    full = client.post(URL, {"language": "python3", "source": "3"}, format="json")
    assert full.status_code == 503 and int(full["Retry-After"]) >= 1
    assert Submission.objects.count() == 1  # the accepted one is kept, nothing half-written


def test_another_students_submission_is_404(client: APIClient, languages: Any, other_student: User) -> None:
    theirs = services.submission_create(owner=other_student, language_id="python3", source="print(1)")
    assert client.get(f"{URL}{theirs.token}/").status_code == 404


def test_a_students_view_withholds_hidden_tests_output(client: APIClient, languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="P", slug="p", published=True)
    visible = TestCase.objects.create(problem=problem, order=1, visible=True)
    hidden = TestCase.objects.create(problem=problem, order=2, visible=False)
    sub = services.submission_create(owner=student, language_id="python3", source="print(1)", problem=problem)
    services.submission_start(sub.pk, "w")
    first, second = outcome(1), outcome(2)
    result = grade_result(first, second)
    from dataclasses import replace

    result = replace(result, tests=[replace(first, test_case_id=visible.pk), replace(second, test_case_id=hidden.pk)])
    services.submission_record_result(sub.pk, 1, result, scratch=False)
    body = client.get(f"{URL}{sub.token}/").json()
    assert body["status"] == "finished" and [r["stdout"] for r in body["results"]] == ["out", ""]
