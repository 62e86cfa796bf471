"""The native submissions API: create (one, a batch, waiting), read, list, rejudge; the statuses and the fields
named in errors; nothing half-written; throttling; the schema and its docs page."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from sandbox_service.api.permissions import ADMIN, GRADER, STUDENT
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status, Verdict
from tests.unit.sandbox_service.submissions.test_services import grade_result, outcome

pytestmark = pytest.mark.django_db
URL = "/api/v1/submissions/"
BATCH = "/api/v1/submissions/batch/"


# -------------------------------------------------------------------------------------------- fixtures ----



def make_user(username: str, role: str) -> User:
    """A user of `role` as core.services makes them (group and flags), without the cost of hashing a password."""
    user = User.objects.create_user(username, is_staff=role != STUDENT, is_superuser=role == ADMIN)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user: User | None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


@pytest.fixture
def student(db: Any) -> User:  # the shared fixture's, without hashing a password
    return make_user("student", STUDENT)


@pytest.fixture
def other_student(db: Any) -> User:
    return make_user("other", STUDENT)


@pytest.fixture
def grader(db: Any) -> User:
    return make_user("grader", GRADER)


@pytest.fixture
def other_grader(db: Any) -> User:
    return make_user("other-grader", GRADER)


@pytest.fixture
def admin(db: Any) -> User:
    return make_user("admin", ADMIN)


@pytest.fixture
def problem(grader: User) -> Problem:
    problem = Problem.objects.create(title="P", slug="p", published=True, owner=grader)
    TestCase.objects.create(problem=problem, order=1, visible=True, stdin="1\n", expected_output="1\n")
    TestCase.objects.create(problem=problem, order=2, visible=False, stdin="2\n", expected_output="2\n")
    return problem


@pytest.fixture
def client(student: User) -> APIClient:
    return client_for(student)


def finish(submission: Submission, verdict: str = Verdict.ACCEPTED) -> Submission:
    """Take a submission through the worker's services to finished, one result per test of its problem."""
    started = services.submission_start(submission.pk, "test-worker")
    assert started is not None
    if submission.problem is None:
        result, scratch = grade_result(outcome(1)), True
    else:
        cases = list(submission.problem.test_cases.order_by("order"))
        tests = [replace(outcome(i), test_case_id=case.pk) for i, case in enumerate(cases, start=1)]
        result, scratch = grade_result(*tests), False
    assert services.submission_record_result(submission.pk, started.attempts, replace(result, verdict=verdict),
                                             scratch=scratch)  # fmt: skip
    submission.refresh_from_db()
    return submission


def make(owner: User, **kwargs: Any) -> Submission:
    return services.submission_create(owner=owner, language_id=kwargs.pop("language_id", "python3"),
                                      source=kwargs.pop("source", "print(1)"), **kwargs)  # fmt: skip


# ---------------------------------------------------------------------------------------------- create ----


def test_anonymous_requests_are_refused(languages: Any) -> None:
    assert APIClient().post(URL, {"language": "python3", "source": "print(1)"}, format="json").status_code == 401


def test_create_answers_201_with_the_token(client: APIClient, languages: Any) -> None:
    response = client.post(URL, {"language": "python3", "source": "print(input())", "stdin": "hi\n"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["token"]
    assert Submission.objects.get(token=body["token"]).stdin == "hi\n"


def test_create_stores_every_option(client: APIClient, languages: Any) -> None:
    payload = {
        "language": "c", "source": "int main(){}", "stdin": "in", "expected_output": "out", "args": ["-v", ""],
        "files": [{"name": "data/a.txt", "content": "A"},
                  {"name": "b.bin", "content": base64.b64encode(b"\x00\x01").decode(), "encoding": "base64"}],
        "limits": {"cpu_time": 1.5, "memory": 128, "output": 64.0}, "compiler_options": ["-O2", "-lm"],
        "redirect_stderr_to_stdout": True, "number_of_runs": 3,
    }  # fmt: skip
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    sub = Submission.objects.get(token=response.json()["token"])
    assert (sub.language_id, sub.source, sub.stdin, sub.expected_output, sub.args) == (
        "c", "int main(){}", "in", "out", ["-v", ""])
    assert sub.files == [{"name": "data/a.txt", "content": "A", "encoding": "utf8"},
                         {"name": "b.bin", "content": "AAE=", "encoding": "base64"}]  # fmt: skip
    assert sub.limits["cpu_time"] == 1.5 and sub.limits["memory"] == 128 and sub.limits["output"] == 64
    assert sub.compiler_options == ["-O2", "-lm"] and sub.redirect_stderr_to_stdout and sub.number_of_runs == 3
    assert sub.queue == Queue.INTERACTIVE
    body = response.json()
    assert body["files"][0]["name"] == "data/a.txt" and body["compiler_options"] == ["-O2", "-lm"]


@pytest.mark.parametrize("encoding", ["utf8", "base64"])
def test_the_source_may_come_as_the_languages_source_file(client: APIClient, languages: Any, encoding: str) -> None:
    code = "print('é')\n"
    content = base64.b64encode(code.encode()).decode() if encoding == "base64" else code
    files = [{"name": "lib.py", "content": "X = 1"}, {"name": "main.py", "content": content, "encoding": encoding}]
    response = client.post(URL, {"language": "python3", "files": files}, format="json")
    assert response.status_code == 201, response.json()
    sub = Submission.objects.get(token=response.json()["token"])
    assert sub.source == code and [f["name"] for f in sub.files] == ["lib.py"]


def test_a_file_error_names_the_files_index_of_the_request_even_after_the_source_is_taken_out(
    client: APIClient, languages: Any
) -> None:
    files = [{"name": "main.py", "content": "print(1)"}, {"name": "../x", "content": ""}]
    response = client.post(URL, {"language": "python3", "files": files}, format="json")
    assert response.status_code == 400 and "files[1].name" in response.json(), response.json()


@pytest.mark.parametrize(("payload", "field"), [
    ({"source": "x"}, "language"),
    ({"language": "python3"}, "source"),
    ({"language": "python3", "files": [{"name": "other.py", "content": "1"}]}, "source"),
    ({"language": "python3", "files": [{"name": "main.py", "content": "//8=", "encoding": "base64"}]},
     "files[0].content"),
    ({"language": "cobol", "source": "x"}, "language"),
    ({"language": "java", "source": "x"}, "language"),  # unavailable
    ({"language": "python3", "source": "x", "limits": {"memory": 10**7}}, "limits.memory"),
    ({"language": "python3", "source": "x", "limits": {"cpu_time": 0}}, "limits.cpu_time"),
    ({"language": "python3", "source": "x", "limits": {"memory": 1.5}}, "limits.memory"),
    ({"language": "python3", "source": "x", "files": [{"name": "/etc/x", "content": ""}]}, "files[0].name"),
    ({"language": "python3", "source": "x", "files": [{"name": "a", "content": "", "encoding": "rot13"}]},
     "files[0].encoding"),
    ({"language": "python3", "source": "x", "files": [{"name": "a", "content": "!", "encoding": "base64"}]},
     "files[0].content"),
    ({"language": "python3", "source": "x", "problem": "nope"}, "problem"),
    ({"language": "python3", "source": "x", "number_of_runs": 0}, "number_of_runs"),
    ({"language": "python3", "source": "x", "number_of_runs": 21}, "number_of_runs"),
    ({"language": "python3", "source": "x", "compiler_options": ["-O2"] * 33}, "compiler_options"),
    ({"language": "python3", "source": "x", "args": "not a list"}, "args"),
    ({"language": "python3", "source": "x", "callback_url": "http://169.254.169.254/latest/"}, "callback_url"),
    ({"language": "python3", "source": "x", "redirect_stderr_to_stdout": "perhaps"}, "redirect_stderr_to_stdout"),
])  # fmt: skip
def test_bad_input_answers_400_naming_the_field(client: APIClient, languages: Any, payload: dict[str, Any],
                                                field: str) -> None:  # fmt: skip
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Submission.objects.exists()


@pytest.mark.parametrize(("payload", "fields"), [
    ({"language": "python3", "source": "x", "stdn": "typo", "priority": 1}, ["priority", "stdn"]),
    ({"language": "python3", "source": "x", "files": [{"name": "a", "content": "", "mode": "0755"}]},
     ["files[0].mode"]),
    ({"language": "python3", "source": "x", "limits": {"memory": 64, "disk": 10}}, ["limits.disk"]),
])  # fmt: skip
def test_unknown_fields_answer_400_naming_them(client: APIClient, languages: Any, payload: dict[str, Any],
                                               fields: list[str]) -> None:  # fmt: skip
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400 and all(f in response.json() for f in fields), response.json()
    assert not Submission.objects.exists()


def test_invalid_json_answers_400_json(client: APIClient, languages: Any) -> None:
    response = client.post(URL, '{"language": "python3", "source": ', content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    for body in ("[1, 2]", '"text"', "null", '{"language": NaN}'):
        response = client.post(URL, body, content_type="application/json")
        assert response.status_code == 400 and response["Content-Type"] == "application/json", body


def test_a_body_that_is_not_json_answers_415(client: APIClient, languages: Any) -> None:
    response = client.post(URL, {"language": "python3", "source": "x"})  # multipart
    assert response.status_code == 415 and response.json()["detail"]


def test_sizes_are_bounded(client: APIClient, languages: Any) -> None:
    big_source = "é" * (services.MAX_SOURCE_BYTES // 2 + 1)  # fewer characters than the limit, more bytes
    response = client.post(URL, {"language": "python3", "source": big_source}, format="json")
    assert response.status_code == 400 and "source" in response.json()
    response = client.post(URL, {"language": "python3", "source": "x" * (services.MAX_SOURCE_BYTES + 1)},
                           format="json")  # fmt: skip
    assert response.status_code == 400 and "source" in response.json()
    response = client.post(URL, {"language": "python3", "source": "x", "stdin": "1" * (services.MAX_STDIN_BYTES + 1)},
                           format="json")  # fmt: skip
    assert response.status_code == 400 and "stdin" in response.json()
    ok = client.post(URL, {"language": "python3", "source": "x", "stdin": "1" * services.MAX_STDIN_BYTES},
                     format="json")  # fmt: skip
    assert ok.status_code == 201  # 16 MiB exactly is accepted (DRF reads JSON past DATA_UPLOAD_MAX_MEMORY_SIZE)
    assert not Submission.objects.exclude(pk=Submission.objects.get().pk).exists()


def test_a_body_past_the_bound_answers_413(client: APIClient, languages: Any) -> None:
    response = client.post(URL, '{"source": "' + "x" * (48 * 1024 * 1024) + '"}', content_type="application/json")
    assert response.status_code == 413 and not Submission.objects.exists()


@pytest.mark.parametrize("field", ["source", "stdin", "expected_output"])
def test_nul_characters_answer_400(client: APIClient, languages: Any, field: str) -> None:
    payload = {"language": "python3", "source": "x", field: "a\x00b"}
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    response = client.post(URL, {"language": "python3", "source": "x", "compiler_options": ["-D\x00"]}, format="json")
    assert response.status_code == 400 and "compiler_options[0]" in response.json(), response.json()


def test_a_callback_url_on_the_allow_list_is_kept(client: APIClient, languages: Any, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org"]
    response = client.post(URL, {"language": "python3", "source": "x", "callback_url": "https://hooks.example.org/x"},
                           format="json")  # fmt: skip
    assert response.status_code == 201 and response.json()["callback_status"] == "pending"


def test_scratch_only_fields_are_refused_on_a_problem(client: APIClient, languages: Any, problem: Problem) -> None:
    payload = {"language": "python3", "source": "x", "problem": "p", "stdin": "1", "number_of_runs": 2}
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400 and {"stdin", "number_of_runs"} <= set(response.json())


def test_only_a_problems_graders_may_set_its_limits(languages: Any, problem: Problem, student: User,
                                                    grader: User) -> None:  # fmt: skip
    payload = {"language": "python3", "source": "x", "problem": "p", "limits": {"memory": 64}}
    refused = client_for(student).post(URL, payload, format="json")
    assert refused.status_code == 400 and "limits" in refused.json()
    assert client_for(grader).post(URL, payload, format="json").status_code == 201


def test_an_unpublished_problem_is_unknown_to_students(languages: Any, problem: Problem, client: APIClient) -> None:
    Problem.objects.filter(pk=problem.pk).update(published=False)
    response = client.post(URL, {"language": "python3", "source": "x", "problem": "p"}, format="json")
    assert response.status_code == 400 and "problem" in response.json()


def test_rate_limit_answers_429_and_full_queue_503_with_retry_after(
    client: APIClient, languages: Any, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    assert client.post(URL, {"language": "python3", "source": "1"}, format="json").status_code == 201
    limited = client.post(URL, {"language": "python3", "source": "2"}, format="json")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1 and limited.json()["detail"]
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 100, "MAX_QUEUED": 1}
    full = client.post(URL, {"language": "python3", "source": "3"}, format="json")
    assert full.status_code == 503 and int(full["Retry-After"]) >= 1 and full.json()["detail"]
    assert Submission.objects.count() == 1  # the accepted one is kept, nothing half-written


# ------------------------------------------------------------------------------------------------ wait ----


@pytest.mark.parametrize("how", ["query", "body"])
def test_wait_past_the_cap_answers_202_with_the_queued_submission(
    client: APIClient, languages: Any, settings: Any, how: str
) -> None:
    settings.API_WAIT_MAX_SECONDS = 0.3
    payload: dict[str, Any] = {"language": "python3", "source": "print(1)"}
    url = URL + "?wait=true" if how == "query" else URL
    if how == "body":
        payload["wait"] = True
    started = time.monotonic()
    response = client.post(url, payload, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert 0.3 <= time.monotonic() - started < 5


def test_a_bad_wait_value_answers_400(client: APIClient, languages: Any) -> None:
    response = client.post(URL + "?wait=maybe", {"language": "python3", "source": "1"}, format="json")
    assert response.status_code == 400 and "wait" in response.json() and not Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_wait_answers_201_with_the_result_once_a_worker_finishes_it(languages: Any, student: User,
                                                                    settings: Any) -> None:  # fmt: skip
    """The real mechanism: a "worker" thread takes the queued row and records its result through the services;
    the waiting request wakes up (Redis notice or, without Redis, the row) and answers with it."""
    settings.API_WAIT_MAX_SECONDS = 20
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                queued = Submission.objects.filter(status=Status.QUEUED).first()
                if queued is not None:
                    time.sleep(0.2)  # let the request start waiting
                    finish(queued)
                    return
                time.sleep(0.02)
            raise AssertionError("no submission was queued")
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    started = time.monotonic()
    response = client_for(student).post(URL + "?wait=1", {"language": "python3", "source": "print(1)"},
                                        format="json")  # fmt: skip
    thread.join(15)
    assert not errors, errors
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "finished" and body["verdict"] == "accepted" and body["stdout"] == "out"
    assert time.monotonic() - started < 10


# ----------------------------------------------------------------------------------------------- batch ----


def test_a_batch_creates_every_submission_on_the_grading_queue(client: APIClient, languages: Any,
                                                                problem: Problem) -> None:  # fmt: skip
    items = [{"language": "python3", "source": f"print({i})"} for i in range(3)]
    items.append({"language": "c", "source": "int main(){}", "problem": "p"})
    response = client.post(BATCH, {"submissions": items}, format="json")
    assert response.status_code == 201, response.json()
    tokens = [s["token"] for s in response.json()["submissions"]]
    subs = {str(s.token): s for s in Submission.objects.all()}
    assert len(tokens) == 4 and set(tokens) == set(subs)
    assert all(s.queue == Queue.GRADING for s in subs.values())
    assert subs[tokens[3]].problem == problem and response.json()["submissions"][3]["problem"] == "p"


@pytest.mark.parametrize(("item", "field"), [
    ({"language": "cobol", "source": "x"}, "submissions[2].language"),
    ({"language": "python3"}, "submissions[2].source"),
    ({"language": "python3", "source": "x", "problem": "nope"}, "submissions[2].problem"),
    ({"language": "python3", "source": "x", "limits": {"memory": 10**7}}, "submissions[2].limits.memory"),
    ({"language": "python3", "source": "x", "files": [{"name": "..", "content": ""}]},
     "submissions[2].files[0].name"),
    ({"language": "python3", "source": "x", "wait": True}, "submissions[2].wait"),
])  # fmt: skip
def test_one_bad_item_answers_400_with_its_index_and_writes_nothing(
    client: APIClient, languages: Any, item: dict[str, Any], field: str
) -> None:
    good = {"language": "python3", "source": "print(1)"}
    response = client.post(BATCH, {"submissions": [good, good, item, good]}, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Submission.objects.exists()


def test_a_batch_is_bounded_and_not_empty(client: APIClient, languages: Any) -> None:
    item = {"language": "python3", "source": "1"}
    too_many = client.post(BATCH, {"submissions": [item] * 101}, format="json")
    assert too_many.status_code == 400 and "submissions" in too_many.json()
    assert client.post(BATCH, {"submissions": []}, format="json").status_code == 400
    assert client.post(BATCH, {"submissions": [item], "extra": 1}, format="json").status_code == 400
    assert client.post(BATCH, [item], format="json").status_code == 400
    assert not Submission.objects.exists()


def test_a_batch_that_hits_the_rate_limit_midway_writes_nothing(client: APIClient, languages: Any,
                                                                settings: Any) -> None:  # fmt: skip
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 3}
    response = client.post(BATCH, {"submissions": [{"language": "python3", "source": "1"}] * 5}, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert not Submission.objects.exists()
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 100, "MAX_QUEUED": 2}
    response = client.post(BATCH, {"submissions": [{"language": "python3", "source": "1"}] * 3}, format="json")
    assert response.status_code == 503 and not Submission.objects.exists()


# ------------------------------------------------------------------------------------------------ read ----


def test_another_students_submission_is_404(client: APIClient, languages: Any, other_student: User) -> None:
    theirs = make(other_student)
    assert client.get(f"{URL}{theirs.token}/").status_code == 404
    assert client.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_students_view_withholds_hidden_tests_output(client: APIClient, languages: Any, student: User,
                                                       problem: Problem, grader: User) -> None:  # fmt: skip
    sub = finish(make(student, problem=problem))
    body = client.get(f"{URL}{sub.token}/").json()
    assert body["status"] == "finished" and [r["stdout"] for r in body["results"]] == ["out", ""]
    assert [r["verdict"] for r in body["results"]] == ["accepted", "accepted"]  # the verdict is not withheld
    graders_view = client_for(grader).get(f"{URL}{sub.token}/").json()
    assert [r["stdout"] for r in graders_view["results"]] == ["out", "out"]


def test_a_scratch_runs_output_is_shown(client: APIClient, languages: Any, student: User) -> None:
    sub = finish(make(student, stdin="x"))
    body = client.get(f"{URL}{sub.token}/").json()
    assert (body["stdout"], body["output"], body["exit_code"], body["results"]) == ("out", "out", 0, [])
    assert body["source"] == "print(1)" and body["owner"] == "student" and body["problem"] is None


# ------------------------------------------------------------------------------------------------ list ----


def _list(api: APIClient, query: str = "") -> dict[str, Any]:
    response = api.get(URL + query)
    assert response.status_code == 200, response.json()
    return dict(response.json())


def test_the_list_shows_only_what_the_requester_may_see(languages: Any, student: User, other_student: User,
                                                        problem: Problem, grader: User, other_grader: User,
                                                        admin: User) -> None:  # fmt: skip
    mine_graded = make(student, problem=problem)
    mine_scratch = make(student)
    theirs = make(other_student)
    graders_own = make(grader)
    tokens = {s.pk: str(s.token) for s in (mine_graded, mine_scratch, theirs, graders_own)}

    def seen(user: User) -> set[str]:
        return {s["token"] for s in _list(client_for(user))["results"]}

    assert seen(student) == {tokens[mine_graded.pk], tokens[mine_scratch.pk]}
    assert seen(grader) == {tokens[mine_graded.pk], tokens[graders_own.pk]}  # their problem's, and their own
    assert seen(other_grader) == set()
    assert seen(admin) == set(tokens.values())


def test_the_list_filters(languages: Any, student: User, other_student: User, problem: Problem,
                          admin: User) -> None:  # fmt: skip
    graded = finish(make(student, problem=problem), verdict=Verdict.WRONG_ANSWER)
    scratch = make(student)
    theirs = make(other_student, problem=problem)
    old = timezone.now() - timedelta(days=3)
    Submission.objects.filter(pk=theirs.pk).update(created_at=old)
    api = client_for(admin)

    def tokens(query: str) -> set[str]:
        return {s["token"] for s in _list(api, query)["results"]}

    assert tokens("?problem=p") == {str(graded.token), str(theirs.token)}
    assert tokens("?user=student") == {str(graded.token), str(scratch.token)}
    assert tokens("?status=queued") == {str(scratch.token), str(theirs.token)}
    assert tokens("?verdict=wrong_answer") == {str(graded.token)}
    cut = (timezone.now() - timedelta(days=1)).isoformat()
    assert tokens(f"?created_before={cut.replace('+', '%2B')}") == {str(theirs.token)}
    assert tokens(f"?created_after={cut.replace('+', '%2B')}") == {str(graded.token), str(scratch.token)}
    assert tokens(f"?created_after={(timezone.now() - timedelta(days=1)).date().isoformat()}") == {
        str(graded.token), str(scratch.token)}
    assert tokens("?problem=p&user=other&status=queued") == {str(theirs.token)}
    # A student filtering by another user sees nothing of theirs.
    assert {s["token"] for s in _list(client_for(student), "?user=other")["results"]} == set()


@pytest.mark.parametrize("query", ["?status=lost", "?verdict=fine", "?created_after=yesterday", "?problem=a%20b"])
def test_a_bad_filter_answers_400(client: APIClient, languages: Any, query: str) -> None:
    response = client.get(URL + query)
    assert response.status_code == 400 and query[1:].split("=")[0] in response.json()


def test_the_list_is_paginated_newest_first(client: APIClient, languages: Any, student: User,
                                            settings: Any) -> None:  # fmt: skip
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 100}
    made = [make(student, source=f"print({i})") for i in range(5)]
    first = _list(client, "?page_size=2")
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"] and first["previous"] is None
    assert [s["token"] for s in first["results"]] == [str(made[4].token), str(made[3].token)]
    last = _list(client, "?page_size=2&page=3")
    assert [s["token"] for s in last["results"]] == [str(made[0].token)] and last["next"] is None
    assert client.get(URL + "?page=9").status_code == 404


def test_the_list_carries_no_source_or_output(client: APIClient, languages: Any, student: User) -> None:
    make(student, source="SECRET-SOURCE")
    item = _list(client)["results"][0]
    assert "source" not in item and "stdout" not in item and "results" not in item
    assert item["owner"] == "student" and item["language"] == "python3" and item["status"] == "queued"


@pytest.mark.parametrize("role", [STUDENT, GRADER, ADMIN])
def test_the_list_costs_a_fixed_number_of_queries(languages: Any, student: User, problem: Problem, grader: User,
                                                  admin: User, role: str,
                                                  django_assert_max_num_queries: Any) -> None:  # fmt: skip
    users = {STUDENT: student, GRADER: grader, ADMIN: admin}
    rows = [Submission(owner=student, problem=problem if i % 2 else None, language_id="python3",
                       source="x" * 1000) for i in range(40)]  # fmt: skip
    Submission.objects.bulk_create(rows)
    api = client_for(users[role])
    with django_assert_max_num_queries(3):  # the requester's role (groups), one COUNT, one SELECT with its joins
        body = _list(api, "?page_size=30")
    assert len(body["results"]) == (30 if role != GRADER else 20)


# --------------------------------------------------------------------------------------------- rejudge ----


def test_rejudge_queues_a_finished_submission_again_on_the_grading_queue(
    languages: Any, student: User, problem: Problem, grader: User, django_capture_on_commit_callbacks: Any
) -> None:
    sub = finish(make(student, problem=problem))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(grader).post(f"{URL}{sub.token}/rejudge/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert len(callbacks) == 1  # enqueued once committed
    sub.refresh_from_db()
    assert sub.status == Status.QUEUED and sub.queue == Queue.GRADING


def test_rejudging_an_unfinished_submission_is_409(languages: Any, student: User, problem: Problem,
                                                   grader: User) -> None:  # fmt: skip
    sub = make(student, problem=problem)
    response = client_for(grader).post(f"{URL}{sub.token}/rejudge/")
    assert response.status_code == 409 and "finished" in response.json()["detail"]
    services.submission_start(sub.pk, "w")
    assert client_for(grader).post(f"{URL}{sub.token}/rejudge/").status_code == 409


def test_rejudging_a_problem_queues_its_finished_submissions(languages: Any, student: User, other_student: User,
                                                             problem: Problem, grader: User) -> None:  # fmt: skip
    done = [finish(make(student, problem=problem)), finish(make(other_student, problem=problem))]
    waiting_one = make(student, problem=problem)
    response = client_for(grader).post("/api/v1/problems/p/rejudge/")
    assert response.status_code == 202 and response.json() == {"rejudged": 2}
    assert set(Submission.objects.filter(status=Status.QUEUED, queue=Queue.GRADING).values_list("pk", flat=True)) == {
        s.pk for s in done}
    assert Submission.objects.get(pk=waiting_one.pk).queue == Queue.INTERACTIVE
    assert client_for(grader).post("/api/v1/problems/nope/rejudge/").status_code == 404


# ------------------------------------------------------------------------------------------ throttling ----


def test_reads_are_throttled_per_account_with_retry_after(languages: Any, student: User, other_student: User,
                                                          settings: Any) -> None:  # fmt: skip
    settings.API_THROTTLE_RATES = {"read": "2/min"}
    api = client_for(student)
    assert [api.get("/api/v1/languages/").status_code for _ in range(2)] == [200, 200]
    throttled = api.get(URL)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert client_for(other_student).get(URL).status_code == 200  # another account has its own budget
    assert api.post(URL, {"language": "python3", "source": "1"}, format="json").status_code == 201  # writes apart


def test_submission_creates_are_throttled(languages: Any, student: User, settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"submit": "1/min"}
    api = client_for(student)
    assert api.post(URL, {"language": "python3", "source": "1"}, format="json").status_code == 201
    throttled = api.post(BATCH, {"submissions": [{"language": "python3", "source": "1"}]}, format="json")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert api.get(URL).status_code == 200
    assert Submission.objects.count() == 1


# -------------------------------------------------------------------------------------- schema and docs ----


def test_the_schema_and_its_docs_page_are_served() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/submissions/", "/api/v1/submissions/batch/", "/api/v1/submissions/{token}/rejudge/",
            "/api/v1/problems/{slug}/rejudge/", "/api/v1/tokens/", "/api/v1/tokens/{token_id}/",
            "/api/v1/languages/"} <= set(paths)  # fmt: skip
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content and b"<script>" not in docs.content
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content  # no CDN: served by us
    assert b"cdn.jsdelivr" not in docs.content
    start = APIClient().get("/api/docs/?script=")  # Swagger UI's start-up script: a file, not inline (the CSP)
    assert start.status_code == 200 and b"/api/schema/" in start.content


def test_unknown_api_urls_answer_json_404_and_a_missing_slash_a_308(client: APIClient, languages: Any) -> None:
    for method in ("get", "post", "delete"):
        response = getattr(client, method)("/api/v1/nothing-here/")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}, method
    assert client.get("/api/v1/submissions/not-a-token/").json() == {"detail": "Not found."}
    moved = client.post("/api/v1/submissions?wait=0", {"language": "python3", "source": "1"}, format="json")
    assert moved.status_code == 308 and moved["Location"] == "/api/v1/submissions/?wait=0"
    assert not Submission.objects.exists()
