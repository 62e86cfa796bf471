"""Which callback URLs a submission may name: only http(s) URLs whose host is on the operator's allow-list.

Judge0's callback_url is an open server-side request forgery by design (any URL, fetched from inside the
operator's network). Ours is refused unless its host is listed in WEBHOOK_ALLOWED_HOSTS; at delivery the host is
resolved again and every address must be one the allow-list permits (no DNS rebinding to 127.0.0.1).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


class CallbackRefused(ValueError):
    pass


def allowed_hosts() -> list[str]:
    return [h.lower() for h in settings.WEBHOOK_ALLOWED_HOSTS]


def check_callback_url(url: str) -> str:
    """Return the URL if a webhook may be sent to it, else raise CallbackRefused saying why."""
    if len(url) > 2048:
        raise CallbackRefused("longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise CallbackRefused(f"not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("must be an http or https URL with a host")
    if parts.username or parts.password:
        raise CallbackRefused("must not carry credentials")
    host = parts.hostname.lower()
    listed = allowed_hosts()
    if host not in listed and f"{host}:{port}" not in listed:
        raise CallbackRefused(f"host {host!r} is not on the operator's allow-list (WEBHOOK_ALLOWED_HOSTS)")
    return url
