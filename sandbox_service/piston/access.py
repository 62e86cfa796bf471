"""Who may use the Piston API. Upstream Piston has no authentication at all; here a token is required
(`Authorization: Token <key>`, or Basic) unless the operator sets PISTON_ALLOW_ANONYMOUS. Anonymous executions
then run as one service account and are throttled per client address at PISTON_ANONYMOUS_RATE ("30/min").

Both settings are read on every request (tests and operators can change them without touching classes). The
throttle counts in Django's default cache: with several web processes that must be a shared cache (Redis), or
each process counts on its own.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

DEFAULT_ANONYMOUS_RATE = "30/min"


def anonymous_allowed() -> bool:
    return bool(getattr(settings, "PISTON_ALLOW_ANONYMOUS", False))


class AuthenticatedOrAnonymousAllowed(BasePermission):
    """Denied to an anonymous request unless anonymous use is on; DRF then answers 401 (a token is missing)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) or anonymous_allowed()


class AnonymousExecuteThrottle(SimpleRateThrottle):
    """Executions without credentials, per client address; authenticated users are left to the submissions'
    own per-user limit."""

    scope = "piston-anonymous"

    def get_rate(self) -> str | None:
        return getattr(settings, "PISTON_ANONYMOUS_RATE", DEFAULT_ANONYMOUS_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_ident(self, request: Request) -> str:
        # DRF trusts a client's X-Forwarded-For when NUM_PROXIES is unset, so a client could pick a new
        # address for every request and never be throttled. Only behind configured proxies is it believed.
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return str(super().get_ident(request))
