"""The official Judge0 Python SDK (judge0 0.0.8), unchanged, against this service's Judge0 API: a live HTTP server
on the test database, a real Celery worker, the real sandbox. The SDK validates every answer with its own models
(an unknown attribute, a missing config key or a bad format makes it fail), so this is the compatibility test."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import judge0
import pytest
from judge0 import Status
from rest_framework.authtoken.models import Token

from sandbox_service.submissions.models import Submission
from tests.integration.sandbox_service.conftest import ServiceProcess, Users

C_HELLO = '#include <stdio.h>\nint main(void){char s[32];scanf("%31s",s);printf("hello, %s\\n",s);return 0;}\n'
CPP_HELLO = ("#include <iostream>\n#include <string>\n"
             "int main(){std::string s;std::cin>>s;std::cout<<\"hi \"<<s<<'\\n';}\n")
SEGFAULT = "int main(void){volatile int *p = 0; *p = 1; return 0;}\n"  # volatile: a real store, not a trap


@pytest.fixture
def api_token(users: Users, settings: Any) -> str:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1000}
    return Token.objects.create(user=users.student).key


@pytest.fixture
def sdk(live_server: Any, api_token: str, celery_worker_process: ServiceProcess) -> judge0.Client:
    # The SDK reads /languages and /config_info into its models as it is made.
    return judge0.Client(f"{live_server.url}/judge0", headers={"X-Auth-Token": api_token},
                         retry_strategy=judge0.MaxWaitTime(90))  # fmt: skip


def test_the_official_sdk_runs_programs_in_batch_and_alone(sdk: judge0.Client) -> None:
    assert sdk.version == "1.13.1"  # the SDK maps its language aliases by it: CPP → 52, C → 50, PYTHON → 71
    assert {lang.id for lang in sdk.languages} >= {46, 50, 52, 54, 62, 63, 71}
    assert sdk.config.max_submission_batch_size == 20 and sdk.config.enable_network is False

    submissions = [
        judge0.Submission(source_code="print('hello,', input())", language=judge0.PYTHON, stdin="world"),
        judge0.Submission(source_code=C_HELLO, language=judge0.C, stdin="C"),
        judge0.Submission(source_code=CPP_HELLO, language=judge0.CPP, stdin="52"),
        judge0.Submission(source_code=CPP_HELLO, language=54, stdin="54"),
        judge0.Submission(source_code="print(1)", language=71, expected_output="2"),
        judge0.Submission(source_code="int main( {", language=50),
        judge0.Submission(source_code=SEGFAULT, language=50),
    ]
    python, c, cpp52, cpp54, wrong, broken, segfault = judge0.run(client=sdk, submissions=submissions)

    assert (python.status, python.stdout) == (Status.ACCEPTED, "hello, world\n")
    assert (c.status, c.stdout) == (Status.ACCEPTED, "hello, C\n")
    assert (cpp52.status, cpp52.stdout, cpp54.stdout) == (Status.ACCEPTED, "hi 52\n", "hi 54\n")
    assert cpp54.status == Status.ACCEPTED
    assert wrong.status == Status.WRONG_ANSWER and wrong.stdout == "1\n"
    assert broken.status == Status.COMPILATION_ERROR and "error" in broken.compile_output
    assert broken.time is None and broken.stdout is None
    assert segfault.status == Status.RUNTIME_ERROR_SIGSEGV and segfault.exit_signal == 11
    for done in (python, c, cpp52, wrong, segfault):
        assert done.time is not None and done.time >= 0 and done.memory and done.memory > 0
        assert done.created_at is not None and done.finished_at is not None and done.wall_time is not None
    rows = {str(s.token): s for s in Submission.objects.all()}
    assert rows[str(cpp52.token)].language_id == rows[str(cpp54.token)].language_id == "cpp"

    single = judge0.run(client=sdk, source_code="import sys\nprint(sys.stdin.read().upper(), end='')",
                        language=judge0.PYTHON3, stdin="one request\n")  # fmt: skip
    assert single.status == Status.ACCEPTED and single.stdout == "ONE REQUEST\n"


def test_wait_true_answers_with_the_finished_submission(live_server: Any, api_token: str,
                                                        celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    source = base64.b64encode(b"import sys\nsys.stdout.buffer.write(bytes([0xff]))\nprint()").decode()
    response = httpx.post(f"{live_server.url}/judge0/submissions?wait=true&base64_encoded=true&fields=*",
                          json={"source_code": source, "language_id": 71}, headers={"X-Auth-Token": api_token},
                          timeout=90)  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == {"id": 3, "description": "Accepted"} and body["stdout"] == "/wo=\n"
    assert base64.b64decode(body["source_code"]).startswith(b"import sys")
    plain = httpx.get(f"{live_server.url}/judge0/submissions/{body['token']}", headers={"X-Auth-Token": api_token})
    assert plain.status_code == 400 and "base64_encoded=true" in plain.json()["error"]
