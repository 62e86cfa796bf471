"""Submissions in the native API: create (one, or a batch), read one, list, rejudge (one, or a problem's).

Views parse and format; the submission services decide. Who sees what: `selectors.submissions_visible_to`
(students their own, graders also their problems', admins all); who may rejudge: `permissions.grades`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from executor import languages as registry
from sandbox_service.api.permissions import IsGraderOrAdmin, grades
from sandbox_service.api.throttling import ApiReadThrottle, ApiWriteThrottle, SubmissionCreateThrottle
from sandbox_service.api.views import (
    ConflictError,
    StrictSerializer,
    bounded_json,
    errors,
    service_errors,
    validated,
)
from sandbox_service.problems.models import Problem
from sandbox_service.submissions import selectors, services, waiting
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Queue, Status, Verdict

MAX_BATCH = 100
DEFAULT_WAIT_MAX_SECONDS = 20.0  # below gunicorn's default 30 s worker timeout, which would kill a longer wait


def wait_cap() -> float:
    return float(getattr(settings, "API_WAIT_MAX_SECONDS", DEFAULT_WAIT_MAX_SECONDS))


# ---------------------------------------------------------------------------------------------- outputs ----


@extend_schema_field(OpenApiTypes.STR)
class _Text(serializers.Field):
    """An output kept as bytes, shown as text (invalid UTF-8 replaced)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return Submission.text(value)


@extend_schema_field(OpenApiTypes.NUMBER)
class _Number(serializers.Field):
    """A number as it is stored: 256 stays 256, not FloatField's 256.0."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return value


class TestResultOutput(serializers.ModelSerializer):
    __test__ = False  # not a pytest class

    class Meta:
        model = TestResult
        fields = ["order", "verdict", "points", "cpu_time", "wall_time", "memory", "exit_code", "signal",
                  "stdout", "stderr", "checker_message"]  # fmt: skip


class FileOutput(serializers.Serializer):
    name = serializers.CharField()
    content = serializers.CharField()
    encoding = serializers.ChoiceField(choices=["utf8", "base64"])


def _verdict_field() -> serializers.ChoiceField:
    # Declared, not generated: a generated read-only field loses allow_blank, and the schema then refused the
    # empty verdict of every submission not finished yet (schemathesis found it).
    return serializers.ChoiceField(choices=Verdict.choices, allow_blank=True, read_only=True,
                                   help_text="Empty until the submission is finished.")  # fmt: skip


class SubmissionOutput(serializers.ModelSerializer):
    """One submission in full. A hidden test's output is withheld from whoever does not grade the problem."""

    verdict = _verdict_field()
    owner = serializers.CharField(source="owner.username", read_only=True)
    language = serializers.CharField(source="language_id", read_only=True)
    problem = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    files = FileOutput(many=True, read_only=True)
    args = serializers.ListField(child=serializers.CharField(), read_only=True)
    compiler_options = serializers.ListField(child=serializers.CharField(), read_only=True)
    limits = serializers.DictField(child=_Number(), read_only=True,
                                   help_text="The effective run limits (seconds, MiB, KiB per stream).")  # fmt: skip
    callback_url = serializers.CharField(read_only=True, help_text="Empty: no webhook.")  # "" is no URI
    compile_output = _Text(help_text="The compiler's stdout and stderr, interleaved.")
    stdout = _Text(help_text="A scratch run's stdout.")
    stderr = _Text(help_text="A scratch run's stderr.")
    output = _Text(help_text="A scratch run's stdout and stderr, interleaved in the order written.")
    results = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["token", "owner", "problem", "examples_only", "language", "status", "stage", "verdict", "score",
                  "max_score", "message", "source", "files", "args", "compiler_options", "redirect_stderr_to_stdout",
                  "number_of_runs", "limits", "queue", "callback_url", "callback_status", "compile_output",
                  "compile_exit_code", "stdout", "stderr", "output", "exit_code", "signal", "cpu_time", "wall_time",
                  "memory", "tests_done", "tests_total", "created_at", "started_at", "finished_at",
                  "results"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(TestResultOutput(many=True))
    def get_results(self, obj: Submission) -> list[dict[str, Any]]:
        if obj.attempts == 0 or obj.problem_id is None:  # never started, or a scratch run: no per-test results
            return []
        request = self.context.get("request")
        privileged = request is not None and grades(request.user, obj.problem)
        out = []
        for result in obj.results.select_related("test_case"):
            data = dict(TestResultOutput(result).data)
            if not privileged and not (result.test_case and result.test_case.visible):
                data["stdout"] = data["stderr"] = data["checker_message"] = ""  # a hidden test's output is withheld
            out.append(data)
        return out


class SubmissionSummaryOutput(serializers.ModelSerializer):
    """A submission in a list: no source, no outputs, no per-test results (one query for a whole page)."""

    verdict = _verdict_field()
    owner = serializers.CharField(source="owner.username", read_only=True)
    language = serializers.CharField(source="language_id", read_only=True)
    problem = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Submission
        fields = ["token", "owner", "problem", "examples_only", "language", "status", "stage", "verdict", "score",
                  "max_score", "cpu_time", "wall_time", "memory", "tests_done", "tests_total", "created_at",
                  "finished_at"]  # fmt: skip
        read_only_fields = fields


SUMMARY_COLUMNS = ("token", "owner__username", "problem__slug", "examples_only", "language_id", "status", "stage",
                   "verdict", "score", "max_score", "cpu_time", "wall_time", "memory", "tests_done", "tests_total",
                   "created_at", "finished_at")  # fmt: skip


def _detail(submission: Submission, request: Request) -> dict[str, Any]:
    return dict(SubmissionOutput(submission, context={"request": request}).data)


# The URL takes any string as a token (not Django's <uuid:>) so that a malformed one is a JSON 404 like an
# unknown one, not the HTML page of an unmatched URL.
TOKEN_PARAMETER = OpenApiParameter("token", OpenApiTypes.UUID, OpenApiParameter.PATH,
                                   description="The submission's token.")  # fmt: skip


def _visible_or_404(token: str, user: Any) -> Submission:
    try:
        parsed = uuid.UUID(token)
    except ValueError:
        raise NotFound() from None
    submission = selectors.submission_get(parsed, user)
    if submission is None:
        raise NotFound()
    return submission


# ----------------------------------------------------------------------------------------------- create ----


class FileInput(StrictSerializer):
    name = serializers.CharField(max_length=255, help_text="A relative path inside the box, e.g. `data/in.txt`.")
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    encoding = serializers.ChoiceField(choices=["utf8", "base64"], default="utf8")


class LimitsInput(StrictSerializer):
    """Each within the operator's minimum and maximum (a request above a maximum is refused, naming it)."""

    cpu_time = serializers.FloatField(required=False, help_text="seconds of CPU")
    wall_time = serializers.FloatField(required=False, help_text="seconds")
    memory = serializers.IntegerField(required=False, help_text="MiB")
    processes = serializers.IntegerField(required=False, help_text="processes and threads at once")
    output = serializers.IntegerField(required=False, help_text="KiB per stream")
    stack = serializers.IntegerField(required=False, help_text="KiB")
    file_size = serializers.IntegerField(required=False, help_text="KiB")


class SubmissionItemInput(StrictSerializer):
    language = serializers.CharField(max_length=32, help_text="A language id; /api/v1/languages/ says which are "
                                     "available.")  # fmt: skip
    source = serializers.CharField(required=False, trim_whitespace=False, max_length=services.MAX_SOURCE_BYTES,
                                   help_text="At most 512 KiB. May be left out when `files` holds the "
                                             "language's source file (e.g. `main.py`).")  # fmt: skip
    problem = serializers.SlugField(required=False, allow_null=True, help_text="Graded against its tests; "
                                    "without it, a scratch run of `stdin`.")  # fmt: skip
    stdin = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="",
                                  max_length=services.MAX_STDIN_BYTES, help_text="Scratch runs only; 16 MiB.")
    expected_output = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None,
                                            trim_whitespace=False, help_text="Scratch runs only: compared "
                                            "with the output when given.")  # fmt: skip
    args = serializers.ListField(child=serializers.CharField(allow_blank=True, max_length=4096), required=False,
                                 default=list, max_length=64)  # fmt: skip
    files = FileInput(many=True, required=False, default=list, max_length=services.MAX_FILES + 1)
    limits = LimitsInput(required=False, default=dict)
    compiler_options = serializers.ListField(child=serializers.CharField(max_length=256), required=False,
                                             default=list, max_length=32)  # fmt: skip
    redirect_stderr_to_stdout = serializers.BooleanField(required=False, default=False)
    number_of_runs = serializers.IntegerField(required=False, default=1, min_value=1, max_value=services.MAX_RUNS,
                                              help_text="Scratch runs: the times are averaged over the runs.")
    callback_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=2048,
                                         help_text="POSTed the finished submission; hosts on the operator's "
                                                   "allow-list only.")  # fmt: skip

    def validate_language(self, value: str) -> str:
        try:
            selectors.executor_language(value)
        except registry.UnknownLanguage:
            raise serializers.ValidationError(f"unknown language {value!r}; /api/v1/languages/ lists them") from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The source from `files` when it is not given on its own; scratch-only fields refused on problems."""
        source_name = selectors.executor_language(attrs["language"]).source_name
        attrs["source_index"] = None
        if attrs.get("source") is None:
            found = [i for i, f in enumerate(attrs["files"]) if f["name"] == source_name]
            if not found:
                raise serializers.ValidationError(
                    {"source": [f"required, unless files holds the source file {source_name!r}"]})
            index = found[0]
            entry = attrs["files"].pop(index)
            try:
                text = (base64.b64decode(entry["content"], validate=True).decode("utf-8")
                        if entry["encoding"] == "base64" else entry["content"])  # fmt: skip
            except (binascii.Error, ValueError):
                raise serializers.ValidationError(
                    {f"files[{index}].content": ["the source must be UTF-8 text (valid base64 of it)"]}) from None
            attrs["source"], attrs["source_index"] = text, index
        if attrs.get("problem"):
            refused = [name for name, default in (("stdin", ""), ("expected_output", None), ("number_of_runs", 1))
                       if attrs[name] != default]  # fmt: skip
            if refused:
                raise serializers.ValidationError({name: ["only for runs without a problem"] for name in refused})
        return attrs


class SubmissionCreateInput(SubmissionItemInput):
    wait = serializers.BooleanField(required=False, default=False,
                                    help_text="Answer with the finished submission (as `?wait=true`).")


class WaitQuery(serializers.Serializer):
    wait = serializers.BooleanField(required=False, default=False)


def _problems_for(slugs: set[str], user: Any) -> dict[str, Problem]:
    """The problems named, those this user may submit to: published, or graded by them."""
    return {p.slug: p for p in Problem.objects.filter(slug__in=slugs) if p.published or grades(user, p)}


def _create(item: dict[str, Any], problem: Problem | None, user: Any, queue: str, prefix: str = "") -> Submission:
    if problem is not None and item["limits"] and not grades(user, problem):
        raise serializers.ValidationError({f"{prefix}limits": ["a problem's limits are set by its graders"]})
    try:
        with service_errors(prefix):
            return services.submission_create(
                owner=user, language_id=item["language"], source=item["source"], problem=problem,
                stdin=item["stdin"], expected_output=item["expected_output"], args=item["args"],
                files=item["files"], limits=item["limits"], queue=queue,
                compiler_options=item["compiler_options"],
                redirect_stderr_to_stdout=item["redirect_stderr_to_stdout"],
                number_of_runs=item["number_of_runs"], callback_url=item["callback_url"],
            )  # fmt: skip
    except serializers.ValidationError as e:
        raise serializers.ValidationError(_shift_file_index(e.detail, item["source_index"], prefix)) from None


def _shift_file_index(detail: Any, source_index: int | None, prefix: str) -> Any:
    """A service error about files[j] counts without the source file taken out of `files`: give the request's j."""
    if source_index is None or not isinstance(detail, dict):
        return detail
    out = {}
    for key, value in detail.items():
        head = f"{prefix}files["
        if key.startswith(head) and "]" in key[len(head):]:
            j, rest = key[len(head):].split("]", 1)
            if j.isdigit() and int(j) >= source_index:
                key = f"{head}{int(j) + 1}]{rest}"
        out[key] = value
    return out


def _problem_or_400(slug: str | None, problems: dict[str, Problem], field: str) -> Problem | None:
    if not slug:
        return None
    if slug not in problems:
        raise serializers.ValidationError({field: [f"no problem {slug!r}"]})
    return problems[slug]


CREATE_EXAMPLES = [
    OpenApiExample("A scratch run", request_only=True,
                   value={"language": "python3", "source": "print('hello', input())", "stdin": "world\n"}),
    OpenApiExample("A graded submission", request_only=True,
                   value={"language": "c", "problem": "a-plus-b", "source": "#include <stdio.h>\nint main(void) "
                          "{ long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b); }"}),
    OpenApiExample("Files, arguments and limits", request_only=True,
                   value={"language": "python3", "files": [
                       {"name": "main.py", "content": "import sys\nprint(open('data.txt').read(), sys.argv[1:])"},
                       {"name": "data.txt", "content": "aGVsbG8=", "encoding": "base64"}],
                       "args": ["-v"], "limits": {"cpu_time": 1, "memory": 128}, "wait": True}),
]  # fmt: skip


class SubmissionCreateApi(APIView):
    parser_classes = [bounded_json(48)]
    throttle_classes = [SubmissionCreateThrottle]

    @extend_schema(
        operation_id="submission_create", summary="Create a submission (graded, or a scratch run)",
        request=SubmissionCreateInput, examples=CREATE_EXAMPLES,
        parameters=[OpenApiParameter("wait", bool, description="Answer once it is finished, waiting up to the "
                                     "operator's cap (201); still queued or running then: 202.")],
        responses={201: SubmissionOutput, 202: SubmissionOutput, **errors(400, 401, 413, 415, 429, 503)},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        wait_query = validated(WaitQuery, request.query_params)["wait"]
        item = validated(SubmissionCreateInput, request.data)
        problems = _problems_for({item["problem"]}, request.user) if item.get("problem") else {}
        problem = _problem_or_400(item.get("problem"), problems, "problem")
        submission = _create(item, problem, request.user, Queue.INTERACTIVE)
        if not (wait_query or item["wait"]):
            return Response(_detail(submission, request), status=status.HTTP_201_CREATED)
        submission = waiting.wait_finished(submission, wait_cap())
        finished = submission.status == Status.FINISHED
        return Response(_detail(submission, request), status=201 if finished else status.HTTP_202_ACCEPTED)


class SubmissionBatchInput(StrictSerializer):
    submissions = SubmissionItemInput(many=True, allow_empty=False, max_length=MAX_BATCH,
                                      help_text=f"At most {MAX_BATCH}; all are created, or none.")  # fmt: skip


class SubmissionBatchOutput(serializers.Serializer):
    submissions = SubmissionSummaryOutput(many=True)


class SubmissionBatchCreateApi(APIView):
    parser_classes = [bounded_json(64)]
    throttle_classes = [SubmissionCreateThrottle]

    @extend_schema(
        operation_id="submissions_batch_create", summary="Create up to 100 submissions, all or none",
        description="Every item is validated first; then all are written in one transaction. Any bad item "
                    "answers 400 naming `submissions[i].field` and nothing is written. Batches run on the "
                    "grading queue.",
        request=SubmissionBatchInput, responses={201: SubmissionBatchOutput, **errors(400, 401, 413, 415, 429, 503)},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        items = validated(SubmissionBatchInput, request.data)["submissions"]
        problems = _problems_for({i["problem"] for i in items if i.get("problem")}, request.user)
        resolved = [_problem_or_400(i.get("problem"), problems, f"submissions[{n}].problem")
                    for n, i in enumerate(items)]  # fmt: skip
        with transaction.atomic():  # one bad item (or the queue filling up midway) rolls back every one
            created = [_create(item, problem, request.user, Queue.GRADING, prefix=f"submissions[{n}].")
                       for n, (item, problem) in enumerate(zip(items, resolved, strict=True))]  # fmt: skip
        return Response({"submissions": SubmissionSummaryOutput(created, many=True).data},
                        status=status.HTTP_201_CREATED)  # fmt: skip


# ------------------------------------------------------------------------------------------------- read ----


class SubmissionDetailApi(APIView):
    throttle_classes = [ApiReadThrottle]

    @extend_schema(operation_id="submission_retrieve", summary="A submission and its per-test results",
                   parameters=[TOKEN_PARAMETER], responses={200: SubmissionOutput, **errors(401, 404, 429)})
    def get(self, request: Request, token: str) -> Response:
        return Response(_detail(_visible_or_404(token, request.user), request))


class SubmissionFilters(serializers.Serializer):  # not strict: `page`, `page_size` and cache-busters pass
    problem = serializers.SlugField(required=False, help_text="A problem's slug.")
    user = serializers.CharField(required=False, max_length=150, help_text="An owner's username (graders and "
                                 "admins see others' submissions; students only their own).")  # fmt: skip
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    verdict = serializers.ChoiceField(choices=Verdict.choices, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601; inclusive.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601; exclusive.")


class SubmissionPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class SubmissionListApi(APIView):
    throttle_classes = [ApiReadThrottle]
    pagination_class = SubmissionPagination

    @extend_schema(operation_id="submissions_list", summary="Submissions this account may see, newest first",
                   parameters=[SubmissionFilters], responses={200: SubmissionSummaryOutput(many=True),
                                                              **errors(400, 401, 404, 429)})  # fmt: skip
    def get(self, request: Request) -> Response:
        filters = validated(SubmissionFilters, request.query_params)
        queryset = selectors.submissions_visible_to(request.user).only(*SUMMARY_COLUMNS)
        lookups = {"problem": "problem__slug", "user": "owner__username", "status": "status", "verdict": "verdict",
                   "created_after": "created_at__gte", "created_before": "created_at__lt"}  # fmt: skip
        queryset = queryset.filter(**{lookups[k]: v for k, v in filters.items() if k in lookups})
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset.order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(SubmissionSummaryOutput(page, many=True).data)


# GET lists and POST creates on one URL; each operation keeps its own view (and throttle) above.
class SubmissionCollectionApi(SubmissionListApi, SubmissionCreateApi):

    throttle_classes = [ApiReadThrottle, SubmissionCreateThrottle]


# ---------------------------------------------------------------------------------------------- rejudge ----


class SubmissionRejudgeApi(APIView):
    permission_classes = [IsGraderOrAdmin]
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(operation_id="submission_rejudge", summary="Grade a finished submission again",
                   request=None, parameters=[TOKEN_PARAMETER],
                   responses={202: SubmissionSummaryOutput, **errors(401, 403, 404, 409, 429)})  # fmt: skip
    def post(self, request: Request, token: str) -> Response:
        submission = _visible_or_404(token, request.user)
        if not grades(request.user, submission.problem):
            raise PermissionDenied("only the graders of its problem and admins may rejudge a submission")
        with transaction.atomic():
            if not services.submission_rejudge(submission):
                raise ConflictError(f"the submission is {submission.status}; only a finished one can be rejudged")
        submission.refresh_from_db()
        return Response(SubmissionSummaryOutput(submission).data, status=status.HTTP_202_ACCEPTED)


class ProblemRejudgeApi(APIView):
    permission_classes = [IsGraderOrAdmin]
    throttle_classes = [ApiWriteThrottle]

    @extend_schema(operation_id="problem_rejudge", summary="Grade every finished submission of a problem again",
                   request=None,
                   responses={202: inline_serializer("ProblemRejudgeOutput", {"rejudged": serializers.IntegerField()}),
                              **errors(401, 403, 404, 429)})  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        problem = Problem.objects.filter(slug=slug).first()
        if problem is None:
            raise NotFound()
        if not grades(request.user, problem):
            raise PermissionDenied("only the problem's graders and admins may rejudge it")
        with transaction.atomic():
            count = services.problem_rejudge(problem)
        return Response({"rejudged": count}, status=status.HTTP_202_ACCEPTED)
