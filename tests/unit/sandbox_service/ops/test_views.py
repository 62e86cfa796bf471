"""/healthz, /readyz and /metrics without Redis: who may read the metrics, what the database alone gives, and
probes that answer (and are never cached) when Redis does not."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from sandbox_service.core.services import Role, role_user_ensure
from sandbox_service.languages.models import Language
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status

TOKEN = "metrics-unit-token-0123456789"


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def user_of(role: str) -> User:
    return role_user_ensure(username=role, role=role, password="pw-ops-unit-1")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_the_probes_and_metrics_have_their_names_and_paths() -> None:
    assert [reverse(n) for n in ("ops-healthz", "ops-readyz", "ops-metrics")] == ["/healthz", "/readyz", "/metrics"]


def test_healthz_answers_ok_without_database_or_redis(client: Client, settings: Any) -> None:
    # No `db` fixture: any query fails this test; an unusable REDIS_URL fails any Redis call.
    settings.REDIS_URL = "no-such-scheme://nowhere"
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_healthz_and_readyz_refuse_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_it_does_not_answer(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503 and "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "error: ConnectionError"
    assert body["checks"]["workers"].startswith("unknown")


def test_metrics_without_credentials_is_401_and_shows_no_metric(client: Client, token: str, db: Any) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert b"sandbox_" not in response.content


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", "Bearer ", f"Token {TOKEN}", "Basic YWRtaW46YWRtaW4="])
def test_metrics_with_wrong_credentials_is_403(client: Client, token: str, db: Any, authorization: str) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 403 and b"sandbox_" not in response.content


def test_metrics_with_no_token_configured_refuses_every_bearer(client: Client, settings: Any, db: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_metrics_with_the_token_is_the_prometheus_text_format(client: Client, token: str, db: Any) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-store" in response["Cache-Control"]
    assert {f.name for f in text_string_to_metric_families(response.content.decode())} >= {
        "sandbox_queue_depth", "sandbox_submissions_running", "sandbox_redis_up"}  # fmt: skip


@pytest.mark.parametrize(("role", "status"), [(Role.ADMIN, 200), (Role.GRADER, 403), (Role.STUDENT, 403)])
def test_metrics_for_a_session_is_for_admins_only(client: Client, db: Any, role: str, status: int) -> None:
    client.force_login(user_of(role))
    assert client.get("/metrics").status_code == status


def test_metrics_with_redis_down_still_count_queues_and_running_from_the_database_in_one_query(
    client: Client, token: str, languages: list[Language], student: User, django_assert_num_queries: Any
) -> None:
    for queue, status in [(Queue.INTERACTIVE, Status.QUEUED), (Queue.INTERACTIVE, Status.QUEUED),
                          (Queue.INTERACTIVE, Status.RUNNING), (Queue.INTERACTIVE, Status.FINISHED),
                          (Queue.GRADING, Status.RUNNING)]:  # fmt: skip
        Submission.objects.create(owner=student, language_id="python3", source="", queue=queue, status=status)
    with django_assert_num_queries(1):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    got = samples(response.content.decode())
    assert got[("sandbox_queue_depth", (("queue", "interactive"),))] == 2
    assert got[("sandbox_queue_depth", (("queue", "grading"),))] == 0  # every queue, even an empty one
    assert got[("sandbox_submissions_running", ())] == 2
    assert got[("sandbox_redis_up", ())] == 0
    # what only Redis knows is left out rather than reported as zero
    assert not any(name.startswith(("sandbox_workers", "sandbox_submissions_finished")) for name, _ in got)
