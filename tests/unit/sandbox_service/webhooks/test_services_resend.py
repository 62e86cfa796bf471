"""Recovery of webhooks whose task was lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status
from sandbox_service.webhooks.services import webhooks_resend_stale

pytestmark = pytest.mark.django_db


def test_a_pending_webhook_long_after_the_finish_is_sent_again(languages: Any, student: User, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    old = services.submission_create(owner=student, language_id="python3", source="1",
                                     callback_url="http://hooks.example/x")  # fmt: skip
    recent = services.submission_create(owner=student, language_id="python3", source="2",
                                        callback_url="http://hooks.example/y")  # fmt: skip
    Submission.objects.filter(pk=old.pk).update(status=Status.FINISHED,
                                                finished_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    Submission.objects.filter(pk=recent.pk).update(status=Status.FINISHED, finished_at=timezone.now())
    assert webhooks_resend_stale() == 1
