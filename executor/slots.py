"""Slots: at most `Config.slots` boxes exist on a host at once, each owning a uid range, a cgroup and directories.

A slot is held by an exclusive flock on its lock file for the sandbox's whole life. A worker that dies mid-run
drops its locks with its file descriptors, so a slot whose lock can be taken but whose directories, mounts or
cgroup still exist is a leftover of a crashed run: whoever takes the slot next (or `cleanup_leftovers` at start)
removes them before use.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

from executor import mounts
from executor.cgroups import CgroupBackend
from executor.config import Config


class NoFreeSlot(RuntimeError):
    pass


@dataclass
class Slot:
    number: int
    lock_fd: int
    path: str  # <state_dir>/slot-<n>: the workspace mount point lives here

    @property
    def cgroup_name(self) -> str:
        return f"slot-{self.number}"

    @property
    def workspace(self) -> str:
        return f"{self.path}/ws"

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # closing the last fd of the open file description drops the flock
            self.lock_fd = -1


def _lock_path(config: Config, number: int) -> str:
    return f"{config.state_dir}/locks/{number}.lock"


def prepare_state_dir(config: Config) -> None:
    mounts.state_mount(config.state_dir)
    for path in (f"{config.state_dir}/locks", f"{config.state_dir}/mnt/root", f"{config.state_dir}/mnt/scratch",
                 f"{config.state_dir}/mnt/top"):  # fmt: skip
        os.makedirs(path, mode=0o700, exist_ok=True)


def _try_lock(config: Config, number: int) -> int | None:
    fd = os.open(_lock_path(config, number), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def acquire(config: Config, backend: CgroupBackend, start: int = 0) -> Slot:
    """Take the first free slot, after removing whatever a crashed holder left in it."""
    prepare_state_dir(config)
    for i in range(config.slots):
        number = (start + i) % config.slots
        fd = _try_lock(config, number)
        if fd is None:
            continue
        slot = Slot(number, fd, f"{config.state_dir}/slot-{number}")
        if has_leftovers(slot, backend):
            clean(slot, backend)
        return slot
    raise NoFreeSlot(f"all {config.slots} sandbox slots are busy")


def has_leftovers(slot: Slot, backend: CgroupBackend) -> bool:
    """Whether anything of the slot exists (a few stat calls): what `clean` would remove."""
    return os.path.lexists(slot.path) or backend.exists(slot.cgroup_name)


def vacate(slot: Slot, backend: CgroupBackend) -> None:
    """Hand back a slot its sandbox has emptied (workspace unmounted, cgroup removed after each run); whatever is
    left (a run that failed half-way) is cleaned first."""
    try:
        os.rmdir(slot.path)
        emptied = True
    except FileNotFoundError:
        emptied = True
    except OSError:  # a mount or a directory is left
        emptied = False
    if not emptied or backend.exists(slot.cgroup_name):
        clean(slot, backend)
    slot.release()


def clean(slot: Slot, backend: CgroupBackend) -> None:
    """Remove a slot's cgroup (killing what is in it), mounts and directories. Idempotent; caller holds the lock."""
    backend.remove(slot.cgroup_name)
    for point in mounts.mounted_below(slot.path):
        mounts.unmount_all(point)
    for path in (slot.workspace, slot.path):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass


def cleanup_leftovers(config: Config, backend: CgroupBackend) -> int:
    """Clean every slot nobody holds; return how many had leftovers. Called when a worker starts."""
    prepare_state_dir(config)
    cleaned = 0
    stale_cgroups = set(backend.leftovers())
    for number in range(config.slots):
        fd = _try_lock(config, number)
        if fd is None:
            continue
        slot = Slot(number, fd, f"{config.state_dir}/slot-{number}")
        try:
            if os.path.lexists(slot.path) or slot.cgroup_name in stale_cgroups:
                clean(slot, backend)
                cleaned += 1
        finally:
            slot.release()
    return cleaned
