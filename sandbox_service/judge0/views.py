"""The Judge0 CE 1.13.1 API, one view per operation (submissions_controller.rb, languages, statuses, info, health).

Every request needs one of the user's API tokens, in Judge0's `X-Auth-Token` header (or `Authorization: Token …`);
without a valid one the answer is Judge0's: 401 with an empty body, on every endpoint. The checks run in Judge0's
before_action order, so a request wrong in two ways gets the answer Judge0 would give.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.api.permissions import ADMIN, GRADER, role_of
from sandbox_service.judge0 import config as judge0_config
from sandbox_service.judge0 import health, selectors, services
from sandbox_service.judge0 import languages as judge0_languages
from sandbox_service.judge0.auth import token_user
from sandbox_service.judge0.encoding import ruby_to_i
from sandbox_service.judge0.params import PERMITTED, InvalidSubmission
from sandbox_service.judge0.serializers import (
    CONVERSION_ERROR,
    CONVERSION_ERROR_MANY,
    InvalidFields,
    NotUtf8,
    requested_fields,
    submission_json,
)
from sandbox_service.judge0.statuses import all_statuses
from sandbox_service.submissions.selectors import queue_depth

NOT_FOUND = {"status": 404, "error": "Not Found"}  # what Rails answers a JSON client for a missing record
DEFAULT_PER_PAGE = 20


class _Unauthenticated(Exception):
    pass


class _Forbidden(Exception):
    pass


class _Rejected(Exception):
    """Stop the request with this response (a before_action that renders)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


class _AlwaysJson(BaseContentNegotiation):
    """Judge0 answers JSON whatever the Accept header says (never 406)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:  # fmt: skip
        return renderers[0], renderers[0].media_type


def empty(status: int) -> HttpResponse:
    """Rails' `head`: a status and no body."""
    return HttpResponse(b"", status=status, content_type="text/html")


def error(message: str, status: int = 400, **extra: Any) -> Response:
    return Response({"error": message, **extra}, status=status)


def queue_full(retry_after: int | None = None) -> Response:
    seconds = retry_after if retry_after is not None else settings.SUBMISSIONS["RETRY_AFTER_SECONDS"]
    return Response({"error": "queue is full"}, status=503, headers={"Retry-After": str(seconds)})


def rate_limited(exc: services.RateLimited) -> Response:
    """Ours (Judge0 has no per-user rate): 429 with Retry-After, in Judge0's error shape."""
    return Response({"error": str(exc)}, status=429, headers={"Retry-After": str(exc.retry_after)})


class Judge0Api(APIView):
    authentication_classes = ()
    permission_classes = ()
    renderer_classes = (JSONRenderer,)
    parser_classes = (JSONParser, FormParser, MultiPartParser)
    content_negotiation_class = _AlwaysJson

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The token first: then DRF's own checks (throttles keyed by user, if the operator sets default ones) see
        # the caller, and nothing at all is answered to a request without one but 401.
        user = token_user(request)
        if user is None:
            raise _Unauthenticated
        request.user, request.auth = user, None
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, _Unauthenticated):
            return empty(401)
        if isinstance(exc, _Forbidden):
            return empty(403)
        if isinstance(exc, _Rejected):
            return exc.response
        if isinstance(exc, (ParseError, UnsupportedMediaType)):
            return error(str(exc.detail), 400)
        if isinstance(exc, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE (Judge0 has no such limit)
            return error("the request body is larger than this service accepts", 413)
        return super().handle_exception(exc)

    @property
    def user(self) -> AbstractBaseUser:
        return self.request.user

    # --- request parameters, as Rails' `params` (query string over body) ---------------------------------------

    def body(self) -> dict[str, Any]:
        data = self.request.data
        if hasattr(data, "getlist"):  # a form: one value per name, the last one
            return {key: data.get(key) for key in data}
        return dict(data) if isinstance(data, dict) else {}

    def param(self, name: str) -> Any:
        if name in self.request.query_params:
            return self.request.query_params.get(name)
        return self.body().get(name)

    def flag(self, name: str) -> bool:
        """Judge0 tests `params[:x] == "true"`: only the string "true" is true."""
        return self.param(name) == "true"

    def fields(self) -> tuple[str, ...]:
        try:
            return requested_fields(self.param("fields"))
        except InvalidFields as e:
            raise _Rejected(error(str(e))) from None

    def check_queue(self, count: int) -> None:
        if queue_depth() + count > judge0_config.current().max_queue_size:
            raise _Rejected(queue_full())


# --- submissions ---------------------------------------------------------------------------------------------------


class SubmissionCreateApi(Judge0Api):
    """POST /submissions[?base64_encoded=true&wait=true&fields=...]: 201 {"token"} or, with wait, the submission."""

    def post(self, request: Request) -> HttpResponse:
        wait = self.flag("wait")
        self.check_queue(1)
        fields = self.fields()
        base64_encoded = self.flag("base64_encoded")
        params = self.body()
        params.update({k: request.query_params.get(k) for k in PERMITTED if k in request.query_params})
        try:
            submission = services.judge0_submission_create(owner=self.user, params=params,
                                                           base64_encoded=base64_encoded)  # fmt: skip
        except InvalidSubmission as e:
            return Response(e.errors, status=422)
        except services.QueueFull as e:
            return queue_full(e.retry_after)
        except services.RateLimited as e:
            return rate_limited(e)
        if not wait:
            return Response({"token": str(submission.token)}, status=201)
        submission = services.judge0_wait(submission)
        try:
            return Response(submission_json(submission, fields, base64_encoded), status=201)
        except NotUtf8:
            return error(CONVERSION_ERROR, 201, token=str(submission.token))


class SubmissionListApi(Judge0Api):
    """GET /submissions?page=&per_page=: the submissions the user may see, newest first, with will_paginate's meta.
    (Judge0 lets only its authorization-token holders list, as its list is everyone's; ours is the user's own.)"""

    def get(self, request: Request) -> HttpResponse:
        fields = self.fields()
        base64_encoded = self.flag("base64_encoded")
        page = ruby_to_i(self.param("page"))
        per_page = ruby_to_i(self.param("per_page"))
        page = 1 if page is None else page
        per_page = DEFAULT_PER_PAGE if per_page is None else per_page
        if page <= 0:
            return error(f"invalid page: {page}")
        if per_page <= 0:
            return error(f"invalid per_page: {per_page}")
        found = selectors.judge0_submissions_page(self.user, page, per_page)
        try:
            data = [submission_json(s, fields, base64_encoded) for s in found.submissions]
        except NotUtf8:
            return error(CONVERSION_ERROR_MANY)
        return Response({"submissions": data, "meta": found.meta})


class SubmissionDetailApi(Judge0Api):
    """GET /submissions/{token}"""

    def get(self, request: Request, token: str) -> HttpResponse:
        fields = self.fields()
        base64_encoded = self.flag("base64_encoded")
        submission = selectors.judge0_submission_get(token, self.user)
        if submission is None:
            return Response(NOT_FOUND, status=404)
        try:
            return Response(submission_json(submission, fields, base64_encoded))
        except NotUtf8:
            return error(CONVERSION_ERROR)


class SubmissionDeleteApi(Judge0Api):
    """DELETE /submissions/{token}: Judge0's default (ENABLE_SUBMISSION_DELETE=false) — 403 to those without
    authorization (graders and admins have it here), else 400 "delete not allowed"."""

    def delete(self, request: Request, token: str) -> HttpResponse:
        if role_of(self.user) not in (GRADER, ADMIN):
            raise _Forbidden
        self.fields()
        return error("delete not allowed")


class SubmissionBatchCreateApi(Judge0Api):
    """POST /submissions/batch {"submissions": [...]}: [{"token"} or {attribute: [errors]}, ...] in order."""

    def post(self, request: Request) -> HttpResponse:
        items = self.body().get("submissions")
        count = len(items) if isinstance(items, list) else 0
        self.check_queue(count or 1)
        base64_encoded = self.flag("base64_encoded")
        limit = judge0_config.current().max_submission_batch_size
        if count > limit:
            return error(f"number of submissions in a batch should be less than or equal to {limit}")
        if not isinstance(items, list) or count == 0:
            return error("there should be at least one submission in a batch")
        try:
            created = services.judge0_batch_create(owner=self.user, items=items, base64_encoded=base64_encoded)
        except services.QueueFull as e:
            return queue_full(e.retry_after)
        except services.RateLimited as e:
            return rate_limited(e)
        status = 201 if any(item.token is not None for item in created) else 422
        return Response([item.as_json() for item in created], status=status)


class SubmissionBatchDetailApi(Judge0Api):
    """GET /submissions/batch?tokens=a,b,c: {"submissions": [...]} in the tokens' order, null for unknown ones."""

    def get(self, request: Request) -> HttpResponse:
        fields = self.fields()
        base64_encoded = self.flag("base64_encoded")
        raw = request.headers.get("Tokens") or self.param("tokens")
        tokens = str(raw or "").strip().split(",")
        while tokens and tokens[-1] == "":
            tokens.pop()
        limit = judge0_config.current().max_submission_batch_size
        if len(tokens) > limit:
            return error(f"number of submissions in a batch should be less than or equal to {limit}")
        if not tokens:
            return error("there should be at least one submission in a batch")
        found = selectors.judge0_submissions_by_tokens(tokens, self.user)
        try:
            data = [None if s is None else submission_json(s, fields, base64_encoded) for s in found]
        except NotUtf8:
            return error(CONVERSION_ERROR_MANY)
        return Response({"submissions": data})


# --- languages, statuses, information ----------------------------------------------------------------------------


class LanguageListApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(judge0_languages.active_languages())


class LanguageAllApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(judge0_languages.all_languages())


class LanguageDetailApi(Judge0Api):
    def get(self, request: Request, language_id: str) -> HttpResponse:
        detail = judge0_languages.language_detail(ruby_to_i(language_id) or 0)
        return Response(NOT_FOUND, status=404) if detail is None else Response(detail)


class StatusListApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(all_statuses())


class AboutApi(Judge0Api):
    """The API version clients go by (the SDK maps its language aliases by it); the rest says who runs this."""

    def get(self, request: Request) -> HttpResponse:
        about = getattr(settings, "JUDGE0_ABOUT", None) or {}
        return Response({"version": judge0_config.VERSION, "homepage": about.get("homepage"),
                         "source_code": about.get("source_code"), "maintainer": about.get("maintainer")})  # fmt: skip


class VersionApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(judge0_config.VERSION, content_type="text/plain; charset=utf-8")


class ConfigInfoApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(judge0_config.current().as_json())


class SystemInfoApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(health.system_info())


class WorkersApi(Judge0Api):
    def get(self, request: Request) -> HttpResponse:
        return Response(health.workers())


class AuthenticateApi(Judge0Api):
    """POST /authenticate: 200 when the token is valid (401 otherwise, like every endpoint)."""

    def post(self, request: Request) -> HttpResponse:
        return empty(200)


class AuthorizeApi(Judge0Api):
    """POST /authorize: 200 for those Judge0 would call authorized (graders and admins here), else 403."""

    def post(self, request: Request) -> HttpResponse:
        return empty(200) if role_of(self.user) in (GRADER, ADMIN) else empty(403)


def not_found(request: HttpRequest) -> HttpResponse:
    return JsonResponse(NOT_FOUND, status=404)
