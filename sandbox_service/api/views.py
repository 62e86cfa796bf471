"""The native API's conventions, shared by its views, and the languages endpoint.

Conventions (every view of `/api/v1/` follows them):
- JSON only, bounded in size (413 past the bound); invalid JSON is a 400 with `detail`.
- Input serializers are strict: an unknown field is a 400 naming it, never silently ignored.
- A 400 names each bad field with a flat path (`files[2].encoding`, `limits.memory`, `submissions[3].language`),
  the same paths the services use in SubmissionError.
- Service exceptions map to statuses in one place (`service_errors`): bad input 400, a full queue 503 and a
  per-user limit 429 (both with Retry-After), an illegal transition 409.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.api.throttling import ApiReadThrottle
from sandbox_service.languages.models import Language
from sandbox_service.submissions import services
from sandbox_service.submissions.states import IllegalTransition

# ------------------------------------------------------------------------------------------------ input ----


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "too_large"


class BoundedJSONParser(BaseParser):
    """JSON bodies of at most `max_bytes` (413 past it), read from the request's stream.

    Not a JSONParser subclass on purpose: for those DRF reads `request.body`, bounded by Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB), which would refuse a 16 MiB stdin with an HTML 400. Each view sets
    its own bound instead, sized to what its input may hold.
    """

    media_type = "application/json"
    max_bytes = 32 * 1024 * 1024

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            raise RequestTooLarge(f"the request body is larger than {self.max_bytes // (1024 * 1024)} MiB")
        return JSONParser().parse(io.BytesIO(body), media_type, parser_context)


def bounded_json(max_mib: int) -> type[BoundedJSONParser]:
    return type(f"JSONParserMax{max_mib}MiB", (BoundedJSONParser,), {"max_bytes": max_mib * 1024 * 1024})


# Refuses fields it does not declare: a typo (`stdn`) is a 400 naming it, not a silently empty stdin. (A comment,
# not a docstring: the schema would show it as every input's description.)
class StrictSerializer(serializers.Serializer):

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in data if k not in self.fields or self.fields[str(k)].read_only)
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"files[2].encoding": [...]}: one flat key per bad field, as the services name them."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if key == "non_field_errors" and prefix:
                out.update(flatten_errors(value, prefix))
                continue
            index = isinstance(key, int) or (isinstance(key, str) and key.isdigit())
            path = f"{prefix}[{key}]" if index else (f"{prefix}.{key}" if prefix else str(key))
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list) and detail and all(isinstance(d, str) for d in detail):
        out.setdefault(prefix or "non_field_errors", []).extend(str(d) for d in detail)
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if value:  # a ListSerializer reports {} for each item that was fine
                out.update(flatten_errors(value, f"{prefix}[{i}]"))
    elif detail:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    """The validated data, or a 400 naming every bad field (flat paths)."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise serializers.ValidationError(flatten_errors(serializer.errors))
    return dict(serializer.validated_data)


# ----------------------------------------------------------------------------------------------- errors ----


class QueueFullError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "the queue is full; retry later"
    default_code = "queue_full"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF's exception handler turns it into Retry-After


class RateLimitedError(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "too many submissions; retry later"
    default_code = "rate_limited"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the resource is not in a state that allows this"
    default_code = "conflict"


@contextmanager
def service_errors(field_prefix: str = "") -> Iterator[None]:
    """Map the services' exceptions to API errors (inside a view; DRF's handler renders them)."""
    try:
        yield
    except services.SubmissionError as e:
        raise serializers.ValidationError({f"{field_prefix}{e.field}": [e.message]}) from None
    except services.QueueFull as e:
        raise QueueFullError(str(e), e.retry_after) from None
    except services.RateLimited as e:
        raise RateLimitedError(str(e), e.retry_after) from None
    except IllegalTransition as e:
        raise ConflictError(str(e)) from None


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()


_BAD_REQUEST = OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input: each key names a field "
                                                                "(`files[0].name`, `limits.memory`) with its "
                                                                "messages; invalid JSON answers `detail`.")  # fmt: skip
ERRORS: dict[int, OpenApiResponse] = {
    400: _BAD_REQUEST,
    401: OpenApiResponse(ErrorOutput, description="No or bad credentials."),
    403: OpenApiResponse(ErrorOutput, description="Not allowed for this account."),
    404: OpenApiResponse(ErrorOutput, description="Not found, or not visible to this account."),
    409: OpenApiResponse(ErrorOutput, description="Not in a state that allows this."),
    413: OpenApiResponse(ErrorOutput, description="The request body is too large."),
    415: OpenApiResponse(ErrorOutput, description="Not JSON."),
    429: OpenApiResponse(ErrorOutput, description="Too many requests; see Retry-After."),
    503: OpenApiResponse(ErrorOutput, description="The queue is full; see Retry-After."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


@csrf_exempt  # it changes nothing; without this a POST would get the CSRF check's HTML 403 instead of the JSON 404
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other URL under /api/: a JSON 404 rather than the site's HTML page. A URL missing only its trailing
    slash is redirected with 308, which (unlike APPEND_SLASH's 301) keeps the method and the body."""
    if not request.path.endswith("/"):
        try:
            resolved = resolve(request.path + "/")
        except Resolver404:
            resolved = None
        if resolved is not None and resolved.func is not api_not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect308(request.path + "/" + (f"?{query}" if query else ""))
    return JsonResponse({"detail": "Not found."}, status=404)


class HttpResponsePermanentRedirect308(HttpResponsePermanentRedirect):
    status_code = 308


# -------------------------------------------------------------------------------------------- languages ----


class LanguageOutput(serializers.ModelSerializer):
    usable = serializers.BooleanField(read_only=True, help_text="Enabled and available: accepts submissions.")

    class Meta:
        model = Language
        fields = ["id", "name", "version", "compiled", "enabled", "available", "usable"]


class LanguageListApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="languages_list", summary="Languages, their versions and availability",
                   responses={200: LanguageOutput(many=True), **errors(401, 429)})  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(LanguageOutput(Language.objects.all(), many=True).data)
