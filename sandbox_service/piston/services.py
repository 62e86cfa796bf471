"""Piston v2's execute: read a job as Piston's `get_job` does (api/src/api/v2.js), run it as a scratch submission,
wait for it, answer as Piston does. Synchronous from the client's view; underneath it is the same queued
submission, worker and sandbox as every other run.

How a Piston job becomes a submission:
- the first utf8 file (in Piston, the first file is "the main file"; job.js runs the first *utf8* one) is our
  source, under our own source name (main.py, Main.java, ...); the other files are extra files beside it (hex
  turned into base64, unnamed ones called `file<i>.code` as Piston calls them); for C and C++ the extra
  `.c`/`.cpp` files are compiled with it (Piston compiles every code file: `gcc *.c`);
- `stdin` gets a trailing newline when it has none, as job.js adds one;
- run_timeout (ms, wall clock) → wall_time, run_cpu_time (ms) → cpu_time, run_memory_limit (bytes) → memory
  (MiB, rounded down); compile_* → the submission's compile_limits. Missing, 0 or null: our defaults (the
  language's limits, which the admin sets); a memory limit of -1 ("no limit" in Piston) is our default too,
  since every run here has one. Above our maximum: 400 "<name> cannot exceed the configured limit of <n>", in
  Piston's units (the configured limit is the operator's maximum for a run, the language's for a compile).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser

from executor.config import Config
from sandbox_service.piston.results import piston_result
from sandbox_service.piston.runtimes import Runtime, runtime_find
from sandbox_service.submissions import selectors
from sandbox_service.submissions.services import QueueFull, RateLimited, SubmissionError, submission_create
from sandbox_service.submissions.states import Status, Verdict
from sandbox_service.submissions.waiting import wait_finished

MIB = 1024 * 1024
ANONYMOUS_USERNAME = "piston-anonymous"
# Seconds to wait beyond the compile's and the run's wall-clock limits: queueing, sandbox setup, the database.
DEFAULT_WAIT_MARGIN = 30.0
ENCODINGS = ("base64", "hex", "utf8")
# Piston's constraint names, in the order v2.js checks them, and the executor limit each one sets.
CONSTRAINTS = {"memory_limit": "memory", "timeout": "wall_time", "cpu_time": "cpu_time"}
STAGES = ("compile", "run")


class PistonError(Exception):
    """A request Piston would refuse, or one we cannot answer: the view sends `{"message": ...}` with `status`."""

    def __init__(self, message: str, status: int = 400, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = dict(headers or {})


@dataclass
class Job:
    runtime: Runtime
    source: str
    main_index: int  # the index of the main file in the request's `files`
    stdin: str
    args: list[str]
    files: list[dict[str, str]] = field(default_factory=list)  # submission_create's format
    file_indexes: list[int] = field(default_factory=list)  # the request index of each of `files`
    compiler_options: list[str] = field(default_factory=list)
    limits: dict[str, float | int] = field(default_factory=dict)  # executor names, only what was asked for
    compile_limits: dict[str, float | int] = field(default_factory=dict)
    client_fields: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- execute ----


def piston_execute(*, owner: AbstractBaseUser, body: Any) -> dict[str, Any]:
    """Run a Piston job as `owner` and return Piston's response body; PistonError for anything else."""
    job = job_parse(body)
    try:
        submission = submission_create(
            owner=owner, language_id=job.runtime.row.pk, source=job.source, stdin=job.stdin,
            args=job.args, files=job.files, limits=job.limits, compile_limits=job.compile_limits,
            compiler_options=job.compiler_options, client_fields=job.client_fields,
            rate_limited=owner.get_username() != ANONYMOUS_USERNAME,  # anonymous calls: throttled per address
        )  # fmt: skip
    except SubmissionError as e:
        raise PistonError(_submission_error_message(e, job)) from None
    except QueueFull as e:
        raise PistonError(str(e), 503, {"Retry-After": str(e.retry_after)}) from None
    except RateLimited as e:
        raise PistonError(str(e), 429, {"Retry-After": str(e.retry_after)}) from None
    timeout = wait_seconds(submission.limits, submission.compile_limits, job.runtime)
    submission = wait_finished(submission, timeout)
    if submission.status != Status.FINISHED:
        # Piston itself never gives up; we must, or a stuck queue would hold web workers for ever. The submission
        # stays queued or running and finishes later, unseen.
        raise PistonError(f"the job did not finish within {timeout:g} s; try again later", 504)
    if submission.verdict == Verdict.INTERNAL_ERROR:
        raise PistonError(f"the sandbox failed: {submission.message}", 500)  # Piston: 500 when a job throws
    return piston_result(submission, job.runtime)


def wait_seconds(limits: Mapping[str, Any], compile_limits: Mapping[str, Any], runtime: Runtime) -> float:
    """How long the view waits: the compile's wall limit (compiled languages), the run's, and a margin."""
    margin = float(getattr(settings, "PISTON_WAIT_MARGIN", DEFAULT_WAIT_MARGIN))
    total = float(limits.get("wall_time", runtime.row.wall_time)) + margin
    if runtime.row.compiled:
        declared = selectors.executor_language(runtime.row.pk).compile_limits
        total += float(compile_limits.get("wall_time", declared.wall_time))
    return total


# ----------------------------------------------------------------------------------------------- parse ----


def job_parse(body: Any) -> Job:
    """A Piston job from a request body, checked in the order and with the messages of v2.js's get_job."""
    body = body if isinstance(body, dict) else {}
    language, version, files = body.get("language"), body.get("version"), body.get("files")
    if not isinstance(language, str) or not language:
        raise PistonError("language is required as a string")
    if not isinstance(version, str) or not version:
        raise PistonError("version is required as a string")
    if not isinstance(files, list):
        raise PistonError("files is required as an array")
    for i, file in enumerate(files):
        if not isinstance(file, dict) or not isinstance(file.get("content"), str):
            raise PistonError(f"files[{i}].content is required as a string")
    runtime = runtime_find(language, version)
    if runtime is None:
        raise PistonError(f"{language}-{version} runtime is unknown")
    if not any(not f.get("encoding") or f.get("encoding") == "utf8" for f in files):
        raise PistonError("files must include at least one utf8 encoded file")
    limits, compile_limits = _limits(body, runtime)
    stdin, args = body.get("stdin"), body.get("args")
    if stdin is None:
        stdin = ""
    if not isinstance(stdin, str):
        raise PistonError("stdin must be a string")
    if not stdin.endswith("\n"):
        stdin += "\n"  # job.js: "Add a trailing newline if it doesn't exist"
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise PistonError("args must be an array of strings")
    job = Job(runtime=runtime, source="", main_index=-1, stdin=stdin, args=args, limits=limits,
              compile_limits=compile_limits)  # fmt: skip
    _files(job, files)
    job.client_fields = {"piston": {
        "language": language, "version": version, "main_file": _name(files[job.main_index], job.main_index),
        **{f"{stage}_{name}": body[f"{stage}_{name}"] for name in CONSTRAINTS for stage in STAGES
           if body.get(f"{stage}_{name}") is not None},
    }}  # fmt: skip
    return job


def _limits(body: Mapping[str, Any], runtime: Runtime) -> tuple[dict[str, float | int], dict[str, float | int]]:
    run_maxima = Config.from_env().maxima
    compile_maxima = selectors.executor_language(runtime.row.pk).compile_limits
    chosen: dict[str, dict[str, float | int]] = {"compile": {}, "run": {}}
    for constraint, limit_field in CONSTRAINTS.items():
        for stage in STAGES:
            name = f"{stage}_{constraint}"
            value = body.get(name)
            if value is None or value is False or value == 0 or value == "":
                continue  # JavaScript's falsy values: Piston skips the check and we take our default
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PistonError(f"If specified, {name} must be a number")
            if constraint == "memory_limit" and value == -1:
                continue  # "no limit": every run here has one, so the default
            maxima = run_maxima if stage == "run" else compile_maxima
            configured = _piston_units(constraint, getattr(maxima, limit_field))
            if value > configured:
                raise PistonError(f"{name} cannot exceed the configured limit of {_js_number(configured)}")
            if value < 0:
                raise PistonError(f"{name} must be non-negative")
            chosen[stage][limit_field] = int(value // MIB) if constraint == "memory_limit" else value / 1000
    return chosen["run"], chosen["compile"]


def _piston_units(constraint: str, value: float) -> float:
    return value * MIB if constraint == "memory_limit" else value * 1000


def _js_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _name(file: Mapping[str, Any], index: int) -> str:
    return file.get("name") or f"file{index}.code"  # job.js's default name


def _files(job: Job, files: list[dict[str, Any]]) -> None:
    """Split the request's files into the source (the first utf8 one) and extra files, as job.js does."""
    suffixes = job.runtime.declaration.source_suffixes
    for i, file in enumerate(files):
        name = file.get("name")
        if name is not None and not isinstance(name, str):
            raise PistonError(f"files[{i}].name must be a string")
        name = _name(file, i)
        encoding: str = file["encoding"] if file.get("encoding") in ENCODINGS else "utf8"  # job.js: else utf8
        content: str = file["content"]
        code_file = encoding == "utf8"  # job.js: the utf8 files are the code files, handed to the compiler
        if code_file and job.main_index < 0:
            job.main_index, job.source = i, content
            continue
        if encoding == "hex":
            try:
                content, encoding = base64.b64encode(bytes.fromhex(content)).decode(), "base64"
            except ValueError:
                raise PistonError(f"files[{i}].content is not valid hex") from None
        elif encoding == "base64":
            try:
                base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise PistonError(f"files[{i}].content is not valid base64") from None
        elif "\0" in content:
            # Kept byte for byte as base64: a NUL cannot go into a PostgreSQL JSON column as text.
            content, encoding = base64.b64encode(content.encode()).decode(), "base64"
        if code_file and name.endswith(suffixes):
            job.compiler_options.append(f"./{name}")  # "./": a name starting with "-" is not an option
        job.files.append({"name": name, "content": content, "encoding": encoding})
        job.file_indexes.append(i)


_FILE_FIELD = re.compile(r"^files\[(\d+)\]")
_LIMIT_NAMES = {f"{prefix}.{limit}": f"{stage}_{constraint}"
                for stage, prefix in (("run", "limits"), ("compile", "compile_limits"))
                for constraint, limit in CONSTRAINTS.items()}  # fmt: skip


def _submission_error_message(error: SubmissionError, job: Job) -> str:
    """submission_create's refusal in the request's own terms (its file indexes, Piston's limit names)."""
    match = _FILE_FIELD.match(error.field)
    if match is not None and int(match[1]) < len(job.file_indexes):
        return f"files[{job.file_indexes[int(match[1])]}]{error.field[match.end() :]}: {error.message}"
    if error.field == "source":
        return f"files[{job.main_index}].content: {error.message}"
    if error.field in _LIMIT_NAMES:
        return f"{_LIMIT_NAMES[error.field]} is out of the sandbox's range: {error.message}"
    if error.field == "language":
        return f"{job.runtime.language}-{job.runtime.version} runtime is unknown"  # disabled in the meantime
    return f"{error.field}: {error.message}"


# ------------------------------------------------------------------------------------------- anonymous ----


def anonymous_user_get() -> AbstractBaseUser:
    """The service account anonymous executions run as (PISTON_ALLOW_ANONYMOUS): made on first use, with an
    unusable password and inactive, so that no login and no token can ever act as it."""
    user, _ = get_user_model().objects.get_or_create(
        username=ANONYMOUS_USERNAME, defaults={"password": make_password(None), "is_active": False}
    )
    return user
