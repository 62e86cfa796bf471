"""Operator settings of the runtime, read from EXECUTOR_* environment variables with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from executor.limits import DEFAULT_MAXIMA, Limits, maxima_from_env

MAX_POOL = 16  # prepared boxes per worker process
MAX_IMAGE_BYTES = 64 * 1024**3  # the largest image an operator may allow
MAX_IMAGE_FILES = 5_000_000


@dataclass(frozen=True)
class Config:
    # Where per-slot locks, workspaces and mount points live. Root-owned, 0700: boxes never see it.
    state_dir: str = "/run/executor"
    # How many boxes may exist at once on this host; each slot owns a uid/gid range and a cgroup.
    slots: int = 64
    # First host uid/gid of slot 0; slot n maps box ids 0..65535 onto id_base + n * 65536.
    id_base: int = 100000
    # The cgroup (relative to the cgroup mount) under which every box's cgroup is made.
    cgroup_parent: str = "executor"
    cgroup_mount: str = "/sys/fs/cgroup"
    maxima: Limits = field(default_factory=lambda: DEFAULT_MAXIMA)
    # Block-I/O throttle of each box on the disk that holds the runtime (/usr), in bytes per second. Boxes
    # write only to tmpfs, so this bounds how hard one box can hit the host's disk by reading its files.
    io_read_bps: int = 128 * 1024 * 1024
    io_write_bps: int = 32 * 1024 * 1024
    # Fork boxes from a small launcher process rather than from the caller (see executor/launcher.py).
    launcher: bool = True
    # The image store (executor/images.py): unpacked layers and their archives, root only.
    images_dir: str = "/var/lib/executor/images"
    # What one image may hold, checked while its layers are unpacked (an archive that inflates to more stops there).
    image_max_bytes: int = 4 * 1024**3
    image_max_files: int = 500_000
    # Boxes each worker process keeps prepared (namespaces, init, the fixed part of the root) for its next runs;
    # 0 prepares each box when its run starts. Each costs three sleeping processes and a network namespace.
    pool: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        return cls(
            state_dir=env.get("EXECUTOR_STATE_DIR", cls.state_dir),
            slots=_int(env, "EXECUTOR_SLOTS", cls.slots),
            id_base=_int(env, "EXECUTOR_ID_BASE", cls.id_base),
            cgroup_parent=env.get("EXECUTOR_CGROUP_PARENT", cls.cgroup_parent),
            cgroup_mount=env.get("EXECUTOR_CGROUP_MOUNT", cls.cgroup_mount),
            maxima=maxima_from_env(env),
            io_read_bps=_int(env, "EXECUTOR_IO_READ_BPS", cls.io_read_bps),
            io_write_bps=_int(env, "EXECUTOR_IO_WRITE_BPS", cls.io_write_bps),
            launcher=env.get("EXECUTOR_LAUNCHER", "1") != "0",
            pool=_int(env, "EXECUTOR_POOL", cls.pool, maximum=MAX_POOL),
            images_dir=env.get("EXECUTOR_IMAGES_DIR", cls.images_dir),
            image_max_bytes=_int(env, "EXECUTOR_IMAGE_MAX_BYTES", cls.image_max_bytes, maximum=MAX_IMAGE_BYTES),
            image_max_files=_int(env, "EXECUTOR_IMAGE_MAX_FILES", cls.image_max_files, maximum=MAX_IMAGE_FILES),
        )


def _int(env: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: not a whole number: {raw!r}") from None
    if maximum is not None and not 0 <= value <= maximum:
        raise ValueError(f"{name}: must be between 0 and {maximum}, not {value}")
    return value
