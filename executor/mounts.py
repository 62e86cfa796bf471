"""Filesystems of a box: the layout as data, the host-side workspace, and the root built inside the box.

Host side (the worker, host root): a workspace tmpfs per sandbox holds read-only layers made before the program
ever runs (`files/`: the submission) or by a finished stage (`build/`: the compile stage's upper layer). The host
writes only fresh files into fresh directories (O_EXCL|O_NOFOLLOW relative to a directory fd) and never reads,
chowns or deletes anything a program wrote: it throws the whole tmpfs away with one lazy unmount.

Box side (the box's init, host root inside the new mount namespace): a fresh tmpfs becomes `/`; the host's runtime
directories are bind-mounted read-only into it; `/etc` is generated; `/box` is an overlay of the layers with a
throw-away upper layer on a size- and inode-limited tmpfs; then pivot_root and the old root detached. Every mount
made there lives in the box's private mount namespace and vanishes with its last process.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from executor import syscalls
from executor.namespaces import BOX_UID, BOX_USER, HOSTNAME

S = syscalls
RO_FLAGS = S.MS_RDONLY | S.MS_NOSUID | S.MS_NODEV


GENERATED_ETC = {
    "passwd": f"root:x:0:0:root:/root:/bin/false\n{BOX_USER}:x:{BOX_UID}:{BOX_UID}:{BOX_USER}:/box:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "group": f"root:x:0:\n{BOX_USER}:x:{BOX_UID}:\nnogroup:x:65534:\n",
    "hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "hostname": f"{HOSTNAME}\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    "resolv.conf": "",
    "os-release": 'NAME="sandbox"\nID=sandbox\n',
}


@dataclass(frozen=True)
class Layout:
    """What of the host a box sees. Everything is read-only; nothing else of the host is there."""

    # Host directories bind-mounted read-only at the same path (merged-/usr systems make /bin, /lib... links).
    runtime: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
    # Host /etc entries the language runtimes need, bound read-only: the alternatives' link farm, the JVM's config,
    # Mono's (which maps its class library to its native library: without it no file can be opened).
    etc_binds: tuple[str, ...] = ("/etc/alternatives", "/etc/java-17-openjdk", "/etc/ld.so.conf.d", "/etc/mono")
    # Host /etc files copied (read by the host from its own /etc, never from a box).
    etc_copies: tuple[str, ...] = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/mime.types")
    # The root's files: empty for the host's own runtime (the binds below), else an image's unpacked layers, top
    # first (executor/images.py): the root is then an overlay of them and `runtime`, `etc_copies` and `etc_binds`
    # are not used.
    image_layers: tuple[str, ...] = ()
    # Devices bound from the host's /dev; nothing else (no tty, no pts, no block devices).
    devices: tuple[str, ...] = ("null", "zero", "full", "random", "urandom")
    # /proc entries hidden (bound over with /dev/null) or made read-only, as Docker does.
    proc_masked: tuple[str, ...] = (
        "kcore", "keys", "timer_list", "sched_debug", "latency_stats", "kallsyms", "key-users", "kpagecount",
        "kpageflags", "kpagecgroup", "sysrq-trigger", "config.gz", "vmallocinfo", "kmsg",
    )  # fmt: skip
    proc_readonly: tuple[str, ...] = ("sys", "irq", "bus", "fs", "asound", "acpi", "scsi", "driver", "tty")
    etc_files: dict[str, str] = field(default_factory=lambda: dict(GENERATED_ETC))




# --------------------------------------------------------------------------------------------- host side ----


class Workspace:
    """A sandbox's tmpfs on the host: `files/` (the submission) and the layers kept from earlier stages."""

    def __init__(self, path: str, size_mib: int, inodes: int, owner: int = 0) -> None:
        self.path = path
        self.owner = owner  # host uid of the box user: the program owns its submitted files and directories
        os.makedirs(path, mode=0o700, exist_ok=True)
        S.mount("tmpfs", path, "tmpfs", S.MS_NOSUID | S.MS_NODEV, f"size={size_mib}m,nr_inodes={inodes},mode=700")
        self._dirfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.files = self.new_layer_dir("files")

    def new_layer_dir(self, name: str) -> str:
        os.mkdir(name, 0o755, dir_fd=self._dirfd)
        return os.path.join(self.path, name)

    def write_file(self, relpath: str, data: bytes, mode: int = 0o644) -> None:
        """Create a file in `files/`, and its parent directories, without following any link."""
        parts = _safe_parts(relpath)
        fd = os.open("files", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._dirfd)
        try:
            for part in parts[:-1]:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    made = True
                except FileExistsError:
                    made = False
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nxt
                if made:
                    os.fchown(fd, self.owner, self.owner)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            out = os.open(parts[-1], flags, mode & 0o755, dir_fd=fd)
            try:
                os.fchown(out, self.owner, self.owner)
                os.fchmod(out, mode & 0o755)  # fchown clears nothing here, but the umask may have
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view) :]
            finally:
                os.close(out)
        finally:
            os.close(fd)

    def destroy(self) -> None:
        """Throw the tmpfs away: no walk, no unlink, no link followed. Idempotent."""
        if self._dirfd >= 0:
            os.close(self._dirfd)
            self._dirfd = -1
        unmount_all(self.path)
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass


def _safe_parts(relpath: str) -> list[str]:
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in relpath:
        raise ValueError(f"file name {relpath!r}: must be a relative path without '.', '..' or empty parts")
    if any(len(p.encode()) > 255 for p in parts) or len(relpath.encode()) > 1024:
        raise ValueError(f"file name {relpath!r}: too long")
    return parts


def unmount_all(path: str) -> None:
    """Lazily unmount everything mounted at `path` (repeat: mounts may be stacked). Never follows a link."""
    while True:
        try:
            S.umount(path)
        except OSError as e:
            if e.errno in (22, 2):  # EINVAL: not a mount point any more; ENOENT: gone
                return
            raise


def state_mount(path: str) -> None:
    """Make the executor's state directory a small tmpfs of its own with shared propagation, once per host.

    Shared: prepared boxes copy the host's mounts when they are made, and what is mounted under `path` later (a
    sandbox's workspace) reaches them only by propagation from a shared mount. A tmpfs: slot directories, mount
    points and lock files are made and removed for every sandbox, and on a disk filesystem those metadata changes
    wait behind the journal whenever something else (the database) writes. Lock files on a tmpfs live exactly as
    long as the boxes they guard can (until reboot). Whoever mounts it first holds a lock on the parent directory,
    so that two workers starting at once cannot stack two tmpfs (and so hand out the same slot twice).
    """
    if path in _STATE_MOUNTS:
        return
    os.makedirs(path, mode=0o700, exist_ok=True)
    parent = os.open(os.path.dirname(path.rstrip("/")) or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(parent, fcntl.LOCK_EX)
        points = dict(_mountinfo())
        if path not in points:
            # Mounts left below by a crashed run of an earlier version would be hidden for good: remove them first.
            for point in mounted_below(path):
                unmount_all(point)
            S.mount("tmpfs", path, "tmpfs", S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC, STATE_TMPFS)
        if not any(tag.startswith("shared:") for tag in points.get(path, [])):
            S.mount(None, path, None, S.MS_SHARED)
    finally:
        os.close(parent)  # drops the lock
    _STATE_MOUNTS.add(path)


STATE_TMPFS = "size=16m,nr_inodes=65536,mode=700"  # directories, empty mount points and lock files only
_STATE_MOUNTS: set[str] = set()  # state directories this process has mounted (or found mounted)


def _mountinfo() -> list[tuple[str, list[str]]]:
    """(mount point, optional fields such as "shared:N") of each mount of the calling process's namespace."""
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.decode(errors="surrogateescape").split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            found.append((point, fields[6 : fields.index("-")]))
    return found


def mounted_below(prefix: str) -> list[str]:
    """Mount points at or below `prefix` in the calling process's mount namespace, deepest first."""
    found = [p for p, _ in _mountinfo() if p == prefix or p.startswith(prefix.rstrip("/") + "/")]
    return sorted(found, key=len, reverse=True)


# ---------------------------------------------------------------------------------------------- box side ----


@dataclass(frozen=True)
class RootSpec:
    """The per-run part of a box's root: what `finish_root` mounts once the run's plan is known."""

    new_root: str  # empty host directory, the mount point of the box's root inside its mount namespace
    scratch: str  # empty host directory, the mount point of the box's writable tmpfs
    layers: Sequence[str]  # lower layers of /box, top first
    disk_mib: int
    disk_inodes: int
    box_uid_on_host: int
    upper: str | None = None  # a kept upper layer on the workspace (the compile stage), else a throw-away one
    work: str | None = None


def prepare_root(root: str, layout: Layout) -> None:
    """Everything of the root that is the same for every run: done by a prepared box before its plan arrives.

    Runs as host root in the box's new mount and pid namespaces, at `root` (an empty host directory).
    """
    # 1. Nothing mounted from here on may propagate back to the host's mount namespace; mounts the host makes
    #    still arrive (until pivot_root), so the workspace of a sandbox created after this box was prepared is
    #    there when the run's plan names its layers (the state directory is a shared mount: state_mount).
    S.mount(None, "/", None, S.MS_REC | S.MS_SLAVE)
    # 2-5. The root's files, read-only: the host's runtime, or an image's layers; /etc generated either way, and
    #      the mount points of what follows.
    if layout.image_layers:
        _image_root(root, layout)
    else:
        _host_root(root, layout)
    # 6. /dev: a tiny tmpfs with the harmless devices bound from the host, then made read-only.
    dev = f"{root}/dev"
    S.mount("tmpfs", dev, "tmpfs", S.MS_NOSUID | S.MS_NOEXEC, "size=64k,nr_inodes=64,mode=755")
    for name in layout.devices:
        _write_new(f"{dev}/{name}", b"")
        S.mount(f"/dev/{name}", f"{dev}/{name}", None, S.MS_BIND)
        S.mount(None, f"{dev}/{name}", None, S.MS_REMOUNT | S.MS_BIND | S.MS_NOSUID | S.MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/shm", 0o1777)
    S.mount(None, dev, None, S.MS_REMOUNT | S.MS_RDONLY | S.MS_NOSUID | S.MS_NOEXEC)
    # 7. /proc of the box's own pid namespace; other users' processes (the box's init) are invisible.
    proc = f"{root}/proc"
    S.mount("proc", proc, "proc", S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC, "hidepid=invisible")
    for name in layout.proc_masked:
        if os.path.lexists(f"{proc}/{name}"):
            S.mount("/dev/null", f"{proc}/{name}", None, S.MS_BIND)
    for name in layout.proc_readonly:
        path = f"{proc}/{name}"
        if os.path.isdir(path):
            S.mount(path, path, None, S.MS_BIND | S.MS_REC)
            S.mount(None, path, None, S.MS_REMOUNT | S.MS_BIND | RO_FLAGS | S.MS_NOEXEC)
    # 8. The new root's own tree receives nothing from the host.
    S.mount(None, root, None, S.MS_REC | S.MS_PRIVATE)


def _host_root(root: str, layout: Layout) -> None:
    # 2. The root itself: a small tmpfs, made read-only at the very end (finish_root).
    S.mount("tmpfs", root, "tmpfs", S.MS_NOSUID | S.MS_NODEV, "size=1m,nr_inodes=512,mode=755")
    # 3. The runtime: host directories read-only, or the same symlinks where the host has links.
    for host_path in layout.runtime:
        _bind_host(host_path, root + host_path)
    # 4. /etc: generated files, a few copies and read-only binds; never the host's passwd, shadow or secrets.
    _generated_etc(root, layout)
    for host_file in layout.etc_copies:
        try:
            with open(host_file, "rb") as f:
                _write_new(root + host_file, f.read())
        except FileNotFoundError:
            pass
    for host_path in layout.etc_binds:
        _bind_host(host_path, root + host_path)
    # 5. Mount points of the per-run filesystems, made while the root is still writable.
    _mount_points(root)


def _image_root(root: str, layout: Layout) -> None:
    # 2. A small tmpfs beside the root: the top layer, with what the box needs whatever the image holds.
    top = os.path.join(os.path.dirname(root), "top")
    S.mount("tmpfs", top, "tmpfs", S.MS_NOSUID | S.MS_NODEV, "size=1m,nr_inodes=512,mode=755")
    # 4. /etc: the generated files hide the image's own (its passwd, hosts, resolv.conf); the rest is the image's.
    _generated_etc(top, layout)
    # 5. Mount points of the per-run filesystems: the image itself is never written.
    _mount_points(top)
    # 3. The root: an overlay of the top layer over the image's layers, without an upper layer, so read-only.
    #    Whiteouts and opaque directories in the layers are overlayfs' own (executor/layers.py made them so).
    lower = ":".join(_escape_overlay(p) for p in (top, *layout.image_layers))
    if len(lower) > OVERLAY_OPTIONS_MAX:
        raise ValueError(f"an image of {len(layout.image_layers)} layers is more than one overlay mount can take")
    S.mount("overlay", root, "overlay", S.MS_NOSUID | S.MS_NODEV | S.MS_RDONLY, f"lowerdir={lower}")


OVERLAY_OPTIONS_MAX = 4000  # mount(2) data is one page


def _generated_etc(base: str, layout: Layout) -> None:
    os.mkdir(f"{base}/etc", 0o755)
    for name, text in layout.etc_files.items():
        _write_new(f"{base}/etc/{name}", text.encode())


def _mount_points(base: str) -> None:
    for name, mode in (("box", 0o755), ("tmp", 0o1777), ("dev", 0o755), ("proc", 0o555), (".old", 0o700)):
        os.mkdir(f"{base}/{name}", mode)
        os.chmod(f"{base}/{name}", mode)  # mkdir honours the umask; the sticky bit needs chmod


def finish_root(spec: RootSpec) -> None:
    """The run's own filesystems over a prepared root, then pivot_root into it and make it read-only."""
    root, scratch = spec.new_root, spec.scratch
    # 9. The writable tmpfs: /box's upper layer, /tmp and /dev/shm share its size and inode limits.
    S.mount("tmpfs", scratch, "tmpfs", S.MS_NOSUID | S.MS_NODEV,
            f"size={spec.disk_mib}m,nr_inodes={spec.disk_inodes},mode=755")  # fmt: skip
    uid = spec.box_uid_on_host
    for name, mode in (("upper", 0o755), ("work", 0o700), ("tmp", 0o1777), ("shm", 0o1777)):
        path = f"{scratch}/{name}"
        os.mkdir(path, mode)
        os.chmod(path, mode)  # mkdir honours the umask; the sticky bit needs chmod
        if name != "work":
            os.chown(path, uid, uid)
    # 10. /box: the layers read-only under a throw-away (or, for the compile stage, kept) upper layer.
    upper, work = spec.upper or f"{scratch}/upper", spec.work or f"{scratch}/work"
    lower = ":".join(_escape_overlay(p) for p in spec.layers)
    S.mount("overlay", f"{root}/box", "overlay", S.MS_NOSUID | S.MS_NODEV,
            f"lowerdir={lower},upperdir={_escape_overlay(upper)},workdir={_escape_overlay(work)}")  # fmt: skip
    # 11. /tmp and /dev/shm: private to this box, on the limited tmpfs (a bind onto read-only /dev is allowed).
    for source, target, extra in ((f"{scratch}/tmp", f"{root}/tmp", 0), (f"{scratch}/shm", f"{root}/dev/shm",
                                                                          S.MS_NOEXEC)):  # fmt: skip
        S.mount(source, target, None, S.MS_BIND)
        S.mount(None, target, None, S.MS_REMOUNT | S.MS_BIND | S.MS_NOSUID | S.MS_NODEV | extra)
    # 12. pivot_root into the new root, then detach the old one: the host's filesystem is gone from this namespace.
    S.pivot_root(root, f"{root}/.old")
    os.chdir("/")
    S.umount("/.old", S.MNT_DETACH)
    try:
        os.rmdir("/.old")
    except OSError as e:  # an image's root is read-only already: the empty, root-only mount point stays
        if e.errno != errno.EROFS:
            raise
    # 13. Last: the root tmpfs read-only, so nothing but /box, /tmp and /dev/shm is writable.
    S.mount(None, "/", None, S.MS_REMOUNT | S.MS_RDONLY | S.MS_NOSUID | S.MS_NODEV)


def _bind_host(host_path: str, target: str) -> None:
    try:
        st = os.lstat(host_path)
    except FileNotFoundError:
        return
    parent = os.path.dirname(target)
    os.makedirs(parent, 0o755, exist_ok=True)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(host_path), target)
        return
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(target, 0o755)
    else:
        _write_new(target, b"")
    S.mount(host_path, target, None, S.MS_BIND | S.MS_REC)
    S.mount(None, target, None, S.MS_REMOUNT | S.MS_BIND | RO_FLAGS)


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _escape_overlay(path: str) -> str:
    if any(c in path for c in ",:\\\n"):
        raise ValueError(f"layer path {path!r} contains a character overlayfs options cannot carry")
    return path


def ensure_dirs(paths: Iterable[str]) -> None:
    for path in paths:
        os.makedirs(path, mode=0o700, exist_ok=True)
