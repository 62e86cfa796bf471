"""GET /piston/api/v2/runtimes: our usable languages under Piston's names, aliases and our real versions."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from sandbox_service.piston.runtimes import runtime_find
from tests.unit.sandbox_service.piston.conftest import RUNTIMES


def test_runtimes_lists_our_languages_with_pistons_names_aliases_and_our_versions(
    token_client: APIClient, runtimes: dict[str, Language]
) -> None:
    response = token_client.get(RUNTIMES)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == [
        {"language": "bash", "version": "5.2.15", "aliases": ["sh"]},
        {"language": "c", "version": "12.2.0", "aliases": ["gcc"], "runtime": "gcc"},
        {"language": "c++", "version": "12.2.0", "aliases": ["cpp", "g++"], "runtime": "gcc"},
        {"language": "java", "version": "17.0.15", "aliases": []},
        {"language": "javascript", "version": "20.19.2", "aliases": ["node-javascript", "node-js", "javascript", "js"],
         "runtime": "node"},
        {"language": "python", "version": "3.11.2", "aliases": ["py", "py3", "python3", "python3.11"]},
    ]  # fmt: skip


def test_runtimes_has_the_documented_shape_byte_for_byte(token_client: APIClient,
                                                         runtimes: dict[str, Language]) -> None:  # fmt: skip
    # The readme's example entry: {"language": "bash", "version": "5.1.0", "aliases": ["sh"]} (with our version).
    assert b'{"language":"bash","version":"5.2.15","aliases":["sh"]}' in token_client.get(RUNTIMES).content


def test_disabled_and_unavailable_languages_are_not_runtimes(token_client: APIClient,
                                                             runtimes: dict[str, Language]) -> None:  # fmt: skip
    Language.objects.filter(pk="java").update(enabled=False)
    Language.objects.filter(pk="bash").update(available=False)
    names = [rt["language"] for rt in token_client.get(RUNTIMES).json()]
    assert names == ["c", "c++", "javascript", "python"]
    assert runtime_find("java", "*") is None and runtime_find("sh", "*") is None


def test_a_runtime_is_found_by_name_or_alias_and_version_range(runtimes: dict[str, Language]) -> None:
    for name in ("python", "py", "py3", "python3", "python3.11"):
        found = runtime_find(name, "3.x")
        assert found is not None and found.declaration.language_id == "python3", name
    assert runtime_find("c++", "^12").declaration.language_id == "cpp"  # type: ignore[union-attr]
    assert runtime_find("g++", "12.2.0").declaration.language_id == "cpp"  # type: ignore[union-attr]
    assert runtime_find("js", ">=18").declaration.language_id == "javascript"  # type: ignore[union-attr]
    assert runtime_find("gcc", "*").declaration.language_id == "c"  # type: ignore[union-attr]
    assert runtime_find("python", "2.x") is None  # a version we do not have
    assert runtime_find("Python", "*") is None  # names are case-sensitive, as in Piston
    assert runtime_find("python3", "3.11.2") is not None and runtime_find("cobol", "*") is None


def test_runtimes_need_a_token_unless_anonymous_use_is_on(db: Any, runtimes: dict[str, Language],
                                                          settings: Any) -> None:  # fmt: skip
    refused = APIClient().get(RUNTIMES)
    assert refused.status_code == 401 and refused.json() == {"message": "Authentication credentials were not provided."}
    assert refused["WWW-Authenticate"] == "Token"
    settings.PISTON_ALLOW_ANONYMOUS = True
    assert APIClient().get(RUNTIMES).status_code == 200


def test_a_bad_token_is_refused_even_when_anonymous_use_is_on(db: Any, runtimes: dict[str, Language],
                                                              settings: Any) -> None:  # fmt: skip
    settings.PISTON_ALLOW_ANONYMOUS = True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get(RUNTIMES)
    assert response.status_code == 401 and response.json() == {"message": "Invalid token."}


def test_basic_authentication_works_too(student: User, runtimes: dict[str, Language]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"student:pw-student-1").decode())
    assert client.get(RUNTIMES).status_code == 200
