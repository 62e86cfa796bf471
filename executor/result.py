"""What a run produced, in the manner of isolate's meta file: a status, exit code or signal, times, memory, flags."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Status(enum.StrEnum):
    OK = "ok"
    RUNTIME_ERROR = "runtime_error"  # exited with a non-zero code
    SIGNALED = "signaled"  # killed by a signal not explained by a limit
    TIME_LIMIT = "time_limit"  # see StageResult.time_limit for "cpu" or "wall"
    MEMORY_LIMIT = "memory_limit"  # the kernel's OOM killer acted in the box's cgroup
    OUTPUT_LIMIT = "output_limit"  # a stream went over its limit; the run was stopped at once
    INTERNAL_ERROR = "internal_error"  # the sandbox failed, not the program
    COMPILE_ERROR = "compile_error"  # only as the overall status of a compile-then-run


@dataclass(frozen=True)
class StageResult:
    status: Status
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    cpu_time: float  # seconds, every process and thread of the box (cgroup)
    wall_time: float  # seconds from exec to exit
    memory: int  # peak bytes of the box (cgroup)
    time_limit: str | None = None  # "cpu" or "wall" when status is time_limit
    oom_killed: bool = False
    message: str = ""  # why, for internal_error and the limits
    output: bytes = b""  # stdout and stderr interleaved in the order the sandbox read them (Piston's "output")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "cpu_time": round(self.cpu_time, 4),
            "wall_time": round(self.wall_time, 4),
            "memory": self.memory,
            "time_limit": self.time_limit,
            "oom_killed": self.oom_killed,
            "message": self.message,
        }


def internal_error(message: str) -> StageResult:
    return StageResult(Status.INTERNAL_ERROR, None, None, b"", b"", False, False, 0.0, 0.0, 0, message=message)


@dataclass(frozen=True)
class Outcome:
    """A compile (optional) followed by a run: what `python -m executor run` prints."""

    compile: StageResult | None
    run: StageResult | None

    @property
    def status(self) -> Status:
        if self.compile is not None and self.compile.status is not Status.OK:
            if self.compile.status is Status.INTERNAL_ERROR:
                return Status.INTERNAL_ERROR
            return Status.COMPILE_ERROR
        assert self.run is not None
        return self.run.status

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "compile": None if self.compile is None else self.compile.to_json(),
            "run": None if self.run is None else self.run.to_json(),
        }
