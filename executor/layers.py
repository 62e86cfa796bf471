"""Container image layers: unpack an OCI / Docker layer tarball into an overlayfs lower-layer directory, and back.

The archive is hostile. Unpacking writes below `dest` and nowhere else: every path is opened one component at a
time relative to a directory fd with O_NOFOLLOW (a symbolic link planted by an earlier member can never redirect a
later write), names are checked before any syscall, only regular files, directories, symbolic links and hard links
to files of the same archive are accepted, and setuid/setgid bits, owners and extended attributes of the archive
are dropped. Symbolic link targets are stored as they are and never resolved by the host: they mean something only
inside the box's root.

Whiteouts are translated to what overlayfs reads in a lower layer (OCI image spec, "Whiteouts"): `dir/.wh.name`
becomes a 0/0 character device `dir/name`, and `dir/.wh..wh..opq` the xattr trusted.overlay.opaque=y on `dir`.
These are the only device nodes an unpacked layer holds, and `pack` turns them back into `.wh.` members.

Resources are bounded while inflating, not after: file content by LayerCaps.max_bytes (a member whose declared
size does not fit is refused before a byte of it is inflated), members by LayerCaps.max_files, and everything else
tarfile reads (headers, padding, trailing junk) by HEADER_BYTES_MAX and OVERHEAD_PER_MEMBER, because tarfile holds
a pax header in memory whole and a gzip bomb need not be made of file content.

`pack` writes hard-linked files as independent regular files: simpler, and a layer directory made by `unpack` stays
correct either way.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# Member names and link targets longer than PATH_MAX are refused: the box could not use such paths anyway, and
# they would make each member's walk down from the layer root arbitrarily long.
NAME_MAX_BYTES = 4096
# Non-content bytes tarfile may read between two members (pax headers, GNU long names, padding): it holds a
# header in memory whole, so a 1 GiB pax header inflated from a few KiB must be cut off while it is being read.
HEADER_BYTES_MAX = 1 << 20
# Non-content bytes allowed per member on average (a 512-byte header, a pax header, <512 bytes of padding): bounds
# the time spent inflating headers and junk after the end of the archive, which max_bytes does not count.
OVERHEAD_PER_MEMBER = 8 << 10
COPY_CHUNK = 1 << 20

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_TYPE_NAMES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
    tarfile.GNUTYPE_SPARSE: "sparse file",
}
# Filesystem errors that only a malformed archive causes (a 300-byte name component, 70000 links to one file):
# they become LayerError. Anything else (ENOSPC, EIO) is the host's problem and propagates as OSError.
_ARCHIVE_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EMLINK})


class LayerError(ValueError):
    """A layer archive that is refused; the message is one line and names the offending member."""


class _Refused(Exception):
    """A reason to refuse, raised below the member loop, which turns it into a LayerError naming the member."""


@dataclass(frozen=True)
class LayerCaps:
    max_bytes: int = 8 * 1024**3  # total bytes of file content written, counted while inflating
    max_files: int = 1_000_000  # archive members

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or self.max_files < 0:
            raise ValueError(f"layer caps must not be negative: {self}")


@dataclass(frozen=True)
class Unpacked:
    files: int  # members written
    bytes: int  # bytes of file content written
    diff_id: str  # "sha256:<hex>" of the *uncompressed* tar stream (the OCI diff_id)


def unpack(archive: BinaryIO, dest: str, caps: LayerCaps = LayerCaps()) -> Unpacked:
    """Unpack the layer tarball `archive` (plain or gzip, read as a stream) into the empty directory `dest`."""
    stream = _TarStream(archive)
    root = os.open(dest, _DIR_FLAGS)
    unpacker = _Unpacker(root, caps, stream)
    try:
        with _open_tar(stream) as tar:
            last: str | None = None
            while (member := _next(tar, last)) is not None:
                # tarfile keeps every header it has read; a million-member layer need not stay in memory.
                tar.members.clear()  # type: ignore[attr-defined]  # (typeshed omits TarFile.members)
                unpacker.add(tar, member)
                last = member.name
        try:
            stream.drain()  # the diff_id covers the whole stream, including the end-of-archive padding
        except _Refused as e:
            raise LayerError(f"layer archive, after its last member: {e}") from None
        unpacker.finish()
    finally:
        unpacker.close()
        os.close(root)
    return Unpacked(files=unpacker.files, bytes=unpacker.bytes, diff_id=stream.diff_id())


def pack(src: str, out: BinaryIO) -> str:
    """Write the layer directory `src` to `out` as a deterministic uncompressed tar; return its "sha256:<hex>"."""
    sink = _HashingSink(out)
    root = os.open(src, _DIR_FLAGS)
    # Depth-first with each directory's entries sorted by their bytes, one open fd per level: a directory's
    # content follows its own entry, as tar readers (and `unpack`) expect.
    stack: list[tuple[int, str, Iterator[str]]] = [(root, "", iter(()))]  # from here on, `finally` closes root
    try:
        stack[0] = (root, "", iter(_listing(root)))
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if _is_opaque(root):
                tar.addfile(_tar_member(OPAQUE_MARKER, tarfile.REGTYPE, os.fstat(root), mode=0o644))
            while stack:
                fd, prefix, names = stack[-1]
                name = next(names, None)
                if name is None:
                    stack.pop()
                    os.close(fd)
                elif (sub := _pack_entry(tar, fd, prefix, name)) is not None:
                    stack.append((sub[0], f"{prefix}{name}/", iter(sub[1])))
    finally:
        for fd, _, _ in stack:
            os.close(fd)
    return sink.diff_id()


# ------------------------------------------------------------------------------------------------ streams ----


class _Prefixed:
    """The archive with the magic bytes already read from it put back in front (the archive may be a pipe)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._rest.read(size)
        cut = len(self._head) if size < 0 else size
        data, self._head = self._head[:cut], self._head[cut:]
        return data

    def seek(self, pos: int, /) -> int:
        raise io.UnsupportedOperation("a layer archive is read as a stream")


class _TarStream(io.RawIOBase):
    """The archive's tar stream as tarfile reads it: gunzipped if need be, hashed (the diff_id), and refused as
    soon as tarfile has read more than its budget: the content of accepted members plus the header allowance."""

    def __init__(self, archive: BinaryIO) -> None:
        head = b""
        while len(head) < 4 and (more := archive.read(4 - len(head))):
            head += more
        if head.startswith(ZSTD_MAGIC):
            raise LayerError("layer archive: zstd-compressed layers are not supported (use gzip or plain tar)")
        self._source: _Prefixed | gzip.GzipFile = _Prefixed(head, archive)
        if head.startswith(GZIP_MAGIC):
            self._source = gzip.GzipFile(fileobj=self._source, mode="rb")
        self._sha256 = hashlib.sha256()
        self._left = HEADER_BYTES_MAX

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        # tarfile calls read only while it still needs bytes: past the budget, any byte left means refusal.
        if self._left == 0:
            if self._pull(1):
                raise _Refused("more header or padding data than a layer has (a decompression bomb?)")
            return b""
        data = self._pull(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        self._sha256.update(data)
        return data

    def _pull(self, size: int) -> bytes:
        try:
            return self._source.read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise _Refused(f"corrupt gzip stream ({e})") from None

    def allow(self, content: int) -> None:
        """A member was accepted: tarfile may read its `content` bytes and, on average, OVERHEAD_PER_MEMBER more.
        Unused allowance carries over, up to HEADER_BYTES_MAX, so one long pax header after many short ones fits."""
        self._left = min(self._left + content + OVERHEAD_PER_MEMBER, content + HEADER_BYTES_MAX)

    def drain(self) -> None:
        while self.read(COPY_CHUNK):
            pass

    def diff_id(self) -> str:
        return f"sha256:{self._sha256.hexdigest()}"


class _HashingSink(io.RawIOBase):
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer, /) -> int:
        data = bytes(b)
        self._out.write(data)
        self._sha256.update(data)
        return len(data)

    def diff_id(self) -> str:
        return f"sha256:{self._sha256.hexdigest()}"


def _open_tar(stream: _TarStream) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|")  # reads the first header already
    except _Refused as e:
        raise LayerError(f"layer archive: {e}") from None
    except tarfile.TarError as e:
        raise LayerError(f"layer archive: not a valid tar stream ({e})") from None


def _next(tar: tarfile.TarFile, last: str | None) -> tarfile.TarInfo | None:
    where = "layer archive" if last is None else f"layer archive, after member {_show(last)}"
    try:
        return tar.next()
    except _Refused as e:
        raise LayerError(f"{where}: {e}") from None
    except tarfile.TarError as e:
        raise LayerError(f"{where}: not a valid tar stream ({e})") from None


# -------------------------------------------------------------------------------------------------- unpack ----


def _show(name: str) -> str:
    shown = repr(name)  # repr: a name with a newline in it still makes a one-line message
    return shown if len(shown) <= 200 else f"{shown[:200]}..."


def _check_string(value: str, what: str) -> None:
    if "\0" in value:
        raise _Refused(f"NUL in the {what}")
    try:
        size = len(os.fsencode(value))
    except UnicodeEncodeError:
        raise _Refused(f"{what} cannot be encoded") from None
    if size > NAME_MAX_BYTES:
        raise _Refused(f"{what} longer than {NAME_MAX_BYTES} bytes")


def _components(name: str) -> tuple[str, ...]:
    """The path components of a member name or hard-link target, or _Refused if it could leave the layer."""
    _check_string(name, "name")
    if name.startswith("/"):
        raise _Refused("absolute path")
    while name.startswith("./"):
        name = name[2:]
    # Empty and "." components change nothing ("a//b", "a/./b"); ".." is refused even where it would stay inside.
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise _Refused("path escapes the layer")
    return parts


def _mtime_ns(member: tarfile.TarInfo) -> int:
    try:
        ns = round(member.mtime * 1_000_000_000)
    except (ValueError, OverflowError):
        raise _Refused(f"invalid mtime {member.mtime!r}") from None
    if abs(ns) >= 2**63:
        raise _Refused(f"mtime {member.mtime!r} out of range")
    return ns


class _Unpacker:
    def __init__(self, root: int, caps: LayerCaps, stream: _TarStream) -> None:
        self.root = root
        self.caps = caps
        self.stream = stream
        self.members = 0
        self.files = 0
        self.bytes = 0
        # Paths ("a/b") of regular files this archive wrote: the only allowed hard-link targets (checked again
        # with lstat when linking, as a later member may have replaced one).
        self.regular: set[str] = set()
        # Directory modes and mtimes from the archive, applied last: a 0o555 directory must still get its content,
        # and writing that content would change its mtime.
        self.dirs: dict[str, tuple[int, int]] = {}
        # The last directory opened for a member; consecutive members of one directory are the common case.
        self._cached: tuple[tuple[str, ...], int] | None = None

    def close(self) -> None:
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            self._add(tar, member)
        except _Refused as e:
            raise LayerError(f"layer member {_show(member.name)}: {e}") from None
        except tarfile.TarError as e:
            raise LayerError(f"layer member {_show(member.name)}: not a valid tar stream ({e})") from None
        except OSError as e:
            if e.errno not in _ARCHIVE_ERRNOS:
                raise
            raise LayerError(f"layer member {_show(member.name)}: {e.strerror}") from None

    def finish(self) -> None:
        """Apply directory modes and mtimes, deepest first."""
        for key in sorted(self.dirs, key=lambda k: (-k.count("/"), k)):
            mode, mtime_ns = self.dirs[key]
            try:
                fd = self._dir(tuple(key.split("/")), create=False)
            except (_Refused, FileNotFoundError):
                continue  # removed or replaced by a later member
            os.fchmod(fd, mode)
            os.utime(fd, ns=(mtime_ns, mtime_ns))

    def _add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.caps.max_files:
            raise _Refused(f"more than {self.caps.max_files} members")
        if not member.name:
            raise _Refused("empty name")
        parts = _components(member.name)
        if any(part.startswith(WHITEOUT_PREFIX) for part in parts[:-1]):
            raise _Refused("a whiteout name used as a directory")
        regular = member.type in _REGULAR_TYPES and not member.issparse()
        if not (regular or member.isdir() or member.issym() or member.islnk()):
            kind = "sparse file" if member.issparse() else _TYPE_NAMES.get(member.type, f"type {member.type!r}")
            raise _Refused(f"{kind} members are not accepted")
        if regular and member.size > self.caps.max_bytes - self.bytes:
            raise _Refused(f"{member.size} bytes of content pass the layer's limit of {self.caps.max_bytes}")
        self.stream.allow(member.size if regular else 0)
        if not parts:
            if member.isdir():
                return  # "./": the layer root itself, whose owner and mode are the caller's
            raise _Refused("names the layer root")
        if parts[-1].startswith(WHITEOUT_PREFIX):
            if not regular or member.size:
                raise _Refused("a whiteout must be an empty regular file")
            self._whiteout(parts, _mtime_ns(member))
        elif member.isdir():
            self._directory(parts, member)
        elif regular:
            self._regular(parts, member, tar)
        elif member.issym():
            self._symlink(parts, member)
        else:
            self._hardlink(parts, member)
        self.files += 1

    # --- one member each ---

    def _directory(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        mtime_ns = _mtime_ns(member)
        fd = self._dir(parts[:-1])
        if not self._clear(fd, parts, keep_dir=True):
            os.mkdir(parts[-1], 0o700, dir_fd=fd)
        self.dirs["/".join(parts)] = (member.mode & 0o1777, mtime_ns)

    def _regular(self, parts: tuple[str, ...], member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        mtime_ns = _mtime_ns(member)
        content = tar.extractfile(member)
        if content is None:
            raise _Refused("no content")  # tarfile returns None only for non-files; kept for the type checker
        fd = self._dir(parts[:-1])
        self._clear(fd, parts, keep_dir=False)
        with open(os.open(parts[-1], _NEW_FILE_FLAGS, 0o600, dir_fd=fd), "wb") as out:
            while chunk := content.read(COPY_CHUNK):
                self.bytes += len(chunk)
                if self.bytes > self.caps.max_bytes:  # the declared size was checked; this guards tarfile itself
                    raise _Refused(f"content passes the layer's limit of {self.caps.max_bytes} bytes")
                out.write(chunk)
            out.flush()
            os.fchmod(out.fileno(), member.mode & 0o1777)  # setuid and setgid dropped; fchmod ignores the umask
            os.utime(out.fileno(), ns=(mtime_ns, mtime_ns))
        self.regular.add("/".join(parts))

    def _symlink(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        target = member.linkname
        if not target:
            raise _Refused("symbolic link with an empty target")
        _check_string(target, "symbolic link target")
        mtime_ns = _mtime_ns(member)
        fd = self._dir(parts[:-1])
        self._clear(fd, parts, keep_dir=False)
        os.symlink(target, parts[-1], dir_fd=fd)
        os.utime(parts[-1], ns=(mtime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)

    def _hardlink(self, parts: tuple[str, ...], member: tarfile.TarInfo) -> None:
        try:
            target = _components(member.linkname)
        except _Refused as e:
            raise _Refused(f"hard link target {_show(member.linkname)}: {e}") from None
        if "/".join(target) not in self.regular or target == parts:
            raise _Refused(f"hard link target {_show(member.linkname)} is not a regular file of this layer")
        try:
            source_dir = self._open(target[:-1], create=False)
        except FileNotFoundError:
            raise _Refused(f"hard link target {_show(member.linkname)} is no longer there") from None
        try:
            fd = self._dir(parts[:-1])
            self._clear(fd, parts, keep_dir=False)
            try:
                st = os.stat(target[-1], dir_fd=source_dir, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise _Refused(f"hard link target {_show(member.linkname)} is no longer a regular file")
            os.link(target[-1], parts[-1], src_dir_fd=source_dir, dst_dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(source_dir)
        self.regular.add("/".join(parts))

    def _whiteout(self, parts: tuple[str, ...], mtime_ns: int) -> None:
        leaf = parts[-1]
        if leaf == OPAQUE_MARKER:
            os.setxattr(self._dir(parts[:-1]), OPAQUE_XATTR, b"y")
            return
        name = leaf[len(WHITEOUT_PREFIX) :]
        if leaf.startswith(f"{WHITEOUT_PREFIX}{WHITEOUT_PREFIX}") or name in ("", ".", ".."):
            raise _Refused("not a whiteout this runtime understands")
        fd = self._dir(parts[:-1])
        self._clear(fd, (*parts[:-1], name), keep_dir=False)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=fd)
        os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)

    # --- the filesystem, never through a symbolic link ---

    def _clear(self, fd: int, parts: tuple[str, ...], keep_dir: bool) -> bool:
        """Remove what an earlier member put at `parts` (in the directory `fd`): the later member wins, as in tar.
        Returns True when a directory is there and is kept."""
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=fd)
            return False
        if keep_dir:
            return True
        if self._cached is not None and self._cached[0][: len(parts)] == parts:
            self.close()  # the cached directory is in the tree about to go
        # rmtree with dir_fd opens each level O_NOFOLLOW relative to its parent (shutil.rmtree.avoids_symlink_attacks).
        shutil.rmtree(name, dir_fd=fd)
        return False

    def _dir(self, parts: tuple[str, ...], create: bool = True) -> int:
        """The directory at `parts`, borrowed: valid until the next call. Missing directories are created 0o755."""
        if not parts:
            return self.root
        if self._cached is not None and self._cached[0] == parts:
            return self._cached[1]
        fd = self._open(parts, create)
        self.close()
        self._cached = (parts, fd)
        return fd

    def _open(self, parts: tuple[str, ...], create: bool) -> int:
        """A new fd of the directory at `parts`, opened one component at a time without following links."""
        fd = os.dup(self.root)
        try:
            for depth, name in enumerate(parts, 1):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(name, 0o700, dir_fd=fd)
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    os.fchmod(child, 0o755)  # an implicit parent; the umask does not apply
                    self.dirs.pop("/".join(parts[:depth]), None)  # a stale mode of an earlier, removed directory
                except OSError as e:
                    if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a directory"
                    raise _Refused(f"parent {_show('/'.join(parts[:depth]))} is {what}") from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd


# ---------------------------------------------------------------------------------------------------- pack ----


def _listing(fd: int) -> list[str]:
    return sorted(os.listdir(fd), key=os.fsencode)


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


def _tar_member(name: str, kind: bytes, st: os.stat_result, *, mode: int | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
    info.mtime = st.st_mtime_ns // 1_000_000_000  # whole seconds: no pax mtime record, the same bytes every time
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _describe(mode: int, rdev: int) -> str:
    if stat.S_ISCHR(mode):
        return f"character device {os.major(rdev)}:{os.minor(rdev)}"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return f"file of mode {mode:o}"


def _pack_entry(tar: tarfile.TarFile, fd: int, prefix: str, name: str) -> tuple[int, list[str]] | None:
    """Add `name` (in the directory `fd`, whose path in the layer is `prefix`) to `tar`; for a directory, return
    a new fd of it and its sorted entries, which follow it."""
    path = f"{prefix}{name}"
    if name.startswith(WHITEOUT_PREFIX):
        # It would come back from `unpack` as a whiteout, not as itself.
        raise LayerError(f"layer path {_show(path)}: names starting with {WHITEOUT_PREFIX} cannot be packed")
    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
        try:
            st = os.fstat(sub)
            tar.addfile(_tar_member(path, tarfile.DIRTYPE, st))
            if _is_opaque(sub):
                tar.addfile(_tar_member(f"{path}/{OPAQUE_MARKER}", tarfile.REGTYPE, st, mode=0o644))
            return sub, _listing(sub)
        except BaseException:
            os.close(sub)
            raise
    if stat.S_ISREG(st.st_mode):
        # O_NONBLOCK: if the file was swapped for a FIFO since the lstat, open must not hang on it.
        with open(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise LayerError(f"layer path {_show(path)}: changed while being packed")
            info = _tar_member(path, tarfile.REGTYPE, st)
            info.size = st.st_size
            tar.addfile(info, f)
    elif stat.S_ISLNK(st.st_mode):
        info = _tar_member(path, tarfile.SYMTYPE, st)
        info.linkname = os.readlink(name, dir_fd=fd)
        tar.addfile(info)
    elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        tar.addfile(_tar_member(f"{prefix}{WHITEOUT_PREFIX}{name}", tarfile.REGTYPE, st))
    else:
        raise LayerError(f"layer path {_show(path)}: a {_describe(st.st_mode, st.st_rdev)} cannot be packed")
    return None
