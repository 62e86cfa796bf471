"""executor.layers: hostile layer tarballs unpacked into overlayfs lower layers, and layer directories packed back.

Every archive is built here with tarfile, in memory. Whiteouts (0/0 character devices), the trusted.* opaque xattr,
root ownership and the overlay mount need root: those tests fail without it (they never skip).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from executor.layers import (
    HEADER_BYTES_MAX,
    OPAQUE_XATTR,
    LayerCaps,
    LayerError,
    Unpacked,
    pack,
    unpack,
)

MiB = 1 << 20
MTIME = 1_600_000_000  # an arbitrary fixed past time, so that "kept from the archive" is observable
Entry = tuple[tarfile.TarInfo, bytes]


# --- building archives ---


def reg(name: str, data: bytes = b"", mode: int = 0o644, mtime: int = MTIME, **attrs: object) -> Entry:
    return member(name, tarfile.REGTYPE, data=data, mode=mode, mtime=mtime, **attrs)


def dir_(name: str, mode: int = 0o755, mtime: int = MTIME) -> Entry:
    return member(name, tarfile.DIRTYPE, mode=mode, mtime=mtime)


def sym(name: str, target: str) -> Entry:
    return member(name, tarfile.SYMTYPE, linkname=target, mtime=MTIME)


def hard(name: str, target: str) -> Entry:
    return member(name, tarfile.LNKTYPE, linkname=target)


def member(name: str, kind: bytes, data: bytes = b"", **attrs: object) -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar_bytes(*entries: Entry, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


class ZeroReader:
    """`size` zero bytes, produced as read: big members without holding them in memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


class Trickle:
    """A pipe-like stream: no seek, no tell, and at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1) -> bytes:
        n = 7 if n < 0 else min(n, 7)
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


# --- fixtures and helpers ---


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    path = tmp_path / "layer"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sentinel directory beside the layer, which no archive may write into or change."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "sentinel").write_bytes(b"keep me")
    return path


def do_unpack(data: bytes, dest: Path, caps: LayerCaps | None = None) -> Unpacked:
    return unpack(io.BytesIO(data), str(dest), caps or LayerCaps())


def snapshot_outside(tmp_path: Path) -> dict[str, tuple[int, int, int, bytes | str | None]]:
    """Everything under tmp_path except the layer (type, mode, size, content), plus /etc/passwd's inode data."""
    seen: dict[str, tuple[int, int, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(tmp_path):
        if Path(dirpath) == tmp_path and "layer" in dirnames:
            dirnames.remove("layer")
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            content: bytes | str | None = None
            if stat.S_ISREG(st.st_mode):
                content = path.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            seen[str(path.relative_to(tmp_path))] = (st.st_mode, st.st_nlink, st.st_size, content)
    passwd = os.stat("/etc/passwd")
    seen["/etc/passwd"] = (passwd.st_mode, passwd.st_nlink, passwd.st_size, None)
    return seen


def assert_refused(data: bytes, layer: Path, tmp_path: Path, *fragments: str, caps: LayerCaps | None = None) -> str:
    before = snapshot_outside(tmp_path)
    with pytest.raises(LayerError) as refused:
        do_unpack(data, layer, caps)
    message = str(refused.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert snapshot_outside(tmp_path) == before  # no new file anywhere beside the layer, nothing changed
    return message


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def require_root() -> None:
    assert os.geteuid() == 0, "this test needs root (mknod of whiteouts, trusted.* xattrs, chown, mount)"


TreeEntry = tuple[object, ...]


def tree(root: Path) -> dict[str, TreeEntry]:
    """Every entry below root, never following links: type, mode, content or target, whiteout, opaque, mtime."""
    found: dict[str, TreeEntry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path), int(st.st_mtime))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", mode, is_opaque(path), int(st.st_mtime))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = ("file", mode, path.read_bytes(), int(st.st_mtime))
            elif stat.S_ISCHR(st.st_mode):
                found[rel] = ("whiteout", os.major(st.st_rdev), os.minor(st.st_rdev), int(st.st_mtime))
            else:
                found[rel] = ("other", st.st_mode)
    return found


def is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def pack_bytes(src: Path) -> tuple[bytes, str]:
    out = io.BytesIO()
    digest = pack(str(src), out)
    return out.getvalue(), digest


def names_in(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


# --- unpack: what is written ---


def test_unpack_writes_files_dirs_symlinks_and_hard_links_with_modes_and_mtimes(layer: Path) -> None:
    data = tar_bytes(
        dir_("bin", mode=0o750, mtime=MTIME + 1),
        reg("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o755, mtime=MTIME + 2),
        reg("etc/conf", b"x = 1\n", mode=0o600),
        sym("bin/python", "/usr/bin/python3"),
        sym("bin/up", "../etc/conf"),
        hard("bin/tool2", "bin/tool"),
    )
    result = do_unpack(data, layer)

    assert result == Unpacked(files=6, bytes=len(b"#!/bin/sh\necho hi\n") + 6, diff_id=result.diff_id)
    tool = (layer / "bin/tool").lstat()
    assert (layer / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(tool.st_mode) == 0o755 and tool.st_mtime == MTIME + 2
    assert stat.S_IMODE((layer / "etc/conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((layer / "bin").stat().st_mode) == 0o750
    assert (layer / "bin").stat().st_mtime == MTIME + 1  # set after its content was written
    assert os.readlink(layer / "bin/python") == "/usr/bin/python3"  # kept as it is, never resolved on the host
    assert os.readlink(layer / "bin/up") == "../etc/conf"
    assert (layer / "bin/python").lstat().st_mtime == MTIME
    linked = (layer / "bin/tool2").lstat()
    assert stat.S_ISREG(linked.st_mode) and linked.st_ino == tool.st_ino and linked.st_nlink == 2


def test_implicit_parent_directories_are_created_0755(layer: Path) -> None:
    old_umask = os.umask(0o077)  # the umask of the unpacking process must not matter
    try:
        do_unpack(tar_bytes(reg("a/b/c/file", b"x")), layer)
    finally:
        os.umask(old_umask)
    for path in ("a", "a/b", "a/b/c"):
        st = (layer / path).lstat()
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755, path
    assert (layer / "a/b/c/file").read_bytes() == b"x"


def test_leading_dot_slash_and_the_root_entry_are_accepted(layer: Path) -> None:
    do_unpack(tar_bytes(dir_("./", mode=0o700), dir_("./d"), reg("./d/f", b"1"), reg(".//./g", b"2")), layer)
    assert (layer / "d/f").read_bytes() == b"1" and (layer / "g").read_bytes() == b"2"
    assert stat.S_IMODE(layer.stat().st_mode) == 0o755  # the layer root belongs to the caller


def test_read_only_directory_still_receives_its_content(layer: Path) -> None:
    do_unpack(tar_bytes(dir_("ro", mode=0o555), reg("ro/f", b"data"), dir_("ro/sub", mode=0o500)), layer)
    assert (layer / "ro/f").read_bytes() == b"data"
    assert stat.S_IMODE((layer / "ro").stat().st_mode) == 0o555
    assert stat.S_IMODE((layer / "ro/sub").stat().st_mode) == 0o500


def test_gzip_layer_is_unpacked_and_its_diff_id_is_the_sha256_of_the_uncompressed_tar(layer: Path) -> None:
    plain = tar_bytes(dir_("d"), reg("d/f", b"hello" * 1000))
    result = do_unpack(gzip.compress(plain), layer)
    assert (layer / "d/f").read_bytes() == b"hello" * 1000
    assert result.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert result.bytes == 5000 and result.files == 2


def test_diff_id_of_a_plain_tar_covers_every_byte_including_the_padding(tmp_path: Path) -> None:
    plain = tar_bytes(reg("f", b"x"))
    padded = plain + bytes(10240)  # more zero records after the end-of-archive marker
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert do_unpack(plain, first).diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert do_unpack(padded, second).diff_id == "sha256:" + hashlib.sha256(padded).hexdigest()


def test_a_non_seekable_stream_with_short_reads_is_unpacked(layer: Path) -> None:
    plain = tar_bytes(reg("f", b"abc" * 5000))
    for data in (plain, gzip.compress(plain)):
        dest = layer / ("gz" if data is not plain else "plain")
        dest.mkdir()
        result = unpack(cast(BinaryIO, Trickle(data)), str(dest))
        assert (dest / "f").read_bytes() == b"abc" * 5000
        assert result.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()


def test_setuid_and_setgid_bits_are_dropped_and_the_sticky_bit_kept(layer: Path) -> None:
    do_unpack(tar_bytes(reg("suid", mode=0o4755), reg("sgid", mode=0o2755), dir_("tmp", mode=0o3777)), layer)
    assert stat.S_IMODE((layer / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((layer / "sgid").stat().st_mode) == 0o755
    assert stat.S_IMODE((layer / "tmp").stat().st_mode) == 0o1777


def test_owner_is_root_whatever_the_archive_says(layer: Path) -> None:
    require_root()
    owned = {"uid": 1000, "gid": 1000, "uname": "alice", "gname": "staff"}
    data = tar_bytes(
        member("d", tarfile.DIRTYPE, mode=0o755, **owned),
        reg("d/f", b"x", **owned),
        member("d/l", tarfile.SYMTYPE, linkname="f", **owned),
    )
    do_unpack(data, layer)
    for path in ("d", "d/f", "d/l"):
        st = (layer / path).lstat()
        assert (st.st_uid, st.st_gid) == (0, 0), path


def test_archive_xattrs_are_not_applied(layer: Path) -> None:
    require_root()
    info, data = reg("f", b"x")
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.note": "hi"}
    do_unpack(tar_bytes((info, data)), layer)
    assert os.listxattr(layer / "f") == []


# --- unpack: later members replace earlier ones ---


def test_later_file_replaces_earlier_file(layer: Path) -> None:
    do_unpack(tar_bytes(reg("f", b"old", mode=0o600), reg("f", b"new", mode=0o644)), layer)
    assert (layer / "f").read_bytes() == b"new"
    assert stat.S_IMODE((layer / "f").stat().st_mode) == 0o644


def test_later_file_replaces_earlier_directory_tree_without_following_its_links(
    layer: Path, outside: Path, tmp_path: Path
) -> None:
    before = snapshot_outside(tmp_path)
    data = tar_bytes(dir_("d"), reg("d/inner", b"1"), sym("d/out", str(outside)), dir_("d/sub"), reg("d", b"file now"))
    do_unpack(data, layer)
    assert (layer / "d").read_bytes() == b"file now"
    assert snapshot_outside(tmp_path) == before


def test_later_directory_replaces_earlier_file_and_symlink(layer: Path) -> None:
    do_unpack(tar_bytes(reg("d", b"x"), dir_("d", mode=0o700), sym("e", "/etc"), dir_("e"), reg("e/f")), layer)
    assert (layer / "d").is_dir() and not (layer / "d").is_symlink()
    assert stat.S_IMODE((layer / "d").stat().st_mode) == 0o700
    assert not (layer / "e").is_symlink() and (layer / "e/f").is_file()


def test_later_directory_over_directory_keeps_content_and_updates_mode(layer: Path) -> None:
    do_unpack(tar_bytes(dir_("d", mode=0o755), reg("d/f", b"x"), dir_("d", mode=0o711, mtime=MTIME + 5)), layer)
    assert (layer / "d/f").read_bytes() == b"x"
    st = (layer / "d").stat()
    assert stat.S_IMODE(st.st_mode) == 0o711 and st.st_mtime == MTIME + 5


def test_symlink_replaced_by_file_is_not_written_through(layer: Path, outside: Path, tmp_path: Path) -> None:
    before = snapshot_outside(tmp_path)
    do_unpack(tar_bytes(sym("f", str(outside / "sentinel")), reg("f", b"mine")), layer)
    assert (layer / "f").read_bytes() == b"mine" and not (layer / "f").is_symlink()
    assert snapshot_outside(tmp_path) == before


# --- unpack: refused archives ---


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "escapes"),
        ("/abs", "absolute"),
        ("a/../../x", "escapes"),
        ("a/../b", "escapes"),
        ("./../x", "escapes"),
        ("", "empty name"),
        ("a" * 4097, "longer than"),
    ],
)
def test_names_that_could_leave_the_layer_are_refused(
    name: str, reason: str, layer: Path, outside: Path, tmp_path: Path
) -> None:
    message = assert_refused(tar_bytes(reg(name, b"pwned")), layer, tmp_path, reason)
    assert message.startswith("layer member ")
    assert list(layer.iterdir()) == []


def test_a_name_with_a_nul_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    info, data = reg("placeholder", b"x")
    info.pax_headers = {"path": "x\x00y"}
    assert_refused(tar_bytes((info, data)), layer, tmp_path, "NUL")


def test_symlink_to_absolute_outside_dir_then_member_below_it_is_refused(
    layer: Path, outside: Path, tmp_path: Path
) -> None:
    data = tar_bytes(sym("a", str(outside)), reg("a/pwned", b"pwned"))
    assert_refused(data, layer, tmp_path, "'a/pwned'", "symbolic link")
    assert not (outside / "pwned").exists()


def test_symlink_to_relative_outside_dir_then_member_below_it_is_refused(
    layer: Path, outside: Path, tmp_path: Path
) -> None:
    data = tar_bytes(sym("a", "../outside"), dir_("a/sub"), reg("a/sub/pwned", b"pwned"))
    assert_refused(data, layer, tmp_path, "'a/sub'", "parent 'a' is a symbolic link")


def test_symlinked_directory_deeper_in_the_path_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    data = tar_bytes(dir_("x"), dir_("x/y"), sym("x/y/z", str(outside)), reg("x/y/z/sentinel", b"pwned"))
    assert_refused(data, layer, tmp_path, "parent 'x/y/z' is a symbolic link")


def test_symlink_to_outside_then_opaque_marker_below_it_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    assert_refused(tar_bytes(sym("a", str(outside)), reg("a/.wh..wh..opq")), layer, tmp_path, "symbolic link")
    assert not is_opaque(outside)


def test_member_below_a_regular_file_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    assert_refused(tar_bytes(reg("a", b"x"), reg("a/b", b"y")), layer, tmp_path, "parent 'a' is not a directory")


@pytest.mark.parametrize(
    "target", ["/etc/passwd", "../outside/sentinel", "etc/passwd", "outside/sentinel", "a/sentinel", "f/../f"]
)
def test_hard_link_to_anything_but_an_earlier_file_of_the_archive_is_refused(
    target: str, layer: Path, outside: Path, tmp_path: Path
) -> None:
    data = tar_bytes(reg("f", b"mine"), sym("a", str(outside)), hard("h", target))
    assert_refused(data, layer, tmp_path, "'h'", "hard link target")
    assert not (layer / "h").exists()


def test_hard_link_to_a_symlink_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    data = tar_bytes(sym("s", str(outside / "sentinel")), hard("h", "s"))
    assert_refused(data, layer, tmp_path, "'h'", "not a regular file of this layer")


def test_hard_link_to_a_file_later_replaced_by_a_symlink_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    data = tar_bytes(reg("f", b"x"), sym("f", str(outside / "sentinel")), hard("h", "f"))
    assert_refused(data, layer, tmp_path, "'h'", "no longer a regular file")


@pytest.mark.parametrize(
    ("kind", "named"),
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO"),
        (tarfile.GNUTYPE_SPARSE, "sparse file"),
        (b"V", "type b'V'"),
    ],
)
def test_members_other_than_files_dirs_and_links_are_refused(
    kind: bytes, named: str, layer: Path, outside: Path, tmp_path: Path
) -> None:
    data = tar_bytes(member("dev/node", kind, devmajor=8, devminor=0), fmt=tarfile.GNU_FORMAT)
    assert_refused(data, layer, tmp_path, "'dev/node'", named)
    assert not (layer / "dev/node").exists()


def test_a_name_component_longer_than_the_filesystem_allows_is_refused(
    layer: Path, outside: Path, tmp_path: Path
) -> None:
    assert_refused(tar_bytes(reg("d/" + "x" * 300, b"x")), layer, tmp_path, "File name too long")


def test_a_0_0_character_device_in_the_archive_is_refused_too(layer: Path, outside: Path, tmp_path: Path) -> None:
    # Whiteouts are made by unpack from .wh. names, never taken from the archive as devices.
    assert_refused(tar_bytes(member("w", tarfile.CHRTYPE)), layer, tmp_path, "character device")


def test_zstd_layer_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    assert_refused(b"\x28\xb5\x2f\xfd" + bytes(100), layer, tmp_path, "zstd")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a tar archive at all" * 40,
        gzip.compress(tar_bytes(reg("f", os.urandom(5000))))[:2000],
        b"\x1f\x8bjunk",
    ],
    ids=["empty", "garbage", "truncated-gzip", "bad-gzip"],
)
def test_corrupt_streams_are_refused(data: bytes, layer: Path, outside: Path, tmp_path: Path) -> None:
    assert_refused(data, layer, tmp_path, "layer ")


def test_gzip_bomb_is_refused_while_inflating(layer: Path, outside: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        info = tarfile.TarInfo("bomb")
        info.size = 64 * MiB
        tar.addfile(info, ZeroReader(info.size))
    bomb = buf.getvalue()
    assert len(bomb) < 256 * 1024

    started = time.monotonic()
    assert_refused(bomb, layer, tmp_path, "'bomb'", "limit", caps=LayerCaps(max_bytes=MiB))
    assert time.monotonic() - started < 2
    assert not (layer / "bomb").exists()  # its declared size alone was enough to refuse it: nothing was written


def test_content_cap_counts_bytes_across_members(layer: Path, outside: Path, tmp_path: Path) -> None:
    data = tar_bytes(*(reg(f"f{i}", bytes(400 * 1024)) for i in range(4)))
    assert_refused(data, layer, tmp_path, "'f2'", "limit", caps=LayerCaps(max_bytes=MiB))
    assert du(layer) <= MiB
    exact = layer.parent / "exact"
    exact.mkdir()
    assert do_unpack(data, exact, LayerCaps(max_bytes=1600 * 1024)).bytes == 1600 * 1024


def test_huge_pax_header_is_refused_before_it_is_read_whole(layer: Path, outside: Path, tmp_path: Path) -> None:
    info, data = reg("f", b"x")
    info.pax_headers = {"comment": "z" * (16 * MiB)}
    bomb = gzip.compress(tar_bytes(reg("first"), (info, data)))
    assert_refused(bomb, layer, tmp_path, "after member 'first'", "bomb")


def test_a_long_pax_header_within_the_allowance_is_accepted(layer: Path) -> None:
    info, data = reg("f", b"x")
    info.pax_headers = {"comment": "z" * (HEADER_BYTES_MAX // 2)}
    do_unpack(tar_bytes((info, data)), layer)
    assert (layer / "f").read_bytes() == b"x"


def test_junk_after_the_end_of_the_archive_is_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    stream = gzip.compress(tar_bytes(reg("f", b"x")) + bytes(64 * MiB))
    started = time.monotonic()
    assert_refused(stream, layer, tmp_path, "after its last member", "bomb")
    assert time.monotonic() - started < 2


def test_too_many_members_are_refused(layer: Path, outside: Path, tmp_path: Path) -> None:
    data = tar_bytes(*(reg(f"f{i}") for i in range(4)))
    assert_refused(data, layer, tmp_path, "'f3'", "more than 3 members", caps=LayerCaps(max_files=3))
    fits = layer.parent / "fits"
    fits.mkdir()
    assert do_unpack(data, fits, LayerCaps(max_files=4)).files == 4


# --- unpack: whiteouts ---


def assert_whiteout(path: Path) -> None:
    st = path.lstat()
    assert stat.S_ISCHR(st.st_mode), path
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (0, 0)


def test_whiteout_becomes_a_0_0_character_device(layer: Path) -> None:
    require_root()
    result = do_unpack(tar_bytes(dir_("etc"), reg("etc/.wh.motd"), reg(".wh.top")), layer)
    assert_whiteout(layer / "etc/motd")
    assert_whiteout(layer / "top")
    assert not (layer / "etc/.wh.motd").exists()
    assert result.files == 3


def test_opaque_marker_sets_the_overlay_opaque_xattr(layer: Path) -> None:
    require_root()
    do_unpack(tar_bytes(dir_("d"), reg("d/.wh..wh..opq"), reg("d/f", b"x"), reg("implicit/.wh..wh..opq")), layer)
    assert os.getxattr(layer / "d", OPAQUE_XATTR) == b"y"
    assert os.getxattr(layer / "implicit", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(layer / "d")) == ["f"]
    assert not is_opaque(layer)


def test_whiteout_replaces_a_file_and_a_directory_earlier_in_the_archive(layer: Path) -> None:
    require_root()
    data = tar_bytes(reg("f", b"x"), dir_("d"), reg("d/inner", b"y"), reg(".wh.f"), reg(".wh.d"))
    do_unpack(data, layer)
    assert_whiteout(layer / "f")
    assert_whiteout(layer / "d")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (reg("a/.wh..wh.plnk"), "whiteout"),
        (reg(".wh.."), "whiteout"),
        (reg(".wh."), "whiteout"),
        (reg(".wh.f", b"content"), "empty regular file"),
        (dir_(".wh.d"), "empty regular file"),
        (sym(".wh.s", "/etc"), "empty regular file"),
        (reg(".wh.d/f"), "used as a directory"),
    ],
    ids=["unknown-meta", "dotdot", "empty", "with-content", "directory", "symlink", "as-directory"],
)
def test_malformed_whiteouts_are_refused(entry: Entry, reason: str, layer: Path, outside: Path, tmp_path: Path) -> None:
    assert_refused(tar_bytes(entry), layer, tmp_path, reason)


# --- pack ---


def sample_layer(dest: Path) -> None:
    require_root()
    dest.mkdir()
    do_unpack(
        tar_bytes(
            dir_("bin", mode=0o755),
            reg("bin/tool", b"#!/bin/sh\n", mode=0o755),
            sym("bin/py", "/usr/bin/python3"),
            hard("bin/tool-again", "bin/tool"),
            dir_("opaque", mode=0o750),
            reg("opaque/.wh..wh..opq"),
            reg("opaque/kept", b"k"),
            reg("etc/.wh.gone"),
            reg("etc/conf", b"a = 1\n", mode=0o600),
            dir_("tmp", mode=0o1777),
            reg("deep/a/b/c/d/e", b"deep"),
            reg("ünïcode-名前", b"u"),
        ),
        dest,
    )


def test_pack_is_deterministic(tmp_path: Path) -> None:
    sample_layer(tmp_path / "src")
    first, first_digest = pack_bytes(tmp_path / "src")
    conf = tmp_path / "src/etc/conf"
    os.utime(conf, ns=(0, conf.stat().st_mtime_ns))  # an access time is not part of a layer
    second, second_digest = pack_bytes(tmp_path / "src")
    assert first == second and first_digest == second_digest


def test_pack_returns_the_sha256_of_the_bytes_written_which_unpack_agrees_with(tmp_path: Path) -> None:
    sample_layer(tmp_path / "src")
    data, digest = pack_bytes(tmp_path / "src")
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    again = tmp_path / "again"
    again.mkdir()
    assert do_unpack(data, again).diff_id == digest


def test_round_trip_unpack_pack_unpack_gives_the_same_tree(tmp_path: Path) -> None:
    sample_layer(tmp_path / "src")
    data, _ = pack_bytes(tmp_path / "src")
    (tmp_path / "copy").mkdir()
    do_unpack(data, tmp_path / "copy")
    original, copy = tree(tmp_path / "src"), tree(tmp_path / "copy")
    assert copy == original
    # The sample really has what the comparison is meant to cover.
    kinds = {entry[0] for entry in original.values()}
    assert kinds == {"dir", "file", "link", "whiteout"}
    assert original["opaque"][2] is True and original["etc/gone"][:3] == ("whiteout", 0, 0)


def test_pack_writes_whiteouts_and_opaque_dirs_as_wh_members(tmp_path: Path) -> None:
    sample_layer(tmp_path / "src")
    data, _ = pack_bytes(tmp_path / "src")
    names = names_in(data)
    assert "etc/.wh.gone" in names and "etc/gone" not in names
    assert names.index("opaque/.wh..wh..opq") == names.index("opaque") + 1
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for info in tar.getmembers():
            assert info.type in (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE), info.name
            assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", ""), info.name
            assert (info.devmajor, info.devminor) == (0, 0), info.name
        assert tar.getmember("etc/.wh.gone").size == 0


def test_pack_orders_members_sorted_with_each_directory_before_its_content(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for path in ("b/z", "b/a", "a-c", "a/b"):
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(b"")
    assert names_in(pack_bytes(src)[0]) == ["a", "a/b", "a-c", "b", "b/a", "b/z"]


def test_pack_never_follows_symlinks(tmp_path: Path, outside: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "to-dir").symlink_to(outside)
    (src / "to-file").symlink_to(outside / "sentinel")
    data, _ = pack_bytes(src)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"to-dir", "to-file"}
    assert all(m.issym() for m in members.values())
    assert members["to-dir"].linkname == str(outside)
    assert b"keep me" not in data


def make_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (make_socket, "socket"),
        (lambda p: os.mkfifo(p), "FIFO"),
        (lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3)), "character device 1:3"),
        (lambda p: os.mknod(p, stat.S_IFBLK | 0o600, os.makedev(7, 0)), "block device"),
    ],
    ids=["socket", "fifo", "chr-1-3", "blk"],
)
def test_pack_refuses_sockets_fifos_and_real_devices(make: Callable[[Path], None], named: str, tmp_path: Path) -> None:
    require_root()
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    make(src / "d" / "node")
    with pytest.raises(LayerError, match=named) as refused:
        pack_bytes(src)
    assert "'d/node'" in str(refused.value)


def test_pack_refuses_a_file_whose_name_would_unpack_as_a_whiteout(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / ".wh.x").write_bytes(b"")
    with pytest.raises(LayerError, match=r"'\.wh\.x'"):
        pack_bytes(src)


# --- the layers in a real overlay ---


def mount_overlay(lowers: Iterable[Path], target: Path) -> None:
    lowerdir = ":".join(str(p) for p in lowers)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lowerdir}", str(target)], check=True)


def test_overlay_whiteout_hides_a_lower_file_and_an_opaque_dir_hides_lower_entries(tmp_path: Path) -> None:
    require_root()
    lower, upper, merged = tmp_path / "lower", tmp_path / "upper", tmp_path / "merged"
    for path in (lower, upper, merged):
        path.mkdir()
    do_unpack(
        tar_bytes(reg("gone", b"1"), reg("stays", b"2"), dir_("d"), reg("d/old", b"3"), reg("kept/x", b"4")), lower
    )
    do_unpack(
        tar_bytes(reg(".wh.gone"), dir_("d"), reg("d/.wh..wh..opq"), reg("d/new", b"5"), reg("kept/y", b"6")), upper
    )
    mount_overlay([upper, lower], merged)
    try:
        assert sorted(os.listdir(merged)) == ["d", "kept", "stays"]
        assert not (merged / "gone").exists()
        assert sorted(os.listdir(merged / "d")) == ["new"]
        assert sorted(os.listdir(merged / "kept")) == ["x", "y"]
        assert (merged / "stays").read_bytes() == b"2" and (merged / "d/new").read_bytes() == b"5"
    finally:
        subprocess.run(["umount", str(merged)], check=True)
