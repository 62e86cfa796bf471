"""Who may execute: a token by default; with PISTON_ALLOW_ANONYMOUS, anyone, as one service account, throttled
per client address at PISTON_ANONYMOUS_RATE."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from sandbox_service.piston.services import ANONYMOUS_USERNAME
from sandbox_service.submissions.models import Submission
from tests.unit.sandbox_service.piston.conftest import FakeWorker, execute

pytestmark = pytest.mark.django_db


def test_execute_without_a_token_answers_401_by_default(runtimes: dict[str, Language], worker: FakeWorker) -> None:
    response = execute(APIClient())
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json() == {"message": "Authentication credentials were not provided."}
    assert not Submission.objects.exists() and not User.objects.filter(username=ANONYMOUS_USERNAME).exists()


def test_an_authenticated_execution_is_owned_by_its_user(token_client: APIClient, student: User,
                                                         runtimes: dict[str, Language],
                                                         worker: FakeWorker) -> None:  # fmt: skip
    assert execute(token_client).status_code == 200
    assert Submission.objects.get().owner == student


def test_anonymous_executions_run_as_a_service_account_that_cannot_log_in(
    runtimes: dict[str, Language], worker: FakeWorker, settings: Any
) -> None:
    settings.PISTON_ALLOW_ANONYMOUS = True
    assert execute(APIClient()).status_code == 200
    assert execute(APIClient()).status_code == 200
    account = User.objects.get(username=ANONYMOUS_USERNAME)  # made once, on first use
    assert not account.has_usable_password() and not account.is_active and not account.is_staff
    assert list(Submission.objects.values_list("owner", flat=True)) == [account.pk, account.pk]


def test_anonymous_executions_are_throttled_per_address_with_retry_after(
    runtimes: dict[str, Language], worker: FakeWorker, settings: Any
) -> None:
    settings.PISTON_ALLOW_ANONYMOUS = True
    settings.PISTON_ANONYMOUS_RATE = "2/min"
    client = APIClient(REMOTE_ADDR="192.0.2.1")
    assert [execute(client).status_code for _ in range(2)] == [200, 200]
    throttled = execute(client)
    assert throttled.status_code == 429 and 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["message"].startswith("Request was throttled.")
    assert Submission.objects.count() == 2  # the refused one never became a submission
    assert execute(APIClient(REMOTE_ADDR="192.0.2.2")).status_code == 200  # another address has its own budget


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(runtimes: dict[str, Language], worker: FakeWorker,
                                                               settings: Any) -> None:  # fmt: skip
    settings.PISTON_ALLOW_ANONYMOUS = True
    settings.PISTON_ANONYMOUS_RATE = "1/min"
    client = APIClient(REMOTE_ADDR="192.0.2.1")
    assert execute(client, {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}).status_code == 200
    assert execute(client, {"HTTP_X_FORWARDED_FOR": "198.51.100.2"}).status_code == 429


def test_authenticated_users_are_not_held_by_the_anonymous_throttle(
    token_client: APIClient, runtimes: dict[str, Language], worker: FakeWorker, settings: Any
) -> None:
    settings.PISTON_ALLOW_ANONYMOUS = True
    settings.PISTON_ANONYMOUS_RATE = "1/min"
    assert [execute(token_client).status_code for _ in range(3)] == [200, 200, 200]


def test_the_anonymous_throttle_is_off_when_anonymous_use_is(token_client: APIClient, runtimes: dict[str, Language],
                                                             worker: FakeWorker, settings: Any) -> None:  # fmt: skip
    settings.PISTON_ANONYMOUS_RATE = "1/min"
    assert [execute(APIClient()).status_code for _ in range(2)] == [401, 401]  # refused, not throttled
