"""The student's pages through Django's test client: what each page shows, what each form creates, the JSON the
editor's script gets, and what a student may not see. The browser itself is driven in tests/e2e."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Stage, Status
from sandbox_service.web import views

pytestmark = pytest.mark.django_db

STATEMENT = """Add two numbers.

<script>alert(1)</script><b onclick="x()">bold</b>

| a | b |
|---|---|
| 1 | 2 |
"""


@pytest.fixture
def problem(languages: Any) -> Problem:
    problem = Problem.objects.create(title="A + B", slug="a-plus-b", published=True, statement=STATEMENT,
                                     cpu_time=2.0, memory=128)  # fmt: skip
    TestCase.objects.create(problem=problem, order=1, stdin="1 2\n", expected_output="3\n", visible=True, points=2)
    TestCase.objects.create(problem=problem, order=2, stdin="zz-secret-input\n", expected_output="zz-secret-output\n",
                            points=3)  # fmt: skip
    Problem.objects.create(title="Draft", slug="draft", published=False)
    return problem


def finish(submission: Submission, verdict: str, score: int = 0, **fields: Any) -> Submission:
    """Write a finished result as a worker would (the pipeline itself is tested in tests/integration)."""
    Submission.objects.filter(pk=submission.pk).update(status=Status.FINISHED, verdict=verdict, score=score,
                                                       finished_at=timezone.now(), **fields)  # fmt: skip
    submission.refresh_from_db()
    return submission


def result(submission: Submission, case: TestCase, order: int, verdict: str, stdout: str = "", **fields: Any) -> None:
    TestResult.objects.create(submission=submission, test_case=case, order=order, verdict=verdict, stdout=stdout,
                              cpu_time=0.012, memory=3 * 1024 * 1024, **fields)  # fmt: skip


# --- pages ------------------------------------------------------------------------------------------------------


def test_home_lists_published_problems_with_the_students_best_score(client: Client, problem: Problem,
                                                                    student: User) -> None:  # fmt: skip
    page = client.get("/").content.decode()
    assert "A + B" in page and "Draft" not in page and "best score" not in page  # anonymous: no scores
    client.force_login(student)
    assert "not tried" in client.get("/").content.decode()
    worse = services.submission_create(owner=student, language_id="python3", source="x", problem=problem)
    better = services.submission_create(owner=student, language_id="python3", source="y", problem=problem)
    finish(worse, "wrong_answer", score=2)
    finish(better, "wrong_answer", score=3)
    run = services.submission_run_create(owner=student, language_id="python3", source="z", problem=problem, stdin=None)
    finish(run, "accepted", score=5)  # a Run of the examples never counts
    page = client.get("/").content.decode()
    assert "3 / 5" in page and "solved" not in page


def test_home_marks_a_problem_solved_after_an_accepted_submission(client: Client, problem: Problem,
                                                                  student: User) -> None:  # fmt: skip
    finish(services.submission_create(owner=student, language_id="python3", source="x", problem=problem),
           "accepted", score=5)  # fmt: skip
    client.force_login(student)
    page = client.get("/").content.decode()
    assert "5 / 5" in page and "solved" in page


def test_a_problem_page_needs_a_login(client: Client, problem: Problem) -> None:
    response = client.get("/problems/a-plus-b/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_problem_page_renders_the_statement_as_sanitised_markdown(client: Client, problem: Problem,
                                                                    student: User) -> None:  # fmt: skip
    client.force_login(student)
    page = client.get("/problems/a-plus-b/").content.decode()
    assert "<p>Add two numbers.</p>" in page and "<table>" in page and "<td>1</td>" in page
    assert "<script>alert(1)</script>" not in page and "onclick" not in page and "<b>bold</b>" in page


def test_a_problem_page_shows_limits_visible_examples_only_and_an_editor_form(client: Client, problem: Problem,
                                                                              student: User) -> None:  # fmt: skip
    client.force_login(student)
    page = client.get("/problems/a-plus-b/").content.decode()
    assert "2.0 s" in page and "128 MiB" in page
    assert "1 2" in page and "zz-secret" not in page
    for label in ('for="id_language"', 'for="id_source"', 'for="id_stdin"', 'value="run"', 'value="submit"'):
        assert label in page
    assert client.get("/problems/draft/").status_code == 404


def test_pages_forbid_inline_scripts(client: Client, problem: Problem, student: User) -> None:
    client.force_login(student)
    for url in ("/", "/problems/a-plus-b/", "/playground/", "/submissions/", "/accounts/login/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


# --- Run and Submit without JavaScript ------------------------------------------------------------------------


def test_submit_without_javascript_creates_a_graded_submission_and_redirects_to_it(
        client: Client, problem: Problem, student: User) -> None:  # fmt: skip
    client.force_login(student)
    response = client.post("/problems/a-plus-b/", {"language": "python3", "source": "print(3)", "action": "submit"})
    submission = Submission.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/submissions/{submission.token}/"
    assert submission.problem == problem and not submission.examples_only and submission.tests_total == 2


def test_run_on_the_examples_runs_the_visible_tests_only_ungraded(client: Client, problem: Problem,
                                                                  student: User) -> None:  # fmt: skip
    client.force_login(student)
    client.post("/problems/a-plus-b/", {"language": "python3", "source": "print(3)", "action": "run",
                                        "run_on": "examples"})  # fmt: skip
    submission = Submission.objects.get()
    assert submission.problem == problem and submission.examples_only and submission.tests_total == 1


def test_run_on_my_input_is_a_scratch_run_under_the_problems_limits(client: Client, problem: Problem,
                                                                    student: User) -> None:  # fmt: skip
    client.force_login(student)
    client.post("/problems/a-plus-b/", {"language": "python3", "source": "print(input())", "action": "run",
                                        "run_on": "custom", "stdin": "41 1\n"})  # fmt: skip
    submission = Submission.objects.get()
    assert submission.problem is None and submission.stdin == "41 1\n"
    assert submission.limits["cpu_time"] == 2.0 and submission.limits["memory"] == 128


def test_the_browsers_crlf_line_breaks_become_plain_newlines(client: Client, languages: Any, student: User) -> None:
    client.force_login(student)
    client.post("/playground/", {"language": "bash", "source": "read -r x\r\necho $x\r\n", "stdin": "a\r\nb\r\n"})
    submission = Submission.objects.get()
    assert submission.source == "read -r x\necho $x\n" and submission.stdin == "a\nb\n"


def test_a_bad_form_is_shown_again_with_the_field_named(client: Client, problem: Problem, student: User) -> None:
    client.force_login(student)
    response = client.post("/problems/a-plus-b/", {"language": "cobol", "source": "", "action": "submit"})
    page = response.content.decode()
    assert response.status_code == 400 and Submission.objects.count() == 0
    assert "Select a valid choice" in page and "This field is required" in page


def test_the_playground_runs_any_language_on_its_input(client: Client, languages: Any, student: User) -> None:
    client.force_login(student)
    page = client.get("/playground/").content.decode()
    assert 'value="submit"' not in page and 'for="id_stdin"' in page and "Run on" not in page
    response = client.post("/playground/", {"language": "bash", "source": "cat", "stdin": "hi\n", "action": "submit"})
    submission = Submission.objects.get()
    assert response.status_code == 302 and submission.problem is None and submission.stdin == "hi\n"


# --- the editor's JSON ----------------------------------------------------------------------------------------


def post_json(client: Client, url: str, data: dict[str, str]) -> Any:
    return client.post(url, data, HTTP_ACCEPT="application/json")


def test_the_editor_gets_json_with_the_addresses_of_the_new_submission(client: Client, problem: Problem,
                                                                       student: User) -> None:  # fmt: skip
    client.force_login(student)
    response = post_json(client, "/problems/a-plus-b/", {"language": "python3", "source": "print(3)",
                                                         "action": "submit"})  # fmt: skip
    submission = Submission.objects.get()
    assert response.status_code == 201
    assert response.json() == {"token": str(submission.token), "url": f"/submissions/{submission.token}/",
                               "state_url": f"/submissions/{submission.token}/state"}  # fmt: skip


def test_the_editor_gets_the_errors_by_field_as_json(client: Client, problem: Problem, student: User) -> None:
    client.force_login(student)
    response = post_json(client, "/problems/a-plus-b/", {"language": "python3", "source": "", "action": "run"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["source"]


def test_a_problem_without_examples_says_so_when_asked_to_run_them(client: Client, problem: Problem,
                                                                   student: User) -> None:  # fmt: skip
    problem.test_cases.update(visible=False)
    client.force_login(student)
    response = post_json(client, "/problems/a-plus-b/", {"language": "python3", "source": "1", "action": "run"})
    assert response.status_code == 400 and "no visible examples" in response.json()["errors"]["__all__"][0]


def test_too_many_submissions_answer_429_with_retry_after(client: Client, problem: Problem, student: User,
                                                          settings: Any) -> None:  # fmt: skip
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    client.force_login(student)
    data = {"language": "python3", "source": "1", "action": "submit"}
    assert post_json(client, "/problems/a-plus-b/", data).status_code == 201
    response = post_json(client, "/problems/a-plus-b/", data)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "too many submissions" in response.json()["errors"]["__all__"][0]


# --- results ----------------------------------------------------------------------------------------------------


def test_a_queued_submission_shows_its_place_in_the_queue_and_refreshes_without_javascript(
        client: Client, problem: Problem, student: User, other_student: User) -> None:  # fmt: skip
    services.submission_create(owner=other_student, language_id="python3", source="1", problem=problem)
    mine = services.submission_create(owner=student, language_id="python3", source="2", problem=problem)
    client.force_login(student)
    page = client.get(f"/submissions/{mine.token}/").content.decode()
    assert "In the queue: position 2" in page
    assert '<noscript><meta http-equiv="refresh"' in page


@pytest.mark.parametrize(("stage", "done", "shown"), [(Stage.COMPILING, 0, "Compiling"),
                                                      (Stage.TESTING, 0, "Running test 1 of 2"),
                                                      (Stage.TESTING, 1, "Running test 2 of 2")])  # fmt: skip
def test_a_running_submission_shows_its_stage_and_test(client: Client, problem: Problem, student: User, stage: str,
                                                       done: int, shown: str) -> None:  # fmt: skip
    submission = services.submission_create(owner=student, language_id="python3", source="2", problem=problem)
    Submission.objects.filter(pk=submission.pk).update(status=Status.RUNNING, stage=stage, tests_done=done)
    client.force_login(student)
    assert shown in client.get(f"/submissions/{submission.token}/").content.decode()


def test_a_wrong_answer_shows_the_visible_tests_outputs_side_by_side_and_hides_hidden_ones(
        client: Client, problem: Problem, student: User) -> None:  # fmt: skip
    submission = finish(services.submission_create(owner=student, language_id="python3", source="print(4)",
                                                   problem=problem), "wrong_answer")  # fmt: skip
    visible, hidden = problem.test_cases.order_by("order")
    result(submission, visible, 1, "wrong_answer", stdout="4\n<script>alert(1)</script>\n")
    result(submission, hidden, 2, "wrong_answer", stdout="leaked\n")
    client.force_login(student)
    page = client.get(f"/submissions/{submission.token}/").content.decode()
    assert "Wrong Answer" in page and "Expected output" in page and "Your output" in page
    assert "<mark>4</mark>" in page and "<mark>3</mark>" in page  # the differing characters are marked
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "leaked" not in page and "zz-secret" not in page
    assert "12 ms" in page and "3072 KiB" in page


def test_a_compile_error_lists_its_lines(client: Client, problem: Problem, student: User) -> None:
    submission = finish(services.submission_create(owner=student, language_id="c", source="int main(){\n  x;\n}",
                                                   problem=problem), "compile_error",  # fmt: skip
                        compile_output=b"main.c: In function 'main':\nmain.c:2:3: error: 'x' undeclared\n")
    client.force_login(student)
    page = client.get(f"/submissions/{submission.token}/").content.decode()
    assert "Compilation failed" in page and "Line 2, column 3" in page and "&#x27;x&#x27; undeclared" in page
    state = client.get(f"/submissions/{submission.token}/state").json()
    assert state["finished"] is True
    assert state["diagnostics"] == [{"line": 2, "column": 3, "severity": "error", "message": "'x' undeclared"}]


def test_a_scratch_run_shows_its_output_as_text(client: Client, languages: Any, student: User) -> None:
    run = services.submission_run_create(owner=student, language_id="bash", source="cat", problem=None,
                                         stdin="<img src=x onerror=alert(1)>")  # fmt: skip
    finish(run, "accepted", stdout=b"<img src=x onerror=alert(1)>", exit_code=0, cpu_time=0.001, memory=1024)
    client.force_login(student)
    state = client.get(f"/submissions/{run.token}/state").json()
    assert "&lt;img src=x onerror=alert(1)&gt;" in state["html"] and "<img" not in state["html"]


def test_the_state_answers_at_once_when_what_is_shown_changed(client: Client, problem: Problem,
                                                              student: User) -> None:  # fmt: skip
    submission = services.submission_create(owner=student, language_id="python3", source="2", problem=problem)
    client.force_login(student)
    first = client.get(f"/submissions/{submission.token}/state").json()
    assert first["finished"] is False and "In the queue" in first["html"]
    Submission.objects.filter(pk=submission.pk).update(status=Status.RUNNING, stage=Stage.COMPILING)
    second = client.get(f"/submissions/{submission.token}/state", {"seen": first["key"]}).json()
    assert second["key"] != first["key"] and "Compiling" in second["html"]


def test_the_state_waits_for_a_change_and_answers_the_same_key_at_its_timeout(
        client: Client, problem: Problem, student: User, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(views, "LONG_POLL_SECONDS", 0.3)
    submission = services.submission_create(owner=student, language_id="python3", source="2", problem=problem)
    client.force_login(student)
    key = client.get(f"/submissions/{submission.token}/state").json()["key"]
    again = client.get(f"/submissions/{submission.token}/state", {"seen": key}).json()
    assert again["key"] == key and again["finished"] is False


def test_another_students_submission_is_404_everywhere(client: Client, problem: Problem, student: User,
                                                       other_student: User) -> None:  # fmt: skip
    theirs = services.submission_create(owner=other_student, language_id="python3", source="print(1)",
                                        problem=problem)  # fmt: skip
    client.force_login(student)
    assert client.get(f"/submissions/{theirs.token}/").status_code == 404
    assert client.get(f"/submissions/{theirs.token}/state").status_code == 404
    assert str(theirs.token) not in client.get("/submissions/").content.decode()


def test_the_history_lists_own_submissions_with_verdicts_and_filters_by_problem(
        client: Client, problem: Problem, student: User, languages: Any) -> None:  # fmt: skip
    graded = finish(services.submission_create(owner=student, language_id="python3", source="print(3)",
                                               problem=problem), "accepted", score=5, max_score=5)  # fmt: skip
    scratch = services.submission_run_create(owner=student, language_id="bash", source="echo", problem=None, stdin="")
    client.force_login(student)
    page = client.get("/submissions/").content.decode()
    assert str(graded.token) in page and str(scratch.token) in page and "5 / 5" in page and "Accepted" in page
    filtered = client.get("/submissions/", {"problem": "a-plus-b"}).content.decode()
    assert str(graded.token) in filtered and str(scratch.token) not in filtered
    assert client.get("/submissions/", {"problem": "draft"}).status_code == 404
    detail = client.get(f"/submissions/{graded.token}/").content.decode()
    assert "print(3)" in detail  # the source of each


def test_the_history_is_paged(client: Client, languages: Any, student: User, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1000}
    for i in range(views.HISTORY_PAGE_SIZE + 1):
        services.submission_run_create(owner=student, language_id="bash", source=f"echo {i}", problem=None, stdin="")
    client.force_login(student)
    first, second = client.get("/submissions/").content.decode(), client.get("/submissions/?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second and "Older" in first


def test_the_json_of_the_state_carries_no_secret_fields(client: Client, problem: Problem, student: User) -> None:
    submission = services.submission_create(owner=student, language_id="python3", source="2", problem=problem)
    client.force_login(student)
    state = json.loads(client.get(f"/submissions/{submission.token}/state").content)
    assert set(state) == {"key", "finished", "html", "diagnostics"}
