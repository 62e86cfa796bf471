"""Nothing is left behind: not after 200 runs, not after runs killed mid-way, not after a worker is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

from executor import cgroups, languages, mounts, runner
from executor.config import Config
from executor.result import Status
from executor.sandbox import Sandbox, cleanup_leftovers
from tests.conftest import box_processes_on_host, quick

ORPHANS = r"""
#include <stdio.h>
#include <unistd.h>
int main(void){
  for(int i=0;i<3;i++) if(fork()==0){ setsid(); if(fork()==0){ for(;;) sleep(1); } _exit(0); }
  puts("parent leaves"); return 0; }
"""


def leftovers(config: Config) -> dict[str, list[str]]:
    backend = cgroups.detect(config.cgroup_parent, config.cgroup_mount)
    slot_dirs = [d for d in os.listdir(config.state_dir) if d.startswith("slot-")]
    return {
        "processes": [str(p) for p in box_processes_on_host(config)],
        # The state directory itself is a tmpfs of its own by design (mounts.state_mount).
        "mounts": [m for m in mounts.mounted_below(config.state_dir) if m != config.state_dir],
        "cgroups": backend.leftovers(),
        "directories": slot_dirs,
    }


NOTHING: dict[str, list[str]] = {"processes": [], "mounts": [], "cgroups": [], "directories": []}


def test_two_hundred_runs_leave_nothing_behind(config: Config) -> None:
    programs = [
        ("bash", "echo hi", quick(), Status.OK),
        ("c", ORPHANS, quick(), Status.OK),  # orphans in a new session try to outlive the run
        ("bash", "sleep 20 & sleep 20 & sleep 20", quick(wall_time=0.3), Status.TIME_LIMIT),  # killed mid-way
        ("python3", "while True: print('y' * 1000)", quick(output=16), Status.OUTPUT_LIMIT),  # killed mid-way
        ("python3", "import os\nfor _ in range(5):\n    os.fork()\nprint(os.getpid())", quick(), Status.OK),
    ]

    def one(i: int) -> Status:
        language, source, limits, _ = programs[i % len(programs)]
        out = runner.execute(languages.get(language), source.encode(), b"", limits, config=config)
        return out.status

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(one, range(200)))
    for i, status in enumerate(statuses):
        assert status is programs[i % len(programs)][3], (i, status)
    time.sleep(0.2)  # the kernel reaps the last killed pid namespaces asynchronously
    assert leftovers(config) == NOTHING


def test_destroy_is_idempotent_and_always_runs(config: Config) -> None:
    box = Sandbox(config)
    with box:
        box.add_file("main.sh", b"echo x")
        assert box.run(["bash", "main.sh"], quick()).stdout == b"x\n"
    box.destroy()
    box.destroy()
    assert leftovers(config) == NOTHING


WORKER = textwrap.dedent("""
    import sys
    from executor import languages, runner
    from executor.config import Config
    from executor.limits import Limits
    config = Config(state_dir=sys.argv[1], cgroup_parent=sys.argv[2], slots=16)
    print("starting", flush=True)
    runner.execute(languages.get("bash"), b"echo started; sleep 60 & sleep 60", b"",
                   Limits(wall_time=30, cpu_time=5), config=config)
""")


def test_a_worker_killed_mid_run_takes_its_box_along_and_the_next_start_removes_the_rest(config: Config) -> None:
    worker = subprocess.Popen([sys.executable, "-c", WORKER, config.state_dir, config.cgroup_parent],
                              stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                  os.path.dirname(os.path.abspath(__file__))))))  # fmt: skip
    assert worker.stdout is not None
    assert worker.stdout.readline() == b"starting\n"
    deadline = time.monotonic() + 10
    while not box_processes_on_host(config) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert box_processes_on_host(config), "the box never started"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    deadline = time.monotonic() + 5
    while box_processes_on_host(config) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert box_processes_on_host(config) == []  # keeper and init died with the worker, and the box with them
    left = leftovers(config)
    assert left["mounts"] and left["cgroups"] and left["directories"]  # what only a later start can remove
    assert cleanup_leftovers(config) >= 1
    assert leftovers(config) == NOTHING
