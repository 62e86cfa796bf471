"""The sandbox alone: its overhead next to bubblewrap, runc and a bare fork+exec; CPU-bound code inside and outside
it; the added time per test of a 50-test problem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import CONFIG, VAR, Row, median, run_quiet, timed, timed_side_by_side
from executor import languages, runner
from executor.limits import Limits
from executor.sandbox import Sandbox
from sandbox_service.submissions.grading import CheckerSpec, GradingJob, TestSpec, grade

TRUE_LIMITS = Limits()
HOST_DIRS = ("/usr", "/etc/alternatives")


def _ours_true() -> None:
    with Sandbox(CONFIG) as box:
        result = box.run(["/bin/true"], TRUE_LIMITS)
    if result.exit_code != 0:
        raise RuntimeError(f"/bin/true in the sandbox: {result.status} {result.message}")


def _bwrap_argv() -> list[str]:
    # As isolating as bwrap gets without a setuid helper: every namespace, a read-only /usr, fresh /proc and /dev.
    return ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "/bin/true"]  # fmt: skip


def _runc_bundle() -> Path:
    """An OCI bundle whose root is an empty directory with the host's /usr bind-mounted read-only."""
    bundle = VAR / "runc-bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "rootfs").mkdir(parents=True)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")):
        os.symlink(target, bundle / "rootfs" / link)
    for directory in ("usr", "proc", "dev", "tmp", "etc"):
        (bundle / "rootfs" / directory).mkdir(exist_ok=True)
    run_quiet(["runc", "spec", "--rootless"] if os.geteuid() else ["runc", "spec"], cwd=bundle)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["/bin/true"]
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = True
    spec["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]})
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def overhead(runs: int) -> list[Row]:
    """Create + run + destroy of /bin/true, from a warm process, next to whole-process bwrap and runc runs."""
    times = timed_side_by_side({"ours": _ours_true, "bare": lambda: run_quiet(["/bin/true"]),
                                "bwrap": lambda: run_quiet(_bwrap_argv())}, runs)  # fmt: skip
    ours, bare, bwrap = (median(times[name]) for name in ("ours", "bare", "bwrap"))
    bundle = _runc_bundle()
    counter = iter(range(10**9))
    # runc is slow: fewer rounds, each beside a run of ours.
    runc_argv = ["runc", "run", "--bundle", str(bundle)]
    times = timed_side_by_side({"ours": _ours_true, "runc": lambda: run_quiet(
        [*runc_argv, f"bench-{os.getpid()}-{next(counter)}"])}, max(10, runs // 4))  # fmt: skip
    runc = median(times["runc"])
    ms = 1000
    return [
        Row("sandbox", "create + run + destroy /bin/true", ours * ms, "bwrap --unshare-all (whole process)",
            bwrap * ms, "ms", "ratio < 1.0", ours < bwrap),
        Row("sandbox", "create + run + destroy /bin/true", ours * ms, "runc run (whole process)", runc * ms, "ms",
            "ratio < 0.2", ours < runc / 5),
        Row("sandbox", "create + run + destroy /bin/true", ours * ms, "bare fork+exec of /bin/true", bare * ms, "ms",
            "(the physical limit)", None),
    ]


LOOP_C = rb"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    unsigned long n = strtoul(argv[1], 0, 10), x = 88172645463325252UL, sum = 0;
    for (unsigned long i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; sum += x & 1; }
    printf("%lu\n", sum);
    return 0;
}
"""


def cpu(runs: int) -> list[Row]:
    """A compiled C loop of about a second, inside the sandbox and outside (the same binary, the same argument)."""
    work = Path(tempfile.mkdtemp(prefix="cpu-", dir=VAR))
    (work / "loop.c").write_bytes(LOOP_C)
    run_quiet(["gcc", "-O2", "-o", str(work / "loop"), str(work / "loop.c")])
    iterations = _calibrate(work / "loop", 1.0)
    outside = median(timed(lambda: run_quiet([str(work / "loop"), str(iterations)]), runs, warmup=1))
    limits = Limits(cpu_time=20, wall_time=30)
    with Sandbox(CONFIG) as box:
        box.add_file("loop", (work / "loop").read_bytes(), mode=0o755)

        def inside() -> None:
            result = box.run(["./loop", str(iterations)], limits)
            if result.exit_code != 0:
                raise RuntimeError(f"loop in the sandbox: {result.status} {result.message}")

        within = median(timed(inside, runs, warmup=1))
    shutil.rmtree(work)
    return [Row("cpu", f"C loop ({iterations:.2e} iterations), wall time", within, "the same binary outside",
                outside, "s", "ratio ≤ 1.03", within <= outside * 1.03)]


def _calibrate(binary: Path, seconds: float) -> int:
    n = 10_000_000
    while True:
        start = time.perf_counter()
        run_quiet([str(binary), str(n)])
        took = time.perf_counter() - start
        if took > 0.2:
            return int(n * seconds / took)
        n *= 4


PROGRAMS = {"c": b'#include <stdio.h>\nint main(void){long x; if(scanf("%ld",&x)!=1) return 1; printf("%ld\\n", 2*x);'
                 b" return 0;}\n",
            "python3": b"print(2 * int(input()))\n"}  # fmt: skip


def grading(tests: int, repeats: int) -> list[Row]:
    """Added time per test of a `tests`-test problem, against the sandbox overhead plus the program's own run time
    (the same program run bare, outside any sandbox)."""
    overhead_s = median(timed(_ours_true, 30))
    rows = []
    for language_id, source in PROGRAMS.items():
        language = languages.get(language_id)

        def job(n: int, language_id: str, source: bytes = source) -> GradingJob:
            specs = [TestSpec(order=i, stdin=f"{i}\n".encode(), expected=f"{2 * i}\n".encode())
                     for i in range(1, n + 1)]  # fmt: skip
            return GradingJob(language_id=language_id, source=source, files={}, args=[], limits=Limits(), tests=specs,
                              checker=CheckerSpec(), stop_on_first_failure=False, compiler_options=[],
                              merge_stderr=False, runs=1, compile_limits=None)  # fmt: skip

        def run(n: int, language_id: str = language_id) -> None:
            result = grade(job(n, language_id), CONFIG)
            if result.verdict != "accepted":
                raise RuntimeError(f"{language_id}: {result.verdict} {result.message}")

        many = median(timed(lambda: run(tests), repeats, warmup=1))
        one = median(timed(lambda: run(1), repeats * 3, warmup=1))
        per_test = (many - one) / (tests - 1)
        bare = _bare_run_time(language, source)
        budget = 1.5 * overhead_s + bare
        rows.append(Row("grading", f"{language.name}: added time per test ({tests} tests)", per_test * 1000,
                        "1.5 × sandbox overhead + the program's bare run time", budget * 1000, "ms", "ratio ≤ 1.0",
                        per_test <= budget, f"sandbox overhead {overhead_s * 1000:.1f} ms, bare run "
                                            f"{bare * 1000:.1f} ms"))  # fmt: skip
    return rows


def _bare_run_time(language: languages.Language, source: bytes) -> float:
    """The program run outside any sandbox, with the same command line (compiled once first if need be)."""
    work = Path(tempfile.mkdtemp(prefix="bare-", dir=VAR))
    try:
        (work / language.source_name).write_bytes(source)
        if language.compile is not None:
            run_quiet(list(language.compile), cwd=work)
        argv = runner.run_argv(language, Limits(), [])  # the command line the sandbox runs
        if not argv[0].startswith("/"):
            argv[0] = str(work / argv[0])

        def once() -> None:
            subprocess.run(argv, input=b"21\n", cwd=work, check=True, stdout=subprocess.DEVNULL)

        return median(timed(once, 30))
    finally:
        shutil.rmtree(work)
