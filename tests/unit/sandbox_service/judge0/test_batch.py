"""POST and GET /submissions/batch: per-item tokens or errors in order, Judge0's batch size limit and messages,
all-or-nothing backpressure, and tokens answered in the order asked (null for unknown ones)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue
from tests.unit.sandbox_service.judge0.conftest import URL, create, finish

pytestmark = pytest.mark.django_db
VALID = {"language_id": 71, "source_code": "a,b=map(int,input().split())\nprint(a+b)", "stdin": "1 2",
         "expected_output": "3"}  # fmt: skip


def post(client: APIClient, submissions: Any, query: str = "") -> Any:
    return client.post(f"{URL}/submissions/batch{query}", {"submissions": submissions}, format="json")


def test_a_batch_answers_one_token_per_submission_in_order(client: APIClient) -> None:
    response = post(client, [VALID, {**VALID, "stdin": "10 20", "expected_output": "30"}, {**VALID, "language_id": 54}])
    assert response.status_code == 201
    tokens = [item["token"] for item in response.json()]
    assert [list(item) for item in response.json()] == [["token"]] * 3
    rows = {str(s.token): s for s in Submission.objects.all()}
    assert [rows[t].stdin for t in tokens] == ["1 2", "10 20", "1 2"] and rows[tokens[2]].language_id == "cpp"
    assert {s.queue for s in rows.values()} == {Queue.GRADING}  # bulk work never delays a single run


def test_an_invalid_item_gets_its_errors_in_its_place(client: APIClient) -> None:
    response = post(client, [VALID, {"source_code": "x"}, "not an object"])
    assert response.status_code == 201
    first, second, third = response.json()
    assert list(first) == ["token"]
    assert second == {"language_id": ["can't be blank", "language with id  doesn't exist"]}
    assert third == {"source_code": ["can't be blank"], "language_id": ["can't be blank",
                                                                        "language with id  doesn't exist"]}  # fmt: skip
    assert Submission.objects.count() == 1


def test_a_batch_with_no_valid_item_is_422(client: APIClient) -> None:
    response = post(client, [{"language_id": 71}])
    assert response.status_code == 422 and response.json() == [{"source_code": ["can't be blank"]}]


def test_base64_applies_to_every_item(client: APIClient) -> None:
    response = post(client, [{"language_id": 71, "source_code": "cHJpbnQoMSk="}], "?base64_encoded=true")
    assert response.status_code == 201
    assert Submission.objects.get().source == "print(1)"


@pytest.mark.parametrize(("submissions", "message"), [
    ([VALID] * 21, "number of submissions in a batch should be less than or equal to 20"),
    ([], "there should be at least one submission in a batch"),
    (None, "there should be at least one submission in a batch"),
])  # fmt: skip
def test_batch_size_is_checked_as_judge0_does(client: APIClient, submissions: Any, message: str) -> None:
    response = post(client, submissions)
    assert response.status_code == 400 and response.json() == {"error": message}
    assert not Submission.objects.exists()


def test_a_batch_that_does_not_fit_the_queue_is_refused_whole(client: APIClient, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "MAX_QUEUED": 2}
    response = post(client, [VALID] * 3)
    assert response.status_code == 503 and response.json() == {"error": "queue is full"}
    assert int(response["Retry-After"]) >= 1 and not Submission.objects.exists()


def test_a_batch_over_the_users_rate_is_rolled_back_whole(client: APIClient, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 2}
    response = post(client, [VALID] * 3)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert not Submission.objects.exists()


def test_a_batch_is_enqueued_only_once_committed(client: APIClient, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        assert post(client, [VALID, VALID]).status_code == 201
    assert len(callbacks) == 4  # each: logged as created, then enqueued


# --- GET ----------------------------------------------------------------------------------------------------------


def tokens_of(client: APIClient, count: int) -> list[str]:
    return [create(client).json()["token"] for _ in range(count)]


def test_get_answers_in_the_order_asked_with_null_for_unknown_tokens(client: APIClient,
                                                                      other_client: APIClient) -> None:  # fmt: skip
    first, second = tokens_of(client, 2)
    theirs = create(other_client).json()["token"]
    finish(first, stdout=b"3\n", cpu_time=0.025, memory=3884 * 1024)
    asked = [second, str(uuid.uuid4()), first, theirs, "junk"]
    response = client.get(f"{URL}/submissions/batch?tokens={','.join(asked)}&fields=token,status_id,stdout,time,memory")
    assert response.status_code == 200
    assert response.json() == {"submissions": [
        {"stdout": None, "status_id": 1, "time": None, "memory": None, "token": second},
        None,
        {"stdout": "3\n", "status_id": 3, "time": "0.025", "memory": 3884, "token": first},
        None,
        None,
    ]}  # fmt: skip


def test_tokens_may_come_in_a_header(client: APIClient) -> None:
    (token,) = tokens_of(client, 1)
    response = client.get(f"{URL}/submissions/batch?fields=token", HTTP_TOKENS=f" {token} ")
    assert response.json() == {"submissions": [{"token": token}]}


@pytest.mark.parametrize(("count", "message"), [
    (21, "number of submissions in a batch should be less than or equal to 20"),
    (0, "there should be at least one submission in a batch"),
])  # fmt: skip
def test_get_checks_the_batch_size(client: APIClient, count: int, message: str) -> None:
    tokens = ",".join(str(uuid.uuid4()) for _ in range(count))
    response = client.get(f"{URL}/submissions/batch?tokens={tokens}")
    assert response.status_code == 400 and response.json() == {"error": message}


def test_get_with_output_that_is_not_utf8_needs_base64(client: APIClient) -> None:
    (token,) = tokens_of(client, 1)
    finish(token, stdout=b"\xc3")
    response = client.get(f"{URL}/submissions/batch?tokens={token}")
    assert response.status_code == 400 and "one or more submissions" in response.json()["error"]
    encoded = client.get(f"{URL}/submissions/batch?tokens={token}&base64_encoded=true&fields=stdout")
    assert encoded.json() == {"submissions": [{"stdout": "ww==\n"}]}


def test_get_with_invalid_fields_is_400(client: APIClient) -> None:
    (token,) = tokens_of(client, 1)
    response = client.get(f"{URL}/submissions/batch?tokens={token}&fields=bogus")
    assert response.status_code == 400 and response.json() == {"error": "invalid fields: [bogus]"}
