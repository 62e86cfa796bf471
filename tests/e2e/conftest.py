"""Fixtures of the end-to-end tests: the real web server (gunicorn, as production runs it) on the test database
and Redis, driven by a real Chromium through Playwright. Every fixture of the integration tests (`live_db`,
`users`, `languages`, `celery_worker_process`, `redis_url`, ...) is available here too.

- `web_server`: gunicorn serving `sandbox_service.wsgi` on a free local port, ready when the login page answers 200;
  a `WebServer` with `.url` and `.process`. Override `web_server_env` to change its settings.
- `browser` (package: all of tests/e2e): Debian's Chromium (/usr/bin/chromium), never a browser Playwright downloads.
- `new_page(**context_options)`: a page in a fresh context (1280x900, 20 s timeouts, relative URLs against the
  server) whose script errors go to `page_errors` and whose dialogs are recorded in `dialogs` and dismissed.
- `page`, `mobile_page` (390x844, touch, 2x), `student_page` (`page` logged in as `users.student`).
- `page_errors`: a `BrowserErrors`; `dialogs`: a list of `DialogRecord`. No dialog means no script a program
  printed ever ran.
A failed test leaves a screenshot of each of its pages in artifacts/screenshots/failed-<test>-<n>.png.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, WebError, sync_playwright

# The integration tests' fixtures, re-exported: pytest takes a conftest's fixtures from its module namespace, and
# `pytest_plugins` is only allowed in the root conftest. `*` brings the public ones; the private ones they depend on
# (and the autouse one that points this process's Celery at the test Redis) are named.
from tests.integration.sandbox_service.conftest import *  # noqa: F403
from tests.integration.sandbox_service.conftest import (  # noqa: F401
    LiveDatabase,
    ServiceProcess,
    Users,
    _celery_on_the_test_redis,
    _test_redis,
    service_env,
    wait_for,
)

from .helpers import LOGIN_PATH, SCREENSHOT_DIR, BrowserErrors, DialogRecord, WebServer, login

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root, and Chromium refuses its own sandbox as root
    "--disable-gpu",
    # The test machine's network is closed: without these Chromium keeps trying (and logging) connections of its
    # own (field trials, component and safe-browsing updates, sync, QUIC probes) that slow pages down.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a small /dev/shm (containers) crashes tabs; use /tmp
]
TIMEOUT_MS = 20_000
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Playwright's sync API keeps an asyncio loop running on this thread, so Django's ORM (the test's own fixtures and
# the database flush after each test) would refuse to run ("You cannot call this from an async context"). This
# lifts that check in the test process only; service processes started here never inherit it.
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


# --- the web server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(url: str, timeout: float = 5.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None  # not listening yet


@pytest.fixture
def web_server_env() -> dict[str, object]:
    """Overrides of the web server's environment (override or parametrize this fixture)."""
    # DEBUG as by default (true) whatever the shell says: WhiteNoise then serves the apps' static directories
    # through Django's finders (WHITENOISE_USE_FINDERS defaults to DEBUG), so no collectstatic is needed.
    return {"DJANGO_DEBUG": "true"}


@pytest.fixture
def web_server(live_db: LiveDatabase, redis_url: str, tmp_path: Path,
               web_server_env: dict[str, object]) -> Iterator[WebServer]:  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", "sandbox_service.wsgi", "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--threads", "8", "--workers", "1", "--timeout", "60",
            "--graceful-timeout", "5", "--access-logfile", "-",
            # gunicorn's control socket defaults to one fixed path in $HOME (~/.gunicorn/gunicorn.ctl), which two
            # servers (parallel tests, a developer's `make run`) would fight over; these tests never use it.
            "--no-control-socket"]  # fmt: skip
    env = service_env(live_db, redis_url, {ASYNC_UNSAFE: None, **web_server_env})
    process = ServiceProcess("gunicorn", args, env, tmp_path / "gunicorn.log")
    try:

        def ready() -> bool:
            if not process.alive():
                pytest.fail(f"gunicorn exited ({process.popen.returncode}) before serving:\n{process.log()}",
                            pytrace=False)  # fmt: skip
            status = http_status(f"{url}{LOGIN_PATH}")
            if status not in (None, 200):
                pytest.fail(f"GET {LOGIN_PATH} answered {status}:\n{process.log()}", pytrace=False)
            return status == 200

        wait_for(ready, timeout=60, interval=0.2, message=f"gunicorn to serve {url}{LOGIN_PATH}")
        yield WebServer(url=url, process=process)
    finally:
        process.stop(timeout=10)


# The worker and beat processes of these tests must not inherit the ORM's lifted async check either. (These replace
# the integration tests' fixtures of the same names that `*` imported, hence the redefinitions.)
@pytest.fixture  # type: ignore[no-redef]
def worker_env() -> dict[str, object]:
    return {ASYNC_UNSAFE: None}


@pytest.fixture  # type: ignore[no-redef]
def beat_env() -> dict[str, object]:
    return {"RECOVER_STUCK_EVERY": 1, ASYNC_UNSAFE: None}


# --- the browser ------------------------------------------------------------------------------------------------


# One browser for all the tests under tests/e2e (package scope: pytest ends it after the last of them, sub-packages
# included). Not the whole session's: while it runs, Playwright's asyncio loop runs on this thread and the ORM's
# async check is lifted, which the rest of a full test run should not inherit.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        mp.setenv(ASYNC_UNSAFE, "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


_failed_key = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        item.stash[_failed_key] = True
    return report


@pytest.fixture
def page_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def dialogs() -> list[DialogRecord]:
    return []


@pytest.fixture
def new_page(request: pytest.FixtureRequest, browser: Browser, web_server: WebServer, page_errors: BrowserErrors,
             dialogs: list[DialogRecord]) -> Iterator[Callable[..., Page]]:  # fmt: skip
    """Open a page in a new browser context; keyword arguments are `Browser.new_context` options (they win)."""
    contexts: list[BrowserContext] = []

    def on_console(message: ConsoleMessage) -> None:
        location = message.location
        # Chromium fetches /favicon.ico for every page by itself and logs its 404 as an error: not the page's.
        if message.type == "error" and urlsplit(location["url"]).path != "/favicon.ico":
            page_errors.console_errors.append(f"{message.text} ({location['url']}:{location['lineNumber']})")

    def on_web_error(error: WebError) -> None:
        page_errors.page_errors.append(str(error.error))

    def on_dialog(dialog: Dialog) -> None:
        url = dialog.page.url if dialog.page else ""
        dialogs.append(DialogRecord(type=dialog.type, message=dialog.message, url=url))
        dialog.dismiss()  # a dialog left open blocks the page's scripts

    def open_page(**context_options: Any) -> Page:
        context = browser.new_context(**{"viewport": VIEWPORT, "base_url": web_server.url, **context_options})
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.on("console", on_console)
        context.on("weberror", on_web_error)
        context.on("dialog", on_dialog)
        return context.new_page()

    yield open_page
    failed = request.node.stash.get(_failed_key, False)
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    for i, context in enumerate(contexts):
        if failed:
            for j, page in enumerate(context.pages):
                SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
                try:
                    page.screenshot(path=str(SCREENSHOT_DIR / f"failed-{name}-{i}{j or ''}.png"), full_page=True)
                except Exception as error:  # a broken page must not hide the test's own failure
                    print(f"no screenshot of {page.url}: {error}", file=sys.stderr)
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def mobile_page(new_page: Callable[..., Page]) -> Page:
    return new_page(**PHONE)


@pytest.fixture
def student_page(page: Page, web_server: WebServer, users: Users) -> Page:
    login(page, web_server, users.student.username, users.password)
    return page
