"""A submission as Judge0 1.13.1 writes it: exactly its 35 attributes (its `submissions` columns, `status` and
`language`; no others, since clients such as the official SDK refuse attributes they do not know), in its column
order, only those requested with `fields`, text attributes in Base64 (Ruby's, 60-character lines) when asked.

Result attributes follow isolate_job.rb: an empty stdout or stderr is null; after a compilation error time, memory,
stdout, stderr, exit code, signal and message are null; `exit_code` is 0 for a run that ended without one (killed
by a signal, as Judge0 writes `exitcode || 0`); `time` and `wall_time` are strings in seconds, `memory` kilobytes.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from executor.limits import Limits
from sandbox_service.judge0 import languages as judge0_languages
from sandbox_service.judge0.encoding import decimal_string, ruby_base64_encode, timestamp
from sandbox_service.judge0.statuses import Judge0Status, judge0_status
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Status, Verdict

ATTRIBUTES: tuple[str, ...] = (
    "source_code", "language_id", "stdin", "expected_output", "stdout", "status_id", "created_at", "finished_at",
    "time", "memory", "stderr", "token", "number_of_runs", "cpu_time_limit", "cpu_extra_time", "wall_time_limit",
    "memory_limit", "stack_limit", "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "max_file_size", "compile_output", "exit_code", "exit_signal",
    "message", "wall_time", "compiler_options", "command_line_arguments", "redirect_stderr_to_stdout",
    "callback_url", "additional_files", "enable_network", "status", "language",
)  # fmt: skip
DEFAULT_FIELDS: tuple[str, ...] = ("token", "time", "memory", "stdout", "stderr", "compile_output", "message",
                                   "status")  # fmt: skip
TEXT_ATTRIBUTES = frozenset({"source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output",
                             "message"})  # fmt: skip
UNIVERSAL_FIELD = "*"
COMPILE_TIME_LIMIT_OUTPUT = b"Compilation time limit exceeded."
CONVERSION_ERROR = ("some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true "
                    "query parameter")  # fmt: skip
CONVERSION_ERROR_MANY = ("some attributes for one or more submissions cannot be converted to UTF-8, use "
                         "base64_encoded=true query parameter")  # fmt: skip
_DEFAULT_LIMITS = Limits()


class InvalidFields(ValueError):
    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"invalid fields: [{', '.join(names)}]")
        self.names = list(names)


class NotUtf8(ValueError):
    """A requested text attribute is not valid UTF-8 and base64_encoded is not true (Judge0 answers 400)."""


def requested_fields(raw: str | None) -> tuple[str, ...]:
    """Fields::Submission: a comma list of attribute names, "*" for all; none given is the default eight."""
    names = (raw or "").split(",")
    while names and names[-1] == "":  # Ruby's split drops trailing empty strings
        names.pop()
    invalid = [name for name in names if name != UNIVERSAL_FIELD and name not in ATTRIBUTES]
    if invalid:
        raise InvalidFields(invalid)
    if UNIVERSAL_FIELD in names:
        return ATTRIBUTES
    return tuple(names) or DEFAULT_FIELDS


def _failing_run(submission: Submission) -> tuple[int | None, int | None]:
    """(signal, exit code) of the run that failed: the submission's own for a scratch run, else its first test's
    with a runtime error (graded submissions keep them per test)."""
    if submission.signal is not None or submission.exit_code is not None or submission.problem_id is None:
        return submission.signal, submission.exit_code
    failed = (TestResult.objects.filter(submission=submission, verdict=Verdict.RUNTIME_ERROR).order_by("order")
              .values_list("signal", "exit_code").first())  # fmt: skip
    return failed if failed is not None else (None, None)


def status_of(submission: Submission) -> Judge0Status:
    signal, exit_code = None, None
    if submission.status == Status.FINISHED and submission.verdict == Verdict.RUNTIME_ERROR:
        signal, exit_code = _failing_run(submission)
    return judge0_status(submission.status, submission.verdict, signal, exit_code, submission.message)


class _Values:
    """Every attribute of one submission, computed only when asked for."""

    def __init__(self, submission: Submission) -> None:
        self.s = submission
        self.echo: dict[str, Any] = (submission.client_fields or {}).get("judge0") or {}
        self.finished = submission.status == Status.FINISHED
        self.compile_error = self.finished and submission.verdict == Verdict.COMPILE_ERROR
        # A program ran and its figures are known (not queued, not stopped at compile, not failed before a run).
        self.ran = self.finished and not self.compile_error and submission.cpu_time is not None
        self._status: Judge0Status | None = None

    @property
    def status(self) -> Judge0Status:
        if self._status is None:
            self._status = status_of(self.s)
        return self._status

    def limit(self, name: str, fallback: Callable[[], Any]) -> Any:
        return self.echo[name] if name in self.echo else fallback()

    def get(self, name: str) -> Any:
        return getattr(self, f"a_{name}")()

    # Text attributes are bytes (or None) here; the caller encodes them.
    def a_source_code(self) -> bytes:
        return self.s.source.encode()

    def a_stdin(self) -> bytes | None:
        absent = self.echo.get("stdin_null", self.s.stdin == "")
        return None if absent and self.s.stdin == "" else self.s.stdin.encode()

    def a_expected_output(self) -> bytes | None:
        return None if self.s.expected_output is None else self.s.expected_output.encode()

    def a_stdout(self) -> bytes | None:
        return (bytes(self.s.stdout) or None) if self.finished and not self.compile_error else None

    def a_stderr(self) -> bytes | None:
        return (bytes(self.s.stderr) or None) if self.finished and not self.compile_error else None

    def a_compile_output(self) -> bytes | None:
        if not self.finished:
            return None
        if self.compile_error and "time went over" in self.s.message:
            return COMPILE_TIME_LIMIT_OUTPUT
        return bytes(self.s.compile_output) or None

    def a_message(self) -> bytes | None:
        message = self.status.message
        return None if message is None else message.encode()

    def a_language_id(self) -> int | None:
        return judge0_languages.judge0_id_of(self.s.language_id, self.echo.get("language_id"))

    def a_status_id(self) -> int:
        return self.status.id

    def a_created_at(self) -> str | None:
        return timestamp(self.s.created_at)

    def a_finished_at(self) -> str | None:
        return timestamp(self.s.finished_at) if self.finished else None

    def a_time(self) -> str | None:
        return decimal_string(self.s.cpu_time, 3) if self.ran else None

    def a_wall_time(self) -> str | None:
        return decimal_string(self.s.wall_time, 3) if self.ran else None

    def a_memory(self) -> int | None:
        return self.s.memory // 1024 if self.ran and self.s.memory is not None else None

    def a_token(self) -> str:
        return str(self.s.token)

    def a_number_of_runs(self) -> int:
        return self.s.number_of_runs

    def a_cpu_time_limit(self) -> str | None:
        return self.limit("cpu_time_limit", lambda: decimal_string(self.s.limits.get("cpu_time")))

    def a_cpu_extra_time(self) -> str | None:
        return self.limit("cpu_extra_time", lambda: "0.0")

    def a_wall_time_limit(self) -> str | None:
        return self.limit("wall_time_limit", lambda: decimal_string(self.s.limits.get("wall_time")))

    def a_memory_limit(self) -> int | None:
        return self.limit("memory_limit", lambda: int(self.s.limits.get("memory", _DEFAULT_LIMITS.memory)) * 1024)

    def a_stack_limit(self) -> int:
        return self.limit("stack_limit", lambda: int(self.s.limits.get("stack", _DEFAULT_LIMITS.stack)))

    def a_max_processes_and_or_threads(self) -> int:
        return self.limit("max_processes_and_or_threads",
                          lambda: int(self.s.limits.get("processes", _DEFAULT_LIMITS.processes)))  # fmt: skip

    def a_enable_per_process_and_thread_time_limit(self) -> bool:
        return bool(self.echo.get("enable_per_process_and_thread_time_limit", False))

    def a_enable_per_process_and_thread_memory_limit(self) -> bool:
        return bool(self.echo.get("enable_per_process_and_thread_memory_limit", False))

    def a_max_file_size(self) -> int:
        return self.limit("max_file_size", lambda: int(self.s.limits.get("file_size", _DEFAULT_LIMITS.file_size)))

    def a_exit_code(self) -> int | None:
        if not self.ran:
            return self.s.exit_code if self.finished and not self.compile_error else None
        return self.s.exit_code if self.s.exit_code is not None else 0

    def a_exit_signal(self) -> int | None:
        return self.s.signal if self.finished and not self.compile_error else None

    def a_compiler_options(self) -> str | None:
        return self.limit("compiler_options", lambda: " ".join(self.s.compiler_options) or None)

    def a_command_line_arguments(self) -> str | None:
        return self.limit("command_line_arguments", lambda: shlex.join(self.s.args) or None)

    def a_redirect_stderr_to_stdout(self) -> bool:
        return self.s.redirect_stderr_to_stdout

    def a_callback_url(self) -> str | None:
        return self.s.callback_url or None

    def a_additional_files(self) -> str | None:
        stored = self.echo.get("additional_files")
        return None if stored is None else ruby_base64_encode(base64.b64decode(stored))

    def a_enable_network(self) -> bool:
        return bool(self.echo.get("enable_network", False))

    def a_status(self) -> dict[str, object]:
        return self.status.as_json()

    def a_language(self) -> dict[str, object]:
        language_id = self.a_language_id()
        entry = judge0_languages.BY_ID.get(language_id) if language_id is not None else None
        name = entry.name(self.s.language) if entry is not None else self.s.language.name
        return {"id": language_id, "name": name}


def submission_json(submission: Submission, fields: Iterable[str] = DEFAULT_FIELDS,
                    base64_encoded: bool = False) -> dict[str, Any]:  # fmt: skip
    """The requested attributes, in Judge0's order. Raises NotUtf8 for a text attribute that is not UTF-8."""
    wanted = set(fields)
    values = _Values(submission)
    out: dict[str, Any] = {}
    for name in ATTRIBUTES:
        if name not in wanted:
            continue
        value = values.get(name)
        if name in TEXT_ATTRIBUTES and value is not None:
            if base64_encoded:
                value = ruby_base64_encode(value)
            else:
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise NotUtf8(name) from None
        out[name] = value
    return out


def callback_body(submission: Submission) -> dict[str, Any]:
    """What Judge0 PUTs to a submission's callback_url (isolate_job.rb `call_callback`): the default attributes,
    always Base64-encoded. For the webhook sender, when a submission was made through this API."""
    return submission_json(submission, DEFAULT_FIELDS, base64_encoded=True)
