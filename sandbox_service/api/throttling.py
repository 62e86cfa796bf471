"""Request rates per account: DRF throttles keyed by the authenticated user (every token, Basic and session
login of one account share one budget, so more credentials buy no more requests), by address when anonymous.

Rates come from `settings.API_THROTTLE_RATES` ({"read": "600/min", ...}), read on every request so an operator
(or a test) can change them without a restart of the class; a scope set to None is not throttled. They count
in Django's default cache: with several web workers it must be a shared cache (Redis), or each worker counts
on its own. This is a guard against runaway clients; the submissions' own backpressure (a full queue: 503, too
many submissions per user per minute: 429) lives in the submission services and holds whatever these say.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

DEFAULT_RATES: dict[str, str | None] = {
    "read": "600/min",  # GET, HEAD, OPTIONS
    "submit": "120/min",  # creating submissions (one batch counts once)
    "write": "120/min",  # other writes: rejudges, tokens
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def rates() -> dict[str, str | None]:
    return {**DEFAULT_RATES, **getattr(settings, "API_THROTTLE_RATES", {})}


class _AccountRateThrottle(SimpleRateThrottle):
    scope = ""
    safe: bool | None = None  # True: only safe methods count; False: only unsafe ones; None: all

    def get_rate(self) -> str | None:
        return rates().get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.safe is not None and (request.method in SAFE_METHODS) != self.safe:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiReadThrottle(_AccountRateThrottle):
    scope = "read"
    safe = True


class SubmissionCreateThrottle(_AccountRateThrottle):
    scope = "submit"
    safe = False


class ApiWriteThrottle(_AccountRateThrottle):
    scope = "write"
    safe = False
