"""Problems in the native API: CRUD of problems and their test cases, import and export as a problem archive
(the format: sandbox_service/problems/zipformat.py), and a problem's scores as CSV.

Views parse and format; the problem services decide what is valid. They follow the API's conventions
(sandbox_service/api/views.py): bounded JSON bodies, strict input, 400 naming each field with a flat path
(`limits.memory`; an import names the archive's member: `problem.json`, `tests/003.in`, `archive`).

Who may do what (roles from permissions.role_of):
- read a problem: students the published ones; graders also those they own or grade; admins every one. A problem
  one may not read is a 404, never a 403, so its slug gives nothing away.
- change a problem or its tests, export it, read its scores: its owner and graders (while they are graders) and
  admins (permissions.grades); others who may read it get 403. Change a problem's graders: its owner and admins.
  Create and import: graders and admins.
- hidden tests exist only for those who may change the problem; for everyone else they are a 404.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.api.permissions import ADMIN, GRADER, IsGraderOrAdmin, grades, role_of
from sandbox_service.api.throttling import ApiReadThrottle, ApiWriteThrottle
from sandbox_service.api.views import ConflictError, StrictSerializer, bounded_json, errors, validated
from sandbox_service.problems import selectors, services
from sandbox_service.problems.models import Checker, Problem, TestCase

SLUG_PARAMETER = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The problem's slug.")
TEST_PARAMETER = OpenApiParameter("test_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The test's id.")


# ------------------------------------------------------------------------------------------------ helpers ----


@contextmanager
def problem_errors() -> Iterator[None]:
    """The problem services' bad input as a 400 naming the field (DRF's handler renders it)."""
    try:
        yield
    except services.ProblemError as e:
        raise serializers.ValidationError({e.field: [e.message]}) from None


def _visible_or_404(request: Request, slug: str) -> Problem:
    problem = selectors.problem_get(slug, request.user)
    if problem is None:
        raise NotFound()
    return problem


def _managed_or_403(request: Request, slug: str) -> Problem:
    problem = _visible_or_404(request, slug)
    if not grades(request.user, problem):
        raise PermissionDenied("only the problem's owner, its graders and admins may do this")
    return problem


def _may_set_graders(user: Any, problem: Problem) -> bool:
    role = role_of(user)
    return role == ADMIN or (role == GRADER and problem.owner_id == user.pk)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _PutBack(StrictSerializer):
    """Strict, but takes back what a GET of the same object answered: its read-only keys are ignored, so a client
    may GET, change a field and PUT the whole object back."""

    output_only: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = {key: value for key, value in data.items() if key not in self.output_only}
        return super().to_internal_value(data)


# ------------------------------------------------------------------------------------------------ problems ----


class ProblemLimitsInput(StrictSerializer):
    cpu_time = serializers.FloatField(required=False, allow_null=True, help_text="Seconds of CPU.")
    wall_time = serializers.FloatField(required=False, allow_null=True, help_text="Seconds of real time.")
    memory = serializers.IntegerField(required=False, allow_null=True, help_text="MiB.")
    processes = serializers.IntegerField(required=False, allow_null=True, help_text="Processes and threads.")
    output = serializers.IntegerField(required=False, allow_null=True, help_text="KiB per stream.")


class ProblemLimitsOutput(serializers.Serializer):
    cpu_time = serializers.FloatField(allow_null=True)
    wall_time = serializers.FloatField(allow_null=True)
    memory = serializers.IntegerField(allow_null=True)
    processes = serializers.IntegerField(allow_null=True)
    output = serializers.IntegerField(allow_null=True)


class ProblemInput(_PutBack):
    output_only = frozenset({"owner", "created_at", "updated_at"})

    title = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=50)
    statement = serializers.CharField(allow_blank=True, trim_whitespace=False, default="", help_text="Markdown.")
    limits = ProblemLimitsInput(required=False, help_text="Null or missing: the language's default; each within the "
                                                   "operator's maxima.")  # fmt: skip
    allowed_languages = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=100,
        default=list,
        help_text="Language ids; empty: every language.",
    )
    checker = serializers.ChoiceField(choices=Checker.choices, default=Checker.WHITESPACE)
    float_abs_tolerance = serializers.FloatField(min_value=0, default=1e-6)
    float_rel_tolerance = serializers.FloatField(min_value=0, default=1e-6)
    checker_language = serializers.CharField(max_length=32, allow_null=True, default=None,
                                             help_text="A custom checker's language id.")  # fmt: skip
    checker_source = serializers.CharField(allow_blank=True, trim_whitespace=False, default="",
                                           help_text="A custom checker's source: run as `CHECKER input expected "
                                                     "output`, exit code 0 accepts.")  # fmt: skip
    stop_on_first_failure = serializers.BooleanField(default=False)
    published = serializers.BooleanField(default=False, help_text="Visible to students.")
    graders = serializers.ListField(child=serializers.CharField(max_length=150), max_length=100, required=False,
                                    help_text="Usernames of graders or admins; only the owner and admins may "
                                              "change them.")  # fmt: skip


class ProblemOutput(serializers.Serializer):
    """A problem. `owner`, `graders`, `checker_language` and `checker_source` are shown only to those who may
    change it (so they are not required in the schema); the context's `manages(problem)` says who."""

    slug = serializers.SlugField()
    title = serializers.CharField()
    statement = serializers.CharField()
    limits = ProblemLimitsOutput(source="*")
    allowed_languages = serializers.ListField(child=serializers.CharField(), source="allowed_language_ids")
    checker = serializers.ChoiceField(choices=Checker.choices)
    float_abs_tolerance = serializers.FloatField()
    float_rel_tolerance = serializers.FloatField()
    stop_on_first_failure = serializers.BooleanField()
    published = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    # Not read-only on purpose: read-only fields are required in the schema, and these are not always there.
    owner = serializers.CharField(source="owner.username", allow_null=True, required=False)
    graders = serializers.ListField(child=serializers.CharField(), source="grader_usernames", required=False)
    checker_language = serializers.CharField(source="checker_language_id", allow_null=True, required=False)
    checker_source = serializers.CharField(required=False)

    MANAGER_FIELDS = ("owner", "graders", "checker_language", "checker_source")

    def to_representation(self, problem: Problem) -> dict[str, Any]:
        # From the prefetched rows (selectors.problems_visible_to): no query per problem.
        problem.allowed_language_ids = sorted(language.pk for language in problem.allowed_languages.all())
        problem.grader_usernames = sorted(user.username for user in problem.graders.all())
        data = super().to_representation(problem)
        if not self.context["manages"](problem):
            for name in self.MANAGER_FIELDS:
                data.pop(name, None)
        return data


def _problem_answer(request: Request, slug: str, code: int = status.HTTP_200_OK) -> Response:
    """The problem as read again after a write (fresh prefetches), as the requester may see it."""
    problem = _visible_or_404(request, slug)
    return Response(ProblemOutput(problem, context={"manages": lambda p: grades(request.user, p)}).data, status=code)


class ProblemListApi(APIView):
    throttle_classes = [ApiReadThrottle]
    pagination_class = Pagination

    @extend_schema(operation_id="problems_list", summary="Problems this account may read, by title",
                   responses={200: ProblemOutput(many=True), **errors(401, 404, 429)})  # fmt: skip
    def get(self, request: Request) -> Response:
        managed = selectors.problem_ids_managed_by(request.user)
        context = {"manages": lambda problem: managed is None or problem.pk in managed}
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.problems_visible_to(request.user).order_by("title", "pk"),
                                           request, view=self)  # fmt: skip
        return paginator.get_paginated_response(ProblemOutput(page, many=True, context=context).data)


class ProblemCreateApi(APIView):
    permission_classes = [IsGraderOrAdmin]
    throttle_classes = [ApiWriteThrottle]
    parser_classes = [bounded_json(4)]

    @extend_schema(
        operation_id="problem_create",
        summary="Create a problem, owned by the requester",
        request=ProblemInput,
        responses={201: ProblemOutput, **errors(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        data = validated(ProblemInput, request.data)
        with problem_errors():
            problem = services.problem_create(owner=request.user, **data)
        return _problem_answer(request, problem.slug, status.HTTP_201_CREATED)


class ProblemDetailApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="problem_retrieve", summary="A problem", parameters=[SLUG_PARAMETER],
                   responses={200: ProblemOutput, **errors(401, 404, 429)})  # fmt: skip
    def get(self, request: Request, slug: str) -> Response:
        problem = _visible_or_404(request, slug)
        return Response(ProblemOutput(problem, context={"manages": lambda p: grades(request.user, p)}).data)


class ProblemUpdateApi(APIView):
    """PUT says the whole problem: what it leaves out takes its default (limits: the language's), except graders,
    which change only when given. PATCH changes what it gives; its `limits` change only the limits named."""

    throttle_classes = [ApiWriteThrottle]
    parser_classes = [bounded_json(4)]

    @extend_schema(
        operation_id="problem_update",
        summary="Replace a problem",
        parameters=[SLUG_PARAMETER],
        request=ProblemInput,
        responses={200: ProblemOutput, **errors(400, 401, 403, 404, 413, 415, 429)},
    )
    def put(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, partial=False)

    @extend_schema(operation_id="problem_partial_update", summary="Change some fields of a problem",
                   parameters=[SLUG_PARAMETER], request=ProblemInput(partial=True),
                   responses={200: ProblemOutput, **errors(400, 401, 403, 404, 413, 415, 429)})  # fmt: skip
    def patch(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, partial=True)

    def _update(self, request: Request, slug: str, *, partial: bool) -> Response:
        problem = _managed_or_403(request, slug)
        data = validated(ProblemInput, request.data, partial=partial)
        if not partial:
            data["limits"] = {name: data.get("limits", {}).get(name) for name in services.LIMIT_FIELDS}
        if "graders" in data and not _may_set_graders(request.user, problem):
            raise PermissionDenied("only the problem's owner and admins may change its graders")
        with problem_errors():
            services.problem_update(problem, **data)
        return _problem_answer(request, problem.slug)


class ForceQuery(serializers.Serializer):  # not strict: cache-busters pass
    force = serializers.BooleanField(default=False, help_text="Also delete its submissions.")


class ProblemDeleteApi(APIView):
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(operation_id="problem_destroy", summary="Delete a problem and its tests",
                   description="A problem with submissions is deleted only with `?force=true` (409 otherwise): "
                               "its submissions are deleted with it. Unpublishing keeps them.",
                   parameters=[SLUG_PARAMETER, ForceQuery], responses={204: None, **errors(400, 401, 403, 404, 409,
                                                                                            429)})  # fmt: skip
    def delete(self, request: Request, slug: str) -> Response:
        problem = _managed_or_403(request, slug)
        force = validated(ForceQuery, request.query_params)["force"]
        try:
            services.problem_delete(problem, force=force)
        except services.ProblemInUse as e:
            raise ConflictError(str(e)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------------------------ import, export ----


class ReplaceQuery(serializers.Serializer):
    replace = serializers.BooleanField(default=False, help_text="Overwrite the problem of the same slug.")


class ProblemImportApi(APIView):
    permission_classes = [IsGraderOrAdmin]
    throttle_classes = [ApiWriteThrottle]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="problem_import", summary="Create (or replace) a problem from a problem archive",
        description="A multipart form with the ZIP in `archive`. Everything is written, or nothing. With "
                    "`?replace=true` the problem of the archive's slug is overwritten (its owner, graders, "
                    "publication and submissions are kept, its tests replaced): 200; a new problem: 201.",
        parameters=[ReplaceQuery],
        request={"multipart/form-data": inline_serializer("ProblemImportInput", {"archive": serializers.FileField()})},
        responses={200: ProblemOutput, 201: ProblemOutput, **errors(400, 401, 403, 415, 429)},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        replace = validated(ReplaceQuery, request.query_params)["replace"]
        archive = request.FILES.get("archive")
        caps = services.ARCHIVE_CAPS
        if archive is None:
            raise serializers.ValidationError({"archive": ["a problem archive (ZIP) as the multipart file 'archive'"]})
        if archive.size is not None and archive.size > caps.archive_bytes:
            raise serializers.ValidationError({"archive": [f"larger than {caps.archive_bytes // 1024 // 1024} MiB"]})
        try:
            with problem_errors():
                problem, created = services.problem_import(owner=request.user, archive=archive, replace=replace,
                                                           may_replace=lambda p: grades(request.user, p))  # fmt: skip
        except services.ReplaceRefused as e:
            raise PermissionDenied(str(e)) from None
        return _problem_answer(request, problem.slug, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ProblemExportApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="problem_export", summary="A problem and all its tests as a problem archive",
                   parameters=[SLUG_PARAMETER],
                   responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
                              **errors(401, 403, 404, 429)})  # fmt: skip
    def get(self, request: Request, slug: str) -> FileResponse:
        problem = _managed_or_403(request, slug)
        # Small archives stay in memory, big ones spill to a temporary file; FileResponse closes it when sent.
        out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        selectors.problem_export(problem, out)
        out.seek(0)
        return FileResponse(out, as_attachment=True, filename=f"{problem.slug}.zip", content_type="application/zip")


# ------------------------------------------------------------------------------------------------- scores ----

SCORE_COLUMNS = ("username", "best_score", "best_token", "best_verdict", "best_submitted_at", "last_score",
                 "last_token", "last_verdict", "last_submitted_at", "submissions")  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def _spreadsheet_safe(text: str) -> str:
    """Django allows a username to begin with + - or @, which a spreadsheet would run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


class ProblemScoresApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(
        operation_id="problem_scores",
        summary="One CSV row per student who submitted to the problem",
        description="Columns: " + ", ".join(SCORE_COLUMNS) + ". Best: the finished submission with "
        "the highest score (the earliest of equals); last: the latest finished one; times "
        "are submission times (ISO 8601, UTC); `submissions` counts all, finished or not.",
        parameters=[SLUG_PARAMETER],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR), **errors(401, 403, 404, 429)},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        problem = _managed_or_403(request, slug)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{problem.slug}-scores.csv"'
        writer = csv.writer(response)
        writer.writerow(SCORE_COLUMNS)
        for row in selectors.problem_scores(problem):
            writer.writerow([_spreadsheet_safe(row.username), *(_cell(getattr(row, c)) for c in SCORE_COLUMNS[1:])])
        return response


# --------------------------------------------------------------------------------------------- test cases ----


class TestCaseInput(_PutBack):
    __test__ = False  # not a pytest class
    output_only = frozenset({"id"})

    stdin = serializers.CharField(allow_blank=True, trim_whitespace=False, default="",
                                  help_text="At most 16 MiB (UTF-8).")  # fmt: skip
    expected_output = serializers.CharField(allow_blank=True, trim_whitespace=False, default="",
                                            help_text="At most 16 MiB (UTF-8).")  # fmt: skip
    points = serializers.IntegerField(min_value=0, max_value=services.MAX_POINTS, default=1)
    visible = serializers.BooleanField(default=False, help_text="Shown to students, with its expected output.")
    order = serializers.IntegerField(min_value=0, max_value=services.MAX_ORDER, required=False, allow_null=True,
                                     help_text="Grading order. Missing or null: after the last test (POST), "
                                               "unchanged (PUT, PATCH).")  # fmt: skip
    name = serializers.CharField(max_length=100, allow_blank=True, default="")


class TestCaseOutput(serializers.ModelSerializer):
    __test__ = False

    class Meta:
        model = TestCase
        fields = ["id", "order", "name", "stdin", "expected_output", "points", "visible"]
        read_only_fields = fields


# Two 16 MiB texts, and room for JSON's escapes.
TEST_BODY_MIB = 40


def _test_or_404(request: Request, slug: str, test_id: int) -> tuple[TestCase, bool]:
    """The test, if the requester may see it, and whether the requester may change it."""
    problem = _visible_or_404(request, slug)
    manages = grades(request.user, problem)
    test = selectors.test_cases_of(problem, include_hidden=manages).filter(pk=test_id).first()
    if test is None:
        raise NotFound()
    return test, manages


class TestCaseListApi(APIView):
    __test__ = False
    throttle_classes = [ApiReadThrottle]
    pagination_class = Pagination

    @extend_schema(
        operation_id="problem_tests_list",
        summary="A problem's tests (students: the visible ones)",
        parameters=[SLUG_PARAMETER],
        responses={200: TestCaseOutput(many=True), **errors(401, 404, 429)},
    )
    def get(self, request: Request, slug: str) -> Response:
        problem = _visible_or_404(request, slug)
        tests = selectors.test_cases_of(problem, include_hidden=grades(request.user, problem))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(tests, request, view=self)
        return paginator.get_paginated_response(TestCaseOutput(page, many=True).data)


class TestCaseCreateApi(APIView):
    __test__ = False
    throttle_classes = [ApiWriteThrottle]
    parser_classes = [bounded_json(TEST_BODY_MIB)]

    @extend_schema(operation_id="problem_test_create", summary="Add a test to a problem", parameters=[SLUG_PARAMETER],
                   request=TestCaseInput, responses={201: TestCaseOutput, **errors(400, 401, 403, 404, 413, 415,
                                                                                   429)})  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        problem = _managed_or_403(request, slug)
        data = validated(TestCaseInput, request.data)
        with problem_errors():
            test = services.test_case_create(problem, **data)
        return Response(TestCaseOutput(test).data, status=status.HTTP_201_CREATED)


class TestCaseDetailApi(APIView):
    __test__ = False
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="problem_test_retrieve", summary="One test of a problem",
                   parameters=[SLUG_PARAMETER, TEST_PARAMETER],
                   responses={200: TestCaseOutput, **errors(401, 404, 429)})  # fmt: skip
    def get(self, request: Request, slug: str, test_id: int) -> Response:
        test, _ = _test_or_404(request, slug, test_id)
        return Response(TestCaseOutput(test).data)


class TestCaseUpdateApi(APIView):
    """PUT: what it leaves out takes its default (order: unchanged); PATCH: only what it gives."""

    __test__ = False
    throttle_classes = [ApiWriteThrottle]
    parser_classes = [bounded_json(TEST_BODY_MIB)]

    @extend_schema(operation_id="problem_test_update", summary="Replace a test",
                   parameters=[SLUG_PARAMETER, TEST_PARAMETER], request=TestCaseInput,
                   responses={200: TestCaseOutput, **errors(400, 401, 403, 404, 413, 415, 429)})  # fmt: skip
    def put(self, request: Request, slug: str, test_id: int) -> Response:
        return self._update(request, slug, test_id, partial=False)

    @extend_schema(operation_id="problem_test_partial_update", summary="Change some fields of a test",
                   parameters=[SLUG_PARAMETER, TEST_PARAMETER], request=TestCaseInput(partial=True),
                   responses={200: TestCaseOutput, **errors(400, 401, 403, 404, 413, 415, 429)})  # fmt: skip
    def patch(self, request: Request, slug: str, test_id: int) -> Response:
        return self._update(request, slug, test_id, partial=True)

    def _update(self, request: Request, slug: str, test_id: int, *, partial: bool) -> Response:
        test, manages = _test_or_404(request, slug, test_id)
        if not manages:
            raise PermissionDenied("only the problem's owner, its graders and admins may do this")
        data = validated(TestCaseInput, request.data, partial=partial)
        if data.get("order", 0) is None:
            del data["order"]
        with problem_errors():
            services.test_case_update(test, **data)
        return Response(TestCaseOutput(test).data)


class TestCaseDeleteApi(APIView):
    __test__ = False
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(
        operation_id="problem_test_destroy",
        summary="Delete a test",
        parameters=[SLUG_PARAMETER, TEST_PARAMETER],
        responses={204: None, **errors(401, 403, 404, 429)},
    )
    def delete(self, request: Request, slug: str, test_id: int) -> Response:
        test, manages = _test_or_404(request, slug, test_id)
        if not manages:
            raise PermissionDenied("only the problem's owner, its graders and admins may do this")
        services.test_case_delete(test)
        return Response(status=status.HTTP_204_NO_CONTENT)
