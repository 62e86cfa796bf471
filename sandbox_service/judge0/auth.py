"""Who is calling: one of the user's API tokens (sandbox_service.api.authentication), sent as Judge0 clients do.

Judge0 reads its token from the `X-Auth-Token` header (AUTHN_HEADER); DRF clients send `Authorization: Token …`.
Both are accepted. (Judge0 also takes the token as a query parameter; that is not accepted here: URLs end up in
logs.) An inactive user's token is no token.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from rest_framework.request import Request

from sandbox_service.api.authentication import user_for_key

HEADER = "HTTP_X_AUTH_TOKEN"


def presented_key(request: HttpRequest | Request) -> str | None:
    meta = request.META
    key = meta.get(HEADER, "").strip()
    if key:
        return key
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() == "token":
        return parts[1]
    return None


def token_user(request: HttpRequest | Request) -> AbstractBaseUser | None:
    """The active user whose API token the request carries, or None."""
    key = presented_key(request)
    return None if key is None else user_for_key(key)
