"""API tokens: list one's own, create one (its key is shown once), revoke one.

Tokens are DRF's `authtoken` tokens (`Authorization: Token <key>`), which allow ONE token per account: creating
a second answers 409 (rotate = revoke, then create). Several named tokens per account need a model of their own
(name, a hash of the key instead of the key, created, last used); until then a token has no name and its id is
the first characters of its key, which is all a list ever shows of it.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.api.throttling import ApiReadThrottle, ApiWriteThrottle
from sandbox_service.api.views import ConflictError, StrictSerializer, bounded_json, errors, validated

PREFIX_LENGTH = 8

# ------------------------------------------------------------------------ services (on authtoken's model) ----


def api_tokens_of(user: Any) -> list[Token]:
    return list(Token.objects.filter(user=user))


def api_token_create(user: Any) -> Token:
    """A new token for `user`; ConflictError if they hold one already (authtoken keeps one per account)."""
    try:
        with transaction.atomic():
            if Token.objects.filter(user=user).exists():
                raise IntegrityError
            return Token.objects.create(user=user)
    except IntegrityError:  # also two concurrent creates: the one-to-one key refuses the second
        raise ConflictError("this account already has a token (one per account): revoke it first, then create "
                            "a new one") from None  # fmt: skip


def api_token_revoke(user: Any, token_id: str) -> bool:
    """Delete `user`'s token whose id is `token_id`; whether there was one. Never touches another's token."""
    if len(token_id) != PREFIX_LENGTH:
        return False
    deleted, _ = Token.objects.filter(user=user, key__startswith=token_id).delete()
    return deleted > 0


# -------------------------------------------------------------------------------------------------- API ----


class TokenOutput(serializers.Serializer):
    id = serializers.SerializerMethodField(help_text="The key's first characters: identifies it, cannot be used.")
    prefix = serializers.SerializerMethodField()
    created = serializers.DateTimeField()

    def get_id(self, token: Token) -> str:
        return token.key[:PREFIX_LENGTH]

    def get_prefix(self, token: Token) -> str:
        return token.key[:PREFIX_LENGTH]


class TokenCreatedOutput(TokenOutput):
    key = serializers.CharField(help_text="Shown this once: send it as `Authorization: Token <key>`.")


class TokenCreateInput(StrictSerializer):
    """No fields yet (a token has no name while there is one per account); unknown ones are refused."""


class TokenListApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="tokens_list", summary="One's own API tokens (never their keys)",
                   responses={200: TokenOutput(many=True), **errors(401, 429)})  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(TokenOutput(api_tokens_of(request.user), many=True).data)


class TokenCreateApi(APIView):
    throttle_classes = [ApiWriteThrottle]
    parser_classes = [bounded_json(1)]

    @extend_schema(operation_id="token_create", summary="Create an API token; its key is in this answer only",
                   request=TokenCreateInput,
                   responses={201: TokenCreatedOutput, **errors(400, 401, 409, 413, 415, 429)})  # fmt: skip
    def post(self, request: Request) -> Response:
        validated(TokenCreateInput, request.data)
        token = api_token_create(request.user)
        return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)


# GET lists and POST creates on one URL; each operation keeps its own view above.
class TokenCollectionApi(TokenListApi, TokenCreateApi):

    throttle_classes = [ApiReadThrottle, ApiWriteThrottle]


class TokenRevokeApi(APIView):
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(operation_id="token_revoke", summary="Revoke one of one's own API tokens",
                   responses={204: None, **errors(401, 404, 429)})  # fmt: skip
    def delete(self, request: Request, token_id: str) -> Response:
        if not api_token_revoke(request.user, token_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
