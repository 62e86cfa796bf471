"""Every Judge0 endpoint needs an API token: without a valid one the answer is Judge0's 401 with an empty body."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sandbox_service.submissions.models import Submission
from tests.unit.sandbox_service.judge0.conftest import URL, create

pytestmark = pytest.mark.django_db

TOKEN = str(uuid.uuid4())
ENDPOINTS = [
    ("post", "/submissions"), ("get", "/submissions"), ("get", f"/submissions/{TOKEN}"),
    ("delete", f"/submissions/{TOKEN}"), ("post", "/submissions/batch"), ("get", f"/submissions/batch?tokens={TOKEN}"),
    ("get", "/languages"), ("get", "/languages/all"), ("get", "/languages/71"), ("get", "/statuses"),
    ("get", "/about"), ("get", "/version"), ("get", "/config_info"), ("get", "/system_info"), ("get", "/workers"),
    ("post", "/authenticate"), ("post", "/authorize"),
]  # fmt: skip


def call(client: APIClient, method: str, path: str) -> Any:
    body = {"source_code": "print(1)", "language_id": 71} if method == "post" else None
    return getattr(client, method)(f"{URL}{path}", body, format="json")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_answers_401_with_an_empty_body_without_a_token(j0_languages: Any, method: str,
                                                                        path: str) -> None:  # fmt: skip
    response = call(APIClient(), method, path)
    assert response.status_code == 401 and response.content == b""
    assert not Submission.objects.exists()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_answers_401_to_a_wrong_token(j0_languages: Any, token: Token, method: str, path: str) -> None:
    api = APIClient()
    api.credentials(HTTP_X_AUTH_TOKEN=token.key[:-1] + ("0" if token.key[-1] != "0" else "1"))
    response = call(api, method, path)
    assert response.status_code == 401 and response.content == b""


def test_an_inactive_users_token_is_refused(j0_languages: Any, student: User, token: Token) -> None:
    student.is_active = False
    student.save()
    api = APIClient()
    api.credentials(HTTP_X_AUTH_TOKEN=token.key)
    assert api.get(f"{URL}/languages").status_code == 401


def test_a_session_login_is_not_a_token(j0_languages: Any, student: User) -> None:
    api = APIClient()
    api.force_login(student)
    assert api.get(f"{URL}/statuses").status_code == 401


def test_x_auth_token_and_authorization_token_headers_are_both_accepted(j0_languages: Any, token: Token) -> None:
    judge0_style, drf_style = APIClient(), APIClient()
    judge0_style.credentials(HTTP_X_AUTH_TOKEN=token.key)
    drf_style.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for api in (judge0_style, drf_style):
        assert api.post(f"{URL}/authenticate").status_code == 200
        assert create(api).status_code == 201
    assert set(Submission.objects.values_list("owner__username", flat=True)) == {"student"}


def test_authorize_is_200_for_graders_and_403_with_an_empty_body_for_students(
    client: APIClient, grader_client: APIClient
) -> None:
    refused = client.post(f"{URL}/authorize")
    assert refused.status_code == 403 and refused.content == b""
    assert grader_client.post(f"{URL}/authorize").status_code == 200


def test_a_method_a_path_does_not_have_is_a_404_as_in_rails(client: APIClient) -> None:
    assert client.put(f"{URL}/submissions", {}, format="json").status_code == 404
    assert client.post(f"{URL}/languages", {}, format="json").status_code == 404


def test_paths_without_a_trailing_slash_are_not_redirected(client: APIClient) -> None:
    response = create(client)
    assert response.status_code == 201  # POST /judge0/submissions itself, no APPEND_SLASH redirect
    assert client.get(f"{URL}/statuses/").status_code == 200  # a trailing slash is tolerated, as by Rails
