"""The problem archive format on its own (no database): writing, reading back, and refusing hostile archives."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from sandbox_service.problems import zipformat
from sandbox_service.problems.zipformat import ArchiveError, Caps, ProblemData, TestData
from tests.unit.sandbox_service.problems import archives


def read(data: bytes, caps: Caps | None = None) -> ProblemData:
    return zipformat.read(io.BytesIO(data), caps)


def refused(data: bytes, caps: Caps | None = None) -> ArchiveError:
    with pytest.raises(ArchiveError) as error:
        read(data, caps)
    return error.value


RICH = ProblemData(
    title="Échos ✓", slug="echo", statement="# Echo\r\n\nRepeat *it*.\n",
    limits={"cpu_time": 1.5, "wall_time": None, "memory": 128, "processes": None, "output": 64},
    checker="custom", abs_tolerance=0.5, rel_tolerance=0.0, checker_language="python3",
    checker_source="import sys\nsys.exit(0)\n", checker_file="main.py", stop_on_first_failure=True,
    allowed_languages=("c", "python3"),
    tests=(TestData(stdin="", expected_output="", name="empty", order=3, points=0, visible=True),
           TestData(stdin="a\r\nb\n", expected_output="ünï ✓\n", name="", order=7, points=10, visible=False),
           TestData(stdin="x" * 100_000, expected_output="y", name="big", order=8, points=1, visible=False)),
)  # fmt: skip


def test_what_is_written_reads_back_identical() -> None:
    out = io.BytesIO()
    zipformat.write(RICH, out)
    assert read(out.getvalue()) == RICH


def test_writing_is_deterministic_and_lays_out_the_documented_members() -> None:
    first, second = io.BytesIO(), io.BytesIO()
    zipformat.write(RICH, first)
    zipformat.write(RICH, second)
    assert first.getvalue() == second.getvalue()
    with zipfile.ZipFile(first) as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("problem.json"))
    assert names == ["checker/main.py", "problem.json", "statement.md", "tests/001.in", "tests/001.out",
                     "tests/002.in", "tests/002.out", "tests/003.in", "tests/003.out"]  # fmt: skip
    assert manifest["checker"] == {"kind": "custom", "abs_tolerance": 0.5, "rel_tolerance": 0.0,
                                   "language": "python3", "source": "checker/main.py"}  # fmt: skip
    assert manifest["tests"][1] == {"name": "", "order": 7, "points": 10, "visible": False}
    assert manifest["limits"]["wall_time"] is None and manifest["format_version"] == 1


def test_a_minimal_archive_takes_the_documented_defaults() -> None:
    data = read(archives.build({"problem.json": json.dumps({"format_version": 1, "title": "T", "slug": "t"})}))
    assert data == ProblemData(title="T", slug="t", limits=dict.fromkeys(zipformat.LIMIT_NAMES))
    one = archives.build({"problem.json": json.dumps({"format_version": 1, "title": "T", "slug": "t",
                                                      "tests": [{}]}),
                          "tests/": b"", "tests/001.in": "1", "tests/001.out": "2"})  # fmt: skip
    assert read(one).tests == (TestData(stdin="1", expected_output="2", order=1, points=1, visible=False),)


def test_the_thousandth_test_has_four_digits() -> None:
    assert zipformat.test_file_names(7) == ("tests/007.in", "tests/007.out")
    assert zipformat.test_file_names(1000) == ("tests/1000.in", "tests/1000.out")


def _with(name: str, content: Any) -> bytes:
    entries = archives.members()
    entries[name] = content
    return archives.build(entries)


def _without(name: str) -> bytes:
    entries = archives.members()
    del entries[name]
    return archives.build(entries)


HOSTILE = {
    "traversal": (_with("../x", "evil"), "../x", "'..'"),
    "traversal inside": (_with("tests/../../x", "evil"), "tests/../../x", "'..'"),
    "absolute": (_with("/etc/x", "evil"), "/etc/x", "absolute"),
    "drive letter": (_with("C:/x", "evil"), "C:/x", "absolute"),
    "backslash": (_with("tests\\..\\x", "evil"), "tests\\..\\x", "backslash"),
    "empty component": (_with("tests//001.in", "evil"), "tests//001.in", "empty"),
    "symlink": (_with("tests/001.in", archives.symlink("tests/001.in")), "tests/001.in", "symbolic link"),
    "duplicate member": (archives.build([*archives.members().items(), ("tests/001.in", "9 9\n")]),
                         "tests/001.in", "twice"),
    "not a zip": (b"this is not a zip file at all" * 10, "archive", "not a valid ZIP"),
    "no problem.json": (_without("problem.json"), "archive", "no problem.json"),
    "invalid JSON": (_with("problem.json", "{'title': 'A'"), "problem.json", "not valid JSON"),
    "JSON not an object": (_with("problem.json", "[1, 2]"), "problem.json", "object"),
    "duplicate key": (_with("problem.json", '{"format_version": 1, "title": "a", "title": "b", "slug": "s"}'),
                      "problem.json", "twice"),
    "NaN": (archives.valid(limits={"cpu_time": float("nan")}), "problem.json", "NaN"),
    "deep JSON": (_with("problem.json", "[" * 100_000), "problem.json", "not valid JSON"),
    "unknown field": (archives.valid(colour="red"), "problem.json", "unknown field(s): colour"),
    "unknown limit": (archives.valid(limits={"stack": 10}), "problem.json", "limits.stack"),
    "unknown checker field": (archives.valid(checker={"kind": "exact", "program": "x"}), "problem.json",
                              "checker.program"),
    "unknown test field": (archives.valid(tests=[{"stdin": "1"}, {}]), "problem.json", "tests[0].stdin"),
    "missing slug": (archives.valid(slug=None), "problem.json", "slug: required"),
    "wrong type": (archives.valid(title=3), "problem.json", "title: must be a string"),
    "bool as number": (archives.valid(limits={"memory": True}), "problem.json", "limits.memory"),
    "float as whole number": (archives.valid(limits={"memory": 1.5}), "problem.json", "limits.memory"),
    "negative points": (archives.valid(tests=[{"points": -1}, {}]), "problem.json", "tests[0].points"),
    "unknown checker": (archives.valid(checker={"kind": "magic"}), "problem.json", "checker.kind"),
    "future version": (archives.valid(format_version=2), "problem.json", "format_version"),
    "checker outside checker/": (archives.valid(checker={"kind": "custom", "language": "python3",
                                                         "source": "tests/001.in"}), "problem.json",
                                 "checker.source"),  # fmt: skip
    "checker missing": (archives.valid(checker={"kind": "custom", "language": "python3",
                                                "source": "checker/main.py"}), "checker/main.py", "missing"),
    "unlisted test file": (_with("tests/003.in", "1"), "tests/003.in", "no entry"),
    "test without its output": (_without("tests/002.out"), "tests/002.out", "missing"),
    "wrapped in a folder": (_with("a-plus-b/problem.json", "{}"), "a-plus-b/problem.json", "unexpected"),
    "stray file": (_with("notes.txt", "hi"), "notes.txt", "unexpected"),
    "NUL in a test": (_with("tests/001.in", "1\0 2"), "tests/001.in", "NUL"),
    "not UTF-8": (_with("tests/001.out", b"\xff\xfe3"), "tests/001.out", "UTF-8"),
    "bomb": (archives.bomb(), "tests/001.in", "cannot be read"),
    "bzip2": (archives.build(archives.members(), compression=zipfile.ZIP_BZIP2), "problem.json", "deflated"),
}  # fmt: skip


@pytest.mark.parametrize(("data", "member", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_or_malformed_archive_is_refused_naming_the_member(data: bytes, member: str,
                                                                     message: str) -> None:  # fmt: skip
    error = refused(data)
    assert error.member == member and message in error.message, (error.member, error.message)


def test_an_encrypted_member_is_refused() -> None:
    error = refused(archives.with_flags(archives.valid(), "tests/001.in", 0x1))
    assert error.member == "tests/001.in" and "encrypted" in error.message


def test_a_member_that_inflates_past_its_declared_size_is_never_inflated_past_it(monkeypatch: Any) -> None:
    inflated: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = real_read(self, n)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    error = refused(archives.bomb(inflated=64 * 1024 * 1024, declared=10))
    assert error.member == "tests/001.in" and "CRC" in error.message
    assert sum(inflated) < 1024 * 1024  # a handful of bytes, not 64 MiB


def test_a_member_declaring_more_than_its_cap_is_refused_before_reading() -> None:
    data = archives.with_declared_size(archives.valid(), "tests/002.out", 17 * 1024 * 1024)
    error = refused(data)
    assert error.member == "tests/002.out" and "declares" in error.message


def test_reading_is_capped_even_when_the_declared_size_is_believed() -> None:
    with zipfile.ZipFile(io.BytesIO(archives.build({"tests/001.in": "x" * 5000}))) as archive:
        info = archive.infolist()[0]
        with pytest.raises(ArchiveError, match="inflates to more than"):
            zipformat._read_bytes(archive, info, cap=1000, budget=zipformat._Budget(10**6))
        with pytest.raises(ArchiveError, match="total cap"):
            zipformat._read_bytes(archive, info, cap=10**6, budget=zipformat._Budget(1000))


def test_too_many_members_are_refused_before_the_directory_is_parsed(monkeypatch: Any) -> None:
    data = archives.build([(f"tests/{i}.in", "") for i in range(2006)])

    def no_parse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", no_parse)
    error = refused(data)
    assert error.member == "archive" and "2006 members" in error.message


def test_an_oversized_central_directory_is_refused() -> None:
    error = refused(archives.with_directory_size(archives.valid(), 2005 * 1024 + 1))
    assert error.member == "archive" and "central directory" in error.message


def test_members_under_their_own_cap_but_over_the_total_together_are_refused() -> None:
    entries = archives.members()
    entries["tests/001.in"] = "1" * 600
    entries["tests/002.in"] = "2" * 600
    caps = Caps(total_bytes=1000)
    error = refused(archives.build(entries), caps)
    assert error.member == "archive" and "together" in error.message


def test_a_larger_archive_than_the_cap_is_refused() -> None:
    error = refused(archives.valid(), Caps(archive_bytes=100))
    assert error.member == "archive" and "larger than" in error.message


def test_more_tests_than_the_cap_are_refused() -> None:
    error = refused(archives.valid(), Caps(tests=1))
    assert error.member == "problem.json" and "at most 1" in error.message


# --- tests-only archives (the admin's bulk upload) --------------------------------------------------------------


def read_tests(entries: Any, caps: Caps | None = None) -> tuple[TestData, ...]:
    return zipformat.read_tests(io.BytesIO(entries if isinstance(entries, bytes) else archives.build(entries)), caps)


def test_a_tests_archive_pairs_inputs_with_outputs_in_natural_order() -> None:
    tests = read_tests({"t/10.in": "10", "t/10.out": "100", "t/2.in": "2", "t/2.ans": "4", "t/": b"",
                        "t/sample.in": "s", "t/sample.out": "S"})  # fmt: skip
    assert [(t.name, t.order, t.stdin, t.expected_output) for t in tests] == [
        ("2", 1, "2", "4"), ("10", 2, "10", "100"), ("sample", 3, "s", "S")]  # fmt: skip


@pytest.mark.parametrize(("entries", "member", "message"), [
    ({"1.in": "x", "1.out": "y", "link.in": archives.symlink("link.in")}, "link.in", "symbolic links"),
    ({"/abs.in": "x", "/abs.out": "y"}, "/abs.in", "absolute paths"),
    ({"a/../1.in": "x", "1.out": "y"}, "a/../1.in", "'..'"),
    ({"1.in": "x"}, "1.in", "no matching .out"),
    ({"1.out": "y"}, "1.out", "no matching .in"),
    ({"1.in": "x", "1.out": "y", "README": "z"}, "README", "not a test file"),
    ({"1.in": "x", "1.out": "y", "1.ans": "z"}, "1.ans", "a second expected output"),
    ({"1.in": b"\xff\xfe", "1.out": "y"}, "1.in", "not UTF-8"),
    ({}, "archive", "no test files"),
])  # fmt: skip
def test_a_bad_tests_archive_is_refused_naming_the_member(entries: Any, member: str, message: str) -> None:
    with pytest.raises(ArchiveError) as e:
        read_tests(entries)
    assert e.value.member == member and message in e.value.message


def test_a_tests_archive_bomb_is_never_inflated_past_its_declared_size() -> None:
    data = archives.with_declared_size(archives.build({"1.in": b"1" * (8 * 1024 * 1024), "1.out": "y"}), "1.in", 10)
    with pytest.raises(ArchiveError) as e:
        read_tests(data)
    assert e.value.member == "1.in"


def test_a_tests_archive_over_the_test_cap_is_refused() -> None:
    entries = {f"{i}.{kind}": "x" for i in range(4) for kind in ("in", "out")}
    with pytest.raises(ArchiveError, match="4 tests: at most 3"):
        read_tests(entries, Caps(tests=3))
