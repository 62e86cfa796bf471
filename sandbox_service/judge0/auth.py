"""Who is calling: one of the user's API tokens (DRF's authtoken), sent as Judge0 clients send theirs.

Judge0 reads its token from the `X-Auth-Token` header (AUTHN_HEADER); DRF clients send `Authorization: Token …`.
Both are accepted. (Judge0 also takes the token as a query parameter; that is not accepted here: URLs end up in
logs.) An inactive user's token is no token.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

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


def presented_token(request: HttpRequest | Request) -> Token | None:
    """The valid token the request carries (its `user` is the caller), or None."""
    key = presented_key(request)
    if not key or len(key) > 64:
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token


def token_user(request: HttpRequest | Request) -> AbstractBaseUser | None:
    token = presented_token(request)
    return None if token is None else token.user
