"""`additional_files`: a zip archive whose files are put beside the source (Judge0 runs `unzip -n` in the box).

Here the archive is read on the host, so it is read as hostile data: no absolute paths, no "." or ".." parts, no
symbolic links, no encrypted entries, a bounded number of files, and the extracted size is counted while
decompressing (a zip bomb stops at the limit, whatever sizes its headers claim). As `unzip -n` does, an entry never
replaces the source file or an earlier entry of the same name.
"""

from __future__ import annotations

import base64
import io
import stat
import zipfile

from sandbox_service.problems import zipformat
from sandbox_service.submissions import services as submission_services

MAX_ENTRIES = 1000  # entries read at all (directories included), before any decompression


class ArchiveError(ValueError):
    """The archive cannot be used; the message says why (it becomes a 422 on additional_files)."""


def unpack(data: bytes, *, source_name: str, max_bytes: int,
           max_files: int = submission_services.MAX_FILES) -> list[dict[str, str]]:  # fmt: skip
    """The archive's files as submission files ({name, content (base64), encoding: "base64"})."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ArchiveError("is not a valid zip archive") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ArchiveError(f"has more than {MAX_ENTRIES} entries")
        files: list[dict[str, str]] = []
        names: set[str] = set()
        total = 0
        for entry in entries:
            name = entry.filename.replace("\\", "/")
            if entry.is_dir():
                continue
            _check_name(name)
            if stat.S_ISLNK(entry.external_attr >> 16):
                raise ArchiveError(f"{name!r} is a symbolic link")
            if entry.flag_bits & 0x1:
                raise ArchiveError(f"{name!r} is encrypted")
            if name == source_name or name in names:
                continue  # unzip -n: never overwrite
            content = _read(archive, entry, max_bytes - total)
            total += len(content)
            names.add(name)
            files.append({"name": name, "content": base64.b64encode(content).decode("ascii"), "encoding": "base64"})
        if len(files) > max_files:
            raise ArchiveError(f"has more than {max_files} files")
        _check_tree(names | {source_name})
        return files


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or "\0" in name or any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"{name!r}: only relative paths without '.', '..' or empty parts are allowed")


def _read(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, read by the problem archives' one reader of hostile members (capped while inflating)."""
    try:
        return zipformat.read_member(archive, entry, max(budget, 0))
    except zipformat.TooLarge:
        raise ArchiveError("is larger than the maximum extract size when extracted") from None
    except zipformat.ArchiveError as e:
        raise ArchiveError(f"{entry.filename!r} cannot be extracted: {e.message}") from None


def _check_tree(names: set[str]) -> None:
    """No file may also be a directory of another ("a" and "a/b"): the sandbox could not lay both out."""
    for name in names:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in names:
                raise ArchiveError(f"{parent!r} is both a file and a directory")
