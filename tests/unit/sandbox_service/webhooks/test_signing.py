"""The signature integrators check: a known vector, refusals, replay protection, the derived secret."""

from __future__ import annotations

import hashlib
import hmac
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from sandbox_service.webhooks.signing import webhook_secret, webhook_sign, webhook_verify

SECRET = "whsec-test"
TIMESTAMP = "1700000000"
BODY = b'{"a":1}'
# `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec-test`
KNOWN = "sha256=fed7a1a6c799a6367d73724d76bc70c16678908a32a879cd1ded6565ac05cece"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    independent = hmac.new(SECRET.encode(), TIMESTAMP.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    assert KNOWN == f"sha256={independent}"
    assert webhook_sign(SECRET, TIMESTAMP, BODY) == KNOWN
    assert webhook_sign(SECRET.encode(), int(TIMESTAMP), BODY) == KNOWN


def test_verify_accepts_the_known_vector() -> None:
    assert webhook_verify(SECRET, TIMESTAMP, BODY, KNOWN)
    assert webhook_verify(SECRET, int(TIMESTAMP), BODY, f" {KNOWN}\n")  # header whitespace is not significant


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "header"),
    [
        (SECRET, TIMESTAMP, b'{"a":2}', KNOWN),  # body changed
        (SECRET, TIMESTAMP, b'{"a": 1}', KNOWN),  # body re-encoded: the raw bytes are signed
        (SECRET, "1700000001", BODY, KNOWN),  # timestamp changed
        ("another-secret", TIMESTAMP, BODY, KNOWN),
        (SECRET, TIMESTAMP, BODY, KNOWN.removeprefix("sha256=")),  # no scheme
        (SECRET, TIMESTAMP, BODY, KNOWN.replace("sha256=", "sha1=")),
        (SECRET, TIMESTAMP, BODY, KNOWN.upper()),
        (SECRET, TIMESTAMP, BODY, ""),
        (SECRET, TIMESTAMP, BODY, "sha256=é"),  # not ASCII: refused, not an exception
    ],
)
def test_verify_refuses_anything_else(secret: str, timestamp: str, body: bytes, header: str) -> None:
    assert not webhook_verify(secret, timestamp, body, header)


def test_verify_with_max_age_refuses_old_future_and_malformed_timestamps() -> None:
    sent = int(TIMESTAMP)
    assert webhook_verify(SECRET, TIMESTAMP, BODY, KNOWN, max_age=300, now=sent + 299)
    assert not webhook_verify(SECRET, TIMESTAMP, BODY, KNOWN, max_age=300, now=sent + 301)  # a replay
    assert not webhook_verify(SECRET, TIMESTAMP, BODY, KNOWN, max_age=300, now=sent - 301)
    assert not webhook_verify(SECRET, "17e8", BODY, webhook_sign(SECRET, "17e8", BODY), max_age=300, now=sent)


def test_the_secret_is_the_setting_or_derived_from_the_secret_key(settings: Any) -> None:
    settings.WEBHOOK_SECRET = "configured"
    assert webhook_secret() == "configured"
    settings.WEBHOOK_SECRET = ""
    settings.SECRET_KEY = "the-secret-key"
    derived = hmac.new(b"the-secret-key", b"webhook", hashlib.sha256).hexdigest()
    assert webhook_secret() == derived
    out = StringIO()
    call_command("webhook_secret", stdout=out)  # what the operator hands to integrators
    assert out.getvalue().strip() == derived
