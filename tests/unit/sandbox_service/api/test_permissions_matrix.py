"""Who may call what: every endpoint of the native API × student, the problem's grader, another grader, admin and
anonymous, with the status each gets. The world: problem `p` (published) owned by `grader`; the student's finished
submission to it and their finished scratch run; the student holds an API token."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from sandbox_service.api.models import ApiToken
from sandbox_service.api.permissions import ADMIN, GRADER, STUDENT
from sandbox_service.problems.models import Problem, TestCase
from tests.unit.sandbox_service.api.test_submissions_api import client_for, finish, make, make_user

pytestmark = pytest.mark.django_db
ROLES = ("student", "grader", "other_grader", "admin", "anonymous")
SCRATCH = {"language": "python3", "source": "print(1)"}
GRADED = {"language": "python3", "source": "print(1)", "problem": "p"}

# (operation, method, path, JSON body, expected status for each of ROLES)
MATRIX: list[tuple[str, str, str, Any, tuple[int, ...]]] = [
    ("languages list", "get", "/api/v1/languages/", None, (200, 200, 200, 200, 401)),
    ("tokens list", "get", "/api/v1/tokens/", None, (200, 200, 200, 200, 401)),
    ("token create", "post", "/api/v1/tokens/", {}, (201, 201, 201, 201, 401)),
    ("token revoke (the student's)", "delete", "/api/v1/tokens/{token_id}/", None, (204, 404, 404, 404, 401)),
    ("submissions list", "get", "/api/v1/submissions/", None, (200, 200, 200, 200, 401)),
    ("submission create (scratch)", "post", "/api/v1/submissions/", SCRATCH, (201, 201, 201, 201, 401)),
    ("submission create (problem)", "post", "/api/v1/submissions/", GRADED, (201, 201, 201, 201, 401)),
    ("submissions batch", "post", "/api/v1/submissions/batch/", {"submissions": [SCRATCH, GRADED]},
     (201, 201, 201, 201, 401)),
    ("submission read (graded)", "get", "/api/v1/submissions/{graded}/", None, (200, 200, 404, 200, 401)),
    ("submission read (scratch)", "get", "/api/v1/submissions/{scratch}/", None, (200, 404, 404, 200, 401)),
    ("submission rejudge (graded)", "post", "/api/v1/submissions/{graded}/rejudge/", None,
     (403, 202, 404, 202, 401)),
    ("submission rejudge (scratch)", "post", "/api/v1/submissions/{scratch}/rejudge/", None,
     (403, 404, 404, 202, 401)),
    ("problem rejudge", "post", "/api/v1/problems/p/rejudge/", None, (403, 202, 403, 202, 401)),
    ("schema", "get", "/api/schema/", None, (200, 200, 200, 200, 200)),
    ("docs", "get", "/api/docs/", None, (200, 200, 200, 200, 200)),
]  # fmt: skip



@pytest.fixture
def world(languages: Any) -> dict[str, Any]:
    users = {"student": make_user("student", STUDENT), "grader": make_user("grader", GRADER),
             "other_grader": make_user("other-grader", GRADER), "admin": make_user("admin", ADMIN)}  # fmt: skip
    problem = Problem.objects.create(title="P", slug="p", published=True, owner=users["grader"])
    TestCase.objects.create(problem=problem, order=1, visible=True)
    graded = finish(make(users["student"], problem=problem))
    scratch = finish(make(users["student"]))
    token, _ = ApiToken.issue(users["student"], "student's")
    return {"users": users, "ids": {"graded": graded.token, "scratch": scratch.token, "token_id": token.pk}}


@pytest.mark.parametrize(("operation", "method", "path", "body", "expected"), MATRIX, ids=[m[0] for m in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world: dict[str, Any], role: str, operation: str, method: str, path: str, body: Any,
                           expected: tuple[int, ...]) -> None:  # fmt: skip
    api = client_for(world["users"].get(role)) if role != "anonymous" else APIClient()
    kwargs: dict[str, Any] = {"format": "json"} if body is not None else {}
    response = getattr(api, method)(path.format(**world["ids"]), body, **kwargs)
    want = expected[ROLES.index(role)]
    assert response.status_code == want, (operation, role, response.status_code, getattr(response, "data", None))


def test_the_matrix_covers_every_native_endpoint() -> None:
    """A new endpoint must be added to the matrix (every path and method the schema lists under /api/)."""
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    owned = {(p, m) for p, ops in schema["paths"].items() for m in ops
             if p.startswith(("/api/v1/languages", "/api/v1/tokens", "/api/v1/submissions", "/api/schema"))
             or p.endswith("/rejudge/")}  # fmt: skip
    covered = {(path.replace("{graded}", "{token}").replace("{scratch}", "{token}")
                .replace("/problems/p/", "/problems/{slug}/"), method) for _, method, path, _, _ in MATRIX}  # fmt: skip
    assert owned <= covered, owned - covered
