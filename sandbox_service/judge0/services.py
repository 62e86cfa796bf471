"""Writes for the Judge0 API: a thin layer over `submissions.services.submission_create`.

A Judge0 request is validated as Judge0 validates it (params.py), then created with our service, which applies our
own checks (sizes, the sandbox's limits, the callback allow-list) and backpressure; its errors are given Judge0's
shape ({attribute: [messages]}). Judge0-only attributes are kept in the row's `client_fields["judge0"]`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from executor.languages import COMPILE_LIMITS
from sandbox_service.judge0 import archive
from sandbox_service.judge0 import config as judge0_config
from sandbox_service.judge0.params import InvalidSubmission, parse
from sandbox_service.submissions import services as submission_services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue
from sandbox_service.submissions.waiting import wait_finished

log = logging.getLogger(__name__)

# Our service's field names → Judge0's attributes.
_ATTRIBUTE_OF = {
    "language": "language_id",
    "source": "source_code",
    "stdin": "stdin",
    "expected_output": "expected_output",
    "args": "command_line_arguments",
    "compiler_options": "compiler_options",
    "number_of_runs": "number_of_runs",
    "callback_url": "callback_url",
    "limits.cpu_time": "cpu_time_limit",
    "limits.wall_time": "wall_time_limit",
    "limits.memory": "memory_limit",
    "limits.processes": "max_processes_and_or_threads",
    "limits.stack": "stack_limit",
    "limits.file_size": "max_file_size",
}

QueueFull = submission_services.QueueFull
RateLimited = submission_services.RateLimited


def judge0_attribute(field: str) -> str:
    if field.startswith("files"):
        return "additional_files"
    return _ATTRIBUTE_OF.get(field, "base")


def _error_message(field: str, message: str) -> str:
    if field.startswith("limits."):
        return f"is not accepted by the sandbox ({message})"
    return message


def judge0_submission_create(*, owner: AbstractBaseUser, params: Mapping[str, Any], base64_encoded: bool,
                             queue: str = Queue.INTERACTIVE) -> Submission:  # fmt: skip
    """Validate and create one submission. Raises InvalidSubmission (422), QueueFull (503), RateLimited (429)."""
    settings = judge0_config.current()
    request = parse(params, base64_encoded=base64_encoded, config=settings)
    try:
        files = request.files(settings.max_extract_size * 1024)
    except archive.ArchiveError as e:
        raise InvalidSubmission({"additional_files": [str(e)]}) from None
    try:
        return submission_services.submission_create(
            owner=owner, language_id=request.language.executor_id, source=request.source_code,
            stdin=request.stdin or "", expected_output=request.expected_output, args=request.argument_words(),
            files=files, limits=request.limits(), queue=queue, compiler_options=request.compiler_option_words(),
            redirect_stderr_to_stdout=request.redirect_stderr_to_stdout, number_of_runs=request.number_of_runs,
            callback_url=request.callback_url or "", client_fields=request.client_fields(),
        )  # fmt: skip
    except submission_services.SubmissionError as e:
        raise InvalidSubmission({judge0_attribute(e.field): [_error_message(e.field, e.message)]}) from None


@dataclass(frozen=True)
class BatchItem:
    token: str | None = None
    errors: dict[str, list[str]] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"token": self.token} if self.token is not None else dict(self.errors or {})


def judge0_batch_create(*, owner: AbstractBaseUser, items: Sequence[Any], base64_encoded: bool) -> list[BatchItem]:
    """Create each valid submission of a batch; an invalid one gets its errors in its place.

    All or nothing for backpressure, as Judge0 checks its queue once for the whole batch: if the queue fills up or
    the user's rate is exceeded part-way, the whole batch is rolled back and QueueFull or RateLimited raised.
    Batches go to the grading queue (bulk work), so they never delay someone waiting on a single run.
    """
    results: list[BatchItem] = []
    with transaction.atomic():
        for item in items:
            params = item if isinstance(item, Mapping) else {}
            try:
                submission = judge0_submission_create(owner=owner, params=params, base64_encoded=base64_encoded,
                                                      queue=Queue.GRADING)  # fmt: skip
            except InvalidSubmission as e:
                results.append(BatchItem(errors=e.errors))
            else:
                results.append(BatchItem(token=str(submission.token)))
    return results


def judge0_wait(submission: Submission) -> Submission:
    """The submission once finished (wait=true), or as it is after at most JUDGE0_WAIT_SECONDS."""
    runs = submission.number_of_runs
    wall = float(submission.limits.get("wall_time", 10.0))
    expected = COMPILE_LIMITS.wall_time + runs * wall + 15.0  # the longest it can legitimately take
    return wait_finished(submission, min(expected, judge0_config.wait_seconds()))
