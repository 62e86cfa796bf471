"""The webhook task: retries with exponential backoff until delivered or out of attempts; duplicates are no-ops."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from sandbox_service.submissions.models import Submission
from sandbox_service.webhooks.tasks import deliver_webhook, retry_countdown
from tests.unit.sandbox_service.webhooks.conftest import finished_submission
from tests.unit.sandbox_service.webhooks.receiver import Answer, Receiver

pytestmark = pytest.mark.django_db


def test_the_backoff_doubles_from_the_base_and_is_capped_at_300_s(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_RETRY_BASE_SECONDS", raising=False)
    assert [retry_countdown(n) for n in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0.2")  # how the integration tests' worker gets it
    assert [retry_countdown(n) for n in range(3)] == [0.2, 0.4, 0.8]
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5  # a setting wins over the environment
    assert retry_countdown(1) == 10


def test_the_task_retries_until_delivered(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(500), Answer(500), Answer(200)]
    sub = finished_submission(student, receiver.url())
    result = deliver_webhook.apply(args=[sub.pk])  # eagerly: each retry runs at once, in this process
    assert result.get() == "delivered"
    row = Submission.objects.get(pk=sub.pk)
    assert (row.callback_status, row.callback_attempts, row.callback_error) == ("delivered", 3, "")
    assert len(receiver.received) == 3


def test_the_task_gives_up_after_the_maximum_attempts(
    languages: Any, student: User, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.default = Answer(500)
    sub = finished_submission(student, receiver.url())
    assert deliver_webhook.apply(args=[sub.pk]).get() == "failed"
    row = Submission.objects.get(pk=sub.pk)
    assert (row.callback_status, row.callback_attempts) == ("failed", 3) and len(receiver.received) == 3


def test_a_duplicate_task_after_delivery_sends_nothing(languages: Any, student: User, receiver: Receiver) -> None:
    sub = finished_submission(student, receiver.url())
    assert deliver_webhook.apply(args=[sub.pk]).get() == "delivered"
    assert deliver_webhook.apply(args=[sub.pk]).get() == "skipped"
    assert deliver_webhook.apply(args=[sub.pk + 1000]).get() == "skipped"  # no such submission
    assert len(receiver.received) == 1


def test_the_task_is_acked_late_and_keeps_no_result() -> None:
    assert deliver_webhook.acks_late is True and deliver_webhook.ignore_result is True
