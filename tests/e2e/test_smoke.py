"""The browser-test machinery works end to end: Chromium reaches the real web server (gunicorn on the test database),
the login form works with and without JavaScript, and a logged-in student lands on the problem list.

These depend only on the login form and on the username in the page's header: the rest of the UI is free to change.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.integration.sandbox_service.conftest import Users

from .helpers import LOGIN_PATH, BrowserErrors, DialogRecord, WebServer, login, path_of, screenshot

# What django.contrib.auth's AuthenticationForm says to a wrong password.
WRONG_PASSWORD_TEXT = "Please enter a correct username and password"


def test_login_page_renders_and_a_wrong_password_stays_on_it_with_djangos_error(
    page: Page, web_server: WebServer, users: Users, page_errors: BrowserErrors, dialogs: list[DialogRecord]
) -> None:
    response = page.goto(LOGIN_PATH)
    assert response is not None and response.status == 200
    expect(page.locator("#id_username")).to_be_visible()
    expect(page.locator("#id_password")).to_have_attribute("type", "password")
    screenshot(page, "login")

    page.fill("#id_username", users.student.username)
    page.fill("#id_password", users.password + "-wrong")
    with page.expect_navigation():
        page.locator("form:has(#id_username) [type=submit]").click()

    assert path_of(page) == LOGIN_PATH
    expect(page.locator("body")).to_contain_text(WRONG_PASSWORD_TEXT)
    expect(page.locator("header")).not_to_contain_text(users.student.username)
    # Uncaught script errors only: a console error can be a 404 of a bundle that the UI's build is rewriting.
    assert page_errors.page_errors == []
    assert dialogs == []


def test_student_logs_in_and_lands_on_the_problem_list_with_their_name_in_the_header(
    page: Page, web_server: WebServer, users: Users, page_errors: BrowserErrors, dialogs: list[DialogRecord]
) -> None:
    login(page, web_server, users.student.username, users.password)

    assert path_of(page) == "/"
    expect(page.locator("header")).to_contain_text(users.student.username)
    screenshot(page, "home")
    # Uncaught script errors only: a console error can be a 404 of a bundle that the UI's build is rewriting.
    assert page_errors.page_errors == []
    assert dialogs == []


def test_login_works_without_javascript(new_page: Callable[..., Page], web_server: WebServer, users: Users) -> None:
    page = new_page(java_script_enabled=False)
    # Prove scripts are really off: a page script that would change the title does not run.
    page.route("**/js-probe", lambda route: route.fulfill(content_type="text/html", body=PROBE_PAGE))
    page.goto("/js-probe")
    assert page.title() == "scripts off"

    login(page, web_server, users.student.username, users.password)

    assert path_of(page) == "/"
    expect(page.locator("header")).to_contain_text(users.student.username)


PROBE_PAGE = "<title>scripts off</title><script>document.title = 'scripts on'</script>"
