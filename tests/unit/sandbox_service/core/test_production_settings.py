"""Production settings: with DJANGO_DEBUG=false the service refuses to start without its secrets (each named), or with
a weak SECRET_KEY; given them, it passes Django's deployment checklist (`check --deploy`). Every response carries a
Content-Security-Policy that allows no inline script, the admin and the API's documentation included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[4]
STRONG_KEY = "k" * 20 + "-production-test-key-not-used-anywhere-else-0123456789"
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "DATABASE_URL": "postgres://sandbox:not-a-real-password@db.invalid:5432/sandbox",
    "REDIS_URL": "redis://:not-a-real-password@redis.invalid:6379/0",
    "DJANGO_ALLOWED_HOSTS": "judge.example.edu",
}


def start(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py` in a fresh process with only this environment (and what Python needs to run)."""
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "sandbox_service.settings",
            "SANDBOX_VAR_DIR": str(ROOT / "var")}  # fmt: skip
    return subprocess.run([sys.executable, "manage.py", *(args or ("check",))], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_each_secret_and_names_it(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = start(env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr and "refusing to start" in result.stderr


def test_production_refuses_a_weak_or_the_development_secret_key() -> None:
    for key in ("short", "dev-only-insecure-secret-key-change-me"):
        result = start({**PRODUCTION, "SECRET_KEY": key})
        assert result.returncode != 0 and "SECRET_KEY is too short or the development one" in result.stderr


def test_production_with_its_secrets_passes_djangos_deployment_checklist() -> None:
    result = start(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_secure_cookies_hsts_and_https_behind_a_proxy() -> None:
    code = ("from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER[0], s.ALLOWED_HOSTS)")
    result = start(PRODUCTION, "shell", "-v", "0", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000", "True", "HTTP_X_FORWARDED_PROTO",
                                     "['judge.example.edu']"]  # fmt: skip


def test_development_needs_no_configuration() -> None:
    result = start({})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/accounts/login/", "/no-such-page/"])
def test_every_page_has_a_content_security_policy_without_inline_script(db: None, path: str) -> None:
    response = Client().get(path)
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    body = response.content.decode(errors="replace")
    assert "<script>" not in body  # every script is a file of ours (the API docs use the split view)
