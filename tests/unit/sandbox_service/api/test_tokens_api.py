"""API tokens: one's own only, the key shown once, revoked keys refused; real Basic and Token authentication."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sandbox_service.api.models import ApiToken

pytestmark = pytest.mark.django_db
URL = "/api/v1/tokens/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # Basic auth hashes per request


def basic(username: str, password: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{username}:{password}".encode()).decode())
    return api


def with_token(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


@pytest.fixture
def alice(db: Any) -> User:
    return User.objects.create_user("alice", password="alice-pw-1")


@pytest.fixture
def bob(db: Any) -> User:
    return User.objects.create_user("bob", password="bob-pw-1")


def test_a_created_tokens_key_is_shown_once_and_authenticates(alice: User) -> None:
    created = basic("alice", "alice-pw-1").post(URL, {"name": "laptop"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    key = body["key"]
    assert len(key) == 40 and body["prefix"] == key[:8] and body["name"] == "laptop" and body["created"]
    listed = with_token(key).get(URL)
    assert listed.status_code == 200
    (entry,) = listed.json()
    assert entry["id"] == body["id"] and entry["name"] == "laptop" and entry["prefix"] == key[:8]
    assert entry["last_used"] is not None  # the list itself used it
    assert key not in listed.content.decode()  # never the full key again
    assert not ApiToken.objects.filter(key_hash=key).exists()  # and it is not stored: only its hash
    assert with_token(key).get("/api/v1/languages/").status_code == 200


def test_a_body_may_be_left_out_but_unknown_fields_are_refused(alice: User) -> None:
    assert basic("alice", "alice-pw-1").post(URL).status_code == 201
    ApiToken.objects.all().delete()
    refused = basic("alice", "alice-pw-1").post(URL, {"scope": "all"}, format="json")
    assert refused.status_code == 400 and "scope" in refused.json()
    assert not ApiToken.objects.exists()


def test_several_named_tokens_per_account_each_revocable(alice: User) -> None:
    api = basic("alice", "alice-pw-1")
    ci = api.post(URL, {"name": "ci"}, format="json").json()
    ide = api.post(URL, {"name": "ide"}, format="json").json()
    assert ci["key"] != ide["key"]
    assert {t["name"] for t in api.get(URL).json()} == {"ci", "ide"}
    assert api.delete(f"{URL}{ci['id']}/").status_code == 204
    assert with_token(ci["key"]).get(URL).status_code == 401  # revoked
    assert with_token(ide["key"]).get(URL).status_code == 200  # the other still works


def test_one_may_revoke_the_token_one_is_using(alice: User) -> None:
    token, key = ApiToken.issue(alice, "x")
    assert with_token(key).delete(f"{URL}{token.pk}/").status_code == 204
    assert with_token(key).get(URL).status_code == 401


def test_anothers_token_is_neither_listed_nor_revocable(alice: User, bob: User) -> None:
    token, bobs = ApiToken.issue(bob, "bob's")
    api = basic("alice", "alice-pw-1")
    assert api.get(URL).json() == []
    assert api.delete(f"{URL}{token.pk}/").status_code == 404
    assert with_token(bobs).get(URL).status_code == 200


def test_unknown_token_ids_are_404(alice: User) -> None:
    token, key = ApiToken.issue(alice)
    api = with_token(key)
    for token_id in ("999999", "abc", "0"):
        assert api.delete(f"{URL}{token_id}/").status_code == 404, token_id
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_tokens_made_in_the_admin_still_authenticate(alice: User) -> None:
    key = Token.objects.create(user=alice).key  # DRF authtoken, as the admin makes them
    assert with_token(key).get(URL).status_code == 200
    alice.is_active = False
    alice.save()
    assert with_token(key).get(URL).status_code == 401


def test_anonymous_and_bad_credentials_are_401(alice: User) -> None:
    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(URL, {}, format="json").status_code == 401
    assert APIClient().delete(f"{URL}1/").status_code == 401
    assert basic("alice", "wrong").get(URL).status_code == 401
    assert with_token("0" * 40).get(URL).status_code == 401


def test_a_session_login_may_manage_tokens_with_its_csrf_token(alice: User) -> None:
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(alice)
    assert api.get(URL).status_code == 200
    assert api.post(URL, {}, format="json").status_code == 403  # a session write needs its CSRF token
