"""Problem archives: a whole problem (statement, limits, checker, test cases) as one ZIP file.

Format, version 1
-----------------

A problem archive is a ZIP file whose members are stored or deflated (no other compression, no encryption,
no ZIP64) and all text is UTF-8 without NUL characters:

    problem.json     required: the problem's settings and the list of its tests (below)
    statement.md     optional: the statement, Markdown (absent: an empty statement)
    tests/001.in     the standard input of the 1st test of problem.json's "tests" list
    tests/001.out    its expected output
    tests/002.in     ... one .in and one .out for every test: the n-th entry of "tests" is tests/<n>.in and
    tests/002.out        tests/<n>.out, n in decimal with at least three digits (001 ... 999, 1000)
    checker/<file>   the custom checker's source, when problem.json's "checker" names one
    tests/ checker/  directory entries (optional)

Nothing else may be in the archive: names are matched exactly, so a problem zipped inside a folder
(`a-plus-b/problem.json`) is refused, and so is any member at an absolute path (`/etc/x`), with a `..`, `.`
or empty component (`../x`, `tests//1.in`), with a backslash, or that is a symbolic link, a device or a FIFO.
Test data is kept byte for byte: no line endings are changed.

problem.json is one object; only `format_version`, `title` and `slug` are required:

    {
      "format_version": 1,
      "title": "A + B",
      "slug": "a-plus-b",
      "limits": {"cpu_time": 1.0, "wall_time": null, "memory": 128, "processes": null, "output": null},
      "checker": {"kind": "custom", "abs_tolerance": 1e-06, "rel_tolerance": 1e-06,
                  "language": "python3", "source": "checker/main.py"},
      "stop_on_first_failure": false,
      "allowed_languages": ["c", "python3"],
      "tests": [
        {"name": "sample", "order": 1, "points": 0, "visible": true},
        {"name": "big", "order": 2, "points": 10, "visible": false}
      ]
    }

- `format_version`: 1.
- `title`: text, at most 200 characters. `slug`: letters, digits, `-` and `_`, at most 50 characters; it names
  the problem (`/api/v1/problems/<slug>/`).
- `limits`: the run limits of every test: `cpu_time` (seconds), `wall_time` (seconds), `memory` (MiB, whole),
  `processes` (whole), `output` (KiB per stream, whole). A missing or null limit is the language's default;
  each must be within the operator's maxima.
- `checker`: `kind` is `whitespace` (the default), `exact`, `tokens`, `float` or `custom`; `abs_tolerance` and
  `rel_tolerance` (default 1e-06) are the `float` checker's; `language` (a language id) and `source` (the
  member holding its source, `checker/<file>`) are the `custom` checker's, which runs as
  `CHECKER input expected output` and accepts with exit code 0.
- `stop_on_first_failure`: stop grading at the first failed test (default false).
- `allowed_languages`: language ids a submission may use; empty or missing: every language.
- `tests`: one entry per test, graded by `order`, then by position. `name` (default ""), `order` (a whole
  number >= 0; default: its position, from 1), `points` (a whole number >= 0, default 1), `visible` (shown to
  students with its expected output; default false).

Reading is strict: a key not listed here, a key given twice, a value of the wrong type, NaN or Infinity, a test
file with no entry in "tests" or an entry without both of its files is refused, naming the member (and the key).
The import API answers 400 with the member as the key: `{"problem.json": ["limits.memory: 4096 is above the
maximum of 2048"]}`, `{"tests/003.in": ["must not contain NUL characters"]}`, `{"archive": ["..."]}` for the
container itself (not a ZIP, too large, too many members).

An export writes every key, names the checker's file after its language's source file (`checker/main.py`,
`checker/Main.java`) and writes the members deterministically (the same problem gives the same bytes); importing
what was exported gives an identical problem.

Owner, graders and publication are not part of a problem archive. An import makes a new, unpublished problem
owned by the importer; with `?replace=true` it overwrites the problem of the same slug, keeping its owner, graders,
publication and submissions, and replacing all of its test cases.

Caps (an archive over any of them is refused before anything is written): the archive 64 MiB; 2005 members;
problem.json 1 MiB; statement.md 1 MiB; the checker's source 512 KiB; each test file 16 MiB; 1000 tests; all
members together 260 MiB uncompressed. Sizes are checked as declared in the archive and again while reading.

This module is plain data in, plain data out: no Django. The services map it to rows and back.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

FORMAT_VERSION = 1
PROBLEM_JSON = "problem.json"
STATEMENT_MD = "statement.md"
LIMIT_NAMES = ("cpu_time", "wall_time", "memory", "processes", "output")
WHOLE_LIMITS = ("memory", "processes", "output")
CHECKER_KINDS = ("whitespace", "exact", "tokens", "float", "custom")
ARCHIVE = "archive"  # the member name of errors about the container itself

_TEST_FILE = re.compile(r"tests/([0-9]{3,})\.(in|out)", re.ASCII)
_CHECKER_FILE = re.compile(r"checker/[A-Za-z0-9][A-Za-z0-9._-]{0,99}", re.ASCII)
# A fixed timestamp: exporting the same problem twice gives the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_READ_CHUNK = 64 * 1024
_MAX_DIRECTORY_ENTRY = 1024  # bytes: 46 of header, a short name, a few extra fields
MiB = 1024 * 1024


@dataclass(frozen=True)
class Caps:
    archive_bytes: int = 64 * MiB  # the ZIP file itself
    members: int = 2005  # 2 files per test, problem.json, statement.md, the checker, two directory entries
    tests: int = 1000
    json_bytes: int = 1 * MiB
    statement_bytes: int = 1 * MiB
    checker_bytes: int = 512 * 1024
    test_file_bytes: int = 16 * MiB  # each .in and each .out
    total_bytes: int = 260 * MiB  # every member uncompressed, together


class ArchiveError(ValueError):
    """The archive is refused; `member` is the member at fault ("archive" for the container itself)."""

    def __init__(self, member: str, message: str) -> None:
        super().__init__(f"{member}: {message}")
        self.member = member
        self.message = message


class TooLarge(ArchiveError):
    """A member, or the members together, inflate past their cap."""


@dataclass(frozen=True)
class TestData:
    __test__ = False  # not a pytest class

    stdin: str
    expected_output: str
    name: str = ""
    order: int = 0
    points: int = 1
    visible: bool = False


@dataclass(frozen=True)
class ProblemData:
    title: str
    slug: str
    statement: str = ""
    limits: Mapping[str, float | int | None] = field(default_factory=dict)  # every LIMIT_NAMES key; None: default
    checker: str = "whitespace"
    abs_tolerance: float = 1e-6
    rel_tolerance: float = 1e-6
    checker_language: str | None = None
    checker_source: str = ""
    # The checker source's file name inside checker/ (writing only: reading keeps the source, not its name).
    checker_file: str = "source"
    stop_on_first_failure: bool = False
    allowed_languages: tuple[str, ...] = ()
    tests: tuple[TestData, ...] = ()


def test_file_names(number: int) -> tuple[str, str]:
    """The members of the `number`-th test (1-based)."""
    return f"tests/{number:03d}.in", f"tests/{number:03d}.out"


# ---------------------------------------------------------------------------------------------- writing ----


def write(problem: ProblemData, out: IO[bytes], tests: Iterable[TestData] | None = None) -> None:
    """Write `problem` as an archive to `out`. `tests` (default: problem.tests) is iterated once, so a caller can
    stream test cases from the database without holding them all in memory."""
    entries = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, test in enumerate(problem.tests if tests is None else tests, start=1):
            stdin_name, expected_name = test_file_names(number)
            _put(archive, stdin_name, test.stdin.encode())
            _put(archive, expected_name, test.expected_output.encode())
            entries.append({"name": test.name, "order": test.order, "points": test.points, "visible": test.visible})
        checker_member = None
        if problem.checker_source or problem.checker_language:
            checker_member = f"checker/{problem.checker_file}"
            _put(archive, checker_member, problem.checker_source.encode())
        manifest = {
            "format_version": FORMAT_VERSION,
            "title": problem.title,
            "slug": problem.slug,
            "limits": {name: problem.limits.get(name) for name in LIMIT_NAMES},
            "checker": {
                "kind": problem.checker,
                "abs_tolerance": problem.abs_tolerance,
                "rel_tolerance": problem.rel_tolerance,
                "language": problem.checker_language,
                "source": checker_member,
            },  # fmt: skip
            "stop_on_first_failure": problem.stop_on_first_failure,
            "allowed_languages": sorted(problem.allowed_languages),
            "tests": entries,
        }
        _put(archive, PROBLEM_JSON, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
        _put(archive, STATEMENT_MD, problem.statement.encode())


def _put(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3  # Unix: the mode above is meaningful
    archive.writestr(info, data)


# ---------------------------------------------------------------------------------------------- reading ----


def read(source: IO[bytes], caps: Caps | None = None) -> ProblemData:
    """Read and check an archive; raise ArchiveError naming the member at fault.

    The archive is hostile input. In order: its size; the member count its end record declares (before zipfile
    parses a central directory of any size); each member's name, type, compression and declared size, and the
    declared total; then problem.json; then which members exist against what problem.json lists; then each member
    is read with a cap on what it may actually inflate to (zipfile also stops at the declared size and checks
    the CRC), so a member lying about its size cannot make us inflate more than the caps.
    """
    caps = caps or Caps()
    with _opened(source, caps) as archive:
        infos = _checked_members(archive.infolist(), caps)
        budget = _Budget(caps.total_bytes)
        manifest = _read_manifest(archive, infos, caps, budget)
        return _read_problem(archive, infos, manifest, caps, budget)


@contextlib.contextmanager
def _opened(source: IO[bytes], caps: Caps) -> Iterator[zipfile.ZipFile]:
    """The archive, opened once its size and its end record have been checked; a broken ZIP is an ArchiveError."""
    source.seek(0, 2)
    size = source.tell()
    if size > caps.archive_bytes:
        raise ArchiveError(ARCHIVE, f"larger than {_human(caps.archive_bytes)}")
    _check_end_record(source, size, caps)
    try:
        with zipfile.ZipFile(source) as archive:
            yield archive
    except zipfile.BadZipFile as e:
        raise ArchiveError(ARCHIVE, f"not a valid ZIP file: {e}") from None


# A tests-only archive (the admin's bulk upload): "<name>.in" with "<name>.out" or "<name>.ans", in any folder.
_TEST_MEMBER = re.compile(r"^(?P<stem>.+)\.(?P<kind>in|out|ans)$")


def read_tests(source: IO[bytes], caps: Caps | None = None) -> tuple[TestData, ...]:
    """The test cases of a tests-only archive, ordered by name with numbers compared as numbers ("2" before
    "10"), each named after its file. The same checks as `read` (sizes, names, member types, inflation caps);
    directory entries are allowed, any other file, an input without its output or the reverse is refused."""
    caps = caps or Caps()
    with _opened(source, caps) as archive:
        members = _checked_members(archive.infolist(), caps)
        pairs: dict[str, dict[str, zipfile.ZipInfo]] = {}
        for name, info in members.items():
            if name.endswith("/"):
                continue
            match = _TEST_MEMBER.match(name)
            if match is None:
                raise ArchiveError(name, "not a test file: expected <name>.in with <name>.out (or .ans)")
            kind = "in" if match["kind"] == "in" else "out"
            if kind in pairs.setdefault(match["stem"], {}):
                raise ArchiveError(name, f"a second expected output for {match['stem']}")
            pairs[match["stem"]][kind] = info
        if not pairs:
            raise ArchiveError(ARCHIVE, "no test files (<name>.in with <name>.out)")
        if len(pairs) > caps.tests:
            raise ArchiveError(ARCHIVE, f"{len(pairs)} tests: at most {caps.tests}")
        budget = _Budget(caps.total_bytes)
        tests = []
        for order, stem in enumerate(sorted(pairs, key=_natural), start=1):
            pair = pairs[stem]
            for kind, other in (("in", "out"), ("out", "in")):
                if kind not in pair:
                    raise ArchiveError(pair[other].orig_filename, f"has no matching .{kind} file")
            tests.append(TestData(stdin=_read_text(archive, pair["in"], caps.test_file_bytes, budget),
                                  expected_output=_read_text(archive, pair["out"], caps.test_file_bytes, budget),
                                  name=stem.rsplit("/", 1)[-1][:100], order=order))  # fmt: skip
        return tuple(tests)


def _natural(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part]


def _check_end_record(source: IO[bytes], size: int, caps: Caps) -> None:
    """Find the end-of-central-directory record as zipfile does and refuse too many members or ZIP64 early."""
    tail_size = min(size, 22 + 65535)
    source.seek(size - tail_size)
    tail = source.read(tail_size)
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" and tail[-2:] == b"\0\0" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError(ARCHIVE, "not a valid ZIP file: no end of central directory")
    _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    if 0xFFFF in (disk_entries, entries) or 0xFFFFFFFF in (cd_size, cd_offset):
        raise ArchiveError(ARCHIVE, "ZIP64 archives are not accepted")
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":  # a ZIP64 locator: zipfile would believe it instead
        raise ArchiveError(ARCHIVE, "ZIP64 archives are not accepted")
    if disk or cd_disk or disk_entries != entries:
        raise ArchiveError(ARCHIVE, "multi-part archives are not accepted")
    if entries > caps.members:
        raise ArchiveError(ARCHIVE, f"{entries} members: at most {caps.members}")
    # zipfile parses the central directory by its size, not by the count above: bound the size too, so that a
    # directory of a million tiny entries is refused before it becomes a million objects.
    if cd_size > caps.members * _MAX_DIRECTORY_ENTRY:
        raise ArchiveError(ARCHIVE, f"central directory of {cd_size} bytes: too large for {caps.members} members")
    source.seek(0)


def _checked_members(infos: list[zipfile.ZipInfo], caps: Caps) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > caps.members:
        raise ArchiveError(ARCHIVE, f"{len(infos)} members: at most {caps.members}")
    members: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        name = info.orig_filename
        _check_name(name)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise ArchiveError(name, "symbolic links are not accepted")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(name, "only regular files and directories are accepted")
        if name in members:
            raise ArchiveError(name, "in the archive twice")
        if info.flag_bits & 0x1:
            raise ArchiveError(name, "encrypted members are not accepted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(name, "only stored or deflated members are accepted")
        cap = _member_cap(name, caps)
        if info.file_size > cap:
            raise ArchiveError(name, f"declares {info.file_size} bytes: at most {_human(cap)}")
        declared += info.file_size
        if declared > caps.total_bytes:
            raise ArchiveError(ARCHIVE, f"members larger than {_human(caps.total_bytes)} together")
        members[name] = info
    return members


def _check_name(name: str) -> None:
    if "\0" in name or "\\" in name:
        raise ArchiveError(name.replace("\0", "\\0"), "NUL or backslash in the member's name")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise ArchiveError(name, "absolute paths are not accepted")
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveError(name, "'.', '..' and empty path components are not accepted")


def _member_cap(name: str, caps: Caps) -> int:
    if name.endswith("/"):
        return 0
    if name == PROBLEM_JSON:
        return caps.json_bytes
    if name == STATEMENT_MD:
        return caps.statement_bytes
    if name.startswith("checker/"):
        return caps.checker_bytes
    return caps.test_file_bytes


class _Budget:
    """What all members may still inflate to, together."""

    def __init__(self, total: int) -> None:
        self.left = total


def _read_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, budget: _Budget) -> bytes:
    name = info.orig_filename
    chunks, size = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_READ_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise TooLarge(name, f"inflates to more than {_human(cap)}")
                if size > budget.left:
                    raise TooLarge(ARCHIVE, "members inflate to more than the archive's total cap")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
        raise ArchiveError(name, f"cannot be read: {e}") from None
    if size != info.file_size:
        raise ArchiveError(name, f"declares {info.file_size} bytes but holds {size}")
    budget.left -= size
    return b"".join(chunks)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """One member read as hostile data: never more than `cap` bytes inflated (TooLarge beyond, whatever its header
    says), and exactly the size it declares (ArchiveError otherwise)."""
    return _read_bytes(archive, info, cap, _Budget(cap))


def _read_text(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, budget: _Budget) -> str:
    data = _read_bytes(archive, info, cap, budget)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArchiveError(info.orig_filename, f"not UTF-8 text (byte {e.start})") from None
    if "\0" in text:
        raise ArchiveError(info.orig_filename, "must not contain NUL characters")
    return text


def _read_manifest(archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], caps: Caps,
                   budget: _Budget) -> dict[str, Any]:  # fmt: skip
    if PROBLEM_JSON not in members:
        raise ArchiveError(ARCHIVE, f"no {PROBLEM_JSON}")
    text = _read_text(archive, members[PROBLEM_JSON], caps.json_bytes, budget)
    try:
        manifest = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise ArchiveError(PROBLEM_JSON, f"not valid JSON: {e}") from None
    if not isinstance(manifest, dict):
        raise ArchiveError(PROBLEM_JSON, "must be a JSON object")
    return manifest


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} given twice")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _read_problem(archive: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], manifest: dict[str, Any],
                  caps: Caps, budget: _Budget) -> ProblemData:  # fmt: skip
    m = _Object(manifest, "")
    version = m.take("format_version", int, required=True)
    if version != FORMAT_VERSION:
        raise ArchiveError(PROBLEM_JSON, f"format_version: {version} is not supported (only {FORMAT_VERSION})")
    title = m.take("title", str, required=True)
    slug = m.take("slug", str, required=True)
    limits = _Object(m.take("limits", dict, default={}), "limits.")
    limit_values: dict[str, float | int | None] = {}
    for name in LIMIT_NAMES:
        limit_values[name] = limits.take(name, int if name in WHOLE_LIMITS else float, nullable=True)
    limits.done()
    checker = _Object(m.take("checker", dict, default={}), "checker.")
    kind = checker.take("kind", str, default="whitespace")
    if kind not in CHECKER_KINDS:
        raise ArchiveError(PROBLEM_JSON, f"checker.kind: {kind!r} is not one of {', '.join(CHECKER_KINDS)}")
    abs_tolerance = checker.take("abs_tolerance", float, default=1e-6)
    rel_tolerance = checker.take("rel_tolerance", float, default=1e-6)
    checker_language = checker.take("language", str, nullable=True)
    checker_member = checker.take("source", str, nullable=True)
    checker.done()
    if checker_member is not None and not _CHECKER_FILE.fullmatch(checker_member):
        raise ArchiveError(PROBLEM_JSON, "checker.source: must name a member checker/<file> (letters, digits, '.', "
                                         "'-', '_')")  # fmt: skip
    stop = m.take("stop_on_first_failure", bool, default=False)
    allowed = m.take("allowed_languages", list, default=[])
    if not all(isinstance(language, str) for language in allowed):
        raise ArchiveError(PROBLEM_JSON, "allowed_languages: must be a list of language ids (strings)")
    entries = m.take("tests", list, default=[])
    m.done()
    if len(entries) > caps.tests:
        raise ArchiveError(PROBLEM_JSON, f"tests: {len(entries)} tests, at most {caps.tests}")

    expected = {PROBLEM_JSON, STATEMENT_MD, "tests/", "checker/"}
    expected.update(name for number in range(1, len(entries) + 1) for name in test_file_names(number))
    if checker_member is not None:
        expected.add(checker_member)
    for name in members:
        if name not in expected:
            if _TEST_FILE.fullmatch(name):
                raise ArchiveError(name, f"no entry for it in {PROBLEM_JSON}'s tests list ({len(entries)} tests)")
            raise ArchiveError(name, "unexpected member (see the problem archive format)")
    if checker_member is not None and checker_member not in members:
        raise ArchiveError(checker_member, f"missing: named by {PROBLEM_JSON}'s checker.source")

    statement = ""
    if STATEMENT_MD in members:
        statement = _read_text(archive, members[STATEMENT_MD], caps.statement_bytes, budget)
    checker_source = ""
    if checker_member is not None:
        checker_source = _read_text(archive, members[checker_member], caps.checker_bytes, budget)
    tests = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ArchiveError(PROBLEM_JSON, f"tests[{number - 1}]: must be an object")
        t = _Object(entry, f"tests[{number - 1}].")
        name = t.take("name", str, default="")
        order = t.take("order", int, default=number)
        points = t.take("points", int, default=1)
        visible = t.take("visible", bool, default=False)
        t.done()
        for key, value in (("order", order), ("points", points)):
            if value < 0:
                raise ArchiveError(PROBLEM_JSON, f"tests[{number - 1}].{key}: must not be negative")
        texts = []
        for member_name in test_file_names(number):
            if member_name not in members:
                raise ArchiveError(member_name, f"missing: {PROBLEM_JSON} lists {len(entries)} tests")
            texts.append(_read_text(archive, members[member_name], caps.test_file_bytes, budget))
        tests.append(TestData(stdin=texts[0], expected_output=texts[1], name=name, order=order, points=points,
                              visible=visible))  # fmt: skip
    return ProblemData(
        title=title, slug=slug, statement=statement, limits=limit_values, checker=kind, abs_tolerance=abs_tolerance,
        rel_tolerance=rel_tolerance, checker_language=checker_language, checker_source=checker_source,
        checker_file=checker_member.removeprefix("checker/") if checker_member else "source",
        stop_on_first_failure=stop, allowed_languages=tuple(allowed), tests=tuple(tests),
    )  # fmt: skip


class _Object:
    """Strict reading of one JSON object of problem.json: typed keys, then `done()` refuses any key left."""

    def __init__(self, data: Any, prefix: str) -> None:
        if not isinstance(data, dict):
            raise ArchiveError(PROBLEM_JSON, f"{prefix.rstrip('.')}: must be an object")
        self.data = dict(data)
        self.prefix = prefix

    def take(self, key: str, kind: type, *, required: bool = False, nullable: bool = False,
             default: Any = None) -> Any:  # fmt: skip
        if key not in self.data:
            if required:
                raise ArchiveError(PROBLEM_JSON, f"{self.prefix}{key}: required")
            return default
        value = self.data.pop(key)
        if value is None and nullable:
            return None
        # bool is an int in Python, not in JSON; an int is a fine float.
        ok = (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))) or (
            kind is float and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok:
            names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
                     list: "a list", dict: "an object"}  # fmt: skip
            raise ArchiveError(PROBLEM_JSON, f"{self.prefix}{key}: must be {names[kind]}"
                                             f"{' or null' if nullable else ''}")  # fmt: skip
        if kind is float:
            value = float(value)
            if not math.isfinite(value):
                raise ArchiveError(PROBLEM_JSON, f"{self.prefix}{key}: must be finite")
        return value

    def done(self) -> None:
        if self.data:
            unknown = ", ".join(f"{self.prefix}{key}" for key in sorted(self.data))
            raise ArchiveError(PROBLEM_JSON, f"unknown field(s): {unknown}")


def _human(size: int) -> str:
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"
