"""Resource limits of one run: their secure defaults, the operator's maxima, and the rlimits they become.

Every field says its unit. The cgroup carries the limits that must count every process and thread together
(memory, CPU time, processes); rlimits carry the per-process ones (file size, open files, stack) and a per-process
CPU backstop. Operators set maxima with EXECUTOR_MAX_<FIELD> environment variables (same units); a request above
a maximum is refused with LimitError, never silently lowered.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace


class LimitError(ValueError):
    """A requested limit is invalid or above the operator's maximum. The message names the field."""


@dataclass(frozen=True)
class Limits:
    cpu_time: float = 2.0  # seconds of CPU, all processes and threads together (cgroup)
    wall_time: float = 5.0  # seconds of real time from exec to exit
    memory: int = 256  # MiB of RAM, all processes together, swap disabled (cgroup)
    processes: int = 64  # processes + threads alive at once (cgroup pids.max)
    output: int = 1024  # KiB per stream (stdout, stderr); more stops the run with output_limit
    file_size: int = 16384  # KiB, largest file a process may write (RLIMIT_FSIZE)
    open_files: int = 256  # file descriptors per process (RLIMIT_NOFILE)
    stack: int = 65536  # KiB of stack per process (RLIMIT_STACK)
    disk: int = 64  # MiB of the writable tmpfs layer: /box's upper layer, /tmp and /dev/shm together
    disk_inodes: int = 4096  # files and directories on that tmpfs
    cpus: float = 1.0  # CPU bandwidth quota in cores (cgroup cpu.max / cfs_quota)

    def with_changes(self, **changes: float | int | None) -> Limits:
        """A copy with the given fields changed; None values are ignored (handy for optional CLI flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


# The operator's ceilings: a request may ask for less, never for more.
DEFAULT_MAXIMA = Limits(
    cpu_time=20.0,
    wall_time=60.0,
    memory=2048,
    processes=256,
    output=65536,
    file_size=262144,
    open_files=4096,
    stack=262144,
    disk=1024,
    disk_inodes=65536,
    cpus=2.0,
)

_MINIMA: Mapping[str, float] = {
    "cpu_time": 0.01,
    "wall_time": 0.05,
    "memory": 4,
    "processes": 1,
    "output": 1,
    "file_size": 1,
    "open_files": 8,
    "stack": 64,
    "disk": 1,
    "disk_inodes": 16,
    "cpus": 0.05,
}


def maxima_from_env(environ: Mapping[str, str] | None = None) -> Limits:
    """Read EXECUTOR_MAX_<FIELD> overrides of DEFAULT_MAXIMA; a malformed value is a LimitError."""
    env = os.environ if environ is None else environ
    changes: dict[str, float | int] = {}
    for f in fields(Limits):
        raw = env.get(f"EXECUTOR_MAX_{f.name.upper()}")
        if raw is None:
            continue
        try:
            changes[f.name] = float(raw) if f.type == "float" else int(raw)
        except ValueError:
            raise LimitError(f"EXECUTOR_MAX_{f.name.upper()}: not a number: {raw!r}") from None
    return replace(DEFAULT_MAXIMA, **changes)  # type: ignore[arg-type]


def validate(limits: Limits, maxima: Limits) -> Limits:
    """Return the limits if each is a number within [minimum, maximum]; otherwise raise LimitError naming it."""
    for f in fields(Limits):
        value = getattr(limits, f.name)
        ceiling = getattr(maxima, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LimitError(f"{f.name}: must be a number, got {value!r}")
        if f.type == "int" and not isinstance(value, int):
            raise LimitError(f"{f.name}: must be a whole number, got {value!r}")
        if value < _MINIMA[f.name]:
            raise LimitError(f"{f.name}: {value} is below the minimum of {_MINIMA[f.name]}")
        if value > ceiling:
            raise LimitError(f"{f.name}: {value} is above the maximum of {ceiling}")
    return limits


def as_dict(limits: Limits) -> dict[str, float | int]:
    return dataclasses.asdict(limits)


def rlimits(limits: Limits) -> list[tuple[int, int]]:
    """The (resource, value) pairs set as both soft and hard limit in the child just before exec.

    RLIMIT_CPU is only a per-process backstop one second past the cgroup-wide limit the supervisor enforces.
    RLIMIT_CORE is zero: a core dump would be written into the box and waste its disk and our time.
    """
    cpu = math.ceil(limits.cpu_time) + 1
    return [
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, limits.file_size * 1024),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_STACK, limits.stack * 1024),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 64 * 1024),
        (resource.RLIMIT_MSGQUEUE, 0),
    ]


def apply_rlimits(pairs: list[tuple[int, int]]) -> None:
    """Set soft = hard = value, never above the current hard limit (raising one needs CAP_SYS_RESOURCE,
    which the service does not need to hold)."""
    for res, value in pairs:
        _, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))
