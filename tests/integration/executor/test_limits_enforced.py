"""Each limit enforced on the real kernel, with the right status and measured figures."""

from __future__ import annotations

import time

import pytest

from executor import languages, runner
from executor.config import Config
from executor.limits import LimitError, Limits
from executor.result import Outcome, Status
from tests.conftest import quick

MIB = 1024 * 1024


def run(config: Config, language: str, source: str, limits: Limits, stdin: bytes = b"") -> Outcome:
    return runner.execute(languages.get(language), source.encode(), stdin, limits, config=config)


def test_memory_limit_is_reported_from_the_kernels_oom_counter(config: Config) -> None:
    out = run(config, "python3", "x = bytearray(300 * 1024 * 1024)\nprint('survived')", quick(memory=64))
    assert out.status is Status.MEMORY_LIMIT and out.run is not None
    assert out.run.oom_killed and b"survived" not in out.run.stdout
    assert 48 * MIB <= out.run.memory <= 64 * MIB + MIB


def test_peak_memory_is_measured(config: Config) -> None:
    out = run(config, "python3", "x = bytearray(40 * 1024 * 1024)\nprint(len(x))", quick(memory=128))
    assert out.status is Status.OK and out.run is not None
    assert 40 * MIB <= out.run.memory <= 80 * MIB


def test_cpu_burn_is_a_cpu_time_limit_with_the_cgroups_figure(config: Config) -> None:
    out = run(config, "c", "int main(void){for(volatile unsigned long i=0;;i++);}", quick(cpu_time=0.5, wall_time=5))
    assert out.status is Status.TIME_LIMIT and out.run is not None
    assert out.run.time_limit == "cpu"
    assert 0.5 <= out.run.cpu_time < 0.8  # stopped within a few milliseconds of CPU past the limit


def test_threads_count_towards_cpu_time(config: Config) -> None:
    source = r"""
#include <pthread.h>
static void *burn(void *a){for(volatile unsigned long i=0;;i++);return a;}
int main(void){pthread_t t[4];for(int i=0;i<4;i++)pthread_create(&t[i],0,burn,0);pthread_join(t[0],0);}
"""
    out = run(config, "c", source, quick(cpu_time=0.6, wall_time=5, cpus=2.0))
    assert out.status is Status.TIME_LIMIT and out.run is not None and out.run.time_limit == "cpu"
    assert out.run.cpu_time >= 0.6  # no thread alone reached the limit (nor RLIMIT_CPU's 2 s): the sum did


def test_sleeping_is_a_wall_time_limit(config: Config) -> None:
    out = run(config, "bash", "sleep 30", quick(wall_time=0.7))
    assert out.status is Status.TIME_LIMIT and out.run is not None
    assert out.run.time_limit == "wall"
    assert 0.7 <= out.run.wall_time < 2 and out.run.cpu_time < 0.2


def test_process_cap_stops_a_fork_loop(config: Config) -> None:
    source = r"""
#include <stdio.h>
#include <unistd.h>
int main(void){int n=0;while(fork()>=0){n++;if(n>1000)break;}
/* only the original process prints: children are paused */
printf("forked %d\n",n);fflush(stdout);return 0;}
"""
    source = source.replace("while(fork()>=0){", "for(;;){pid_t p=fork();if(p<0)break;if(p==0){pause();}")
    out = run(config, "c", source, quick(processes=10, wall_time=3))
    assert out.status is Status.OK and out.run is not None
    assert out.run.stdout == b"forked 9\n"


def test_output_flood_stops_at_once_with_output_limit(config: Config) -> None:
    started = time.monotonic()
    out = run(config, "c", '#include <stdio.h>\nint main(void){for(;;)puts("flood flood flood");}',
              quick(output=64, wall_time=10, cpu_time=5))  # fmt: skip
    assert out.status is Status.OUTPUT_LIMIT and out.run is not None
    assert len(out.run.stdout) == 64 * 1024 and out.run.stdout_truncated and not out.run.stderr_truncated
    assert time.monotonic() - started < 5  # it did not wait for the 10 s wall limit


def test_file_size_limit(config: Config) -> None:
    source = "try:\n    open('big', 'wb').write(b'x' * (3 * 1024 * 1024))\nexcept OSError as e:\n    print(e.errno)"
    out = run(config, "python3", source, quick(file_size=1024))
    assert out.status is Status.OK and out.run is not None
    assert out.run.stdout == b"27\n"  # EFBIG: CPython ignores SIGXFSZ


def test_open_files_limit(config: Config) -> None:
    source = "fs = []\ntry:\n    while True: fs.append(open('/dev/null'))\n" \
             "except OSError as e:\n    print(e.errno, len(fs))"
    out = run(config, "python3", source, quick(open_files=40))
    assert out.status is Status.OK and out.run is not None
    errno_, count = out.run.stdout.split()
    assert errno_ == b"24" and int(count) <= 37  # EMFILE; 0, 1, 2 were already open


def test_stack_limit(config: Config) -> None:
    source = "int f(int n){volatile char b[4096];b[0]=n;return n?f(n-1)+b[0]:0;}int main(void){return f(1<<20);}"
    out = run(config, "c", source, quick(stack=1024))
    assert out.status is Status.SIGNALED and out.run is not None and out.run.signal == 11


def test_disk_limit_on_box_tmp_and_shm_together(config: Config) -> None:
    source = r"""
import os
total = 0
try:
    for d in ('/box', '/tmp', '/dev/shm'):
        with open(d + '/fill', 'wb') as f:
            for _ in range(64):
                f.write(b'x' * 1024 * 1024); f.flush(); total += 1
except OSError as e:
    print(e.errno, total)
"""
    out = run(config, "python3", source, quick(disk=8, memory=256))
    assert out.status is Status.OK and out.run is not None
    errno_, mib = out.run.stdout.split()
    assert errno_ == b"28" and int(mib) <= 8  # ENOSPC


def test_inode_limit(config: Config) -> None:
    source = "n = 0\ntry:\n    while True: open(f'/tmp/f{n}', 'w').close(); n += 1\n" \
             "except OSError as e:\n    print(e.errno, n)"
    out = run(config, "python3", source, quick(disk_inodes=100))
    assert out.status is Status.OK and out.run is not None
    errno_, count = out.run.stdout.split()
    assert errno_ == b"28" and int(count) < 100


def test_nonzero_exit_is_a_runtime_error_and_a_signal_is_signaled(config: Config) -> None:
    out = run(config, "python3", "import sys; print('bye'); sys.exit(3)", quick())
    assert out.status is Status.RUNTIME_ERROR and out.run is not None and out.run.exit_code == 3
    out = run(config, "python3", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)", quick())
    assert out.status is Status.SIGNALED and out.run is not None and out.run.signal == 6


@pytest.mark.parametrize("field", ["cpu_time", "wall_time", "memory", "processes", "output", "file_size",
                                   "open_files", "stack", "disk", "disk_inodes", "cpus"])  # fmt: skip
def test_a_limit_above_the_operators_maximum_is_refused_naming_it(config: Config, field: str) -> None:
    too_much = getattr(config.maxima, field) * 2
    with pytest.raises(LimitError, match=field):
        run(config, "python3", "print(1)", Limits().with_changes(**{field: too_much}))


def test_a_compile_error_is_reported_with_the_compilers_message(config: Config) -> None:
    out = run(config, "c", "int main(void){ return undefined_name; }\n", quick())
    assert out.status is Status.COMPILE_ERROR and out.run is None and out.compile is not None
    assert b"main.c:1" in out.compile.stderr and b"undefined_name" in out.compile.stderr


def test_block_io_is_throttled_on_the_runtimes_disk(config: Config) -> None:
    import glob
    import threading

    from executor import cgroups

    disk = cgroups.whole_disk_of("/usr")
    assert disk is not None, "this machine's /usr is on a block device"
    seen: list[str] = []

    def watch() -> None:
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            for path in glob.glob(f"/sys/fs/cgroup/blkio/{config.cgroup_parent}/slot-*/blkio.throttle.read_bps_device"):
                try:
                    with open(path) as f:
                        if text := f.read().strip():
                            seen.append(text)
                except OSError:
                    pass
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    out = run(config, "bash", "sleep 1", quick())
    watcher.join()
    assert out.status is Status.OK
    assert seen and seen[0] == f"{disk[0]}:{disk[1]} {config.io_read_bps}"
