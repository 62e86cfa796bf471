"""Webhooks through the whole pipeline: a real worker grades a submission, then POSTs it to a real HTTP server.

The worker reads its settings from its environment, so the allow-list, secret and retry base go to it there;
this process (which creates the submissions) gets them through the `settings` fixture.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.services import SubmissionError
from sandbox_service.webhooks.signing import webhook_verify
from tests.integration.sandbox_service.conftest import ServiceProcess, Users, wait_for
from tests.unit.sandbox_service.webhooks.receiver import Answer, Receiver

SECRET = "whsec-integration-test"
Factory = Callable[..., ServiceProcess]


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    with Receiver() as server:
        settings.WEBHOOK_ALLOWED_HOSTS = [server.host]
        settings.WEBHOOK_SECRET = SECRET
        yield server


def worker_settings(receiver: Receiver, **changes: object) -> dict[str, object]:
    return {"WEBHOOK_ALLOWED_HOSTS": receiver.host, "WEBHOOK_SECRET": SECRET, "WEBHOOK_RETRY_BASE_SECONDS": 0.2,
            "WEBHOOK_TIMEOUT": 5, **changes}  # fmt: skip


def callback_done(submission: Submission, timeout: float = 90.0) -> Submission:
    def done() -> Submission | None:
        row = Submission.objects.get(pk=submission.pk)
        return row if row.callback_status != "pending" else None

    return wait_for(done, timeout, interval=0.1, message="the webhook to be delivered or given up")


def test_a_finished_submission_is_posted_once_with_a_signature_that_verifies(
    users: Users, receiver: Receiver, celery_worker_factory: Factory
) -> None:
    celery_worker_factory(env=worker_settings(receiver))
    submission = services.submission_create(owner=users.student, language_id="bash", source='echo "hi $1"',
                                            args=["there"], callback_url=receiver.url("/hook?job=7"))  # fmt: skip
    row = callback_done(submission)
    assert (row.status, row.verdict, row.callback_status, row.callback_attempts) == (
        "finished", "accepted", "delivered", 1)  # fmt: skip
    time.sleep(1)  # a second POST would come now, if any
    (request,) = receiver.received
    assert request.path == "/hook?job=7" and request.headers["x-sandbox-event"] == "submission.finished"
    assert webhook_verify(SECRET, request.headers["x-sandbox-timestamp"], request.body,
                          request.headers["x-sandbox-signature"], max_age=300)  # fmt: skip
    payload = json.loads(request.body)
    assert payload["token"] == str(submission.token) and payload["verdict"] == "accepted"
    assert payload["stdout"] == "hi there\n" and payload["language"] == "bash" and payload["problem"] is None


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(
    users: Users, receiver: Receiver, celery_worker_factory: Factory
) -> None:
    receiver.answers = [Answer(500, b"try later"), Answer(500, b"try later"), Answer(200)]
    celery_worker_factory(env=worker_settings(receiver))
    submission = services.submission_create(owner=users.student, language_id="bash", source="echo 1",
                                            callback_url=receiver.url())  # fmt: skip
    row = callback_done(submission)
    assert (row.callback_status, row.callback_attempts, row.callback_error) == ("delivered", 3, "")
    assert len(receiver.received) == 3
    assert len({r.headers["x-sandbox-delivery"] for r in receiver.received}) == 1  # one event, three attempts
    bodies = [json.loads(r.body) for r in receiver.received]
    assert all(b["token"] == str(submission.token) for b in bodies)


def test_a_host_not_on_the_allow_list_is_refused_at_creation(users: Users, receiver: Receiver) -> None:
    with pytest.raises(SubmissionError) as refused:
        services.submission_create(owner=users.student, language_id="bash", source="echo 1",
                                   callback_url="http://127.0.0.2:9/hook")  # fmt: skip
    assert refused.value.field == "callback_url" and "allow-list" in refused.value.message
    assert not Submission.objects.exists()


def test_a_host_removed_from_the_allow_list_before_delivery_is_not_contacted(
    users: Users, receiver: Receiver, celery_worker_factory: Factory
) -> None:
    # Allowed here, when the submission is created; the worker's list (changed since) no longer has it.
    celery_worker_factory(env=worker_settings(receiver, WEBHOOK_ALLOWED_HOSTS="hooks.example.org"))
    submission = services.submission_create(owner=users.student, language_id="bash", source="echo 1",
                                            callback_url=receiver.url())  # fmt: skip
    row = callback_done(submission)
    assert (row.status, row.callback_status, row.callback_attempts) == ("finished", "failed", 1)
    assert "refused" in row.callback_error and "not on the operator's allow-list" in row.callback_error
    time.sleep(1)  # no retry comes either
    assert receiver.received == []
