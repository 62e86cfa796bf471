"""Problem archives for tests: well-formed ones, and the hostile ones an import must refuse."""

from __future__ import annotations

import io
import json
import stat
import struct
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

Member = bytes | str | zipfile.ZipInfo


def manifest(**changes: Any) -> dict[str, Any]:
    """A small valid problem.json (two tests), with `changes` applied (a value of None removes the key)."""
    data: dict[str, Any] = {
        "format_version": 1,
        "title": "A + B",
        "slug": "a-plus-b",
        "limits": {"cpu_time": 1.0, "memory": 128},
        "checker": {"kind": "whitespace"},
        "stop_on_first_failure": False,
        "allowed_languages": [],
        "tests": [{"name": "sample", "order": 1, "points": 0, "visible": True},
                  {"name": "hidden", "order": 2, "points": 5, "visible": False}],
    }  # fmt: skip
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def members(**changes: Any) -> dict[str, Member]:
    """The members of a valid archive: problem.json (with `changes`), statement.md and two tests."""
    return {
        "problem.json": json.dumps(manifest(**changes)),
        "statement.md": "Add *a* and *b*.",
        "tests/001.in": "1 2\n",
        "tests/001.out": "3\n",
        "tests/002.in": "5 7\n",
        "tests/002.out": "12\n",
    }


def build(entries: Mapping[str, Member] | list[tuple[str, Member]], *,
          compression: int = zipfile.ZIP_DEFLATED) -> bytes:  # fmt: skip
    """A ZIP of `entries` (name → content, or a list of pairs to allow duplicate names). A ZipInfo value is
    written as it is with empty content (for symlinks and the like: set its external_attr)."""
    out = io.BytesIO()
    items = entries.items() if isinstance(entries, Mapping) else entries
    with zipfile.ZipFile(out, "w", compression=compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        for name, content in items:
            if isinstance(content, zipfile.ZipInfo):
                archive.writestr(content, b"target")
                continue
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, content.encode() if isinstance(content, str) else content)
    return out.getvalue()


def valid(**changes: Any) -> bytes:
    return build(members(**changes))


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def with_declared_size(data: bytes, name: str, size: int) -> bytes:
    """`data` with member `name`'s uncompressed size rewritten to `size` in both its local and central headers
    (the CRC is left as it was): a member that lies about how much it inflates to."""
    return _patch(data, name, local_offset=22, central_offset=24, fmt="<L", value=size)


def with_flags(data: bytes, name: str, flags: int) -> bytes:
    """`data` with member `name`'s general-purpose flags set to `flags` (zipfile's writer would reset them)."""
    return _patch(data, name, local_offset=6, central_offset=8, fmt="<H", value=flags)


def _patch(data: bytes, name: str, *, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    raw = bytearray(data)
    encoded = name.encode()
    for signature, name_length_at, name_at, offset in ((b"PK\x03\x04", 26, 30, local_offset),
                                                       (b"PK\x01\x02", 28, 46, central_offset)):  # fmt: skip
        at = 0
        while (at := raw.find(signature, at)) >= 0:
            length = struct.unpack_from("<H", raw, at + name_length_at)[0]
            if raw[at + name_at : at + name_at + length] == encoded:
                struct.pack_into(fmt, raw, at + offset, value)
            at += 4
    return bytes(raw)


def with_directory_size(data: bytes, size: int) -> bytes:
    """`data` with the central directory size of its end record rewritten to `size`."""
    raw = bytearray(data)
    at = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<L", raw, at + 12, size)
    return bytes(raw)


def bomb(name: str = "tests/001.in", inflated: int = 64 * 1024 * 1024, declared: int = 10) -> bytes:
    """A valid archive whose member `name` declares `declared` bytes but inflates to `inflated` bytes of valid text."""
    entries = members()
    entries[name] = b"1" * inflated
    return with_declared_size(build(entries), name, declared)
