"""Submissions and the result of each test."""

import uuid

from django.conf import settings
from django.db import models

from sandbox_service.submissions.states import Queue, Stage, Status, Verdict


class Submission(models.Model):
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    # None: a free "scratch" run with its own stdin, no test cases.
    problem = models.ForeignKey("problems.Problem", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="submissions")  # fmt: skip
    language = models.ForeignKey("languages.Language", on_delete=models.PROTECT, related_name="submissions")
    source = models.TextField()
    # Extra files beside the source: [{"name": ..., "content": ..., "encoding": "utf8" | "base64"}]
    files = models.JSONField(default=list, blank=True)
    # A Run of a problem's visible examples: its visible tests only, not graded (no score counts it).
    examples_only = models.BooleanField(default=False)
    stdin = models.TextField(blank=True)  # scratch runs only
    # Scratch runs: compared when given. None (not "") means "nothing to compare": an empty output is an answer.
    expected_output = models.TextField(null=True, blank=True)  # noqa: DJ001
    args = models.JSONField(default=list, blank=True)
    limits = models.JSONField(default=dict, blank=True)  # the effective run limits (executor field names)
    queue = models.CharField(max_length=16, choices=Queue.choices, default=Queue.INTERACTIVE)
    compiler_options = models.JSONField(default=list, blank=True)  # extra compiler arguments
    # Overrides of the compile stage's limits (executor field names), within the language's own compile limits.
    compile_limits = models.JSONField(default=dict, blank=True)
    redirect_stderr_to_stdout = models.BooleanField(default=False)
    number_of_runs = models.PositiveSmallIntegerField(default=1)  # scratch runs: times averaged over the runs
    # Attributes a compatibility API (Judge0, Piston) accepted and echoes back, but that change nothing here.
    client_fields = models.JSONField(default=dict, blank=True)
    # Webhook: the finished submission is POSTed here (hosts on the operator's allow-list only).
    callback_url = models.URLField(max_length=2048, blank=True)
    callback_status = models.CharField(max_length=16, blank=True)  # "", pending, delivered, failed
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_error = models.TextField(blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, default=Stage.NONE)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True, db_index=True)
    score = models.PositiveIntegerField(default=0)
    max_score = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)  # why: internal errors, limits
    # The compile stage, as bytes (what a compiler prints need not be UTF-8).
    compile_output = models.BinaryField(default=b"", blank=True)  # stdout and stderr interleaved
    compile_stdout = models.BinaryField(default=b"", blank=True)
    compile_stderr = models.BinaryField(default=b"", blank=True)
    compile_exit_code = models.IntegerField(null=True, blank=True)
    compile_signal = models.IntegerField(null=True, blank=True)
    compile_cpu_time = models.FloatField(null=True, blank=True)
    compile_wall_time = models.FloatField(null=True, blank=True)
    compile_memory = models.BigIntegerField(null=True, blank=True)
    # The run of a scratch submission, as bytes (graded submissions keep an excerpt per test).
    stdout = models.BinaryField(default=b"", blank=True)
    stderr = models.BinaryField(default=b"", blank=True)
    output = models.BinaryField(default=b"", blank=True)  # stdout and stderr interleaved in the order written
    exit_code = models.IntegerField(null=True, blank=True)
    signal = models.IntegerField(null=True, blank=True)
    # Largest figures over the tests.
    cpu_time = models.FloatField(null=True, blank=True)
    wall_time = models.FloatField(null=True, blank=True)
    memory = models.BigIntegerField(null=True, blank=True)
    tests_done = models.PositiveIntegerField(default=0)
    tests_total = models.PositiveIntegerField(default=0)

    # How many times a worker started it: never goes down, so it fences off a worker that lost its lease.
    attempts = models.PositiveIntegerField(default=0)
    # Infrastructure failures (sandbox errors, dead workers) since it was last queued by a person.
    failures = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "created_at"]), models.Index(fields=["status", "queued_at"]),
                   models.Index(fields=["status", "finished_at"])]  # the dashboard's last day  # fmt: skip

    def __str__(self) -> str:
        return f"{self.token} ({self.status}{', ' + self.verdict if self.verdict else ''})"

    @staticmethod
    def text(data: bytes | memoryview) -> str:
        """Bytes of an output field as text for people (invalid UTF-8 replaced)."""
        return bytes(data).decode("utf-8", "replace")


class TestResult(models.Model):
    __test__ = False

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="results")
    test_case = models.ForeignKey("problems.TestCase", null=True, on_delete=models.SET_NULL, related_name="results")
    order = models.PositiveIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    points = models.PositiveIntegerField(default=0)
    cpu_time = models.FloatField(default=0)
    wall_time = models.FloatField(default=0)
    memory = models.BigIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    signal = models.IntegerField(null=True, blank=True)
    stdout = models.TextField(blank=True)  # an excerpt
    stderr = models.TextField(blank=True)  # an excerpt
    checker_message = models.TextField(blank=True)

    class Meta:
        ordering = ["submission", "order"]
        constraints = [models.UniqueConstraint(fields=["submission", "order"], name="one_result_per_test")]

    def __str__(self) -> str:
        return f"test {self.order}: {self.verdict}"
