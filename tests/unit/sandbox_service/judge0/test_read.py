"""GET /submissions/{token}, GET /submissions and DELETE: Judge0's attributes, order, types and formats, `fields`,
Base64, the UTF-8 error, 404, pagination; checked against Judge0's documented responses and against the official
SDK's own parser (which refuses attributes it does not know)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from judge0 import Submission as SdkSubmission
from judge0.base_types import Status as SdkStatus
from rest_framework.test import APIClient

from sandbox_service.judge0.serializers import ATTRIBUTES
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Status
from tests.unit.sandbox_service.judge0.conftest import URL, create, finish

pytestmark = pytest.mark.django_db
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOT_UTF8 = "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter"


def made(client: APIClient, body: dict[str, Any] | None = None) -> Submission:
    response = create(client, body)
    assert response.status_code == 201, response.json()
    return Submission.objects.get(token=response.json()["token"])


def get(client: APIClient, submission: Submission, query: str = "") -> Any:
    return client.get(f"{URL}/submissions/{submission.token}{query}")


def test_a_queued_submission_has_the_default_eight_attributes_in_judge0s_order(client: APIClient) -> None:
    submission = made(client)
    response = get(client, submission)
    assert response.status_code == 200
    assert response.json() == {"stdout": None, "time": None, "memory": None, "stderr": None,
                               "token": str(submission.token), "compile_output": None, "message": None,
                               "status": {"id": 1, "description": "In Queue"}}  # fmt: skip
    assert list(response.json()) == ["stdout", "time", "memory", "stderr", "token", "compile_output", "message",
                                     "status"]  # fmt: skip


def test_a_running_submission_is_processing(client: APIClient) -> None:
    submission = made(client)
    Submission.objects.filter(pk=submission.pk).update(status=Status.RUNNING)
    assert get(client, submission).json()["status"] == {"id": 2, "description": "Processing"}


def test_the_documented_default_response_of_an_accepted_submission(client: APIClient) -> None:
    # docs/api/submissions/get_a_submission.md: "This is the default response."
    submission = finish(made(client, {"stdin": "Judge0", "expected_output": "hello, Judge0"}),
                        stdout=b"hello, Judge0\n", cpu_time=0.001, memory=376 * 1024)  # fmt: skip
    assert get(client, submission).json() == {
        "stdout": "hello, Judge0\n", "time": "0.001", "memory": 376, "stderr": None, "token": str(submission.token),
        "compile_output": None, "message": None, "status": {"id": 3, "description": "Accepted"},
    }  # fmt: skip


def test_the_documented_base64_response(client: APIClient) -> None:
    submission = finish(made(client), stdout=b"hello, Judge0\n", cpu_time=0.002, memory=376 * 1024)
    body = get(client, submission, "?base64_encoded=true").json()
    assert body["stdout"] == "aGVsbG8sIEp1ZGdlMAo=\n"  # Ruby's Base64.encode64, as in the docs
    assert body["time"] == "0.002" and body["stderr"] is None


def test_base64_output_is_wrapped_at_60_characters_as_ruby_does(client: APIClient) -> None:
    submission = finish(made(client), stdout=b"a" * 100)
    encoded = get(client, submission, "?base64_encoded=true").json()["stdout"]
    assert [len(line) for line in encoded.split("\n")] == [60, 60, 16, 0]


def test_fields_selects_attributes_and_keeps_judge0s_order(client: APIClient) -> None:
    submission = finish(made(client), stdout=b"42\n", cpu_time=0.016, memory=3232 * 1024)
    body = get(client, submission, "?fields=token,status_id,stdout,time,memory,exit_code").json()
    assert body == {"stdout": "42\n", "status_id": 3, "time": "0.016", "memory": 3232, "token": str(submission.token),
                    "exit_code": 0}  # fmt: skip
    assert list(body) == ["stdout", "status_id", "time", "memory", "token", "exit_code"]


def test_fields_star_gives_all_35_attributes_with_judge0s_types(client: APIClient) -> None:
    submission = finish(made(client, {"language_id": 63, "source_code": "console.log(1)", "stdin": "hello"}),
                        stdout=b"1\n", wall_time=0.29)  # fmt: skip
    body = get(client, submission, "?fields=*").json()
    assert list(body) == list(ATTRIBUTES) and len(body) == 35
    assert body["source_code"] == "console.log(1)" and body["language_id"] == 63 and body["stdin"] == "hello"
    assert body["expected_output"] is None and body["status_id"] == 3 and body["number_of_runs"] == 1
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["finished_at"])
    assert (body["cpu_time_limit"], body["cpu_extra_time"], body["wall_time_limit"]) == ("5.0", "1.0", "10.0")
    assert (body["memory_limit"], body["stack_limit"], body["max_processes_and_or_threads"]) == (128000, 64000, 60)
    assert body["max_file_size"] == 1024 and body["wall_time"] == "0.29" and body["exit_signal"] is None
    assert body["enable_per_process_and_thread_time_limit"] is False and body["enable_network"] is False
    assert body["compiler_options"] is None and body["command_line_arguments"] is None
    assert body["redirect_stderr_to_stdout"] is False and body["callback_url"] is None
    assert body["additional_files"] is None
    assert body["language"] == {"id": 63, "name": "JavaScript (Node.js 20.1.0)"}


def test_the_official_sdk_parses_every_attribute(client: APIClient) -> None:
    submission = finish(made(client, {"language_id": 54, "source_code": "int main(){}", "stdin": "x",
                                      "compiler_options": "-O2", "command_line_arguments": "a b"}),
                        stdout=b"out\n", stderr=b"err\n")  # fmt: skip
    body = get(client, submission, "?fields=*&base64_encoded=true").json()
    parsed = SdkSubmission()
    parsed.set_attributes(body)  # raises on any attribute the SDK does not know, or a bad format
    assert parsed.status == SdkStatus.ACCEPTED and parsed.stdout == "out\n" and parsed.stderr == "err\n"
    assert parsed.source_code == "int main(){}" and parsed.stdin == "x" and parsed.time == 0.012
    assert str(parsed.token) == str(submission.token) and parsed.created_at is not None and parsed.memory == 3072


def test_invalid_fields_answer_400(client: APIClient) -> None:
    response = get(client, made(client), "?fields=token,bogus_field,nope")
    assert response.status_code == 400 and response.json() == {"error": "invalid fields: [bogus_field, nope]"}


def test_output_that_is_not_utf8_needs_base64(client: APIClient) -> None:
    submission = finish(made(client), stdout=b"\xff\xfe", compile_output=b"")
    response = get(client, submission)
    assert response.status_code == 400 and response.json() == {"error": NOT_UTF8}
    assert get(client, submission, "?base64_encoded=true").json()["stdout"] == "//4=\n"
    assert get(client, submission, "?fields=token,status").status_code == 200  # only requested attributes count


def test_valid_unicode_output_is_returned_as_text(client: APIClient) -> None:
    submission = finish(made(client), stdout="héllo ‘quoted’\n".encode())
    assert get(client, submission).json()["stdout"] == "héllo ‘quoted’\n"


def test_another_students_submission_and_unknown_tokens_are_404(client: APIClient, other_client: APIClient) -> None:
    theirs = made(other_client)
    for path in (f"/submissions/{theirs.token}", f"/submissions/{uuid.uuid4()}", "/submissions/not-a-uuid"):
        response = client.get(f"{URL}{path}")
        assert response.status_code == 404 and response.json() == {"status": 404, "error": "Not Found"}


def test_a_grader_sees_submissions_of_problems_they_grade_only(client: APIClient, grader_client: APIClient) -> None:
    assert get(grader_client, made(client)).status_code == 404  # a scratch run of a student's is theirs alone


# --- results as Judge0 reports them -------------------------------------------------------------------------------


def test_a_compilation_error_has_only_its_compile_output(client: APIClient) -> None:
    submission = finish(made(client, {"language_id": 50, "source_code": "int main(){ retrn 0; }"}),
                        verdict="compile_error", compile_output="main.c:1:13: error: ‘retrn’\n".encode(),
                        cpu_time=0.0, memory=0, exit_code=None, message="compile error")  # fmt: skip
    body = get(client, submission, "?fields=*").json()
    assert body["status"] == {"id": 6, "description": "Compilation Error"}
    assert body["compile_output"] == "main.c:1:13: error: ‘retrn’\n"
    for name in ("time", "wall_time", "memory", "stdout", "stderr", "exit_code", "exit_signal", "message"):
        assert body[name] is None, name


def test_a_compile_that_ran_out_of_time_says_so_in_compile_output(client: APIClient) -> None:
    submission = finish(made(client, {"language_id": 54, "source_code": "int main(){}"}), verdict="compile_error",
                        message="compile error: wall time went over 30.0 s", compile_output=b"")  # fmt: skip
    assert get(client, submission).json()["compile_output"] == "Compilation time limit exceeded."


@pytest.mark.parametrize(("result", "status", "message", "exit_code", "exit_signal"), [
    ({"verdict": "wrong_answer"}, 4, None, 0, None),
    ({"verdict": "time_limit", "message": "test 1: time limit (cpu)", "signal": 9, "exit_code": None}, 5,
     "Time limit exceeded", 0, 9),
    ({"verdict": "time_limit", "message": "test 1: time limit (wall)", "signal": 9, "exit_code": None}, 5,
     "Time limit exceeded (wall clock)", 0, 9),
    ({"verdict": "runtime_error", "signal": 11, "exit_code": None}, 7, "Caught fatal signal 11", 0, 11),
    ({"verdict": "runtime_error", "exit_code": 1}, 11, "Exited with error status 1", 1, None),
    ({"verdict": "memory_limit", "signal": 9, "exit_code": None}, 12, "Memory limit exceeded", 0, 9),
    ({"verdict": "internal_error", "message": "the sandbox failed 3 times", "cpu_time": None, "exit_code": None},
     13,
     "the sandbox failed 3 times", None, None),
])  # fmt: skip
def test_results_map_to_judge0_statuses_messages_and_exit_codes(client: APIClient, result: dict[str, Any],
                                                                status: int, message: str | None, exit_code: Any,
                                                                exit_signal: Any) -> None:  # fmt: skip
    submission = finish(made(client), **result)
    body = get(client, submission, "?fields=status,message,exit_code,exit_signal").json()
    assert body["status"]["id"] == status and body["message"] == message
    assert (body["exit_code"], body["exit_signal"]) == (exit_code, exit_signal)


def test_a_message_is_base64_encoded_too(client: APIClient) -> None:
    submission = finish(made(client), verdict="runtime_error", exit_code=1)
    body = get(client, submission, "?base64_encoded=true").json()
    assert body["message"] == "RXhpdGVkIHdpdGggZXJyb3Igc3RhdHVzIDE=\n"  # as in judge0/judge0#130


def test_a_graded_submission_reports_its_failing_tests_signal(client: APIClient, grader: Any) -> None:
    from sandbox_service.problems.models import Problem

    problem = Problem.objects.create(title="P", slug="p", published=True, owner=grader)
    submission = made(client)
    Submission.objects.filter(pk=submission.pk).update(problem=problem)
    TestResult.objects.create(submission=submission, order=1, verdict="accepted")
    TestResult.objects.create(submission=submission, order=2, verdict="runtime_error", signal=8)
    finish(submission, verdict="runtime_error", exit_code=None, signal=None)
    assert get(client, submission).json()["status"] == {"id": 9, "description": "Runtime Error (SIGFPE)"}


def test_an_empty_stdout_is_null_and_an_absent_stdin_null_but_an_empty_one_empty(client: APIClient) -> None:
    absent = finish(made(client), stdout=b"")
    empty = finish(made(client, {"stdin": ""}))
    assert get(client, absent, "?fields=stdout,stdin").json() == {"stdin": None, "stdout": None}
    assert get(client, empty, "?fields=stdin").json() == {"stdin": ""}


# --- GET /submissions ---------------------------------------------------------------------------------------------


def test_the_list_is_the_users_own_newest_first_with_will_paginate_meta(client: APIClient,
                                                                          other_client: APIClient) -> None:  # fmt: skip
    mine = [made(client) for _ in range(3)]
    made(other_client)
    response = client.get(f"{URL}/submissions?per_page=2&fields=token")
    assert response.status_code == 200
    body = response.json()
    assert [s["token"] for s in body["submissions"]] == [str(mine[2].token), str(mine[1].token)]
    assert body["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2, "total_count": 3}
    second = client.get(f"{URL}/submissions?per_page=2&page=2&fields=token").json()
    assert [s["token"] for s in second["submissions"]] == [str(mine[0].token)]
    assert second["meta"] == {"current_page": 2, "next_page": None, "prev_page": 1, "total_pages": 2,
                              "total_count": 3}  # fmt: skip


def test_the_list_has_judge0s_default_page_size_and_attributes(client: APIClient) -> None:
    made(client)
    body = client.get(f"{URL}/submissions").json()
    assert list(body) == ["submissions", "meta"] and body["meta"]["total_pages"] == 1
    assert list(body["submissions"][0]) == ["stdout", "time", "memory", "stderr", "token", "compile_output",
                                            "message", "status"]  # fmt: skip


def test_the_documented_list_shape_with_fields(client: APIClient) -> None:
    # docs/api/submissions/get_submissions.md: ?page=4&per_page=2&fields=status,language,time (of 62; here of 8)
    for _ in range(8):
        finish(made(client, {"language_id": 50, "source_code": "int main(){}"}), cpu_time=0.001)
    body = client.get(f"{URL}/submissions?page=3&per_page=2&fields=status,language,time").json()
    assert body["submissions"] == [{"time": "0.001", "status": {"id": 3, "description": "Accepted"},
                                    "language": {"id": 50, "name": "C (GCC 12.2.0)"}}] * 2  # fmt: skip
    assert [list(s) for s in body["submissions"]] == [["time", "status", "language"]] * 2
    assert body["meta"] == {"current_page": 3, "next_page": 4, "prev_page": 2, "total_pages": 4, "total_count": 8}


@pytest.mark.parametrize(("query", "message"), [("page=-4", "invalid page: -4"), ("page=0", "invalid page: 0"),
                                                ("page=abc", "invalid page: 0"),
                                                ("per_page=-2", "invalid per_page: -2")])  # fmt: skip
def test_an_invalid_page_answers_400(client: APIClient, query: str, message: str) -> None:
    response = client.get(f"{URL}/submissions?{query}")
    assert response.status_code == 400 and response.json() == {"error": message}


def test_a_list_with_output_that_is_not_utf8_needs_base64(client: APIClient) -> None:
    finish(made(client), stderr=b"\x80")
    response = client.get(f"{URL}/submissions")
    assert response.status_code == 400
    assert response.json() == {"error": "some attributes for one or more submissions cannot be converted to UTF-8, "
                                        "use base64_encoded=true query parameter"}  # fmt: skip
    assert client.get(f"{URL}/submissions?base64_encoded=true").status_code == 200


# --- DELETE ----------------------------------------------------------------------------------------------------


def test_delete_is_disabled_as_in_judge0s_default_configuration(client: APIClient, grader_client: APIClient) -> None:
    submission = made(client)
    refused = client.delete(f"{URL}/submissions/{submission.token}")
    assert refused.status_code == 403 and refused.content == b""  # no authorization
    response = grader_client.delete(f"{URL}/submissions/{submission.token}")
    assert response.status_code == 400 and response.json() == {"error": "delete not allowed"}
    assert Submission.objects.filter(pk=submission.pk).exists()
