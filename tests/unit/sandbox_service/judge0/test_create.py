"""POST /submissions: what is created from a Judge0 request, and Judge0's answers (201 {"token"}, 422 with Rails'
messages, 400, 503) including the examples of Judge0's own documentation (docs/api/submissions)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from sandbox_service.judge0 import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status
from tests.unit.sandbox_service.judge0.conftest import URL, create, finish, make_zip

pytestmark = pytest.mark.django_db
# docs/api/submissions/create_a_submission.md, "Create a Submission [POST]"
DOC_SOURCE = '#include <stdio.h>\n\nint main(void) {\n  char name[10];\n  scanf("%s", name);\n  printf("hello, %s\\n", name);\n  return 0;\n}'  # noqa: E501


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_create_answers_201_with_only_the_token(client: APIClient) -> None:
    response = create(client, {"stdin": "world"})
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["token"]
    submission = Submission.objects.get(token=body["token"])
    assert submission.language_id == "python3" and submission.stdin == "world" and submission.status == Status.QUEUED
    assert submission.queue == Queue.INTERACTIVE and submission.expected_output is None


def test_the_documented_request_is_created_as_c(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions", {"source_code": DOC_SOURCE, "language_id": 50, "stdin": "world"},
                           format="json")  # fmt: skip
    assert response.status_code == 201
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.language_id == "c" and submission.source == DOC_SOURCE


@pytest.mark.parametrize(("language_id", "ours"), [(46, "bash"), (48, "c"), (49, "c"), (50, "c"), (52, "cpp"),
                                                   (53, "cpp"), (54, "cpp"), (63, "javascript"), (71, "python3"),
                                                   ("71", "python3")])  # fmt: skip
def test_judge0_language_ids_name_our_languages(client: APIClient, language_id: Any, ours: str) -> None:
    response = create(client, {"language_id": language_id})
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.language_id == ours
    assert submission.client_fields["judge0"]["language_id"] == int(language_id)


def test_judge0_defaults_become_the_run_limits(client: APIClient) -> None:
    submission = Submission.objects.get(token=create(client).json()["token"])
    # 5 s CPU, 10 s wall, 128000 KB = 125 MiB, 60 processes, 64000 KB stack, 1024 KB files
    assert submission.limits == {"cpu_time": 5.0, "wall_time": 10.0, "memory": 125, "processes": 60,
                                 "stack": 64000, "file_size": 1024, "output": 1024}  # fmt: skip
    echo = submission.client_fields["judge0"]
    assert echo["cpu_time_limit"] == "5.0" and echo["cpu_extra_time"] == "1.0" and echo["memory_limit"] == 128000
    assert submission.number_of_runs == 1 and submission.redirect_stderr_to_stdout is False


def test_requested_limits_options_and_arguments_are_passed_on(client: APIClient) -> None:
    response = create(client, {
        "language_id": 54, "source_code": "int main(){}", "cpu_time_limit": 2.5, "wall_time_limit": "7",
        "memory_limit": 262144, "stack_limit": 32000, "max_processes_and_or_threads": 10, "max_file_size": 2048,
        "number_of_runs": 3, "redirect_stderr_to_stdout": True, "compiler_options": "-O0 -DNAME='a b'",
        "command_line_arguments": "alpha 'beta gamma'", "cpu_extra_time": 0.5,
    })  # fmt: skip
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.limits["cpu_time"] == 2.5 and submission.limits["wall_time"] == 7.0
    assert submission.limits["memory"] == 256 and submission.limits["stack"] == 32000
    assert submission.limits["processes"] == 10 and submission.limits["file_size"] == 2048
    assert submission.compiler_options == ["-O0", "-DNAME=a b"] and submission.args == ["alpha", "beta gamma"]
    assert submission.number_of_runs == 3 and submission.redirect_stderr_to_stdout is True
    echo = submission.client_fields["judge0"]
    assert echo["cpu_time_limit"] == "2.5" and echo["wall_time_limit"] == "7.0" and echo["cpu_extra_time"] == "0.5"
    assert echo["compiler_options"] == "-O0 -DNAME='a b'"


def test_shell_characters_are_removed_from_options_as_judge0_does(client: APIClient) -> None:
    response = create(client, {"command_line_arguments": "a;b $HOME `x` c|d"})
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.args == ["ab", "HOME", "x", "cd"]


# --- 422: Judge0's validations and messages --------------------------------------------------------------------


def test_documented_422_missing_language(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions", {"source_code": DOC_SOURCE}, format="json")
    assert response.status_code == 422
    # Judge0's docs show the first message; a live 1.13.1 answers both (presence, then existence).
    assert response.json() == {"language_id": ["can't be blank", "language with id  doesn't exist"]}


def test_documented_422_unknown_language(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions", {"source_code": DOC_SOURCE, "language_id": 150000, "stdin": "world",
                                                  "expected_output": "hello, world"}, format="json")  # fmt: skip
    assert response.status_code == 422
    assert response.json() == {"language_id": ["language with id 150000 doesn't exist"]}


def test_documented_422_limit_above_the_maximum(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions", {
        "source_code": DOC_SOURCE, "language_id": 50, "number_of_runs": 1, "stdin": "Judge0",
        "expected_output": "hello, Judge0", "cpu_time_limit": 1, "cpu_extra_time": 0.5, "wall_time_limit": 100000,
        "memory_limit": 128000, "stack_limit": 128000, "enable_per_process_and_thread_time_limit": False,
        "enable_per_process_and_thread_memory_limit": False, "max_file_size": 1024,
    }, format="json")  # fmt: skip
    assert response.status_code == 422
    assert response.json() == {"wall_time_limit": ["must be less than or equal to 20.0"]}


def test_every_limit_above_its_maximum_is_reported_together_in_rails_order(client: APIClient) -> None:
    response = create(client, {"number_of_runs": 21, "cpu_extra_time": 6, "wall_time_limit": 21,
                               "memory_limit": 512001, "stack_limit": 128001, "max_processes_and_or_threads": 121,
                               "max_file_size": 4097, "cpu_time_limit": 16})  # fmt: skip
    assert response.status_code == 422
    assert response.json() == {
        "number_of_runs": ["must be less than or equal to 20"],
        "cpu_time_limit": ["must be less than or equal to 15.0"],
        "cpu_extra_time": ["must be less than or equal to 5.0"],
        "wall_time_limit": ["must be less than or equal to 20.0"],
        "memory_limit": ["must be less than or equal to 512000"],
        "stack_limit": ["must be less than or equal to 128000"],
        "max_processes_and_or_threads": ["must be less than or equal to 120"],
        "max_file_size": ["must be less than or equal to 4096"],
    }
    assert not Submission.objects.exists()


@pytest.mark.parametrize(("body", "errors"), [
    ({"source_code": "   "}, {"source_code": ["can't be blank"]}),
    ({"source_code": None}, {"source_code": ["can't be blank"]}),
    ({"cpu_time_limit": "abc"}, {"cpu_time_limit": ["is not a number"]}),
    ({"cpu_time_limit": True}, {"cpu_time_limit": ["is not a number"]}),
    ({"cpu_time_limit": -1}, {"cpu_time_limit": ["must be greater than or equal to 0"]}),
    ({"number_of_runs": 0}, {"number_of_runs": ["must be greater than 0"]}),
    ({"wall_time_limit": 0.5}, {"wall_time_limit": ["must be greater than or equal to 1"]}),
    ({"memory_limit": 1000}, {"memory_limit": ["must be greater than or equal to 2048"]}),
    ({"max_processes_and_or_threads": 0}, {"max_processes_and_or_threads": ["must be greater than 0"]}),
    ({"enable_network": True}, {"enable_network": ["enabling network is not allowed"]}),
    ({"enable_network": "true"}, {"enable_network": ["enabling network is not allowed"]}),
    ({"enable_per_process_and_thread_time_limit": True},
     {"enable_per_process_and_thread_time_limit": ["this option cannot be enabled"]}),
    ({"enable_per_process_and_thread_memory_limit": "1"},
     {"enable_per_process_and_thread_memory_limit": ["this option cannot be enabled"]}),
    ({"compiler_options": "-O2"}, {"compiler_options": ["setting compiler options is only allowed for compiled "
                                                        "languages"]}),
    ({"compiler_options": "x" * 513, "language_id": 50},
     {"compiler_options": ["is too long (maximum is 512 characters)"]}),
    ({"command_line_arguments": "x" * 513}, {"command_line_arguments": ["is too long (maximum is 512 characters)"]}),
    ({"callback_url": "https://hooks.example/judge0"}, {"callback_url": ["setting callback is not allowed"]}),
    ({"language_id": 62}, {"language_id": ["language with id 62 is archived and cannot be used anymore"]}),
    ({"language_id": 75}, {"language_id": ["language with id 75 doesn't exist"]}),
    ({"language_id": "abc"}, {"language_id": ["language with id 0 doesn't exist"]}),
])  # fmt: skip
def test_invalid_attributes_answer_422_with_rails_messages(client: APIClient, body: dict[str, Any],
                                                           errors: dict[str, list[str]]) -> None:  # fmt: skip
    response = create(client, body)
    assert response.status_code == 422
    assert response.json() == errors
    assert not Submission.objects.exists()


def test_explicit_false_and_null_options_are_accepted(client: APIClient) -> None:
    response = create(client, {"enable_network": False, "enable_per_process_and_thread_time_limit": "false",
                               "cpu_time_limit": None, "memory_limit": "", "stdin": None})  # fmt: skip
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.limits["cpu_time"] == 5.0 and submission.limits["memory"] == 125
    assert submission.client_fields["judge0"]["stdin_null"] is True


def test_arrays_where_scalars_belong_are_dropped_as_rails_permit_does(client: APIClient) -> None:
    response = create(client, {"stdin": ["a", "b"], "cpu_time_limit": {"x": 1}})
    assert response.status_code == 201
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.stdin == "" and submission.limits["cpu_time"] == 5.0


def test_a_limit_judge0_accepts_but_the_sandbox_does_not_is_422_on_that_attribute(client: APIClient) -> None:
    response = create(client, {"cpu_time_limit": 0})
    assert response.status_code == 422
    (message,) = response.json()["cpu_time_limit"]
    assert message.startswith("is not accepted by the sandbox")


def test_callback_urls_go_through_the_operators_allow_list(client: APIClient, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    refused = create(client, {"callback_url": "http://169.254.169.254/latest/meta-data"})
    assert refused.status_code == 422 and "allow-list" in refused.json()["callback_url"][0]
    accepted = create(client, {"callback_url": "https://hooks.example/judge0"})
    assert accepted.status_code == 201
    assert Submission.objects.get(token=accepted.json()["token"]).callback_url == "https://hooks.example/judge0"


def test_a_form_encoded_request_is_read_like_json(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions", {"source_code": "print(1)", "language_id": "71",
                                                  "redirect_stderr_to_stdout": "true"})  # fmt: skip
    assert response.status_code == 201
    assert Submission.objects.get(token=response.json()["token"]).redirect_stderr_to_stdout is True


def test_attributes_in_the_query_string_count_as_rails_params_do(client: APIClient) -> None:
    response = client.post(f"{URL}/submissions?language_id=54", {"source_code": "int main(){}"}, format="json")
    assert response.status_code == 201
    assert Submission.objects.get(token=response.json()["token"]).language_id == "cpp"


def test_invalid_fields_answer_400_before_anything_is_created(client: APIClient) -> None:
    response = create(client, query="?fields=token,bogus,status")
    assert response.status_code == 400 and response.json() == {"error": "invalid fields: [bogus]"}
    assert not Submission.objects.exists()


def test_a_full_queue_answers_503_with_retry_after(client: APIClient, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "MAX_QUEUED": 1}
    assert create(client).status_code == 201
    response = create(client)
    assert response.status_code == 503 and response.json() == {"error": "queue is full"}
    assert int(response["Retry-After"]) >= 1
    assert Submission.objects.count() == 1


def test_too_many_submissions_answer_429_with_retry_after(client: APIClient, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    assert create(client).status_code == 201
    response = create(client)
    assert response.status_code == 429 and "error" in response.json() and int(response["Retry-After"]) >= 1


# --- base64_encoded ------------------------------------------------------------------------------------------------


def test_documented_base64_request_is_decoded(client: APIClient) -> None:
    # The docs' example: source_code "I2luY2x1ZGUg...", its stdin sent as "input" (an attribute Judge0 ignores).
    encoded = ("I2luY2x1ZGUgPHN0ZGlvLmg+CgppbnQgbWFpbih2b2lkKSB7CiAgY2hhciBuYW1lWzEwXTsKICBzY2FuZigiJXMiLCBuYW1lKTsK"
               "ICBwcmludGYoImhlbGxvLCAlc1xuIiwgbmFtZSk7CiAgcmV0dXJuIDA7Cn0=")  # fmt: skip
    response = client.post(f"{URL}/submissions?base64_encoded=true",
                           {"source_code": encoded, "language_id": 50, "input": "SnVkZ2Uw"}, format="json")  # fmt: skip
    assert response.status_code == 201
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.source == DOC_SOURCE and submission.stdin == ""


def test_base64_source_stdin_and_expected_output_are_decoded(client: APIClient) -> None:
    response = create(client, {"source_code": b64("print('é')"), "stdin": b64("x\n"), "expected_output": b64("é\n")},
                      query="?base64_encoded=true")  # fmt: skip
    submission = Submission.objects.get(token=response.json()["token"])
    assert (submission.source, submission.stdin, submission.expected_output) == ("print('é')", "x\n", "é\n")


def test_base64_is_decoded_leniently_as_ruby_does(client: APIClient) -> None:
    wrapped = "cHJpbnQo\nMSk=\n"  # Ruby's encode64 wraps lines; junk characters are skipped, not refused
    response = create(client, {"source_code": wrapped, "stdin": "!!aGk*"}, query="?base64_encoded=true")
    assert response.status_code == 201
    submission = Submission.objects.get(token=response.json()["token"])
    assert submission.source == "print(1)" and submission.stdin == "hi"


def test_without_base64_encoded_the_text_is_taken_as_it_is(client: APIClient) -> None:
    response = create(client, {"source_code": "cHJpbnQoMSk="}, query="?base64_encoded=false")
    assert Submission.objects.get(token=response.json()["token"]).source == "cHJpbnQoMSk="


def test_base64_that_decodes_to_non_utf8_is_422_on_that_attribute(client: APIClient) -> None:
    response = create(client, {"source_code": b64("print(1)"), "stdin": base64.b64encode(b"\xff\xfe").decode()},
                      query="?base64_encoded=true")  # fmt: skip
    assert response.status_code == 422 and list(response.json()) == ["stdin"]


# --- additional_files --------------------------------------------------------------------------------------------


def test_additional_files_are_unpacked_beside_the_source(client: APIClient) -> None:
    archive = make_zip({"helper.py": b"X = 1\n", "data/input.txt": b"\x00\x01", "main.py": b"not the source"})
    response = create(client, {"source_code": "import helper", "additional_files": base64.b64encode(archive).decode()})
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get(token=response.json()["token"])
    files = {f["name"]: base64.b64decode(f["content"]) for f in submission.files}
    assert files == {"helper.py": b"X = 1\n", "data/input.txt": b"\x00\x01"}  # the source is never replaced
    assert base64.b64decode(submission.client_fields["judge0"]["additional_files"]) == archive


@pytest.mark.parametrize("archive", [
    make_zip({"../escape.txt": b"x"}),
    make_zip({"/etc/passwd": b"x"}),
    make_zip({"link": b"/etc/shadow"}, symlinks=("link",)),
    make_zip({"a": b"file", "a/b": b"under a file"}),
    make_zip({f"f{i}.txt": b"" for i in range(40)}),
    make_zip({"big.bin": b"\0" * (9 * 1024 * 1024)}),
    b"not a zip at all",
])  # fmt: skip
def test_unsafe_or_broken_archives_are_422_on_additional_files(client: APIClient, archive: bytes) -> None:
    response = create(client, {"additional_files": base64.b64encode(archive).decode()})
    assert response.status_code == 422 and list(response.json()) == ["additional_files"], response.json()
    assert not Submission.objects.exists()


# --- wait=true -------------------------------------------------------------------------------------------------


def test_wait_true_answers_201_with_the_finished_submission(client: APIClient, monkeypatch: Any) -> None:
    timeouts: list[float] = []

    def finished_at_once(submission: Submission, timeout: float) -> Submission:
        timeouts.append(timeout)
        return finish(submission, stdout=b"hello, Judge0\n")

    monkeypatch.setattr(services, "wait_finished", finished_at_once)
    response = create(client, {"stdin": "Judge0", "expected_output": "hello, Judge0"}, query="?wait=true")
    assert response.status_code == 201
    body = response.json()
    # the documented wait=true response: the default attributes, in Judge0's order
    assert list(body) == ["stdout", "time", "memory", "stderr", "token", "compile_output", "message", "status"]
    assert body["stdout"] == "hello, Judge0\n" and body["time"] == "0.012" and body["memory"] == 3072
    assert body["status"] == {"id": 3, "description": "Accepted"}
    assert 0 < timeouts[0] <= 60


def test_wait_true_with_output_that_is_not_utf8_answers_201_with_the_error_and_token(
    client: APIClient, monkeypatch: Any
) -> None:
    monkeypatch.setattr(services, "wait_finished", lambda s, timeout: finish(s, stdout=b"\xfe\n"))
    response = create(client, {"source_code": 'print("\\xFE")', "language_id": 71}, query="?wait=true")
    assert response.status_code == 201
    token = Submission.objects.get().token
    assert response.json() == {"error": "some attributes for this submission cannot be converted to UTF-8, use "
                                        "base64_encoded=true query parameter", "token": str(token)}  # fmt: skip


def test_wait_true_with_fields_and_base64(client: APIClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "wait_finished", lambda s, timeout: finish(s, stdout=b"\xfe\n"))
    response = create(client, {"source_code": b64("print(1)")},
                      query="?wait=true&base64_encoded=true&fields=stdout,status_id")  # fmt: skip
    assert response.status_code == 201 and response.json() == {"stdout": "/go=\n", "status_id": 3}


def test_a_request_body_over_djangos_limit_is_413(client: APIClient) -> None:
    response = create(client, {"stdin": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413 and "error" in response.json()


def test_wait_is_capped_and_an_unfinished_submission_is_answered_as_it_is(client: APIClient, settings: Any,
                                                                           monkeypatch: Any) -> None:  # fmt: skip
    settings.JUDGE0_WAIT_SECONDS = 0.5
    timeouts: list[float] = []
    monkeypatch.setattr(services, "wait_finished", lambda s, timeout: timeouts.append(timeout) or s)
    response = create(client, query="?wait=true")
    assert response.status_code == 201 and response.json()["status"] == {"id": 1, "description": "In Queue"}
    assert timeouts == [0.5]


def test_wait_only_means_the_string_true(client: APIClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "wait_finished", lambda s, timeout: pytest.fail("should not wait"))
    response = client.post(f"{URL}/submissions", {"source_code": "print(1)", "language_id": 71, "wait": True},
                           format="json")  # fmt: skip
    assert response.status_code == 201 and list(response.json()) == ["token"]
