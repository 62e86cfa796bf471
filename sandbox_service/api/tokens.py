"""API tokens: list one's own, create one (its key is shown once), revoke one.

Several named tokens per account (`sandbox_service.api.models.ApiToken`): the key is kept only as a SHA-256
hash; a list shows each token's id, name, the key's first characters, when it was made and last used.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.api.models import ApiToken
from sandbox_service.api.throttling import ApiReadThrottle, ApiWriteThrottle
from sandbox_service.api.views import StrictSerializer, bounded_json, errors, validated

MAX_TOKENS_PER_USER = 50

# ------------------------------------------------------------------------------------------- services ----


def api_tokens_of(user: Any) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user))


def api_token_create(user: Any, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user` and its key; at most MAX_TOKENS_PER_USER each."""
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise serializers.ValidationError({"name": [f"at most {MAX_TOKENS_PER_USER} tokens per account"]})
    return ApiToken.issue(user, name)


def api_token_revoke(user: Any, token_id: int) -> bool:
    """Delete `user`'s token `token_id`; whether there was one. Never touches another's token."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0


# -------------------------------------------------------------------------------------------------- API ----


class TokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters: to recognise it, not to use it.")
    created = serializers.DateTimeField(source="created_at")
    last_used = serializers.DateTimeField(source="last_used_at", allow_null=True)


class TokenCreatedOutput(TokenOutput):
    key = serializers.CharField(help_text="Shown this once: send it as `Authorization: Token <key>`.")


class TokenCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


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
                   responses={201: TokenCreatedOutput, **errors(400, 401, 413, 415, 429)})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = validated(TokenCreateInput, request.data)
        token, key = api_token_create(request.user, data["name"])
        body = {**TokenOutput(token).data, "key": key}
        return Response(body, status=status.HTTP_201_CREATED)


# GET lists and POST creates on one URL; each operation keeps its own view above.
class TokenCollectionApi(TokenListApi, TokenCreateApi):

    throttle_classes = [ApiReadThrottle, ApiWriteThrottle]


class TokenRevokeApi(APIView):
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(operation_id="token_revoke", summary="Revoke one of one's own API tokens",
                   responses={204: None, **errors(401, 404, 429)})  # fmt: skip
    def delete(self, request: Request, token_id: int) -> Response:
        if not api_token_revoke(request.user, token_id):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)
