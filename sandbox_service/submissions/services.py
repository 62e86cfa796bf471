"""Writes on submissions: create (with backpressure), start, renew, record, requeue, fail, rejudge, recover.

Every state change goes through `states.transition`, a conditional single-row update; the attempt number is
part of the condition wherever a worker writes, so a worker that lost its lease (and whose submission was
taken back and started again elsewhere) can no longer write anything.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from executor import languages as executor_registry
from executor import limits as executor_limits
from executor.config import Config
from sandbox_service.core.errors import FieldError
from sandbox_service.core.roles import STUDENT, role_of
from sandbox_service.core.selectors import quota_for
from sandbox_service.languages.models import Language
from sandbox_service.ops import lifecycle
from sandbox_service.problems.models import Problem
from sandbox_service.submissions import selectors
from sandbox_service.submissions.grading import GradeResult, InfrastructureError, grade
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Queue, Stage, Status, Verdict, transition
from sandbox_service.webhooks.policy import CallbackRefused, check_callback_url

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 512 * 1024
MAX_FILES = 32
MAX_FILES_BYTES = 8 * 1024 * 1024
MAX_STDIN_BYTES = 16 * 1024 * 1024
LANGUAGE_LIMIT_FIELDS = ("cpu_time", "wall_time", "memory", "processes", "output")  # defaults per language
REQUEST_LIMIT_FIELDS = (*LANGUAGE_LIMIT_FIELDS, "stack", "file_size")  # what a request may set
MAX_RUNS = 20
PROGRESS_EVERY = 0.1  # seconds between two writes of a running submission's progress


class SubmissionError(FieldError):
    """Bad input of a submission; `field` names what is wrong (the APIs answer 400 or 422 with it)."""


class QueueFull(Exception):
    """Too many submissions are waiting: try again later (503 + Retry-After)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimited(Exception):
    """This user submitted too often, or used up their quota (429 + Retry-After)."""

    def __init__(self, retry_after: int, why: str = "too many submissions") -> None:
        super().__init__(f"{why}; retry after {retry_after} s")
        self.retry_after = retry_after


def _conf(name: str) -> Any:
    return settings.SUBMISSIONS[name]


# ---------------------------------------------------------------------------------------------- create ----


def submission_create(
    *,
    owner: AbstractBaseUser,
    language_id: str,
    source: str,
    problem: Problem | None = None,
    examples_only: bool = False,
    stdin: str = "",
    expected_output: str | None = None,
    args: Sequence[str] = (),
    files: Sequence[Mapping[str, str]] = (),
    limits: Mapping[str, float | int] | None = None,
    queue: str = Queue.INTERACTIVE,
    compiler_options: Sequence[str] = (),
    redirect_stderr_to_stdout: bool = False,
    number_of_runs: int = 1,
    callback_url: str = "",
    client_fields: Mapping[str, Any] | None = None,
    compile_limits: Mapping[str, float | int] | None = None,
    rate_limited: bool = True,
) -> Submission:
    """Validate, apply backpressure, write the row; the task is enqueued when the transaction commits."""
    language = Language.objects.filter(pk=language_id).first()
    if language is None:
        raise SubmissionError("language", f"unknown language {language_id!r}")
    if not language.usable:
        raise SubmissionError("language", f"{language.id} is {'disabled' if not language.enabled else 'unavailable'}")
    try:
        selectors.executor_language(language.pk)
    except executor_registry.UnknownLanguage:
        raise SubmissionError("language", f"{language.id} is not a language of this sandbox") from None
    if problem is not None:
        allowed = list(problem.allowed_languages.values_list("pk", flat=True))
        if allowed and language.pk not in allowed:
            raise SubmissionError("language", f"{language.id} is not allowed for this problem")
    if examples_only:
        if problem is None:
            raise SubmissionError("problem", "a run of the examples needs a problem")
        if not problem.test_cases.filter(visible=True).exists():
            raise SubmissionError("examples", "this problem has no visible examples: run it on your own input")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise SubmissionError("source", f"larger than {MAX_SOURCE_BYTES // 1024} KiB")
    if len(stdin.encode()) > MAX_STDIN_BYTES:
        raise SubmissionError("stdin", f"larger than {MAX_STDIN_BYTES // 1024 // 1024} MiB")
    if not all(isinstance(a, str) for a in args) or len(args) > 64:
        raise SubmissionError("args", "a list of at most 64 strings")
    clean_files = _validate_files(files, language)
    for name, text in (("source", source), ("stdin", stdin), ("expected_output", expected_output or "")):
        if "\0" in text:
            raise SubmissionError(name, "must not contain NUL characters (send binary data as a base64 file)")
    if len(compiler_options) > 32 or not all(isinstance(o, str) and len(o) <= 256 and "\0" not in o
                                              for o in compiler_options):  # fmt: skip
        raise SubmissionError("compiler_options", "at most 32 options of at most 256 characters")
    if not 1 <= number_of_runs <= MAX_RUNS:
        raise SubmissionError("number_of_runs", f"must be between 1 and {MAX_RUNS}")
    if callback_url:
        try:
            check_callback_url(callback_url)
        except CallbackRefused as e:
            raise SubmissionError("callback_url", str(e)) from None
    effective = _effective_limits(language, problem, limits or {}, owner)
    compile_overrides = _compile_limits(language, compile_limits or {})
    _apply_backpressure(owner, rate_limited)
    if problem is None:
        tests_total = 1
    else:
        tests_total = (problem.test_cases.filter(visible=True) if examples_only else problem.test_cases).count()
    with transaction.atomic():
        submission = Submission.objects.create(
            owner=owner, problem=problem, examples_only=examples_only, language=language, source=source,
            files=clean_files, stdin=stdin,
            expected_output=expected_output, args=list(args), limits=effective, queue=queue,
            status=Status.QUEUED, queued_at=timezone.now(), tests_total=tests_total,
            compiler_options=list(compiler_options), redirect_stderr_to_stdout=redirect_stderr_to_stdout,
            number_of_runs=number_of_runs, callback_url=callback_url, client_fields=dict(client_fields or {}),
            callback_status="pending" if callback_url else "", compile_limits=compile_overrides,
        )  # fmt: skip
        # Once committed, in this order: "created" is logged, then the task is sent (and "queued" logged).
        transaction.on_commit(lambda: lifecycle.submission_created(submission))
        transaction.on_commit(lambda: submission_enqueue(submission))
    return submission


def submission_run_create(*, owner: AbstractBaseUser, language_id: str, source: str, problem: Problem | None,
                          stdin: str | None) -> Submission:  # fmt: skip
    """The Run button (not graded): on `problem`'s visible examples when `stdin` is None, else one run of `stdin`
    under the problem's limits (a scratch run, so that its output is kept whole)."""
    if stdin is None:
        if problem is None:
            raise SubmissionError("stdin", "a run without a problem needs its input")
        return submission_create(owner=owner, language_id=language_id, source=source, problem=problem,
                                 examples_only=True)  # fmt: skip
    limits = {} if problem is None else {n: getattr(problem, n) for n in LANGUAGE_LIMIT_FIELDS
                                         if getattr(problem, n) is not None}  # fmt: skip
    return submission_create(owner=owner, language_id=language_id, source=source, stdin=stdin, limits=limits)


def _validate_files(files: Sequence[Mapping[str, str]], language: Language) -> list[dict[str, str]]:
    if len(files) > MAX_FILES:
        raise SubmissionError("files", f"at most {MAX_FILES} files")
    clean, total, names = [], 0, set()
    source_name = selectors.executor_language(language.pk).source_name
    for i, entry in enumerate(files):
        name, content, encoding = entry.get("name", ""), entry.get("content", ""), entry.get("encoding", "utf8")
        field = f"files[{i}]"
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in name:
            raise SubmissionError(f"{field}.name", "a relative path without '.', '..' or empty parts")
        if name == source_name or name in names:
            raise SubmissionError(f"{field}.name", f"{name!r} is already in the submission")
        if encoding not in ("utf8", "base64"):
            raise SubmissionError(f"{field}.encoding", "utf8 or base64")
        if encoding == "base64":
            try:
                size = len(base64.b64decode(content, validate=True))
            except (binascii.Error, ValueError):
                raise SubmissionError(f"{field}.content", "not valid base64") from None
        else:
            size = len(content.encode())
        total += size
        names.add(name)
        clean.append({"name": name, "content": content, "encoding": encoding})
    if total > MAX_FILES_BYTES:
        raise SubmissionError("files", f"larger than {MAX_FILES_BYTES // 1024 // 1024} MiB together")
    return clean


def _effective_limits(language: Language, problem: Problem | None, requested: Mapping[str, float | int],
                      owner: AbstractBaseUser) -> dict[str, Any]:  # fmt: skip
    """The language's defaults, then the problem's, then the request's; what a request asks for is checked against
    the language's and the account's ceilings, and everything against the executor's maxima."""
    limits: dict[str, Any] = {name: getattr(language, name) for name in LANGUAGE_LIMIT_FIELDS}
    if problem is not None:
        limits.update({n: getattr(problem, n) for n in LANGUAGE_LIMIT_FIELDS if getattr(problem, n) is not None})
    for name, value in requested.items():
        if name not in REQUEST_LIMIT_FIELDS:
            raise SubmissionError(f"limits.{name}", f"unknown limit; known: {', '.join(REQUEST_LIMIT_FIELDS)}")
        limits[name] = value
    if requested:
        quota = quota_for(owner)
        for ceilings, whose in ((language.ceilings(), f"{language.id}'s maximum"),
                                (quota.ceilings, "your quota's maximum")):  # fmt: skip
            for name, value in requested.items():
                ceiling = ceilings.get(name)
                if ceiling is not None and isinstance(value, (int, float)) and value > ceiling:
                    raise SubmissionError(f"limits.{name}", f"{value} is above {whose} ({ceiling})")
    try:
        executor_limits.validate(executor_limits.Limits().with_changes(**limits), Config.from_env().maxima)
    except executor_limits.LimitError as e:
        raise SubmissionError(f"limits.{str(e).split(':')[0]}", str(e)) from None
    return limits


def _compile_limits(language: Language, requested: Mapping[str, float | int]) -> dict[str, Any]:
    """A request may only lower the compile stage's limits (wall time, CPU time, memory), never raise them."""
    declared = selectors.executor_language(language.pk).compile_limits
    clean: dict[str, Any] = {}
    for name, value in requested.items():
        if name not in ("cpu_time", "wall_time", "memory"):
            raise SubmissionError(f"compile_limits.{name}", "only cpu_time, wall_time and memory may be set")
        ceiling = getattr(declared, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= ceiling:
            raise SubmissionError(f"compile_limits.{name}", f"must be a number above 0 and at most {ceiling}")
        clean[name] = value
    return clean


def _apply_backpressure(owner: AbstractBaseUser, rate_limited: bool = True) -> None:
    """The queue cap always; the per-user rate unless the caller throttles by its own key (a shared service
    account, such as Piston's anonymous user, is throttled per client address instead)."""
    if Submission.objects.filter(status=Status.QUEUED).count() >= _conf("MAX_QUEUED"):
        raise QueueFull(_conf("RETRY_AFTER_SECONDS"))
    if not rate_limited:
        return
    role = role_of(owner)
    if role == STUDENT:  # graders and admins automate (batches, rejudges): no burst cap
        _check_rate(owner, 60, _conf("PER_USER_PER_MINUTE"), "too many submissions")
    hourly = quota_for(owner, role).submissions_per_hour
    if hourly is not None:
        _check_rate(owner, 3600, hourly, "your hourly quota of submissions is used up")


def _check_rate(owner: AbstractBaseUser, seconds: int, allowed: int, why: str) -> None:
    """At most `allowed` submissions in the last `seconds`; else RateLimited until the oldest of them ages out."""
    since = timezone.now() - timedelta(seconds=seconds)
    recent = Submission.objects.filter(owner=owner, created_at__gte=since)
    if recent.count() >= allowed:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        wait = seconds - (timezone.now() - oldest).total_seconds() if oldest else seconds
        raise RateLimited(max(1, int(wait) + 1), why)


def celery_queue(submission: Submission) -> str:
    """The Celery queue of a submission: its queue (interactive, grading), or, for a language only some worker hosts
    have (SUBMISSIONS_LANGUAGE_QUEUES, e.g. csharp=mono), that queue of its group ("interactive.mono"), which only
    the workers on those hosts consume."""
    group = settings.SUBMISSIONS_LANGUAGE_QUEUES.get(submission.language_id)
    return f"{submission.queue}.{group}" if group else submission.queue


def submission_enqueue(submission: Submission) -> None:
    """Send the task. If the broker is down the submission stays queued and recovery sends it again later."""
    from sandbox_service.submissions.tasks import run_submission

    try:
        run_submission.apply_async(args=[submission.pk], queue=celery_queue(submission))
    except Exception:  # noqa: BLE001 - any broker failure: the row is kept, recover_stuck enqueues it again
        log.exception("could not enqueue submission %s; it will be sent again by recovery", submission.token)
        return
    lifecycle.submission_enqueued(submission)


# ------------------------------------------------------------------------------------------- the worker ----


def submission_start(submission_id: int, worker: str) -> Submission | None:
    """queued → running (compiling) for this worker, or None if it is not queued (a duplicate delivery)."""
    now = timezone.now()
    moved = transition(Submission.objects.all(), submission_id, Status.QUEUED, Status.RUNNING,
                       attempts=F("attempts") + 1, worker=worker, started_at=now, tests_done=0, stage=Stage.COMPILING,
                       lease_expires_at=now + timedelta(seconds=_conf("LEASE_SECONDS")))  # fmt: skip
    if not moved:
        return None
    _notify(submission_id)
    started = Submission.objects.select_related("owner", "language", "problem").get(pk=submission_id)
    lifecycle.submission_started(started, worker)
    return started


def _notify(submission_id: int) -> None:
    """Wake up whoever watches this submission (the student's page) once the change is committed."""
    from sandbox_service.submissions.waiting import notify

    transaction.on_commit(lambda: notify(submission_id))


def submission_renew_lease(submission_id: int, attempt: int, done: int) -> bool:
    """Progress of the current attempt: compiled (done 0) or `done` tests done; the lease starts again."""
    expires = timezone.now() + timedelta(seconds=_conf("LEASE_SECONDS"))
    renewed = Submission.objects.filter(pk=submission_id, status=Status.RUNNING, attempts=attempt).update(
        lease_expires_at=expires, tests_done=done, stage=Stage.TESTING) == 1  # fmt: skip
    if renewed:
        _notify(submission_id)
    return renewed


def submission_record_result(submission_id: int, attempt: int, result: GradeResult, scratch: bool,
                             started: Submission | None = None) -> bool:  # fmt: skip
    """running → finished with the grade, and its test results, in one transaction; only by the current attempt.

    `started` (the row as `submission_start` returned it) saves reading the row again for the lifecycle log.
    """
    fields: dict[str, Any] = {
        "verdict": result.verdict, "score": result.score, "max_score": result.max_score, "message": result.message,
        "cpu_time": result.cpu_time, "wall_time": result.wall_time, "memory": result.memory,
        "tests_done": len(result.tests), "finished_at": timezone.now(), "lease_expires_at": None, "stage": Stage.NONE,
    }  # fmt: skip
    compiled = result.compile_stage
    if compiled is not None:
        fields.update(compile_output=compiled.output, compile_stdout=compiled.stdout, compile_stderr=compiled.stderr,
                      compile_exit_code=compiled.exit_code, compile_signal=compiled.signal,
                      compile_cpu_time=compiled.cpu_time, compile_wall_time=compiled.wall_time,
                      compile_memory=compiled.memory)  # fmt: skip
    if scratch and result.tests:
        run = result.tests[0]
        raw = run.raw
        fields.update(exit_code=run.exit_code, signal=run.signal)
        if raw is not None:
            fields.update(stdout=raw.stdout, stderr=raw.stderr, output=raw.output)
    with transaction.atomic():
        queryset = Submission.objects.filter(attempts=attempt)
        if not transition(queryset, submission_id, Status.RUNNING, Status.FINISHED, **fields):
            return False
        if attempt > 1:  # a rejudge (or a retry) replaces the results of earlier attempts; a first has none
            TestResult.objects.filter(submission_id=submission_id).delete()
        if not scratch:
            TestResult.objects.bulk_create(
                TestResult(submission_id=submission_id, test_case_id=t.test_case_id, order=t.order, verdict=t.verdict,
                           points=t.points, cpu_time=t.cpu_time, wall_time=t.wall_time, memory=t.memory,
                           exit_code=t.exit_code, signal=t.signal, stdout=t.stdout, stderr=t.stderr,
                           checker_message=t.checker_message)  # fmt: skip
                for t in result.tests
            )
        if started is not None:
            for name, value in fields.items():
                setattr(started, name, value)
            started.status = Status.FINISHED
        transaction.on_commit(lambda: _finished(submission_id, started))
    return True


def _as_logged(submission_id: int) -> Submission:
    """The row as it is now, with what the lifecycle log names (owner, problem) loaded in the same query."""
    return Submission.objects.select_related("owner", "problem").get(pk=submission_id)


def _finished(submission_id: int, row: Submission | None = None) -> None:
    """After a submission's final row is committed: log and count it, wake up waiters, send its webhook. `row`, if
    given, is the final row as its writer knows it (no need to read it back)."""
    from sandbox_service.submissions.waiting import notify_finished

    notify_finished(submission_id)  # first: a person (or a waiting request) is waiting for it
    submission = row if row is not None else _as_logged(submission_id)
    lifecycle.submission_finished(submission)
    if submission.callback_status == "pending":
        from sandbox_service.webhooks.tasks import deliver_webhook

        try:
            deliver_webhook.apply_async(args=[submission_id], queue="interactive")
        except Exception:  # noqa: BLE001 - the broker is down: recovery of webhooks is the webhook task's own
            log.exception("could not enqueue the webhook of submission %s", submission_id)


def submission_fail(submission_id: int, message: str, source: Status = Status.RUNNING,
                    attempt: int | None = None) -> bool:  # fmt: skip
    """→ finished with internal_error and the reason: the infrastructure gave up, not the student."""
    queryset = Submission.objects.all() if attempt is None else Submission.objects.filter(attempts=attempt)
    moved = transition(queryset, submission_id, source, Status.FINISHED, verdict=Verdict.INTERNAL_ERROR,
                       message=message[:2000], finished_at=timezone.now(), lease_expires_at=None,
                       stage=Stage.NONE)  # fmt: skip
    if moved:
        transaction.on_commit(lambda: _finished(submission_id))
    return moved


def submission_requeue(submission_id: int, attempt: int, message: str) -> bool:
    """running → queued after an infrastructure failure, for a retry."""
    moved = transition(Submission.objects.filter(attempts=attempt), submission_id, Status.RUNNING, Status.QUEUED,
                       queued_at=timezone.now(), lease_expires_at=None, message=message[:2000],
                       failures=F("failures") + 1, stage=Stage.NONE)  # fmt: skip
    if moved:
        lifecycle.submission_requeued(_as_logged(submission_id), message)
    return moved


def submission_process(submission_id: int, worker: str, config: Config | None = None) -> str:
    """What the task does: start, grade, record. Returns what happened (for logs and tests).

    Raises InfrastructureError after putting the submission back in the queue, so that the task retries it
    with backoff; after MAX_ATTEMPTS starts the submission finishes as internal_error instead.
    """
    submission = submission_start(submission_id, worker)
    if submission is None:
        return "skipped: not queued (duplicate delivery or already finished)"
    attempt = submission.attempts
    job, scratch = selectors.grading_job_for(submission)
    last_write = time.monotonic()

    def progress(done: int, total: int) -> None:
        # Written (and published to whoever watches) at most every PROGRESS_EVERY seconds: a person sees each
        # slow test begin, and a submission of many fast tests does not pay a database write per test.
        nonlocal last_write
        if time.monotonic() - last_write >= PROGRESS_EVERY:
            submission_renew_lease(submission_id, attempt, done)
            last_write = time.monotonic()

    try:
        result = grade(job, config, on_progress=progress, excerpt_bytes=selectors.excerpt_bytes(submission, scratch))
    except InfrastructureError as e:
        if submission.failures + 1 >= _conf("MAX_ATTEMPTS"):
            submission_fail(submission_id, f"the sandbox failed {submission.failures + 1} times: {e}", attempt=attempt)
            return "failed: internal error"
        submission_requeue(submission_id, attempt, f"retrying after a sandbox failure: {e}")
        raise
    except Exception as e:  # noqa: BLE001 - a bug or bad data: retrying would fail the same way; say why, once
        log.exception("grading submission %s failed", submission_id)
        submission_fail(submission_id, f"grading failed: {type(e).__name__}: {e}", attempt=attempt)
        return "failed: internal error"
    recorded = submission_record_result(submission_id, attempt, result, scratch, started=submission)
    return f"finished: {result.verdict}" if recorded else "discarded: the lease was lost"


# ------------------------------------------------------------------------------------- rejudge, recover ----


def submission_rejudge(submission: Submission) -> bool:
    """finished → queued on the grading queue; the old results stay until the new ones replace them."""
    moved = transition(Submission.objects.all(), submission.pk, Status.FINISHED, Status.QUEUED,
                       queue=Queue.GRADING, queued_at=timezone.now(), failures=0, tests_done=0,
                       started_at=None, finished_at=None, stage=Stage.NONE)  # fmt: skip
    if moved:
        submission.queue = Queue.GRADING
        transaction.on_commit(lambda: submission_enqueue(submission))
    return moved


def problem_rejudge(problem: Problem) -> int:
    return sum(submission_rejudge(s) for s in problem.submissions.filter(status=Status.FINISHED).only("pk", "queue"))


@dataclass
class Recovery:
    taken_back: int = 0  # running, lease expired: queued again
    failed: int = 0  # running, lease expired, too many attempts: internal_error
    resent: int = 0  # queued for too long: message sent again


def submissions_recover_stuck() -> Recovery:
    """The periodic job (celery beat): no submission stays running or queued for ever."""
    now = timezone.now()
    recovery = Recovery()
    expired = Submission.objects.filter(status=Status.RUNNING, lease_expires_at__lt=now)
    for sub in expired.only("pk", "attempts", "failures", "queue", "worker"):
        if sub.failures + 1 >= _conf("MAX_ATTEMPTS"):
            recovery.failed += submission_fail(sub.pk, f"its workers stopped answering {sub.failures + 1} times "
                                                       f"(last: {sub.worker})", attempt=sub.attempts)  # fmt: skip
        elif transition(Submission.objects.filter(attempts=sub.attempts), sub.pk, Status.RUNNING, Status.QUEUED,
                        queued_at=now, lease_expires_at=None, failures=F("failures") + 1, stage=Stage.NONE,
                        message=f"taken back from worker {sub.worker}, which stopped answering"):  # fmt: skip
            recovery.taken_back += 1
            lifecycle.submission_requeued(_as_logged(sub.pk),
                                          f"taken back from worker {sub.worker}, which stopped answering")  # fmt: skip
            submission_enqueue(sub)
    stale = now - timedelta(seconds=_conf("REQUEUE_AFTER_SECONDS"))
    for sub in Submission.objects.filter(status=Status.QUEUED, queued_at__lt=stale).only("pk", "queue"):
        # Sending twice is harmless (the state machine takes one); bumping queued_at spaces out the resends.
        if Submission.objects.filter(pk=sub.pk, status=Status.QUEUED, queued_at__lt=stale).update(queued_at=now):
            recovery.resent += 1
            submission_enqueue(sub)
    return recovery
