"""A student in a real Chromium, against the real service: gunicorn on the test database, a real Celery worker
process, the real sandbox. Each test is what a student does: write code in the editor, Run, Submit, read the result.

The main pages are saved as screenshots in artifacts/screenshots/ as the tests go.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from sandbox_service.core.services import Role, role_user_ensure
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from tests.integration.sandbox_service.conftest import ServiceProcess, Users

from .helpers import BrowserErrors, DialogRecord, WebServer, login, path_of, screenshot

# A phone's page is no wider than the phone (the test's viewport is 390 CSS pixels wide): nothing to scroll sideways.
NO_SIDEWAYS_SCROLLING = "document.documentElement.scrollWidth <= 390"
RESULT_TIMEOUT = 60_000  # ms: a compile and a few boxes take well under a second here; CI machines can be slow

A_PLUS_B = {
    "python3": "a, b = map(int, input().split())\nprint(a + b)\n",
    "c": '#include <stdio.h>\nint main(void) {\n    long a, b;\n    scanf("%ld %ld", &a, &b);\n'
         '    printf("%ld\\n", a + b);\n    return 0;\n}\n',
}  # fmt: skip


@pytest.fixture
def problem(users: Users) -> Problem:
    problem = Problem.objects.create(
        title="A + B", slug="a-plus-b", published=True, cpu_time=1.0, memory=128,
        statement="Read two integers *a* and *b* and print **a + b**.\n\n"
                  "| a | b | a + b |\n|---|---|---|\n| 1 | 2 | 3 |",
    )  # fmt: skip
    TestCase.objects.create(problem=problem, order=1, stdin="1 2\n", expected_output="3\n", visible=True)
    TestCase.objects.create(problem=problem, order=2, stdin="-5 7\n", expected_output="2\n", visible=True)
    TestCase.objects.create(problem=problem, order=3, stdin="1000000000 1000000000\n",
                            expected_output="2000000000\n", points=2)  # fmt: skip
    return problem


@pytest.fixture
def student(student_page: Page, problem: Problem, celery_worker_process: ServiceProcess) -> Page:
    """The student's page, logged in, with a problem to solve and a worker to run it."""
    return student_page


def editor(page: Page):  # type: ignore[no-untyped-def]
    # The editor's accessible name: what a screen reader announces, and how the test finds it.
    return page.get_by_role("textbox", name="Source code")


def write_code(page: Page, code: str) -> None:
    """Replace the editor's text as a paste would (typing would trigger auto-indent and bracket closing)."""
    editor(page).click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(code)


def open_problem(page: Page, language: str = "python3") -> None:
    page.goto("/problems/a-plus-b/")
    page.get_by_label("Language").select_option(language)
    expect(editor(page)).to_be_visible()


def verdict(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#results #verdict")


def test_a_student_writes_code_submits_and_sees_accepted(student: Page, page_errors: BrowserErrors) -> None:
    student.goto("/")
    expect(student.get_by_role("link", name="A + B")).to_be_visible()
    expect(student.locator("table.list")).to_contain_text("not tried")
    student.get_by_role("link", name="A + B").click()
    expect(student.locator(".statement table")).to_contain_text("a + b")  # the Markdown table, rendered
    student.get_by_label("Language").select_option("python3")
    write_code(student, A_PLUS_B["python3"])
    screenshot(student, "problem")
    student.get_by_role("button", name="Submit").click()

    expect(verdict(student)).to_have_text("Accepted", timeout=RESULT_TIMEOUT)
    expect(student.locator("#results .score")).to_have_text("score 4 / 4")
    expect(student.locator("#results table.tests tbody tr")).to_have_count(3)
    screenshot(student, "problem-accepted")

    student.goto("/")
    expect(student.locator("table.list")).to_contain_text("4 / 4")
    expect(student.locator("table.list")).to_contain_text("solved")
    student.get_by_role("link", name="My submissions").click()
    expect(student.locator("table.list tbody tr")).to_have_count(1)
    expect(student.locator("table.list")).to_contain_text("Accepted")
    screenshot(student, "history")
    student.locator("table.list tbody tr a").first.click()
    expect(student.locator("#submitted-source")).to_contain_text("print(a + b)")  # the source of each
    expect(student.locator("#verdict")).to_have_text("Accepted")
    screenshot(student, "submission")
    assert page_errors.all() == []


def test_a_wrong_answer_shows_expected_and_actual_side_by_side_with_the_differences_marked(student: Page) -> None:
    open_problem(student)
    write_code(student, "a, b = map(int, input().split())\nprint(a + b + 1)\n")
    student.get_by_role("button", name="Submit").click()

    expect(verdict(student)).to_have_text("Wrong Answer", timeout=RESULT_TIMEOUT)
    diff = student.locator("#results table.diff").first
    expect(diff).to_be_visible()
    expect(diff.locator("td.expected mark")).to_have_text("3")
    expect(diff.locator("td.actual mark")).to_have_text("4")
    expect(student.locator("#results")).not_to_contain_text("2000000000")  # a hidden test's output stays hidden
    screenshot(student, "wrong-answer")


def test_a_compile_error_names_its_line_and_marks_it_in_the_editor(student: Page) -> None:
    open_problem(student, "c")
    write_code(student, "#include <stdio.h>\nint main(void) {\n    printf(\"%d\\n\", undeclared_name);\n}\n")
    student.get_by_role("button", name="Submit").click()

    expect(verdict(student)).to_have_text("Compile Error", timeout=RESULT_TIMEOUT)
    diagnostic = student.locator("#results .diagnostic.error").first
    expect(diagnostic).to_contain_text("Line 3")
    expect(student.locator("#results .diagnostics")).to_contain_text("undeclared_name")
    expect(student.locator(".cm-lint-marker-error")).to_have_count(1)  # in the editor's gutter, on that line
    diagnostic.click()  # jumps to the line
    expect(student.locator(".cm-activeLine")).to_contain_text("undeclared_name")
    screenshot(student, "compile-error")


def test_run_with_custom_input_and_the_keyboard_shortcut_shows_the_output_ungraded(student: Page) -> None:
    open_problem(student)
    write_code(student, A_PLUS_B["python3"])
    student.get_by_role("radio", name="my input").check()
    student.get_by_label("Your input").fill("20 22\n")
    editor(student).click()
    student.keyboard.press("ControlOrMeta+Enter")

    expect(student.locator("#results #stdout")).to_have_text("42\n", timeout=RESULT_TIMEOUT)
    expect(verdict(student)).to_have_text("Accepted")
    expect(student.locator("#results .score")).to_have_count(0)  # not graded
    screenshot(student, "run-custom-input")


def test_run_on_the_examples_checks_them_without_counting(student: Page) -> None:
    open_problem(student)
    write_code(student, A_PLUS_B["python3"])
    student.get_by_role("button", name="Run").click()

    expect(verdict(student)).to_have_text("Accepted", timeout=RESULT_TIMEOUT)
    expect(student.locator("#results")).to_contain_text("not graded")
    expect(student.locator("#results table.tests tbody tr")).to_have_count(2)  # the two visible examples only
    student.goto("/")
    expect(student.locator("table.list")).to_contain_text("not tried")


def test_the_playground_runs_any_language_with_its_input(student: Page) -> None:
    student.get_by_role("link", name="Playground").click()
    expect(student.get_by_role("button", name="Submit")).to_have_count(0)
    student.get_by_label("Language").select_option("bash")
    write_code(student, 'read -r name\necho "hello, $name"\n')
    student.get_by_label("Input (stdin)").fill("world\n")
    student.get_by_role("button", name="Run").click()

    expect(student.locator("#results #stdout")).to_have_text("hello, world\n", timeout=RESULT_TIMEOUT)
    screenshot(student, "playground")


def test_output_that_looks_like_html_is_shown_as_text_and_runs_no_script(
        student: Page, dialogs: list[DialogRecord], page_errors: BrowserErrors) -> None:  # fmt: skip
    printed = "<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b>"
    student.goto("/playground/")
    student.get_by_label("Language").select_option("python3")
    write_code(student, f"print({printed!r})\nimport sys\nprint({printed!r}, file=sys.stderr)\n")
    student.get_by_role("button", name="Run").click()

    expect(student.locator("#results #stdout")).to_have_text(printed + "\n", timeout=RESULT_TIMEOUT)
    expect(student.locator("#results #stderr")).to_have_text(printed + "\n")
    assert student.locator("#results b, #results img, #results script").count() == 0
    student.locator("#results a.permalink").click()  # the same output on a full page load
    expect(student.locator("#stdout")).to_have_text(printed + "\n")
    assert student.locator("main script, main img").count() == 0
    student.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []
    assert page_errors.page_errors == []


def test_another_students_submission_answers_404(student: Page, problem: Problem) -> None:
    other: User = role_user_ensure(username="other-student", role=Role.STUDENT, password="other-password-1")
    theirs = services.submission_create(owner=other, language_id="python3", source="print(1)", problem=problem)
    response = student.goto(f"/submissions/{theirs.token}/")
    assert response is not None and response.status == 404
    response = student.goto(f"/submissions/{theirs.token}/state")
    assert response is not None and response.status == 404


def test_the_editor_keeps_the_draft_per_language_after_a_reload(student: Page) -> None:
    open_problem(student)
    write_code(student, "print('my python draft')\n")
    student.get_by_label("Language").select_option("c")
    write_code(student, "/* my c draft */\n")
    student.wait_for_function("() => Object.keys(localStorage).some(k => k.endsWith(':c') && "
                              "localStorage.getItem(k).includes('my c draft'))")  # fmt: skip
    student.reload()

    expect(student.get_by_label("Language")).to_have_value("c")  # the last language, remembered
    expect(editor(student)).to_contain_text("my c draft")
    student.get_by_label("Language").select_option("python3")
    expect(editor(student)).to_contain_text("my python draft")


def test_results_come_live_from_the_queue_position_to_each_test(
        student_page: Page, problem: Problem, users: Users,
        celery_worker_factory: Callable[..., ServiceProcess]) -> None:  # fmt: skip
    celery_worker_factory(concurrency=1)
    # Someone else's long run holds the only worker, so the student's submission waits first in the queue.
    services.submission_create(owner=users.grader, language_id="bash", source="sleep 3", stdin="")
    page = student_page
    open_problem(page)
    write_code(page, "import time\ntime.sleep(0.5)\n" + A_PLUS_B["python3"])
    page.get_by_role("button", name="Submit").click()

    status = page.locator("#results #status")
    expect(status).to_have_text("In the queue: position 1", timeout=RESULT_TIMEOUT)
    screenshot(page, "queued")
    expect(status).to_have_text("Running test 2 of 3", timeout=RESULT_TIMEOUT)
    expect(verdict(page)).to_have_text("Accepted", timeout=RESULT_TIMEOUT)


def test_a_phone_sized_screen_can_solve_a_problem(mobile_page: Page, web_server: WebServer, users: Users,
                                                   problem: Problem,
                                                   celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    page = mobile_page
    login(page, web_server, users.student.username, users.password)
    open_problem(page)
    assert page.evaluate(NO_SIDEWAYS_SCROLLING)
    write_code(page, A_PLUS_B["python3"])
    page.get_by_role("button", name="Submit").tap()
    expect(verdict(page)).to_have_text("Accepted", timeout=RESULT_TIMEOUT)
    assert page.evaluate(NO_SIDEWAYS_SCROLLING)
    screenshot(page, "phone-problem")


def test_the_basic_pages_work_without_javascript(new_page: Callable[..., Page], web_server: WebServer, users: Users,
                                                 problem: Problem,
                                                 celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    page = new_page(java_script_enabled=False)
    login(page, web_server, users.student.username, users.password)
    page.get_by_role("link", name="A + B").click()
    page.get_by_label("Language").select_option("python3")
    page.get_by_label("Source code").fill(A_PLUS_B["python3"])  # the plain textarea
    page.get_by_role("button", name="Submit").click()

    assert path_of(page).startswith("/submissions/")
    # The result page refreshes itself (a <noscript> refresh) until the verdict is in.
    expect(page.locator("#verdict")).to_have_text("Accepted", timeout=RESULT_TIMEOUT)
    screenshot(page, "no-javascript-result")
