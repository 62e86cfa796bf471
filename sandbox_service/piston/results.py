"""A finished submission as Piston's execute response (readme "Execute Endpoint", api/src/job.js).

Each stage is `{stdout, stderr, output, code, signal, message, status, cpu_time, wall_time, memory}`, as isolate's
meta file reads in Piston: `code` is the exit code (null when a signal or a limit ended the run), `signal` a
name such as "SIGKILL" (always "SIGKILL" for TO, OL and EL, as job.js forces it), `status` one of RE, SG, TO,
OL, EL (null when the stage succeeded), `message` isolate's wording ("Exited with error status 1", "Caught fatal
signal 11", "Time limit exceeded" for CPU, "Time limit exceeded (wall clock)"), times in milliseconds, memory
in bytes. `compile` is there only for compiled languages; when the compile fails there is no run, and `run` is
a copy of `compile` (v2.js: "Backward compatibility when the run stage is not started").
"""

from __future__ import annotations

import signal as signals
from typing import Any

from sandbox_service.piston.runtimes import Runtime
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Verdict

KILLED = "SIGKILL"


def piston_result(submission: Submission, runtime: Runtime) -> dict[str, Any]:
    body: dict[str, Any] = {"language": runtime.language, "version": runtime.version}
    failed_compile = submission.verdict == Verdict.COMPILE_ERROR
    compile_stage = _compile_stage(submission) if submission.language.compiled or failed_compile else None
    body["run"] = dict(compile_stage) if failed_compile and compile_stage is not None else _run_stage(submission)
    if compile_stage is not None:
        body["compile"] = compile_stage
    return body


def _stage(stdout: bytes | memoryview, stderr: bytes | memoryview, output: bytes | memoryview, code: int | None,
           signal: str | None, message: str | None, status: str | None, cpu_time: float | None = None,
           wall_time: float | None = None, memory: int | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "stdout": Submission.text(stdout),
        "stderr": Submission.text(stderr),
        "output": Submission.text(output),
        "code": code,
        "signal": signal,
        "message": message,
        "status": status,
        "cpu_time": None if cpu_time is None else round(cpu_time * 1000),
        "wall_time": None if wall_time is None else round(wall_time * 1000),
        "memory": memory,
    }


def _run_stage(s: Submission) -> dict[str, Any]:
    code, name, message, status = s.exit_code, signal_name(s.signal), None, None
    if s.verdict == Verdict.TIME_LIMIT:
        code, name, status = None, KILLED, "TO"
        message = "Time limit exceeded (wall clock)" if "(wall)" in s.message else "Time limit exceeded"
    elif s.verdict == Verdict.MEMORY_LIMIT:  # isolate: the cgroup's OOM killer, a plain SIGKILL
        code, name, status, message = None, KILLED, "SG", f"Caught fatal signal {signals.SIGKILL.value}"
    elif s.verdict == Verdict.OUTPUT_LIMIT:
        code, name = None, KILLED
        status, message = _output_limit(s)
    elif s.signal is not None:
        code, status, message = None, "SG", f"Caught fatal signal {s.signal}"
    elif s.exit_code:
        status, message = "RE", f"Exited with error status {s.exit_code}"
    return _stage(s.stdout, s.stderr, s.output, code, name, message, status, s.cpu_time, s.wall_time, s.memory)


def _output_limit(s: Submission) -> tuple[str, str]:
    limit = int(s.limits.get("output", 1024)) * 1024
    if len(s.stderr) >= limit and len(s.stdout) < limit:
        return "EL", "stderr length exceeded"
    return "OL", "stdout length exceeded"


def _compile_stage(s: Submission) -> dict[str, Any]:
    """The compile stage, with its own times and memory."""
    code, name, message, status = s.compile_exit_code, signal_name(s.compile_signal), None, None
    if s.verdict == Verdict.COMPILE_ERROR:
        # The grader's message: "compile error" for a non-zero exit, else "compile error: <the sandbox's reason>".
        why = s.message.partition("compile error: ")[2]
        if why.startswith("wall time"):
            code, name, status, message = None, KILLED, "TO", "Time limit exceeded (wall clock)"
        elif why.startswith("CPU time"):
            code, name, status, message = None, KILLED, "TO", "Time limit exceeded"
        elif why.startswith("output"):
            code, name, status, message = None, KILLED, "OL", "stdout length exceeded"
        elif why.startswith("memory"):
            code, name, status, message = None, KILLED, "SG", f"Caught fatal signal {signals.SIGKILL.value}"
        elif s.compile_signal is not None:
            code, status, message = None, "SG", f"Caught fatal signal {s.compile_signal}"
        elif s.compile_exit_code is not None:
            status, message = "RE", f"Exited with error status {s.compile_exit_code}"
        else:
            status, message = "XX", s.message or "compile error"  # isolate's XX: the sandbox's own failure
    return _stage(s.compile_stdout, s.compile_stderr, s.compile_output, code, name, message, status,
                  s.compile_cpu_time, s.compile_wall_time, s.compile_memory)


def signal_name(number: int | None) -> str | None:
    if number is None:
        return None
    try:
        return signals.Signals(number).name
    except ValueError:
        return None
