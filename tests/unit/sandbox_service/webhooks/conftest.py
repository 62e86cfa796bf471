from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from sandbox_service.languages.models import Language
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status, Verdict
from tests.unit.sandbox_service.webhooks.receiver import Receiver

SECRET = "whsec-unit-test"


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A recording HTTP server, the only host on the allow-list; a known secret, a short timeout."""
    with Receiver() as server:
        settings.WEBHOOK_ALLOWED_HOSTS = [server.host]
        settings.WEBHOOK_SECRET = SECRET
        settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
        settings.WEBHOOK_MAX_ATTEMPTS = 6
        yield server


def finished_submission(owner: User, callback_url: str, **fields: Any) -> Submission:
    """A finished scratch run whose webhook is pending (as submission_record_result leaves it)."""
    values: dict[str, Any] = {
        "language": Language.objects.get(pk="python3"), "source": "print('hi')", "status": Status.FINISHED,
        "verdict": Verdict.ACCEPTED, "finished_at": timezone.now(), "stdout": b"hi\n", "exit_code": 0,
        "cpu_time": 0.01, "wall_time": 0.02, "memory": 4096, "callback_url": callback_url,
        "callback_status": "pending" if callback_url else "",
    }  # fmt: skip
    values.update(fields)
    return Submission.objects.create(owner=owner, **values)
