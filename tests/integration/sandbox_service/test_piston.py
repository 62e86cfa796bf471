"""The Piston API on the real pipeline: an HTTP request in this process, the row in the live test database, a
real Celery worker process on the test Redis, the real sandbox; the view waits on Redis pub/sub as in service."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sandbox_service.languages.models import Language
from tests.integration.sandbox_service.conftest import ServiceProcess, Users

EXECUTE = "/piston/api/v2/execute"
STAGE_KEYS = ["stdout", "stderr", "output", "code", "signal", "message", "status", "cpu_time", "wall_time", "memory"]


@pytest.fixture
def client(users: Users) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=users.student).key}")
    return api


def execute(client: APIClient, language: str, *files: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = client.post(EXECUTE, {"language": language, "version": "*", "files": list(files), **body},
                           format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_python_hello_world(client: APIClient, celery_worker_process: ServiceProcess) -> None:
    body = execute(client, "py", {"name": "hello.py", "content": 'print("Hello, world!")'})
    assert body["language"] == "python" and body["version"] == Language.objects.get(pk="python3").version
    assert "compile" not in body and list(body["run"]) == STAGE_KEYS
    run = body["run"]
    assert run["stdout"] == run["output"] == "Hello, world!\n" and run["stderr"] == ""
    assert (run["code"], run["signal"], run["status"], run["message"]) == (0, None, None, None)
    assert run["wall_time"] > 0 and run["memory"] > 0 and isinstance(run["cpu_time"], int)


def test_output_interleaves_stdout_and_stderr_in_the_order_written(
    client: APIClient, celery_worker_process: ServiceProcess
) -> None:
    # Each write is flushed, and a pause lets the sandbox read it before the next: the order is then observable.
    source = ("import sys, time\n"
              "for i, stream in enumerate([sys.stdout, sys.stderr, sys.stdout, sys.stderr, sys.stdout]):\n"
              "    stream.write(f'{stream.name[4:-1]} {i}\\n'); stream.flush(); time.sleep(0.05)\n")  # fmt: skip
    run = execute(client, "python", {"content": source})["run"]
    assert run["output"] == "out 0\nerr 1\nout 2\nerr 3\nout 4\n"
    assert run["stdout"] == "out 0\nout 2\nout 4\n" and run["stderr"] == "err 1\nerr 3\n"


def test_a_c_compile_error_answers_200_with_the_compilers_message(
    client: APIClient, celery_worker_process: ServiceProcess
) -> None:
    body = execute(client, "c", {"name": "broken.c", "content": "int main(void) { return undeclared; }\n"})
    compile_stage = body["compile"]
    assert compile_stage["code"] != 0 and compile_stage["status"] == "RE" and compile_stage["signal"] is None
    assert "undeclared" in compile_stage["stderr"] and "error" in compile_stage["output"]
    assert body["run"] == compile_stage  # no run stage: Piston repeats the compile stage as run


def test_a_c_program_with_two_source_files_compiles_and_runs(
    client: APIClient, celery_worker_process: ServiceProcess
) -> None:
    body = execute(client, "gcc",
                   {"content": '#include <stdio.h>\n#include "twice.h"\nint main(void){printf("%d\\n", twice(21));}'},
                   {"name": "twice.h", "content": "int twice(int);\n"},
                   {"name": "twice.c", "content": "int twice(int x) { return 2 * x; }\n"})  # fmt: skip
    assert body["compile"]["code"] == 0 and body["compile"]["status"] is None
    assert body["run"]["stdout"] == "42\n" and body["run"]["code"] == 0


def test_a_run_over_its_timeout_is_killed_with_sigkill(client: APIClient,
                                                       celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    run = execute(client, "python", {"content": "import time\nprint('started', flush=True)\ntime.sleep(30)\n"},
                  run_timeout=500)["run"]  # fmt: skip
    assert (run["signal"], run["status"], run["code"]) == ("SIGKILL", "TO", None)
    assert run["message"] == "Time limit exceeded (wall clock)" and run["stdout"] == "started\n"
    assert 500 <= run["wall_time"] < 5000


def test_stdin_and_args_reach_the_program(client: APIClient, celery_worker_process: ServiceProcess) -> None:
    source = "import sys\nprint(input()[::-1], sys.argv[1:])\nprint(repr(sys.stdin.read()))\n"
    run = execute(client, "python3", {"content": source}, stdin="olleh", args=["1", "two words"])["run"]
    # Piston adds the missing trailing newline to stdin: input() gets its line and the rest is empty.
    assert run["stdout"] == "hello ['1', 'two words']\n''\n" and run["code"] == 0
