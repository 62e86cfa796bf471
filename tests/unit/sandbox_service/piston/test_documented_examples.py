"""Piston's own documented examples (readme, "API" section, Piston v3.x with isolate) against this API: the same
requests are accepted, and the answers have the same keys, types and shapes; byte for byte where the readme
gives an exact body."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from sandbox_service.submissions.models import Submission
from tests.unit.sandbox_service.piston.conftest import EXECUTE, FakeWorker

pytestmark = pytest.mark.django_db

# The readme's execute request, verbatim.
README_REQUEST = {
    "language": "js",
    "version": "15.10.0",
    "files": [{"name": "my_cool_code.js", "content": "console.log(process.argv)"}],
    "stdin": "",
    "args": ["1", "2", "3"],
    "compile_timeout": 10000,
    "run_timeout": 3000,
    "compile_cpu_time": 10000,
    "run_cpu_time": 3000,
    "compile_memory_limit": -1,
    "run_memory_limit": -1,
}
# The readme's response, verbatim.
README_RESPONSE = json.loads(r"""{
    "language": "js",
    "version": "15.10.0",
    "run": {
        "stdout": "[\n  '/piston/packages/node/15.10.0/bin/node',\n  '/piston/jobs/9501b09d-0105-496b-b61a-e5148cf66384/my_cool_code.js',\n  '1',\n  '2',\n  '3'\n]\n",
        "stderr": "",
        "output": "[\n  '/piston/packages/node/15.10.0/bin/node',\n  '/piston/jobs/9501b09d-0105-496b-b61a-e5148cf66384/my_cool_code.js',\n  '1',\n  '2',\n  '3'\n]\n",
        "code": 0,
        "signal": null,
        "message": null,
        "status": null,
        "cpu_time": 8,
        "wall_time": 154,
        "memory": 1160000
    }
}""")  # noqa: E501


def _shape(value: object) -> object:
    """Keys (in order) and JSON types, values left out; null stays null."""
    if isinstance(value, dict):
        return [(key, _shape(item)) for key, item in value.items()]
    return None if value is None else type(value).__name__


def test_the_readme_request_with_a_version_we_lack_is_refused_as_piston_refuses_it(
    token_client: APIClient, runtimes: dict[str, Language]
) -> None:
    response = token_client.post(EXECUTE, README_REQUEST, format="json")
    assert response.status_code == 400
    assert response.content == b'{"message":"js-15.10.0 runtime is unknown"}'


def test_the_readme_error_example_byte_for_byte(token_client: APIClient, runtimes: dict[str, Language]) -> None:
    # readme: HTTP/1.1 400 Bad Request, {"message": "html-5.0.0 runtime is unknown"}
    body = {"language": "html", "version": "5.0.0", "files": [{"content": "<p>"}]}
    response = token_client.post(EXECUTE, body, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.content == b'{"message":"html-5.0.0 runtime is unknown"}'


def test_the_readme_request_runs_and_answers_in_the_readme_responses_shape(
    token_client: APIClient, runtimes: dict[str, Language], worker: FakeWorker
) -> None:
    run = README_RESPONSE["run"]
    worker.fields.update(stdout=run["stdout"].encode(), output=run["output"].encode(), cpu_time=0.008,
                         wall_time=0.154, memory=1160000)  # fmt: skip
    response = token_client.post(EXECUTE, {**README_REQUEST, "version": "*"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert _shape(body) == _shape(README_RESPONSE)
    assert body["run"] == run  # the same run gives the same stage, value for value
    assert (body["language"], body["version"]) == ("javascript", "20.19.2")  # Piston answers the runtime's name
    submission = Submission.objects.get()
    assert submission.language_id == "javascript" and submission.args == ["1", "2", "3"]
    assert submission.source == "console.log(process.argv)" and submission.stdin == "\n"
    assert (submission.limits["wall_time"], submission.limits["cpu_time"]) == (3.0, 3.0)
    assert submission.limits["memory"] == runtimes["javascript"].memory  # -1: no limit of its own, our default
    assert submission.compile_limits == {"wall_time": 10.0, "cpu_time": 10.0}


def test_a_compiled_runtimes_answer_has_compile_and_run_of_the_same_shape(
    token_client: APIClient, runtimes: dict[str, Language], worker: FakeWorker
) -> None:
    # readme: "compile will only be present if the language requested requires a compile stage", and "each of
    # these keys has an identical structure".
    worker.fields.update(compile_exit_code=0, cpu_time=0.001, wall_time=0.002, memory=4096)
    body = token_client.post(EXECUTE, {**README_REQUEST, "language": "c++", "version": "*"}, format="json").json()
    assert list(body) == ["language", "version", "run", "compile"]
    assert [key for key, _ in _shape(body["compile"])] == list(README_RESPONSE["run"])  # type: ignore[union-attr]
    assert _shape(body["run"]) == _shape(README_RESPONSE["run"])
