"""executor.cgroups: v1 for real on this host's /sys/fs/cgroup, v2 and detection against fake cgroupfs trees.

The v1 tests need root and the v1 memory, cpu, cpuacct, pids, blkio and freezer hierarchies; without them
they fail (they never skip).
"""

from __future__ import annotations

import errno
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from executor import cgroups
from executor.cgroups import (
    Cgroup,
    CgroupBackend,
    CgroupError,
    CgroupLimits,
    CgroupV1Backend,
    CgroupV2Backend,
    detect,
    join_via_fds,
)

MiB = 1 << 20
SYS_CGROUP = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "blkio", "freezer")


def whole_disk_device() -> tuple[int, int]:
    """(major, minor) of the disk holding /, as blkio/io.max only accept whole disks, not partitions."""
    dev = os.stat("/").st_dev
    sysfs = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if os.path.exists(os.path.join(sysfs, "partition")):
        sysfs = os.path.dirname(sysfs)
    major, minor = Path(sysfs, "dev").read_text().split(":")
    return int(major), int(minor)


# --- real cgroup v1 ---


@pytest.fixture
def v1() -> Iterator[CgroupBackend]:
    assert os.geteuid() == 0, "the cgroup v1 tests need root"
    parent = f"executor-test-{os.getpid()}"
    backend = detect(parent=parent)
    assert backend.version == 1, "this host is expected to run cgroup v1 (hybrid mode)"
    try:
        yield backend
    finally:
        for name in backend.leftovers():
            backend.remove(name)
        for ctrl in V1_CONTROLLERS:
            path = os.path.join(SYS_CGROUP, ctrl, parent)
            if os.path.isdir(path):
                os.rmdir(path)
        left = [c for c in os.listdir(SYS_CGROUP) if os.path.exists(os.path.join(SYS_CGROUP, c, parent))]
        assert not left, f"test cgroups left behind in {left}"


def spawn_in(cg: Cgroup, body: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child that joins `cg` the way the sandbox does and then runs body(pipe write end).

    Returns (pid, pipe read end); the child reports readiness or results through the pipe.
    """
    fds = cg.open_procs_fds()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            join_via_fds(fds)
            body(w)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    for fd in fds:
        os.close(fd)
    return pid, r


def wait_exit(pid: int) -> int:
    """waitpid(pid) as an exit code; -N means killed by signal N."""
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def v1_file(cg: Cgroup, ctrl: str, name: str) -> str:
    return Path(SYS_CGROUP, ctrl, f"executor-test-{os.getpid()}", cg.name, name).read_text()


def tasks(cg: Cgroup) -> list[str]:
    return sorted({pid for ctrl in V1_CONTROLLERS for pid in v1_file(cg, ctrl, "tasks").split()})


def sleep_forever(ready: int) -> None:
    os.write(ready, b"x")
    time.sleep(60)


@pytest.mark.root
def test_v1_detect_creates_parent_in_every_controller(v1: CgroupBackend) -> None:
    assert isinstance(v1, CgroupV1Backend)
    for ctrl in V1_CONTROLLERS:
        assert os.path.isdir(os.path.join(SYS_CGROUP, ctrl, f"executor-test-{os.getpid()}"))
    assert v1.leftovers() == []


@pytest.mark.root
def test_v1_apply_writes_every_limit_and_can_raise_and_lower_memory(v1: CgroupBackend) -> None:
    major, minor = whole_disk_device()
    with v1.create("box") as cg:
        for memory in (64 * MiB, 128 * MiB, 32 * MiB):  # memsw must stay >= limit through raise and lower
            cg.apply(
                CgroupLimits(
                    memory_bytes=memory,
                    pids_max=17,
                    cpu_quota_cpus=0.5,
                    io_read_bps=1 * MiB,
                    io_write_bps=2 * MiB,
                    io_device=(major, minor),
                )
            )
            assert int(v1_file(cg, "memory", "memory.limit_in_bytes")) == memory
            assert int(v1_file(cg, "memory", "memory.memsw.limit_in_bytes")) == memory
        assert v1_file(cg, "memory", "memory.swappiness").strip() == "0"
        assert v1_file(cg, "pids", "pids.max").strip() == "17"
        assert v1_file(cg, "cpu", "cpu.cfs_period_us").strip() == "100000"
        assert v1_file(cg, "cpu", "cpu.cfs_quota_us").strip() == "50000"
        assert f"{major}:{minor} {1 * MiB}" in v1_file(cg, "blkio", "blkio.throttle.read_bps_device")
        assert f"{major}:{minor} {2 * MiB}" in v1_file(cg, "blkio", "blkio.throttle.write_bps_device")


@pytest.mark.root
def test_v1_io_throttle_on_a_device_that_does_not_exist_is_not_applied(v1: CgroupBackend) -> None:
    with v1.create("box") as cg:
        cg.apply(CgroupLimits(64 * MiB, 10, 1.0, io_read_bps=MiB, io_device=(4095, 4095)))
        assert v1_file(cg, "blkio", "blkio.throttle.read_bps_device").strip() == ""


@pytest.mark.root
def test_v1_cpu_time_counts_the_cpu_a_joined_child_burns(v1: CgroupBackend) -> None:
    def burn(_: int) -> None:
        while time.process_time() < 0.3:
            pass

    with v1.create("box") as cg:
        cg.apply(CgroupLimits(memory_bytes=256 * MiB, pids_max=10, cpu_quota_cpus=1.0))
        assert cg.cpu_time() == 0
        pid, r = spawn_in(cg, burn)
        assert wait_exit(pid) == 0
        os.close(r)
        assert 0.28 <= cg.cpu_time() <= 0.6


@pytest.mark.root
def test_v1_child_over_memory_limit_is_oom_killed_and_reported(v1: CgroupBackend) -> None:
    limit = 32 * MiB

    def allocate(_: int) -> None:
        data = b"\x01" * (64 * MiB)  # bytes * n writes every page, so all of it is really charged
        os.write(2, f"oom test: survived with {len(data)} bytes\n".encode())

    with v1.create("box") as cg:
        cg.apply(CgroupLimits(memory_bytes=limit, pids_max=10, cpu_quota_cpus=1.0))
        assert not cg.oom_killed()
        pid, r = spawn_in(cg, allocate)
        assert wait_exit(pid) == -signal.SIGKILL
        os.close(r)
        assert cg.oom_killed()
        assert 0.75 * limit <= cg.memory_peak() <= limit


@pytest.mark.root
def test_v1_kill_kills_a_child_and_its_50_forked_sleepers(v1: CgroupBackend) -> None:
    def fork_sleepers(ready: int) -> None:
        for _ in range(50):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
        sleep_forever(ready)

    cg = v1.create("box")
    cg.apply(CgroupLimits(memory_bytes=256 * MiB, pids_max=100, cpu_quota_cpus=1.0))
    pid, r = spawn_in(cg, fork_sleepers)
    assert os.read(r, 1) == b"x"
    assert len(v1_file(cg, "freezer", "cgroup.procs").split()) == 51
    start = time.monotonic()
    cg.kill()
    assert time.monotonic() - start < 2
    assert wait_exit(pid) == -signal.SIGKILL
    os.close(r)
    for ctrl in V1_CONTROLLERS:
        assert v1_file(cg, ctrl, "cgroup.procs").strip() == "", ctrl
    assert v1_file(cg, "freezer", "freezer.state").strip() == "THAWED"  # left usable, not frozen

    cg.destroy()
    for ctrl in V1_CONTROLLERS:
        assert not os.path.exists(os.path.join(SYS_CGROUP, ctrl, f"executor-test-{os.getpid()}", "box"))
    cg.destroy()  # idempotent
    cg.kill()  # and killing a removed cgroup is a no-op
    assert v1.leftovers() == []


@pytest.mark.root
def test_v1_pids_max_makes_fork_fail_with_eagain(v1: CgroupBackend) -> None:
    def fork_until_refused(out: int) -> None:
        forked = 0
        while True:
            try:
                child = os.fork()
            except OSError as e:
                os.write(out, f"{forked} {e.errno}".encode())
                return
            if child == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
            if forked > 20:
                os.write(out, f"{forked} 0".encode())
                return

    with v1.create("box") as cg:
        cg.apply(CgroupLimits(memory_bytes=256 * MiB, pids_max=5, cpu_quota_cpus=1.0))
        pid, r = spawn_in(cg, fork_until_refused)
        forked, err = os.read(r, 100).decode().split()
        os.close(r)
        assert wait_exit(pid) == 0
        assert (int(forked), int(err)) == (4, errno.EAGAIN)  # the child itself is the 5th process
        assert len(v1_file(cg, "pids", "cgroup.procs").split()) == 4  # the sleepers, killed by destroy()


@pytest.mark.root
def test_v1_create_over_a_leftover_kills_its_processes_and_resets_counters(v1: CgroupBackend) -> None:
    def burn_then_sleep(ready: int) -> None:
        while time.process_time() < 0.1:
            pass
        sleep_forever(ready)

    old = v1.create("box")
    old.apply(CgroupLimits(memory_bytes=64 * MiB, pids_max=10, cpu_quota_cpus=1.0))
    pid, r = spawn_in(old, burn_then_sleep)
    assert os.read(r, 1) == b"x"
    assert old.cpu_time() > 0.05

    # A new worker after a crash: same parent, same box name.
    restarted = detect(parent=f"executor-test-{os.getpid()}")
    assert restarted.leftovers() == ["box"]
    new = restarted.create("box")
    assert wait_exit(pid) == -signal.SIGKILL
    os.close(r)
    assert tasks(new) == []
    assert new.cpu_time() == 0
    assert new.memory_peak() == 0
    assert not new.oom_killed()
    assert v1_file(new, "pids", "pids.max").strip() == "max"  # the old limits are gone too
    new.destroy()


@pytest.mark.root
def test_v1_leftovers_lists_existing_boxes_and_remove_is_idempotent(v1: CgroupBackend) -> None:
    v1.create("a")
    v1.create("b")
    assert v1.leftovers() == ["a", "b"]
    v1.remove("a")
    assert v1.leftovers() == ["b"]
    v1.remove("a")
    v1.remove("b")
    assert v1.leftovers() == []


@pytest.mark.root
def test_v1_leaving_the_context_manager_destroys_the_cgroup(v1: CgroupBackend) -> None:
    with v1.create("box") as cg:
        pid, r = spawn_in(cg, sleep_forever)
        assert os.read(r, 1) == b"x"
    assert wait_exit(pid) == -signal.SIGKILL
    os.close(r)
    assert v1.leftovers() == []


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", "cgroup.procs"])
def test_invalid_box_names_are_refused(v2: CgroupBackend, name: str) -> None:
    with pytest.raises(CgroupError, match="invalid cgroup name"):
        v2.create(name)


def test_limits_must_be_positive() -> None:
    with pytest.raises(CgroupError):
        CgroupLimits(memory_bytes=0, pids_max=1, cpu_quota_cpus=1.0)


# --- fake cgroupfs trees: v2 and detection ---

V2_BOX_FILES = {
    "cgroup.procs": "",
    "cgroup.kill": "",
    "cgroup.subtree_control": "",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.oom.group": "0\n",
    "memory.peak": "0\n",
    "memory.current": "0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    "pids.max": "max\n",
    "cpu.max": "max 100000\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    "io.max": "",
}


def fake_kernel(monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    """Make mkdir/rmdir behave like cgroupfs: a new directory comes with its interface files (and, on v2,
    cgroup.controllers = what the parent enabled), and rmdir removes them along with the directory."""

    def mkdir(path: str) -> None:
        os.mkdir(path)
        for name, content in files.items():
            Path(path, name).write_text(content)
        parent_subtree = Path(path).parent / "cgroup.subtree_control"
        if parent_subtree.exists():
            enabled = [c.lstrip("+") for c in parent_subtree.read_text().split()]
            Path(path, "cgroup.controllers").write_text(" ".join(enabled) + "\n")

    def rmdir(path: str) -> None:
        if any(p.is_dir() for p in Path(path).iterdir()):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        for p in Path(path).iterdir():
            p.unlink()
        os.rmdir(path)

    monkeypatch.setattr(cgroups, "_mkdir", mkdir)
    monkeypatch.setattr(cgroups, "_rmdir", rmdir)


def fake_v2_root(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    root.mkdir(exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n")
    return root


@pytest.fixture
def v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CgroupBackend:
    fake_kernel(monkeypatch, V2_BOX_FILES)
    return detect(mount_root=str(fake_v2_root(tmp_path)))


def test_v2_detected_when_root_lists_memory_and_controllers_enabled(
    v2: CgroupBackend, tmp_path: Path
) -> None:
    assert isinstance(v2, CgroupV2Backend) and v2.version == 2
    assert (tmp_path / "executor").is_dir()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu +io"
    assert (tmp_path / "executor" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu +io"


def test_v2_nested_delegated_parent_enables_controllers_below_the_delegation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kernel(monkeypatch, V2_BOX_FILES)
    root = fake_v2_root(tmp_path)
    service = root / "system.slice" / "sandbox.service"
    for d in (root / "system.slice", service):
        d.mkdir()
        (d / "cgroup.controllers").write_text("cpu io memory pids\n")
        (d / "cgroup.subtree_control").write_text("")
    backend = detect(parent="system.slice/sandbox.service/executor", mount_root=str(root))
    assert backend.version == 2
    assert (root / "system.slice" / "cgroup.subtree_control").read_text() == ""  # not ours to change
    assert (service / "cgroup.subtree_control").read_text() == "+memory +pids +cpu +io"
    assert (service / "executor" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu +io"


def test_v2_io_is_optional_but_memory_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kernel(monkeypatch, V2_BOX_FILES)
    detect(mount_root=str(fake_v2_root(tmp_path / "a", "cpu memory pids")))
    assert (tmp_path / "a" / "executor" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    fake_v2_root(tmp_path / "b", "cpu memory")
    with pytest.raises(CgroupError, match="pids"):
        CgroupV2Backend(str(tmp_path / "b"), "executor")


def test_v2_apply_writes_memory_swap_oom_group_pids_cpu_and_io(v2: CgroupBackend, tmp_path: Path) -> None:
    major, minor = whole_disk_device()
    cg = v2.create("box")
    cg.apply(CgroupLimits(32 * MiB, 17, 0.5, io_read_bps=1000, io_write_bps=2000, io_device=(major, minor)))
    box = tmp_path / "executor" / "box"
    assert (box / "memory.max").read_text() == str(32 * MiB)
    assert (box / "memory.swap.max").read_text() == "0"
    assert (box / "memory.oom.group").read_text() == "1"
    assert (box / "pids.max").read_text() == "17"
    assert (box / "cpu.max").read_text() == "50000 100000"
    assert (box / "io.max").read_text() == f"{major}:{minor} rbps=1000 wbps=2000"

    cg.apply(CgroupLimits(32 * MiB, 17, 2.0, io_write_bps=2000, io_device=(major, minor)))
    assert (box / "cpu.max").read_text() == "200000 100000"
    assert (box / "io.max").read_text() == f"{major}:{minor} wbps=2000"


def test_v2_io_throttle_on_a_device_that_does_not_exist_is_not_applied(
    v2: CgroupBackend, tmp_path: Path
) -> None:
    v2.create("box").apply(CgroupLimits(32 * MiB, 17, 1.0, io_read_bps=1000, io_device=(4095, 4095)))
    assert (tmp_path / "executor" / "box" / "io.max").read_text() == ""


def test_v2_missing_interface_file_fails_naming_the_file(v2: CgroupBackend, tmp_path: Path) -> None:
    cg = v2.create("box")
    (tmp_path / "executor" / "box" / "pids.max").unlink()
    with pytest.raises(CgroupError, match=r"box/pids\.max"):
        cg.apply(CgroupLimits(32 * MiB, 17, 1.0))


def test_v2_counters_are_parsed_from_the_kernel_files(v2: CgroupBackend, tmp_path: Path) -> None:
    cg = v2.create("box")
    box = tmp_path / "executor" / "box"
    assert (cg.cpu_time(), cg.memory_peak(), cg.oom_killed()) == (0, 0, False)
    (box / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
    (box / "memory.peak").write_text("12345678\n")
    (box / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 1\noom_kill 2\noom_group_kill 1\n")
    assert cg.cpu_time() == 1.5
    assert cg.memory_peak() == 12345678
    assert cg.oom_killed()
    (box / "memory.peak").unlink()  # kernels before 5.19
    (box / "memory.current").write_text("4096\n")
    assert cg.memory_peak() == 4096
    (box / "memory.events").write_text("low 0\n")
    with pytest.raises(CgroupError, match="oom_kill"):
        cg.oom_killed()


def test_v2_kill_writes_cgroup_kill(v2: CgroupBackend, tmp_path: Path) -> None:
    cg = v2.create("box")
    cg.kill()
    assert (tmp_path / "executor" / "box" / "cgroup.kill").read_text() == "1"


def test_v2_kill_without_cgroup_kill_sigkills_members_and_gives_up_loudly(
    v2: CgroupBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "executor" / "box"
    cg = v2.create("box")
    (box / "cgroup.kill").unlink()  # kernels before 5.14
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    # A fake cgroup.procs never empties, so this also shows that kill() is bounded.
    (box / "cgroup.procs").write_text(f"{pid}\n")
    monkeypatch.setattr(cgroups, "KILL_TIMEOUT_S", 0.2)
    with pytest.raises(CgroupError, match="still in"):
        cg.kill()
    assert wait_exit(pid) == -signal.SIGKILL


def test_v2_open_procs_fds_and_join_write_zero(v2: CgroupBackend, tmp_path: Path) -> None:
    cg = v2.create("box")
    fds = cg.open_procs_fds()
    assert len(fds) == 1 and not os.get_inheritable(fds[0])
    join_via_fds(fds)
    os.close(fds[0])
    assert (tmp_path / "executor" / "box" / "cgroup.procs").read_text() == "0"


def test_v2_create_recreates_a_leftover_fresh_and_destroy_is_idempotent(
    v2: CgroupBackend, tmp_path: Path
) -> None:
    box = tmp_path / "executor" / "box"
    v2.create("box")
    (box / "cpu.stat").write_text("usage_usec 5000000\n")
    assert v2.leftovers() == ["box"]
    cg = v2.create("box")
    assert cg.cpu_time() == 0
    cg.destroy()
    assert not box.exists()
    cg.destroy()
    v2.remove("box")
    assert v2.leftovers() == []


# --- detection ---


def fake_v1_root(root: Path, co_mount_cpu: bool = False) -> Path:
    """A hybrid host: v1 hierarchies per controller plus a controller-less cgroup2 at unified/."""
    for ctrl in ("memory", "pids", "freezer", "blkio", "unified"):
        (root / ctrl).mkdir(parents=True)
        (root / ctrl / "cgroup.procs").write_text("1\n")
    (root / "unified" / "cgroup.controllers").write_text("\n")
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    if co_mount_cpu:
        (root / "cpu,cpuacct").mkdir()
        (root / "cpu,cpuacct" / "cgroup.procs").write_text("1\n")
        (root / "cpu").symlink_to("cpu,cpuacct")
        (root / "cpuacct").symlink_to("cpu,cpuacct")
    else:
        for ctrl in ("cpu", "cpuacct"):
            (root / ctrl).mkdir()
            (root / ctrl / "cgroup.procs").write_text("1\n")
    return root


def test_detect_hybrid_tree_gives_v1_and_turns_on_memory_hierarchy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kernel(monkeypatch, {"cgroup.procs": "", "tasks": "", "memory.use_hierarchy": "0\n"})
    backend = detect(mount_root=str(fake_v1_root(tmp_path)))
    assert isinstance(backend, CgroupV1Backend) and backend.version == 1
    for ctrl in V1_CONTROLLERS:
        assert (tmp_path / ctrl / "executor").is_dir()
    assert (tmp_path / "memory" / "executor" / "memory.use_hierarchy").read_text() == "1"


def test_detect_v1_dedupes_co_mounted_cpu_and_cpuacct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kernel(monkeypatch, {"cgroup.procs": "", "tasks": "", "memory.use_hierarchy": "1\n"})
    backend = detect(mount_root=str(fake_v1_root(tmp_path, co_mount_cpu=True)))
    cg = backend.create("box")
    dirs = [os.path.relpath(d, tmp_path) for d in cg.directories()]
    assert sorted(dirs) == sorted(
        f"{c}/executor/box" for c in ("memory", "cpu,cpuacct", "pids", "blkio", "freezer")
    )
    fds = cg.open_procs_fds()
    assert len(fds) == 5
    for fd in fds:
        os.close(fd)
    cg.destroy()
    assert backend.leftovers() == []


def test_detect_v1_without_a_required_controller_fails_naming_it(tmp_path: Path) -> None:
    root = fake_v1_root(tmp_path)
    (root / "freezer" / "cgroup.procs").unlink()
    with pytest.raises(CgroupError, match="freezer"):
        detect(mount_root=str(root))


def test_detect_empty_tree_raises(tmp_path: Path) -> None:
    with pytest.raises(CgroupError, match="no usable cgroups"):
        detect(mount_root=str(tmp_path))


def test_detect_v2_root_without_memory_controller_raises(tmp_path: Path) -> None:
    with pytest.raises(CgroupError, match="no usable cgroups"):
        detect(mount_root=str(fake_v2_root(tmp_path, "cpu pids")))
