"""The X-Sandbox-Signature header: HMAC-SHA256 over "<timestamp>.<body>" with the webhook secret.

The timestamp is inside the signed text so that a receiver can refuse old deliveries (a replayed request cannot
carry a fresh timestamp without breaking the signature). `webhook_verify` needs nothing but the standard
library: integrators may copy it as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings


def webhook_secret() -> str:
    """WEBHOOK_SECRET, or a key derived from SECRET_KEY (`manage.py webhook_secret` prints it for integrators)."""
    if settings.WEBHOOK_SECRET:
        return str(settings.WEBHOOK_SECRET)
    return hmac.new(settings.SECRET_KEY.encode(), b"webhook", hashlib.sha256).hexdigest()


def webhook_sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_verify(secret: str | bytes, timestamp: str | int, body: bytes, header: str, *,
                   max_age: float | None = None, now: float | None = None) -> bool:  # fmt: skip
    """Whether `header` (X-Sandbox-Signature) signs `body` sent at `timestamp` (X-Sandbox-Timestamp).

    `body` is the raw request body, byte for byte, not re-encoded JSON. With `max_age` (seconds; 300 is a good
    value) a timestamp further than that from `now` is refused too, which stops replays of an old delivery.
    """
    if max_age is not None:
        try:
            sent = int(timestamp)
        except (TypeError, ValueError):
            return False
        if abs((time.time() if now is None else now) - sent) > max_age:
            return False
    expected = webhook_sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())
