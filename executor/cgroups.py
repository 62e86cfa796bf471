"""Cgroups: one box's resource limits and accounting, on cgroup v2 or on the legacy v1 hierarchies.

Lifecycle (learned from isolate's --init / --run / --cleanup):

    backend = detect()                 # once per worker: picks v2 or v1, prepares the parent cgroup
    for name in backend.leftovers():   # cgroups left behind by a crashed earlier worker
        backend.remove(name)
    with backend.create("box-0") as cg:
        cg.apply(limits)
        fds = cg.open_procs_fds()      # opened by the host, before forking
        # child (still real root): join_via_fds(fds); drop privileges; exec
        ... wait for the child ...
        cg.kill()                      # stragglers: daemons, orphans, fork bombs
        cg.cpu_time(), cg.memory_peak(), cg.oom_killed()
    # leaving the block destroys the cgroup (idempotent)

The host writes only to interface files inside cgroup directories it created itself; sandboxed processes cannot
write to cgroupfs, so these paths need no symlink checks. Every failure raises CgroupError naming the file.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType

CPU_PERIOD_US = 100_000  # CFS bandwidth period (µs); the quota is expressed per this period
KILL_TIMEOUT_S = 5.0  # kill() gives up (and raises) if the cgroup is still not empty after this long
RMDIR_TIMEOUT_S = 2.0  # destroy() retries rmdir on EBUSY this long: exiting tasks leave the cgroup lazily
SYS_DEV_BLOCK = "/sys/dev/block"  # a "MAJ:MIN" entry here means the device is a real block device


class CgroupError(Exception):
    """A cgroup operation failed; the message names the file or directory."""


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int  # hard RAM limit in bytes, swap disabled; no default: every box must state it
    pids_max: int  # max processes + threads in the box (fork bombs hit this, not the host's limit)
    cpu_quota_cpus: float  # CPU bandwidth in CPUs (1.0 = one full core, 0.5 = half a core)
    io_read_bps: int | None = None  # bytes/s read from io_device; None = not throttled
    io_write_bps: int | None = None  # bytes/s written to io_device; None = not throttled
    io_device: tuple[int, int] | None = None  # (major, minor) of a whole disk; ignored if not a block device

    def __post_init__(self) -> None:
        if self.memory_bytes <= 0 or self.pids_max <= 0 or self.cpu_quota_cpus <= 0:
            raise CgroupError(f"cgroup limits must be positive: {self}")

    @property
    def cpu_quota_us(self) -> int:
        return max(1, round(self.cpu_quota_cpus * CPU_PERIOD_US))

    def io_throttled_device(self) -> str | None:
        """'MAJ:MIN' when an I/O throttle was asked for on a device that really exists, else None."""
        if self.io_device is None or (self.io_read_bps is None and self.io_write_bps is None):
            return None
        device = f"{self.io_device[0]}:{self.io_device[1]}"
        return device if os.path.exists(os.path.join(SYS_DEV_BLOCK, device)) else None


def whole_disk_of(path: str) -> tuple[int, int] | None:
    """(major, minor) of the whole disk holding `path`, or None when no block device is involved (tmpfs,
    overlay, network filesystems): the I/O controllers throttle whole disks only."""
    dev = os.stat(path).st_dev
    sys_path = os.path.join(SYS_DEV_BLOCK, f"{os.major(dev)}:{os.minor(dev)}")
    if not os.path.exists(sys_path):
        return None
    if os.path.exists(os.path.join(sys_path, "partition")):
        sys_path = os.path.dirname(os.path.realpath(sys_path))
        try:
            with open(os.path.join(sys_path, "dev")) as f:
                major, minor = f.read().strip().split(":")
        except OSError:
            return None
        return int(major), int(minor)
    return os.major(dev), os.minor(dev)


# --- file helpers: every cgroupfs access goes through these, so every error names its file ---


# _mkdir and _rmdir are the only two calls whose effect on cgroupfs differs from a plain directory (the kernel
# adds and removes the interface files); tests replace them to fake a cgroupfs in a temporary directory.


def _mkdir(path: str) -> None:
    os.mkdir(path, 0o755)


def _rmdir(path: str) -> None:
    os.rmdir(path)


def _write(path: str, value: str) -> None:
    # No O_CREAT: a missing interface file means a missing controller, which must fail, not create a file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())  # one write(2): cgroupfs parses each write as a whole
        finally:
            os.close(fd)
    except OSError as e:
        raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror}") from e


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from e


def _read_int(path: str) -> int:
    text = _read(path).strip()
    try:
        return int(text)
    except ValueError as e:
        raise CgroupError(f"unexpected content {text!r} in {path}") from e


def _read_key(path: str, key: str) -> int:
    """The value of `key` in a flat-keyed file ("key value" lines: memory.events, cpu.stat, oom_control)."""
    for line in _read(path).splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == key and fields[1].isdigit():
            return int(fields[1])
    raise CgroupError(f"no {key!r} counter in {path}")


def _pids(path: str) -> list[int]:
    """Pids listed in a cgroup.procs/tasks file; a cgroup that is already gone holds none."""
    try:
        with open(path, encoding="ascii") as f:
            return [int(line) for line in f.read().split()]
    except FileNotFoundError:
        return []
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from e


def _sigkill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already exited between listing and killing


def _remove_dir(path: str) -> None:
    """Remove a cgroup directory; already gone is fine. EBUSY while exiting tasks drain is retried briefly."""
    deadline = time.monotonic() + RMDIR_TIMEOUT_S
    while True:
        try:
            _rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise CgroupError(f"cannot remove {path}: {e.strerror}") from e
        time.sleep(0.01)


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or name.startswith("cgroup."):
        raise CgroupError(f"invalid cgroup name {name!r}")


def join_via_fds(fds: list[int]) -> None:
    """Move the calling process into the cgroup: write "0" (= myself) to each cgroup.procs fd.

    Meant for a forked child that is still real root, before it drops privileges and execs. It only calls
    write(2), so it is safe right after fork(); an OSError propagates and the child must _exit on it.
    """
    for fd in fds:
        os.write(fd, b"0")


# --- the interface ---


class Cgroup(ABC):
    """One box's cgroup (in every hierarchy on v1), for one run."""

    name: str

    @abstractmethod
    def apply(self, limits: CgroupLimits) -> None: ...

    @abstractmethod
    def procs_files(self) -> list[str]:
        """The cgroup.procs file of every hierarchy this cgroup lives in."""

    def open_procs_fds(self) -> list[int]:
        """O_WRONLY|O_CLOEXEC fds of every cgroup.procs, for join_via_fds() in a forked child."""
        fds: list[int] = []
        for path in self.procs_files():
            try:
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
            except OSError as e:
                for fd in fds:
                    os.close(fd)
                raise CgroupError(f"cannot open {path}: {e.strerror}") from e
        return fds

    @abstractmethod
    def cpu_time(self) -> float:
        """Seconds of CPU used by every process and thread that ever ran in the cgroup."""

    @abstractmethod
    def memory_peak(self) -> int:
        """Peak memory usage in bytes."""

    @abstractmethod
    def oom_killed(self) -> bool:
        """True if the kernel's OOM killer killed something in this cgroup."""

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL every process in the cgroup and wait until it is empty (bounded: raises CgroupError)."""

    @abstractmethod
    def directories(self) -> list[str]: ...

    def destroy(self) -> None:
        """Kill everything, then remove the cgroup's directories. Idempotent."""
        self.kill()
        for path in self.directories():
            _remove_dir(path)

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()


class CgroupBackend(ABC):
    """Creates boxes' cgroups under the executor's parent cgroup."""

    version: int  # 1 or 2

    @abstractmethod
    def _cgroup(self, name: str) -> Cgroup: ...

    @abstractmethod
    def _parent_dirs(self) -> list[str]: ...

    def create(self, name: str) -> Cgroup:
        """A fresh, empty cgroup. A leftover of the same name (crashed worker) is destroyed first, so that
        no old process stays inside and every counter (CPU, peak memory, OOM kills) starts from zero."""
        _check_name(name)
        cgroup = self._cgroup(name)
        if self.exists(name):
            cgroup.destroy()
        for path in cgroup.directories():
            try:
                _mkdir(path)
            except OSError as e:
                raise CgroupError(f"cannot create {path}: {e.strerror}") from e
        return cgroup

    def leftovers(self) -> list[str]:
        """Names of the child cgroups that currently exist under the executor's parent."""
        names: set[str] = set()
        for parent in self._parent_dirs():
            try:
                names.update(e.name for e in os.scandir(parent) if e.is_dir(follow_symlinks=False))
            except OSError as e:
                raise CgroupError(f"cannot list {parent}: {e.strerror}") from e
        return sorted(names)

    def exists(self, name: str) -> bool:
        """Whether a cgroup of this name exists in any hierarchy."""
        _check_name(name)
        return any(os.path.isdir(path) for path in self._cgroup(name).directories())

    def remove(self, name: str) -> None:
        """Kill and remove a (leftover) cgroup by name; a missing one is fine."""
        _check_name(name)
        self._cgroup(name).destroy()


# --- cgroup v2: one unified hierarchy ---


class CgroupV2(Cgroup):
    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def apply(self, limits: CgroupLimits) -> None:
        _write(self._file("memory.max"), str(limits.memory_bytes))
        # memory.swap.max is absent only on kernels built without swap accounting: nothing to switch off.
        if os.path.exists(self._file("memory.swap.max")):
            _write(self._file("memory.swap.max"), "0")
        # On OOM kill the whole box, not one victim: a half-killed program would go on and produce
        # misleading output, and the OOM verdict must cover the run as a whole.
        _write(self._file("memory.oom.group"), "1")
        _write(self._file("pids.max"), str(limits.pids_max))
        _write(self._file("cpu.max"), f"{limits.cpu_quota_us} {CPU_PERIOD_US}")
        device = limits.io_throttled_device()
        if device is not None:
            rates = [f"rbps={limits.io_read_bps}"] if limits.io_read_bps is not None else []
            rates += [f"wbps={limits.io_write_bps}"] if limits.io_write_bps is not None else []
            _write(self._file("io.max"), " ".join([device, *rates]))

    def procs_files(self) -> list[str]:
        return [self._file("cgroup.procs")]

    def cpu_time(self) -> float:
        return _read_key(self._file("cpu.stat"), "usage_usec") / 1e6

    def memory_peak(self) -> int:
        # memory.peak exists since Linux 5.19; before that the current usage is the best lower bound left.
        if os.path.exists(self._file("memory.peak")):
            return _read_int(self._file("memory.peak"))
        return _read_int(self._file("memory.current"))

    def oom_killed(self) -> bool:
        return _read_key(self._file("memory.events"), "oom_kill") > 0

    def kill(self) -> None:
        if not os.path.isdir(self.path):
            return
        procs = self._file("cgroup.procs")
        deadline = time.monotonic() + KILL_TIMEOUT_S
        # cgroup.kill (Linux 5.14+) kills the whole cgroup atomically, so forking cannot outrun it. Without
        # it, repeat SIGKILL rounds: each round kills all current members, children forked meanwhile are
        # caught by the next round, and pids.max bounds how many there can be.
        has_kill = os.path.exists(self._file("cgroup.kill"))
        if has_kill:
            _write(self._file("cgroup.kill"), "1")
        while pids := _pids(procs):
            if time.monotonic() > deadline:
                raise CgroupError(f"processes {pids} still in {procs} after {KILL_TIMEOUT_S} s")
            if not has_kill:
                _sigkill(pids)
            time.sleep(0.005)

    def directories(self) -> list[str]:
        return [self.path]


class CgroupV2Backend(CgroupBackend):
    version = 2
    REQUIRED = ("memory", "pids", "cpu")
    OPTIONAL = ("io",)

    def __init__(self, mount_root: str, parent: str) -> None:
        self.path = os.path.join(mount_root, parent)
        parts = [p for p in parent.split("/") if p]
        if not parts or ".." in parts:
            raise CgroupError(f"invalid parent cgroup {parent!r}")
        levels = [os.path.join(mount_root, *parts[:i]) for i in range(len(parts) + 1)]  # root .. parent
        for i, path in enumerate(levels):
            if not os.path.isdir(path):
                try:
                    _mkdir(path)
                except OSError as e:
                    raise CgroupError(f"cannot create {path}: {e.strerror}") from e
            # A box gets a controller only if every ancestor enabled it in its subtree_control: at least the
            # parent's parent (for a delegated service, its own cgroup) and the parent, plus every level that
            # is about to be created here. Top-down, before creating the child level, as the kernel requires.
            if i >= len(parts) - 1 or not os.path.isdir(levels[i + 1]):
                self._enable_controllers(path)

    @classmethod
    def _enable_controllers(cls, path: str) -> None:
        available = _read(os.path.join(path, "cgroup.controllers")).split()
        missing = [c for c in cls.REQUIRED if c not in available]
        if missing:
            raise CgroupError(f"controllers {missing} not available in {path}/cgroup.controllers")
        wanted = [*cls.REQUIRED, *(c for c in cls.OPTIONAL if c in available)]
        try:
            _write(os.path.join(path, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
        except CgroupError as e:
            # EBUSY here is cgroup v2's "no internal processes" rule: a cgroup that holds processes itself
            # cannot hand controllers to its children. The worker must live in a sibling leaf cgroup.
            raise CgroupError(f"{e} (processes living directly in {path} block enabling controllers)") from e

    def _cgroup(self, name: str) -> CgroupV2:
        return CgroupV2(name, os.path.join(self.path, name))

    def _parent_dirs(self) -> list[str]:
        return [self.path]


# --- cgroup v1: one hierarchy per controller ---

V1_REQUIRED = ("memory", "cpu", "cpuacct", "pids", "freezer")
V1_OPTIONAL = ("blkio",)


class CgroupV1(Cgroup):
    def __init__(self, name: str, parents: dict[str, str]) -> None:
        self.name = name
        # controller -> this cgroup's directory; co-mounted controllers (cpu,cpuacct) share one directory
        self.dirs = {ctrl: os.path.join(parent, name) for ctrl, parent in parents.items()}

    def _file(self, ctrl: str, name: str) -> str:
        return os.path.join(self.dirs[ctrl], name)

    def apply(self, limits: CgroupLimits) -> None:
        limit = str(limits.memory_bytes)
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        has_memsw = os.path.exists(memsw)  # absent when the kernel does no swap accounting (swapaccount=0)
        # The kernel insists memsw >= limit at every moment: lift memsw first, then lower both in order.
        if has_memsw:
            _write(memsw, "-1")
        _write(self._file("memory", "memory.limit_in_bytes"), limit)
        if has_memsw:
            _write(memsw, limit)
        # Without memsw accounting this is the only thing that keeps the box off swap.
        _write(self._file("memory", "memory.swappiness"), "0")
        _write(self._file("pids", "pids.max"), str(limits.pids_max))
        _write(self._file("cpu", "cpu.cfs_period_us"), str(CPU_PERIOD_US))
        _write(self._file("cpu", "cpu.cfs_quota_us"), str(limits.cpu_quota_us))
        device = limits.io_throttled_device()
        if device is not None:
            if "blkio" not in self.dirs:
                raise CgroupError(f"I/O throttle for {device} requested but no blkio hierarchy is mounted")
            if limits.io_read_bps is not None:
                _write(self._blkio("read"), f"{device} {limits.io_read_bps}")
            if limits.io_write_bps is not None:
                _write(self._blkio("write"), f"{device} {limits.io_write_bps}")

    def _blkio(self, direction: str) -> str:
        return self._file("blkio", f"blkio.throttle.{direction}_bps_device")

    def directories(self) -> list[str]:
        return list(dict.fromkeys(self.dirs.values()))

    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.directories()]

    def cpu_time(self) -> float:
        return _read_int(self._file("cpuacct", "cpuacct.usage")) / 1e9

    def memory_peak(self) -> int:
        return _read_int(self._file("memory", "memory.max_usage_in_bytes"))

    def oom_killed(self) -> bool:
        # "oom_kill N" in memory.oom_control exists since Linux 4.13.
        return _read_key(self._file("memory", "memory.oom_control"), "oom_kill") > 0

    def _members(self) -> list[int]:
        # `tasks` (threads), not cgroup.procs: in v1 a single thread can sit in another cgroup than its
        # process, and the cgroup is only empty (removable) once no thread is left. kill(tid) kills the
        # whole process.
        return sorted({pid for d in self.directories() for pid in _pids(os.path.join(d, "tasks"))})

    def kill(self) -> None:
        state = self._file("freezer", "freezer.state")
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while pids := self._members():
            if time.monotonic() > deadline:
                raise CgroupError(f"processes {pids} still in {self.name} after {KILL_TIMEOUT_S} s")
            # v1 has no cgroup.kill. Freeze first so nothing can fork between listing the pids and killing
            # them; frozen tasks keep the SIGKILL pending and die as soon as they are thawed.
            _write(state, "FROZEN")
            freeze_deadline = min(deadline, time.monotonic() + 0.5)
            # FREEZING can persist (e.g. a task in uninterruptible sleep); kill anyway and go round again.
            while _read(state).strip() != "FROZEN" and time.monotonic() < freeze_deadline:
                time.sleep(0.001)
            _sigkill(self._members())
            _write(state, "THAWED")
            time.sleep(0.005)


class CgroupV1Backend(CgroupBackend):
    version = 1

    def __init__(self, mount_root: str, parent: str) -> None:
        if not parent or ".." in parent.split("/"):
            raise CgroupError(f"invalid parent cgroup {parent!r}")
        self.parents: dict[str, str] = {}
        for ctrl in (*V1_REQUIRED, *V1_OPTIONAL):
            hierarchy = os.path.join(mount_root, ctrl)
            if not os.path.isfile(os.path.join(hierarchy, "cgroup.procs")):
                if ctrl in V1_OPTIONAL:
                    continue
                raise CgroupError(f"cgroup v1 controller {ctrl!r} is not mounted at {hierarchy}")
            # realpath: where cpu and cpuacct are co-mounted ("cpu,cpuacct" plus symlinks) both map to one
            # directory, which must be created, joined and removed only once.
            self.parents[ctrl] = os.path.realpath(os.path.join(hierarchy, parent))
        for path in dict.fromkeys(self.parents.values()):
            if not os.path.isdir(path):
                try:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    _mkdir(path)
                except OSError as e:
                    raise CgroupError(f"cannot create {path}: {e.strerror}") from e
        # Kernels before 5.11 default to non-hierarchical memory accounting; turn it on for the parent (only
        # possible while it has no children) so a limit an operator sets on the parent caps all boxes at once.
        use_hierarchy = os.path.join(self.parents["memory"], "memory.use_hierarchy")
        if _read(use_hierarchy).strip() == "0":
            _write(use_hierarchy, "1")

    def _cgroup(self, name: str) -> CgroupV1:
        return CgroupV1(name, self.parents)

    def _parent_dirs(self) -> list[str]:
        return list(dict.fromkeys(self.parents.values()))


def detect(parent: str = "executor", mount_root: str = "/sys/fs/cgroup") -> CgroupBackend:
    """The cgroup backend of this host, with the executor's parent cgroup `parent` created and prepared.

    Pure v2 if the unified hierarchy is mounted at `mount_root` with the memory controller; otherwise the v1
    hierarchies mounted under it (hybrid hosts mount a controller-less cgroup2 at <mount_root>/unified).
    """
    controllers = os.path.join(mount_root, "cgroup.controllers")
    if os.path.isfile(controllers) and "memory" in _read(controllers).split():
        return CgroupV2Backend(mount_root, parent)
    if os.path.isfile(os.path.join(mount_root, "memory", "memory.limit_in_bytes")):
        return CgroupV1Backend(mount_root, parent)
    raise CgroupError(f"no usable cgroups under {mount_root} (no v2 with memory, no v1 memory hierarchy)")
