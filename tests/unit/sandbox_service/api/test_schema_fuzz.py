"""Schemathesis against the running app (in process, through WSGI), from the schema it serves at /api/schema/:
every native operation this module covers, with generated valid and invalid input, must never answer 5xx and
must answer only the statuses, content types and bodies its schema documents. 20 examples per operation by
default (a few seconds); API_FUZZ_EXAMPLES=1000 for a deeper run."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sandbox_service.api.permissions import ADMIN, STUDENT
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from tests.unit.sandbox_service.api.test_submissions_api import finish, make_user

# The operations of the native API's submissions, tokens and languages (problems' CRUD is fuzzed with its own).
OPERATIONS = r"^/api/v1/(languages|tokens|submissions|problems/\{slug\}/rejudge)"
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))  # per operation
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection(wsgi_keeps_the_test_connection: None) -> None:
    """Every test here calls the WSGI app directly."""


@pytest.fixture(params=["admin", "student"])
def auth(request: pytest.FixtureRequest, languages: Any, settings: Any) -> dict[str, str]:
    """A token of an admin (every operation allowed: the fuzzing reaches the services) or of a student (the refusals),
    a problem with a finished submission by each, and no request-rate limits (a documented 429 would end the
    exploration early)."""
    settings.API_WAIT_MAX_SECONDS = 0
    settings.API_THROTTLE_RATES = {"read": None, "submit": None, "write": None}
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 10**6}
    cache.clear()
    admin = make_user("fuzz-admin", ADMIN)
    student = make_user("fuzz-student", STUDENT)
    problem = Problem.objects.create(title="P", slug="p", published=True, owner=admin)
    TestCase.objects.create(problem=problem, order=1, visible=False)
    for owner in (admin, student):
        finish(services.submission_create(owner=owner, language_id="python3", source="print(1)", problem=problem))
    user = admin if request.param == "admin" else student
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


# Loaded when the module is collected, from the app's own /api/schema/ (served without credentials or database).
# (schemathesis.pytest.from_fixture would load it per test, but it reads a private attribute pytest 9 dropped.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler()).include(path_regex=OPERATIONS)


@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_native_api_keeps_to_its_schema(case: Any, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth, checks=CHECKS)


def test_the_fuzzing_covers_the_native_operations() -> None:
    operations = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert operations == {
        ("GET", "/api/v1/languages/"), ("GET", "/api/v1/tokens/"), ("POST", "/api/v1/tokens/"),
        ("DELETE", "/api/v1/tokens/{token_id}/"), ("GET", "/api/v1/submissions/"), ("POST", "/api/v1/submissions/"),
        ("POST", "/api/v1/submissions/batch/"), ("GET", "/api/v1/submissions/{token}/"),
        ("POST", "/api/v1/submissions/{token}/rejudge/"), ("POST", "/api/v1/problems/{slug}/rejudge/"),
    }, operations


@pytest.mark.django_db
def test_real_objects_keep_to_the_schema(languages: Any, settings: Any) -> None:
    """Random input seldom finds a real submission: the answers about real ones, in each state, checked the same way
    (a finished graded one with its results, a finished scratch run, a queued one, lists, rejudges, tokens)."""
    settings.API_WAIT_MAX_SECONDS = 0
    cache.clear()
    admin = make_user("schema-admin", ADMIN)
    auth = {"Authorization": f"Token {Token.objects.create(user=admin).key}"}
    problem = Problem.objects.create(title="P", slug="p", published=True, owner=admin)
    TestCase.objects.create(problem=problem, order=1, visible=False)
    graded = finish(services.submission_create(owner=admin, language_id="python3", source="1", problem=problem))
    scratch = finish(services.submission_create(owner=admin, language_id="python3", source="1", stdin="x"))
    queued = services.submission_create(owner=admin, language_id="c", source="int main(){}", args=["a"],
                                        files=[{"name": "f", "content": "AA==", "encoding": "base64"}])  # fmt: skip
    calls: list[tuple[str, str, dict[str, Any], Any, int]] = [
        ("GET", "/api/v1/submissions/{token}/", {"token": str(graded.token)}, None, 200),
        ("GET", "/api/v1/submissions/{token}/", {"token": str(scratch.token)}, None, 200),
        ("GET", "/api/v1/submissions/{token}/", {"token": str(queued.token)}, None, 200),
        ("GET", "/api/v1/submissions/", {}, None, 200),
        ("POST", "/api/v1/submissions/", {}, {"language": "python3", "source": "1", "wait": True}, 202),
        ("POST", "/api/v1/submissions/batch/", {}, {"submissions": [{"language": "bash", "source": "echo"}]}, 201),
        ("POST", "/api/v1/submissions/{token}/rejudge/", {"token": str(graded.token)}, None, 202),
        ("POST", "/api/v1/submissions/{token}/rejudge/", {"token": str(graded.token)}, None, 409),
        ("POST", "/api/v1/problems/{slug}/rejudge/", {"slug": "p"}, None, 202),
        ("GET", "/api/v1/languages/", {}, None, 200),
        ("GET", "/api/v1/tokens/", {}, None, 200),
        ("POST", "/api/v1/tokens/", {}, {"name": "another"}, 201),
    ]  # fmt: skip
    for method, path, parameters, body, expected in calls:
        operation = schema[path][method]
        case = operation.Case(path_parameters=parameters, **({} if body is None else {"body": body}))
        response = case.call_and_validate(headers=auth, checks=CHECKS)
        assert response.status_code == expected, (method, path, response.status_code, response.text[:300])
    Token.objects.filter(user=admin).delete()
    basic = {"Authorization": "Basic " + base64.b64encode(b"schema-admin:pw-schema-1").decode()}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; Basic hashes per request
    admin.set_password("pw-schema-1")
    admin.save()
    created = schema["/api/v1/tokens/"]["POST"].Case().call_and_validate(headers=basic, checks=CHECKS)
    assert created.status_code == 201
    token_id = created.json()["id"]
    revoked = schema["/api/v1/tokens/{token_id}/"]["DELETE"].Case(path_parameters={"token_id": token_id})
    assert revoked.call_and_validate(headers=basic, checks=CHECKS).status_code == 204
