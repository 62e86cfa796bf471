"""Fixtures of the Piston API's unit tests: our six languages with real-looking versions, a token client, and a
fake worker standing in for the Celery worker and the sandbox (the real ones are in
tests/integration/sandbox_service/test_piston.py): it finishes the submission with the fields a test sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from sandbox_service.piston import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

VERSIONS = {"python3": "3.11.2", "c": "12.2.0", "cpp": "12.2.0", "java": "17.0.15", "javascript": "20.19.2",
            "bash": "5.2.15"}  # fmt: skip
COMPILED = ("c", "cpp", "java")
EXECUTE = "/piston/api/v2/execute"
RUNTIMES = "/piston/api/v2/runtimes"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # users are made per test


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    cache.clear()  # the throttle counts in the process-wide cache
    yield
    cache.clear()


@pytest.fixture
def runtimes(db: Any) -> dict[str, Language]:
    return {
        lang: Language.objects.create(id=lang, name=lang, version=version, compiled=lang in COMPILED, available=True)
        for lang, version in VERSIONS.items()
    }


@pytest.fixture
def token_client(student: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=student).key}")
    return client


@dataclass
class FakeWorker:
    """Replaces waiting for the real worker: finishes the submission at once with `fields` (a scratch run's
    result columns), or leaves it queued when `finish` is False."""

    fields: dict[str, Any] = field(default_factory=lambda: {"verdict": "accepted", "exit_code": 0})
    finish: bool = True
    waits: list[float] = field(default_factory=list)

    def __call__(self, submission: Submission, timeout: float) -> Submission:
        self.waits.append(timeout)
        if self.finish:
            Submission.objects.filter(pk=submission.pk).update(status=Status.FINISHED, **self.fields)
        submission.refresh_from_db()
        return submission


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> FakeWorker:
    fake = FakeWorker()
    monkeypatch.setattr(services, "wait_finished", fake)
    return fake


def execute(client: APIClient, headers: dict[str, str] | None = None, **body: Any) -> Any:
    """POST a job (python, any version, one file, unless the test says otherwise); `headers` as WSGI keys."""
    payload = {"language": "python", "version": "*", "files": [{"content": "print(1)"}], **body}
    return client.post(EXECUTE, payload, format="json", **(headers or {}))
