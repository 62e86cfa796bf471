"""POST /piston/api/v2/execute: a Piston job becomes a scratch submission, and its result Piston's response.

The worker is a fake here (conftest.FakeWorker): these tests pin the mapping both ways; the real pipeline runs
in tests/integration/sandbox_service/test_piston.py.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from executor.config import Config
from executor.languages import COMPILE_LIMITS
from sandbox_service.languages.models import Language
from sandbox_service.submissions.models import Submission
from tests.unit.sandbox_service.piston.conftest import EXECUTE, FakeWorker, execute

pytestmark = pytest.mark.django_db
STAGE_KEYS = ["stdout", "stderr", "output", "code", "signal", "message", "status", "cpu_time", "wall_time", "memory"]


def test_a_successful_run_answers_200_with_the_run_stage(token_client: APIClient, runtimes: dict[str, Language],
                                                        worker: FakeWorker) -> None:  # fmt: skip
    worker.fields.update(stdout=b"a\nc\n", stderr=b"b\n", output=b"a\nb\nc\n", cpu_time=0.0081, wall_time=0.1544,
                         memory=1160000)  # fmt: skip
    response = execute(token_client, files=[{"name": "x.py", "content": "print('a')"}])
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == {"language": "python", "version": "3.11.2", "run": {
        "stdout": "a\nc\n", "stderr": "b\n", "output": "a\nb\nc\n", "code": 0, "signal": None, "message": None,
        "status": None, "cpu_time": 8, "wall_time": 154, "memory": 1160000}}  # fmt: skip
    submission = Submission.objects.get()
    assert submission.language_id == "python3" and submission.source == "print('a')" and submission.problem is None
    assert submission.client_fields["piston"] == {"language": "python", "version": "*", "main_file": "x.py"}


def test_a_compiled_language_has_a_compile_stage(token_client: APIClient, runtimes: dict[str, Language],
                                                 worker: FakeWorker) -> None:  # fmt: skip
    worker.fields.update(compile_exit_code=0, compile_stderr=b"warning\n", compile_output=b"warning\n",
                         stdout=b"hi\n", output=b"hi\n")  # fmt: skip
    body = execute(token_client, language="c", files=[{"content": "int main(){}"}]).json()
    assert list(body["compile"]) == STAGE_KEYS and list(body["run"]) == STAGE_KEYS
    compile_stage = body["compile"]
    assert compile_stage["code"] == 0 and compile_stage["stderr"] == "warning\n" and compile_stage["status"] is None
    assert body["run"]["stdout"] == "hi\n" and body["language"] == "c" and body["version"] == "12.2.0"


def test_a_failed_compile_answers_200_with_run_a_copy_of_compile(token_client: APIClient,
                                                                 runtimes: dict[str, Language],
                                                                 worker: FakeWorker) -> None:  # fmt: skip
    # v2.js: "Backward compatibility when the run stage is not started": result.run = result.compile.
    worker.fields.update(verdict="compile_error", message="compile error", compile_exit_code=1,
                         compile_stderr=b"main.c:1: error\n", compile_output=b"main.c:1: error\n")  # fmt: skip
    response = execute(token_client, language="gcc", files=[{"content": "int main({}"}])
    assert response.status_code == 200
    body = response.json()
    assert body["compile"] == body["run"]
    assert body["compile"]["code"] == 1 and body["compile"]["status"] == "RE"
    assert body["compile"]["message"] == "Exited with error status 1" and body["compile"]["signal"] is None
    assert body["compile"]["stderr"] == body["compile"]["output"] == "main.c:1: error\n"


def test_a_compile_stopped_by_its_wall_limit_is_a_timeout(token_client: APIClient, runtimes: dict[str, Language],
                                                          worker: FakeWorker) -> None:  # fmt: skip
    worker.fields.update(verdict="compile_error", message="compile error: wall time went over 1.0 s", compile_signal=9)
    compile_stage = execute(token_client, language="c++", files=[{"content": "x"}]).json()["compile"]
    assert (compile_stage["status"], compile_stage["signal"], compile_stage["code"]) == ("TO", "SIGKILL", None)
    assert compile_stage["message"] == "Time limit exceeded (wall clock)"


@pytest.mark.parametrize(("fields", "expected"), [
    ({"verdict": "runtime_error", "exit_code": 3, "message": "test 1: runtime error (exited with code 3)"},
     {"code": 3, "signal": None, "status": "RE", "message": "Exited with error status 3"}),
    ({"verdict": "runtime_error", "signal": 11, "message": "test 1: runtime error (killed by signal 11 (SIGSEGV))"},
     {"code": None, "signal": "SIGSEGV", "status": "SG", "message": "Caught fatal signal 11"}),
    ({"verdict": "time_limit", "signal": 9, "message": "test 1: time limit (wall)"},
     {"code": None, "signal": "SIGKILL", "status": "TO", "message": "Time limit exceeded (wall clock)"}),
    ({"verdict": "time_limit", "signal": 9, "message": "test 1: time limit (cpu)"},
     {"code": None, "signal": "SIGKILL", "status": "TO", "message": "Time limit exceeded"}),
    ({"verdict": "memory_limit", "signal": 9, "message": "test 1: memory limit"},
     {"code": None, "signal": "SIGKILL", "status": "SG", "message": "Caught fatal signal 9"}),
    ({"verdict": "output_limit", "signal": 9, "stdout": b"y" * 1024, "message": "test 1: output limit"},
     {"code": None, "signal": "SIGKILL", "status": "OL", "message": "stdout length exceeded"}),
    ({"verdict": "output_limit", "signal": 9, "stderr": b"y" * 1024, "message": "test 1: output limit"},
     {"code": None, "signal": "SIGKILL", "status": "EL", "message": "stderr length exceeded"}),
])  # fmt: skip
def test_a_failed_run_says_why_as_isolate_and_piston_do(token_client: APIClient, runtimes: dict[str, Language],
                                                        worker: FakeWorker, fields: dict[str, Any],
                                                        expected: dict[str, Any]) -> None:  # fmt: skip
    Language.objects.filter(pk="python3").update(output=1)  # KiB: the output-limit cases above fill it
    worker.fields.update(fields)
    run = execute(token_client).json()["run"]
    assert {key: run[key] for key in expected} == expected


def test_a_sandbox_failure_answers_500_with_the_reason(token_client: APIClient, runtimes: dict[str, Language],
                                                       worker: FakeWorker) -> None:  # fmt: skip
    worker.fields.update(verdict="internal_error", message="the sandbox failed 3 times: no free slot")
    response = execute(token_client)
    assert response.status_code == 500 and "no free slot" in response.json()["message"]


def test_a_job_that_does_not_finish_in_time_answers_504(token_client: APIClient, runtimes: dict[str, Language],
                                                        worker: FakeWorker, settings: Any) -> None:  # fmt: skip
    settings.PISTON_WAIT_MARGIN = 7
    worker.finish = False
    response = execute(token_client, run_timeout=500)
    assert response.status_code == 504 and "did not finish within 7.5 s" in response.json()["message"]
    assert Submission.objects.get().status == "queued"  # kept: it runs later


def test_the_wait_covers_the_compile_and_the_run(token_client: APIClient, runtimes: dict[str, Language],
                                                 worker: FakeWorker, settings: Any) -> None:  # fmt: skip
    settings.PISTON_WAIT_MARGIN = 10
    execute(token_client, language="c", compile_timeout=4000, run_timeout=1500)
    execute(token_client, language="c")
    assert worker.waits == [4 + 1.5 + 10, COMPILE_LIMITS.wall_time + 5.0 + 10]  # 5.0: the language's wall_time


# ------------------------------------------------------------------------------------- the request ----


def test_stdin_and_args_reach_the_submission_and_stdin_gets_a_trailing_newline(
    token_client: APIClient, runtimes: dict[str, Language], worker: FakeWorker
) -> None:
    execute(token_client, stdin="hi", args=["1", "two words"])
    execute(token_client, stdin="done\n")
    execute(token_client)
    first, second, third = Submission.objects.order_by("id")
    assert first.stdin == "hi\n" and first.args == ["1", "two words"]
    assert second.stdin == "done\n" and third.stdin == "\n" and third.args == []  # job.js adds it even to ""


def test_the_first_utf8_file_is_the_source_and_the_others_are_files(token_client: APIClient,
                                                                    runtimes: dict[str, Language],
                                                                    worker: FakeWorker) -> None:  # fmt: skip
    data = bytes(range(256))
    files = [
        {"name": "data.bin", "content": base64.b64encode(data).decode(), "encoding": "base64"},
        {"name": "main_program.py", "content": "print(open('data.bin','rb').read())"},
        {"name": "blob.hex", "content": data.hex(), "encoding": "hex"},
        {"content": "helper = 1\n"},
        {"name": "nul.txt", "content": "a\0b"},
    ]
    assert execute(token_client, files=files).status_code == 200
    submission = Submission.objects.get()
    assert submission.source == files[1]["content"]
    stored = {f["name"]: f for f in submission.files}
    assert list(stored) == ["data.bin", "blob.hex", "file3.code", "nul.txt"]  # unnamed: job.js's file<i>.code
    assert base64.b64decode(stored["data.bin"]["content"]) == data
    assert stored["blob.hex"]["encoding"] == "base64" and base64.b64decode(stored["blob.hex"]["content"]) == data
    assert stored["file3.code"] == {"name": "file3.code", "content": "helper = 1\n", "encoding": "utf8"}
    assert base64.b64decode(stored["nul.txt"]["content"]) == b"a\0b"  # kept as base64: NUL is no JSON text
    assert submission.client_fields["piston"]["main_file"] == "main_program.py"


def test_an_unknown_encoding_is_utf8_as_in_piston(token_client: APIClient, runtimes: dict[str, Language],
                                                  worker: FakeWorker) -> None:  # fmt: skip
    files = [{"content": "print(2)", "encoding": "latin1"}, {"content": "x", "encoding": "utf8"}]
    assert execute(token_client, files=files).status_code == 200
    assert Submission.objects.get().source == "print(2)"


def test_extra_c_and_cpp_sources_are_compiled_with_the_main_file(token_client: APIClient,
                                                                 runtimes: dict[str, Language],
                                                                 worker: FakeWorker) -> None:  # fmt: skip
    files = [{"name": "main.c", "content": '#include "util.h"\nint main(){return f();}'},
             {"name": "util.h", "content": "int f(void);"}, {"name": "util.c", "content": "int f(void){return 0;}"},
             {"name": "-odd.c", "content": ""},
             {"name": "blob.c", "content": "AA==", "encoding": "base64"}]  # fmt: skip
    execute(token_client, language="c", files=files)
    execute(token_client, language="c++", files=[{"content": "int main(){}"}, {"name": "a.cpp", "content": ""}])
    c, cpp = Submission.objects.order_by("id")
    assert c.compiler_options == ["./util.c", "./-odd.c"]  # code files only; "./" so no name is an option
    assert cpp.compiler_options == ["./a.cpp"]


def test_limits_are_converted_to_the_sandboxs_units(token_client: APIClient, runtimes: dict[str, Language],
                                                    worker: FakeWorker) -> None:  # fmt: skip
    execute(token_client, run_timeout=500, run_cpu_time=250, run_memory_limit=100_000_000, compile_timeout=5000,
            compile_cpu_time=3000, compile_memory_limit=256 * 1024 * 1024)  # fmt: skip
    submission = Submission.objects.get()
    assert (submission.limits["wall_time"], submission.limits["cpu_time"], submission.limits["memory"]) == (
        0.5, 0.25, 95)  # fmt: skip
    assert submission.compile_limits == {"wall_time": 5.0, "cpu_time": 3.0, "memory": 256}
    assert submission.client_fields["piston"]["run_timeout"] == 500


def test_missing_zero_and_minus_one_limits_are_our_defaults(token_client: APIClient, runtimes: dict[str, Language],
                                                            worker: FakeWorker) -> None:  # fmt: skip
    execute(token_client, run_timeout=0, run_cpu_time=None, run_memory_limit=-1, compile_memory_limit=-1)
    submission = Submission.objects.get()
    python = runtimes["python3"]
    assert (submission.limits["wall_time"], submission.limits["cpu_time"], submission.limits["memory"]) == (
        python.wall_time, python.cpu_time, python.memory)  # fmt: skip
    assert submission.compile_limits == {}


# ------------------------------------------------------------------------------------------ errors ----


def _maximum(name: str) -> str:
    maxima = Config.from_env().maxima
    value = {"run_timeout": maxima.wall_time * 1000, "run_cpu_time": maxima.cpu_time * 1000,
             "run_memory_limit": maxima.memory * 1024 * 1024, "compile_timeout": COMPILE_LIMITS.wall_time * 1000,
             "compile_cpu_time": COMPILE_LIMITS.cpu_time * 1000,
             "compile_memory_limit": COMPILE_LIMITS.memory * 1024 * 1024}[name]  # fmt: skip
    return str(int(value))


@pytest.mark.parametrize(("body", "message"), [
    ({"language": None}, "language is required as a string"),
    ({"language": 3}, "language is required as a string"),
    ({"language": ""}, "language is required as a string"),
    ({"version": None}, "version is required as a string"),
    ({"version": 3.11}, "version is required as a string"),
    ({"files": None}, "files is required as an array"),
    ({"files": {"content": "x"}}, "files is required as an array"),
    ({"files": [{"content": "x"}, {"name": "y"}]}, "files[1].content is required as a string"),
    ({"files": ["print(1)"]}, "files[0].content is required as a string"),
    ({"language": "html", "version": "5.0.0"}, "html-5.0.0 runtime is unknown"),
    ({"version": "2.x"}, "python-2.x runtime is unknown"),
    ({"version": "latest"}, "python-latest runtime is unknown"),
    ({"language": "java"}, "java-* runtime is unknown"),  # disabled below
    ({"files": [{"content": "AA==", "encoding": "base64"}]}, "files must include at least one utf8 encoded file"),
    ({"files": [{"content": "00", "encoding": "hex"}]}, "files must include at least one utf8 encoded file"),
    ({"run_timeout": "3000"}, "If specified, run_timeout must be a number"),
    ({"compile_memory_limit": True}, "If specified, compile_memory_limit must be a number"),
    ({"run_timeout": 10**9}, "run_timeout cannot exceed the configured limit of {run_timeout}"),
    ({"run_cpu_time": 10**9}, "run_cpu_time cannot exceed the configured limit of {run_cpu_time}"),
    ({"run_memory_limit": 10**15}, "run_memory_limit cannot exceed the configured limit of {run_memory_limit}"),
    ({"compile_timeout": 10**9}, "compile_timeout cannot exceed the configured limit of {compile_timeout}"),
    ({"compile_cpu_time": 10**9}, "compile_cpu_time cannot exceed the configured limit of {compile_cpu_time}"),
    ({"compile_memory_limit": 10**15},
     "compile_memory_limit cannot exceed the configured limit of {compile_memory_limit}"),
    ({"run_timeout": -5}, "run_timeout must be non-negative"),
    ({"run_memory_limit": -2}, "run_memory_limit must be non-negative"),
    ({"stdin": 5}, "stdin must be a string"),
    ({"args": "1 2"}, "args must be an array of strings"),
    ({"args": [1, 2]}, "args must be an array of strings"),
    ({"files": [{"content": "x"}, {"content": "zz", "encoding": "hex"}]}, "files[1].content is not valid hex"),
    ({"files": [{"content": "x"}, {"content": "!", "encoding": "base64"}]}, "files[1].content is not valid base64"),
    ({"files": [{"content": "x"}, {"name": 5, "content": ""}]}, "files[1].name must be a string"),
    ({"files": [{"content": "x"}, {"name": "../up", "content": ""}]},
     "files[1].name: a relative path without '.', '..' or empty parts"),
    ({"files": [{"content": "x"}, {"name": "main.py", "content": ""}]},
     "files[1].name: 'main.py' is already in the submission"),
    ({"files": [{"content": "a\0b"}]},
     "files[0].content: must not contain NUL characters (send binary data as a base64 file)"),
    ({"run_timeout": 10}, "run_timeout is out of the sandbox's range: wall_time: 0.01 is below the minimum of 0.05"),
])  # fmt: skip
def test_a_bad_job_answers_400_with_pistons_message(token_client: APIClient, runtimes: dict[str, Language],
                                                    worker: FakeWorker, body: dict[str, Any],
                                                    message: str) -> None:  # fmt: skip
    Language.objects.filter(pk="java").update(enabled=False)
    payload = {"language": "python", "version": "*", "files": [{"content": "print(1)"}], **body}
    response = token_client.post(EXECUTE, payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json() == {"message": message.format(**{n: _maximum(n) for n in (
        "run_timeout", "run_cpu_time", "run_memory_limit", "compile_timeout", "compile_cpu_time",
        "compile_memory_limit")})}  # fmt: skip
    assert not Submission.objects.exists()


def test_a_body_that_is_not_an_object_is_missing_its_language(token_client: APIClient,
                                                              runtimes: dict[str, Language]) -> None:  # fmt: skip
    response = token_client.post(EXECUTE, [1, 2], format="json")
    assert response.status_code == 400 and response.json() == {"message": "language is required as a string"}


def test_a_body_that_is_not_json_answers_415_and_broken_json_400(token_client: APIClient,
                                                                 runtimes: dict[str, Language]) -> None:  # fmt: skip
    form = token_client.post(EXECUTE, {"language": "python"})  # multipart
    assert form.status_code == 415 and form.json() == {"message": "requests must be of type application/json"}
    broken = token_client.post(EXECUTE, "{nope", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["message"].startswith("JSON parse error")


def test_other_methods_answer_405_with_a_message(token_client: APIClient, runtimes: dict[str, Language]) -> None:
    response = token_client.get(EXECUTE)
    assert response.status_code == 405 and response.json() == {"message": 'Method "GET" not allowed.'}


def test_a_full_queue_answers_503_and_too_many_runs_429_with_retry_after(
    token_client: APIClient, runtimes: dict[str, Language], worker: FakeWorker, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    assert execute(token_client).status_code == 200
    limited = execute(token_client)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1 and limited.json()["message"]
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 100, "MAX_QUEUED": 0}
    full = execute(token_client)
    assert full.status_code == 503 and int(full["Retry-After"]) >= 1 and full.json()["message"]
