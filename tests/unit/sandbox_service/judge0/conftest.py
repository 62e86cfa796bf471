"""Fixtures of the Judge0 API tests: every executor language as a row (Java disabled by an admin, so that it shows
as Judge0 shows an archived language), users with API tokens, clients sending them as Judge0 clients do, and a way
to give a submission a result without a sandbox."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

URL = "/judge0"
VERSIONS = {"python3": "3.11.2", "c": "12.2.0", "cpp": "12.2.0", "java": "17.0.15", "javascript": "20.1.0",
            "bash": "5.2.15"}  # fmt: skip


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """The users of these tests never log in with a password: hashing it 10⁶ times would only make them slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def j0_languages(db: Any) -> list[Language]:
    return [Language.objects.create(id=lang, name=lang, version=version, available=True, enabled=lang != "java",
                                    compiled=lang in ("c", "cpp", "java"))
            for lang, version in VERSIONS.items()]  # fmt: skip


@pytest.fixture
def token(student: User) -> Token:
    return Token.objects.create(user=student)


@pytest.fixture
def client(token: Token, j0_languages: list[Language]) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_AUTH_TOKEN=token.key)
    return api


@pytest.fixture
def grader(db: Any) -> User:
    return User.objects.create_user("grader", password="pw-grader-1", is_staff=True)


@pytest.fixture
def grader_client(grader: User, j0_languages: list[Language]) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_AUTH_TOKEN=Token.objects.create(user=grader).key)
    return api


@pytest.fixture
def other_client(other_student: User, j0_languages: list[Language]) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_AUTH_TOKEN=Token.objects.create(user=other_student).key)
    return api


def create(client: APIClient, body: dict[str, Any] | None = None, query: str = "") -> Any:
    payload = {"source_code": "print(input())", "language_id": 71, **(body or {})}
    return client.post(f"{URL}/submissions{query}", payload, format="json")


def finish(submission: Submission | str, **fields: Any) -> Submission:
    """Give a submission a result as a worker would record it (defaults: accepted, small figures)."""
    token = submission.token if isinstance(submission, Submission) else submission
    values: dict[str, Any] = {"status": Status.FINISHED, "verdict": "accepted", "cpu_time": 0.0123,
                              "wall_time": 0.0456, "memory": 3 * 1024 * 1024, "exit_code": 0,
                              "finished_at": timezone.now()}  # fmt: skip
    values.update(fields)
    Submission.objects.filter(token=token).update(**values)
    return Submission.objects.select_related("language").get(token=token)


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
    return buffer.getvalue()

