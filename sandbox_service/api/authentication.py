"""`Authorization: Token <key>` for every API: our hashed, named ApiTokens first, then DRF's authtoken tokens
(made in the admin). Judge0's layer reads the same keys from `X-Auth-Token` through `user_for_key`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from sandbox_service.api.models import ApiToken, hash_key

LAST_USED_RESOLUTION = timedelta(minutes=1)  # no write per request: last_used is kept to the minute


def user_for_key(key: str) -> AbstractBaseUser | None:
    """The active user a key belongs to, or None."""
    if not key or len(key) > 64:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        user = token.user
    else:
        legacy = Token.objects.select_related("user").filter(key=key).first()
        user = legacy.user if legacy is not None else None
    return user if user is not None and user.is_active else None


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user = user_for_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return user, key
