"""Judge0's fourteen statuses, and which one a submission of ours is in.

Judge0 decides from isolate's meta file (isolate_job.rb `determine_status` and status.rb
`find_runtime_error_by_status_code`): TO → Time Limit Exceeded, SG → by signal (11 SIGSEGV, 25 SIGXFSZ, 8 SIGFPE,
6 SIGABRT, anything else Other), RE → NZEC, XX → Internal Error (Exec Format Error when execve said so), otherwise
the output is compared. The `message` is isolate's ("Time limit exceeded", "Exited with error status 1", "Caught
fatal signal 11"). Here the same decision is made from our verdict, signal and exit code. Two verdicts of ours have
no status of their own in Judge0 (whose cgroup OOM kill is just "signal 9", and which has no output limit): they
are Runtime Error (Other), with a message saying what happened.
"""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass

from sandbox_service.submissions.states import Status, Verdict

IN_QUEUE, PROCESSING, ACCEPTED, WRONG_ANSWER, TIME_LIMIT_EXCEEDED, COMPILATION_ERROR = 1, 2, 3, 4, 5, 6
SIGSEGV, SIGXFSZ, SIGFPE, SIGABRT, NZEC, OTHER, INTERNAL_ERROR, EXEC_FORMAT_ERROR = 7, 8, 9, 10, 11, 12, 13, 14

DESCRIPTIONS: dict[int, str] = {
    IN_QUEUE: "In Queue",
    PROCESSING: "Processing",
    ACCEPTED: "Accepted",
    WRONG_ANSWER: "Wrong Answer",
    TIME_LIMIT_EXCEEDED: "Time Limit Exceeded",
    COMPILATION_ERROR: "Compilation Error",
    SIGSEGV: "Runtime Error (SIGSEGV)",
    SIGXFSZ: "Runtime Error (SIGXFSZ)",
    SIGFPE: "Runtime Error (SIGFPE)",
    SIGABRT: "Runtime Error (SIGABRT)",
    NZEC: "Runtime Error (NZEC)",
    OTHER: "Runtime Error (Other)",
    INTERNAL_ERROR: "Internal Error",
    EXEC_FORMAT_ERROR: "Exec Format Error",
}

BY_SIGNAL: dict[int, int] = {
    signals.SIGSEGV: SIGSEGV,
    signals.SIGXFSZ: SIGXFSZ,
    signals.SIGFPE: SIGFPE,
    signals.SIGABRT: SIGABRT,
}

TIME_LIMIT_MESSAGE = "Time limit exceeded"
WALL_TIME_LIMIT_MESSAGE = "Time limit exceeded (wall clock)"
MEMORY_LIMIT_MESSAGE = "Memory limit exceeded"
OUTPUT_LIMIT_MESSAGE = "Output limit exceeded"
EXEC_FORMAT_MARKER = "Exec format error"


@dataclass(frozen=True)
class Judge0Status:
    id: int
    message: str | None  # Judge0's `message` attribute

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.id]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "description": self.description}


def judge0_status(status: str, verdict: str, signal: int | None, exit_code: int | None,
                  message: str) -> Judge0Status:  # fmt: skip
    """The Judge0 status (and message) of a submission in `status` with `verdict`; `signal` and `exit_code` are
    those of the failing run, `message` our own explanation (grading's, or why the infrastructure gave up)."""
    if status == Status.QUEUED:
        return Judge0Status(IN_QUEUE, None)
    if status == Status.RUNNING:
        return Judge0Status(PROCESSING, None)
    if verdict == Verdict.ACCEPTED:
        return Judge0Status(ACCEPTED, None)
    if verdict == Verdict.WRONG_ANSWER:
        return Judge0Status(WRONG_ANSWER, None)
    if verdict == Verdict.COMPILE_ERROR:
        return Judge0Status(COMPILATION_ERROR, None)
    if verdict == Verdict.TIME_LIMIT:
        # grading says "time limit (wall)" or "time limit (cpu)"
        wall = "(wall)" in message
        return Judge0Status(TIME_LIMIT_EXCEEDED, WALL_TIME_LIMIT_MESSAGE if wall else TIME_LIMIT_MESSAGE)
    if verdict == Verdict.RUNTIME_ERROR:
        if signal:
            return Judge0Status(BY_SIGNAL.get(signal, OTHER), f"Caught fatal signal {signal}")
        if exit_code:
            return Judge0Status(NZEC, f"Exited with error status {exit_code}")
        return Judge0Status(OTHER, message or None)
    if verdict == Verdict.MEMORY_LIMIT:
        return Judge0Status(OTHER, MEMORY_LIMIT_MESSAGE)
    if verdict == Verdict.OUTPUT_LIMIT:
        return Judge0Status(OTHER, OUTPUT_LIMIT_MESSAGE)
    # internal_error, or a verdict this table does not know: never the student's fault
    if EXEC_FORMAT_MARKER in message:
        return Judge0Status(EXEC_FORMAT_ERROR, message)
    return Judge0Status(INTERNAL_ERROR, message or None)


def all_statuses() -> list[dict[str, object]]:
    return [{"id": status_id, "description": text} for status_id, text in DESCRIPTIONS.items()]
