"""Piston v2's HTTP API: `GET runtimes`, `POST execute`. Every error is `{"message": "..."}`, as Piston's are."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from sandbox_service.api.authentication import ApiTokenAuthentication
from sandbox_service.piston import services
from sandbox_service.piston.access import AnonymousExecuteThrottle, AuthenticatedOrAnonymousAllowed
from sandbox_service.piston.runtimes import runtimes_available


def piston_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's answer (status, Retry-After, WWW-Authenticate) with Piston's body: one message."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        response.data = {"message": _first_message(exc.detail)}
    return response


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()), ("", ""))
        return f"{key}: {_first_message(value)}" if key not in ("detail", "non_field_errors") else str(value)
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


class _PistonApi(APIView):
    # No session authentication: Piston clients send no cookies, and a session would bring CSRF checks.
    authentication_classes = [ApiTokenAuthentication, BasicAuthentication]
    permission_classes = [AuthenticatedOrAnonymousAllowed]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list[type] = []

    def get_exception_handler(self) -> Any:
        return piston_exception_handler


class RuntimeListApi(_PistonApi):
    def get(self, request: Request) -> Response:
        return Response([runtime.as_json() for runtime in runtimes_available()])


class ExecuteApi(_PistonApi):
    throttle_classes = [AnonymousExecuteThrottle]

    def post(self, request: Request) -> Response:
        if not (request.content_type or "").startswith("application/json"):
            return Response({"message": "requests must be of type application/json"},
                            status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)  # fmt: skip
        owner = request.user if request.user.is_authenticated else services.anonymous_user_get()
        try:
            body = services.piston_execute(owner=owner, body=request.data)
        except services.PistonError as e:
            return Response({"message": e.message}, status=e.status, headers=e.headers)
        return Response(body)
