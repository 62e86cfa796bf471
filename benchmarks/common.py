"""Timing, the rows of the results table, and the description of the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from executor.config import Config

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
# The benchmarks' own sandbox state, cgroup and uid range: never those of the service or of the tests.
CONFIG = Config(state_dir="/run/executor-bench", slots=8, id_base=100000 + 192 * 65536, cgroup_parent="executor-bench")


@dataclass(frozen=True)
class Row:
    section: str
    what: str
    ours: float  # in `unit`
    baseline_name: str
    baseline: float | None
    unit: str
    target: str  # in words: "ratio < 1.0"
    met: bool | None  # None: no target
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.ours / self.baseline


def timed(call: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    """Seconds of each of `runs` calls, after `warmup` calls that are not counted."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def timed_side_by_side(calls: dict[str, Callable[[], object]], runs: int, warmup: int = 3) -> dict[str, list[float]]:
    """Seconds of each call, taking turns (one of each per round), so that the machine drifting during the run
    (another process, the CPU's clock) weighs on every contender alike."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = (len(ordered) - 1) * q
    low, high = int(at), min(int(at) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def run_quiet(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    cgroup = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1 (hybrid)"
    release = ""
    try:
        release = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                       if line.startswith("PRETTY_NAME="))  # fmt: skip
    except (OSError, StopIteration):
        pass
    return {"cpu": f"{cpu}, {os.cpu_count()} cores", "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
            "kernel": platform.release(), "os": release, "cgroups": cgroup,
            "python": platform.python_version()}  # fmt: skip
