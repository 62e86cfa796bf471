"""The minimal native API of the service core: languages, create and read submissions.

The full grader API (problems, batches, rejudges, webhooks, Judge0 and Piston compatibility) is built on these
services in the API issue; the mapping of errors to statuses lives here: 400 names the field, 429 and 503 carry
Retry-After, and none of them loses an accepted submission.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem
from sandbox_service.submissions import selectors, services
from sandbox_service.submissions.models import Submission, TestResult


class LanguageListApi(APIView):
    class Output(serializers.ModelSerializer):
        class Meta:
            model = Language
            fields = ["id", "name", "version", "compiled", "enabled", "available"]

    def get(self, request: Request) -> Response:
        return Response(self.Output(Language.objects.all(), many=True).data)


class _File(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    encoding = serializers.ChoiceField(choices=["utf8", "base64"], default="utf8")


class _TestResultOutput(serializers.ModelSerializer):
    class Meta:
        model = TestResult
        fields = ["order", "verdict", "points", "cpu_time", "wall_time", "memory", "exit_code", "signal",
                  "stdout", "stderr", "checker_message"]  # fmt: skip


class _Text(serializers.Field):
    """An output kept as bytes, shown as text (invalid UTF-8 replaced)."""

    def to_representation(self, value: Any) -> str:
        return Submission.text(value)


class SubmissionOutput(serializers.ModelSerializer):
    language = serializers.CharField(source="language_id")
    problem = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    results = serializers.SerializerMethodField()
    stdout = _Text(read_only=True)
    stderr = _Text(read_only=True)
    compile_output = _Text(read_only=True)

    class Meta:
        model = Submission
        fields = ["token", "problem", "language", "status", "verdict", "score", "max_score", "message",
                  "compile_output", "stdout", "stderr", "exit_code", "signal", "cpu_time", "wall_time",
                  "memory", "tests_done", "tests_total", "limits", "created_at", "started_at", "finished_at",
                  "results"]  # fmt: skip

    def get_results(self, obj: Submission) -> list[dict[str, Any]]:
        request = self.context.get("request")
        user = request.user if request is not None else None
        owns_problem = user is not None and obj.problem is not None and obj.problem.owner_id == user.pk
        privileged = user is not None and (user.is_staff or owns_problem)
        out = []
        for result in obj.results.select_related("test_case"):
            data = dict(_TestResultOutput(result).data)
            if not privileged and not (result.test_case and result.test_case.visible):
                data["stdout"] = data["stderr"] = data["checker_message"] = ""  # a hidden test's output is withheld
            out.append(data)
        return out


class SubmissionCreateApi(APIView):
    class Input(serializers.Serializer):
        language = serializers.CharField(max_length=32)
        source = serializers.CharField(trim_whitespace=False, max_length=512 * 1024)
        problem = serializers.SlugField(required=False, allow_null=True)
        stdin = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
        expected_output = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                                trim_whitespace=False, default=None)  # fmt: skip
        args = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, default=list)
        files = _File(many=True, required=False, default=list)
        limits = serializers.DictField(child=serializers.FloatField(), required=False, default=dict)

    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        problem = None
        if v.get("problem"):
            problem = Problem.objects.filter(slug=v["problem"]).first()
            if problem is None or not (problem.published or request.user.is_staff):
                return Response({"problem": [f"no problem {v['problem']!r}"]}, status=status.HTTP_400_BAD_REQUEST)
        limits = {k: int(x) if k in ("memory", "processes", "output") and float(x).is_integer() else x
                  for k, x in v["limits"].items()}  # fmt: skip
        if problem is not None and limits and not request.user.is_staff:
            return Response({"limits": ["a problem's limits are set by its author"]}, status=400)
        try:
            submission = services.submission_create(
                owner=request.user, language_id=v["language"], source=v["source"], problem=problem,
                stdin=v["stdin"], expected_output=v["expected_output"], args=v["args"], files=v["files"],
                limits=limits,
            )  # fmt: skip
        except services.SubmissionError as e:
            return Response({e.field: [e.message]}, status=status.HTTP_400_BAD_REQUEST)
        except services.QueueFull as e:
            return Response({"detail": str(e)}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": str(e.retry_after)})  # fmt: skip
        except services.RateLimited as e:
            return Response({"detail": str(e)}, status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(e.retry_after)})  # fmt: skip
        return Response(SubmissionOutput(submission, context={"request": request}).data, status=201)


class SubmissionDetailApi(APIView):
    def get(self, request: Request, token: str) -> Response:
        submission = selectors.submission_get(token, request.user)
        if submission is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(SubmissionOutput(submission, context={"request": request}).data)
