"""An admin in a real Chromium watches the operations dashboard while submissions run: the real web server, a real
Celery worker process, the real sandbox. The page is saved as artifacts/screenshots/admin-dashboard.png."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status, Verdict
from tests.integration.sandbox_service.conftest import ServiceProcess, Users

from .helpers import BrowserErrors, DialogRecord, WebServer, path_of, screenshot

ADMIN_LOGIN = "/admin/login/"
HOSTILE_MESSAGE = "the sandbox failed: <img src=x onerror=alert(1)><script>alert(2)</script>"
CHARTS = ("queues", "throughput", "latency", "verdicts", "failures")
# The page fetches its data every 5 s; a few python3 runs finish in a second or two here, CI may be slower.
MOVES_WITHIN = 60_000  # ms


def admin_login(page: Page, web_server: WebServer, username: str, password: str) -> None:
    """Log in through the admin's own login form, as an admin does, and wait until the admin index is shown."""
    page.goto(f"{web_server.url}{ADMIN_LOGIN}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if path_of(page) == ADMIN_LOGIN:
        raise AssertionError(f"logging in as {username!r} failed: {page.locator('.errornote').all_inner_texts()}")


@pytest.fixture
def admin_page(page: Page, web_server: WebServer, users: Users, celery_worker_process: ServiceProcess) -> Page:
    admin_login(page, web_server, users.admin.username, users.password)
    return page


def test_an_admin_opens_the_dashboard_from_the_admin_and_sees_it_move_while_submissions_run(
        admin_page: Page, users: Users, celery_worker_process: ServiceProcess, page_errors: BrowserErrors,
        dialogs: list[DialogRecord]) -> None:  # fmt: skip
    page = admin_page
    # An internal error whose message is markup: the page and its script show it as text, never run it.
    Submission.objects.create(owner=users.student, language_id="python3", source="x", status=Status.FINISHED,
                              verdict=Verdict.INTERNAL_ERROR, message=HOSTILE_MESSAGE, worker="gone@host-z",
                              finished_at=timezone.now())  # fmt: skip
    page.get_by_role("link", name="Operations dashboard").click()
    expect(page).to_have_title("Operations dashboard | Sandbox admin")
    for chart in CHARTS:
        expect(page.locator(f"canvas#chart-{chart}")).to_have_attribute("data-chart-ready", "true")
    finished_last_hour = page.locator("#windows-table tr[data-window=hour] [data-field=finished]")
    expect(finished_last_hour).to_have_text("1")  # the internal error
    expect(page.locator("#dashboard-live")).to_be_visible()  # the script runs and says it refreshes
    # The worker, from its heartbeat, with the queues it consumes.
    worker = page.locator("#workers-table tbody tr").filter(has_text=celery_worker_process.name)
    expect(worker).to_contain_text("grading, interactive")

    for owner in (users.admin, users.student, users.student):
        services.submission_create(owner=owner, language_id="python3", source="print(1)", stdin="")

    # The figures the page fetches on its own, with nobody reloading it: the three runs, finished and accepted.
    expect(finished_last_hour).to_have_text("4", timeout=MOVES_WITHIN)
    python3 = page.locator("#verdicts-table tbody tr").filter(has_text="python3").locator("td")
    expect(python3).to_have_text(["4", "3", "0", "0", "0", "0", "0", "0", "1"])  # total, accepted, ..., internal
    expect(page.locator("#errors-table tbody tr")).to_have_count(1)
    expect(page.locator("#errors-table tbody")).to_contain_text(HOSTILE_MESSAGE)  # drawn again by the script
    # Nothing left waiting or running; the worker consumes both queues with its 2 processes.
    for queue in ("interactive", "grading"):
        expect(page.locator(f"#queues-table tr[data-queue={queue}] td")).to_have_text(["0", "0", "–", "1", "2"])
    for chart in CHARTS:  # still there after the refreshes
        expect(page.locator(f"canvas#chart-{chart}")).to_have_attribute("data-chart-ready", "true")
    expect(page.locator("#dashboard-status")).to_have_text("")  # no failed refresh
    screenshot(page, "admin-dashboard")

    page.get_by_role("radio", name="Last 24 hours").check()  # the same charts over the day, in place
    for chart in ("throughput", "latency"):
        expect(page.locator(f"canvas#chart-{chart}")).to_have_attribute("data-chart-ready", "true")
    assert page_errors.all() == []  # no script error, and no inline script refused by the page's policy
    assert dialogs == []
