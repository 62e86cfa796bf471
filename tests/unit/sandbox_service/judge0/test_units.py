"""The pure pieces: the status table, Ruby's Base64 and number formats, the archive reader."""

from __future__ import annotations

import base64
import signal
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sandbox_service.judge0 import archive
from sandbox_service.judge0.encoding import (
    decimal_string,
    ruby_base64_decode,
    ruby_base64_encode,
    ruby_to_i,
    timestamp,
)
from sandbox_service.judge0.serializers import ATTRIBUTES, DEFAULT_FIELDS, InvalidFields, requested_fields
from sandbox_service.judge0.statuses import judge0_status
from tests.unit.sandbox_service.judge0.conftest import make_zip


@pytest.mark.parametrize(("status", "verdict", "sig", "code", "message", "expected"), [
    ("queued", "", None, None, "", (1, None)),
    ("running", "", None, None, "", (2, None)),
    ("finished", "accepted", None, 0, "", (3, None)),
    ("finished", "wrong_answer", None, 0, "test 1: wrong answer", (4, None)),
    ("finished", "time_limit", 9, None, "test 1: time limit (cpu)", (5, "Time limit exceeded")),
    ("finished", "time_limit", 9, None, "test 1: time limit (wall)", (5, "Time limit exceeded (wall clock)")),
    ("finished", "compile_error", None, None, "compile error", (6, None)),
    ("finished", "runtime_error", signal.SIGSEGV, None, "", (7, "Caught fatal signal 11")),
    ("finished", "runtime_error", signal.SIGXFSZ, None, "", (8, "Caught fatal signal 25")),
    ("finished", "runtime_error", signal.SIGFPE, None, "", (9, "Caught fatal signal 8")),
    ("finished", "runtime_error", signal.SIGABRT, None, "", (10, "Caught fatal signal 6")),
    ("finished", "runtime_error", None, 1, "", (11, "Exited with error status 1")),
    ("finished", "runtime_error", None, 139, "", (11, "Exited with error status 139")),
    ("finished", "runtime_error", signal.SIGKILL, None, "", (12, "Caught fatal signal 9")),
    ("finished", "runtime_error", signal.SIGBUS, None, "", (12, "Caught fatal signal 7")),
    ("finished", "memory_limit", 9, None, "test 1: memory limit", (12, "Memory limit exceeded")),
    ("finished", "output_limit", None, None, "test 1: output limit", (12, "Output limit exceeded")),
    ("finished", "internal_error", None, None, "the sandbox failed 3 times: boom", (13,
                                                                                  "the sandbox failed 3 times: boom")),
    ("finished", "internal_error", None, None, "test 1: error program: step 13: OSError: [Errno 8] Exec format "
                                               "error: './main'", (14, None)),
])  # fmt: skip
def test_the_status_table(status: str, verdict: str, sig: int | None, code: int | None, message: str,
                          expected: tuple[int, str | None]) -> None:  # fmt: skip
    result = judge0_status(status, verdict, sig, code, message)
    assert result.id == expected[0]
    if expected[0] == 14:
        assert result.message == message and result.description == "Exec Format Error"
    else:
        assert result.message == expected[1]


def test_ruby_base64_encode_wraps_like_encode64() -> None:
    assert ruby_base64_encode(b"") == ""
    assert ruby_base64_encode(b"hello, Judge0\n") == "aGVsbG8sIEp1ZGdlMAo=\n"
    encoded = ruby_base64_encode(bytes(range(256)))
    assert all(len(line) == 60 for line in encoded.split("\n")[:-2]) and encoded.endswith("\n")
    assert base64.b64decode(encoded.replace("\n", "")) == bytes(range(256))


@pytest.mark.parametrize(("text", "data"), [
    ("aGVsbG8=", b"hello"), ("aGVs\nbG8=\n", b"hello"), ("aGVsbG8", b"hello"), ("a", b""), ("", b""),
    ("!!aGk*", b"hi"), ("aGk=junk", b"hi"), ("SnVkZ2Uw", b"Judge0"),
])  # fmt: skip
def test_ruby_base64_decode_is_lenient(text: str, data: bytes) -> None:
    assert ruby_base64_decode(text) == data


@pytest.mark.parametrize(("value", "places", "text"), [
    (5, None, "5.0"), (5.0, None, "5.0"), (0.012, None, "0.012"), (0.0123456, 3, "0.012"), (0.0, 3, "0.0"),
    (Decimal("2.50"), None, "2.5"), (1e-7, 3, "0.0"), (1000, None, "1000.0"), (None, None, None),
])  # fmt: skip
def test_decimal_strings_are_bigdecimal_like(value: object, places: int | None, text: str | None) -> None:
    assert decimal_string(value, places) == text  # type: ignore[arg-type]


def test_timestamps_are_utc_milliseconds_with_z() -> None:
    moment = datetime(2024, 1, 31, 13, 34, 56, 789123, tzinfo=timezone(timedelta(hours=1)))
    assert timestamp(moment) == "2024-01-31T12:34:56.789Z"
    assert timestamp(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000Z" and timestamp(None) is None


@pytest.mark.parametrize(("value", "number"), [
    ("12", 12), ("12abc", 12), ("abc", 0), ("", None), (None, None), (7.9, 7), (True, 1), ("  -3", -3), (71, 71),
])  # fmt: skip
def test_ruby_to_i(value: object, number: int | None) -> None:
    assert ruby_to_i(value) == number


def test_requested_fields() -> None:
    assert requested_fields(None) == DEFAULT_FIELDS and requested_fields("") == DEFAULT_FIELDS
    assert requested_fields("*") == ATTRIBUTES and requested_fields("token,*") == ATTRIBUTES
    assert requested_fields("stdout,token,") == ("stdout", "token")
    with pytest.raises(InvalidFields, match=r"invalid fields: \[id, x\]"):
        requested_fields("token,id,x")


def test_an_archive_is_unpacked_with_its_folders() -> None:
    files = archive.unpack(make_zip({"a.txt": b"1", "d/e/f.txt": b"2", "d/": b""}), source_name="main.py",
                           max_bytes=1024)  # fmt: skip
    assert [(f["name"], base64.b64decode(f["content"]), f["encoding"]) for f in files] == [
        ("a.txt", b"1", "base64"), ("d/e/f.txt", b"2", "base64")]  # fmt: skip


def test_an_archive_never_replaces_the_source_or_an_earlier_file() -> None:
    data = make_zip({"main.py": b"evil", "x.txt": b"first"})
    files = archive.unpack(data, source_name="main.py", max_bytes=1024)
    assert [f["name"] for f in files] == ["x.txt"]


def test_a_zip_bomb_stops_at_the_limit_whatever_its_headers_say() -> None:
    data = make_zip({"bomb.bin": b"\0" * (4 * 1024 * 1024)})
    assert len(data) < 64 * 1024
    with pytest.raises(archive.ArchiveError, match="maximum extract size"):
        archive.unpack(data, source_name="main.py", max_bytes=1024 * 1024)


@pytest.mark.parametrize(("entries", "match"), [
    ({"../x": b""}, "relative"), ({"a/../../x": b""}, "relative"), ({"/abs": b""}, "relative"),
    ({"a\\..\\..\\x": b""}, "relative"), ({"./x": b""}, "relative"), ({"main.py/x": b""}, "both a file"),
])  # fmt: skip
def test_unsafe_archive_paths_are_refused(entries: dict[str, bytes], match: str) -> None:
    with pytest.raises(archive.ArchiveError, match=match):
        archive.unpack(make_zip(entries), source_name="main.py", max_bytes=1024)


def test_symbolic_links_in_an_archive_are_refused() -> None:
    with pytest.raises(archive.ArchiveError, match="symbolic link"):
        archive.unpack(make_zip({"l": b"/etc/shadow"}, symlinks=("l",)), source_name="main.py", max_bytes=1024)
