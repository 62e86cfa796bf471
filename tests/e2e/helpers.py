"""Helpers of the browser tests: the web server handle, logging in through the real form, screenshots.

Import them from here (`from tests.e2e.helpers import login, screenshot`); the fixtures are in conftest.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

from tests.integration.sandbox_service.conftest import ROOT, ServiceProcess

LOGIN_PATH = "/accounts/login/"
# Git-ignored; CI collects whatever is under it as the run's artefacts.
SCREENSHOT_DIR = ROOT / "artifacts" / "screenshots"


@dataclass(frozen=True)
class WebServer:
    url: str  # "http://127.0.0.1:<port>", no trailing slash
    process: ServiceProcess


@dataclass(frozen=True)
class DialogRecord:
    type: str  # "alert", "confirm", "prompt" or "beforeunload"
    message: str
    url: str  # of the page that opened it


@dataclass
class BrowserErrors:
    """What went wrong in the pages' scripts: uncaught exceptions and console messages of type error (which include
    Chromium's "Failed to load resource" for a 404 or 500 of a page's script, stylesheet or image)."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.page_errors, *self.console_errors]


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def login(page: Page, web_server: WebServer, username: str, password: str) -> None:
    """Log in through Django's login form, as a person would, and wait until the browser has left the login page.

    Fails at once (not after a timeout) when the form answers with itself again, quoting the page's error text.
    Works with JavaScript disabled too: it only fills fields and submits the form.
    """
    page.goto(f"{web_server.url}{LOGIN_PATH}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    # The form holding the username field, not the header's (a logged-in page's header has a log-out button).
    with page.expect_navigation():
        page.locator("form:has(#id_username) [type=submit]").click()
    if path_of(page) == LOGIN_PATH:
        errors = page.locator(".errornote, .errorlist, .errors").all_inner_texts()
        said = errors or page.inner_text("body")
        raise AssertionError(f"logging in as {username!r} failed; the login page says: {said}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of `page` as artifacts/screenshots/<name>.png (replacing an earlier one) and return it."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"a screenshot name is letters, digits, '_', '.' and '-', not {name!r}")
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
