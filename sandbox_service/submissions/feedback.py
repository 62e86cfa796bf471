"""Feedback a student can read, made from a finished program's outputs: pure functions, no database, no sandbox.

- `side_by_side`: the expected and the actual output of a test aligned line by line for a two-column view, with
  the characters that differ inside a changed line marked.
- `diagnostics`: the lines of the student's own source file that a compiler's or an interpreter's output points
  at (gcc/g++/clang, javac, CPython, Node.js, bash; Java stack traces too), for an editor to underline.

Text is returned verbatim: escaping it for HTML is the template's job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MAX_ROWS = 500
# Above this many characters a line is not diffed character by character (SequenceMatcher is quadratic in the worst
# case); the marks then cover what lies between the two lines' common prefix and common suffix.
CHAR_DIFF_CHARS = 2000
MAX_DIAGNOSTICS = 100
MESSAGE_CHARS = 300

Tag = Literal["equal", "changed", "missing", "extra"]
Severity = Literal["error", "warning", "note"]
Span = tuple[int, int]


# ------------------------------------------------------------------------------------------- side by side --


@dataclass(frozen=True)
class DiffRow:
    """One row of the two-column view; `missing`: expected but not printed, `extra`: printed but not expected.

    Line numbers are 1-based; a side the row has no line on has None for both its number and its text. The marks
    are half-open [start, end) character offsets into `expected` / `actual`, on "changed" rows only.
    """

    tag: Tag
    expected_line: int | None
    expected: str | None
    actual_line: int | None
    actual: str | None
    expected_marks: list[Span] = field(default_factory=list)
    actual_marks: list[Span] = field(default_factory=list)


@dataclass(frozen=True)
class SideBySide:
    rows: list[DiffRow]
    truncated: bool  # there were more than max_lines rows; `rows` holds the first max_lines


def side_by_side(expected: str, actual: str, *, max_lines: int = MAX_ROWS) -> SideBySide:
    """Align the lines of `expected` and `actual` (difflib), pairing the lines of a replaced block one to one.

    Lines are split at "\\n" only, and a final "\\n" ends the last line rather than starting an empty one (as with
    `str.splitlines`), so a missing final newline alone is not a difference: "1\\n2\\n" and "1\\n2" give two equal
    rows. The checker's own message says when it rejected an output for that; a row for a line that is not there
    would only confuse. Any other character counts, trailing spaces and "\\r" included, because they may be exactly
    why the output was rejected: "1 2" against "1 2  " is a changed row whose marks cover the two spaces. A caller
    showing the result of a checker that ignores such whitespace can normalise both texts first.
    """
    if max_lines < 0:
        raise ValueError(f"max_lines: must be >= 0, got {max_lines}")
    want, got = _split_lines(expected), _split_lines(actual)
    # Equal lines at the top and the bottom are taken as they are before difflib sees the rest: that is what a
    # reader expects (difflib's longest-match-first could pair an early line with a later copy of it), and it keeps
    # the quadratic part of the work to where the outputs differ.
    prefix = _common_prefix(want, got)
    rows = [_equal(n, want[n]) for n in range(min(prefix, max_lines + 1))]
    if len(rows) > max_lines:
        return SideBySide(rows[:max_lines], truncated=True)
    suffix = _common_suffix(want[prefix:], got[prefix:])
    middle_want, middle_got = want[prefix : len(want) - suffix], got[prefix : len(got) - suffix]
    # Only the first max_lines rows are shown, and each row takes at least one line of one side, so lines further
    # into the middle than this are never shown; aligning a bounded window keeps a huge wrong output cheap.
    window = 2 * max_lines
    windowed = len(middle_want) > window or len(middle_got) > window
    rows += _aligned(middle_want[:window], middle_got[:window], prefix)
    if not windowed:
        start_want, start_got = len(want) - suffix, len(got) - suffix
        rows += [_equal(start_want + k, want[start_want + k], start_got + k)
                 for k in range(min(suffix, max(0, max_lines + 1 - len(rows))))]  # fmt: skip
    return SideBySide(rows[:max_lines], truncated=windowed or len(rows) > max_lines)


def to_json(side_by_side: SideBySide) -> dict[str, Any]:
    """Plain data (dicts, lists, str, int, bool, None) with the dataclasses' field names; marks as [start, end]."""
    return {
        "rows": [
            {
                "tag": row.tag,
                "expected_line": row.expected_line,
                "expected": row.expected,
                "actual_line": row.actual_line,
                "actual": row.actual,
                "expected_marks": [[start, end] for start, end in row.expected_marks],
                "actual_marks": [[start, end] for start, end in row.actual_marks],
            }
            for row in side_by_side.rows
        ],
        "truncated": side_by_side.truncated,
    }


def _split_lines(text: str) -> list[str]:
    # Not str.splitlines(): it also splits at "\r", "\v", "\f", "\x1c".."\x1e", "\x85", "\u2028" and "\u2029",
    # which would hide a stray "\r" (an expected output saved with CRLF) or merge differences into equal rows.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: Sequence[str], b: Sequence[str]) -> int:
    return _common_prefix(a[::-1], b[::-1])


def _equal(index: int, line: str, actual_index: int | None = None) -> DiffRow:
    other = index if actual_index is None else actual_index
    return DiffRow("equal", index + 1, line, other + 1, line)


def _aligned(want: list[str], got: list[str], offset: int) -> list[DiffRow]:
    """Rows for two blocks of lines that start at line index `offset` of both outputs."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [_equal(offset + i1 + k, want[i1 + k], offset + j1 + k) for k in range(i2 - i1)]
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            w, g = want[i1 + k], got[j1 + k]
            want_marks, got_marks = _char_marks(w, g)
            rows.append(DiffRow("changed", offset + i1 + k + 1, w, offset + j1 + k + 1, g, want_marks, got_marks))
        rows += [DiffRow("missing", offset + i + 1, want[i], None, None) for i in range(i1 + paired, i2)]
        rows += [DiffRow("extra", None, None, offset + j + 1, got[j]) for j in range(j1 + paired, j2)]
    return rows


def _char_marks(want: str, got: str) -> tuple[list[Span], list[Span]]:
    want_marks: list[Span] = []
    got_marks: list[Span] = []
    if len(want) > CHAR_DIFF_CHARS or len(got) > CHAR_DIFF_CHARS:
        start = _common_prefix(want, got)
        tail = _common_suffix(want[start:], got[start:])
        _mark(want_marks, start, len(want) - tail)
        _mark(got_marks, start, len(got) - tail)
        return want_marks, got_marks
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, want, got, autojunk=False).get_opcodes():
        if tag != "equal":
            _mark(want_marks, i1, i2)
            _mark(got_marks, j1, j2)
    return want_marks, got_marks


def _mark(marks: list[Span], start: int, end: int) -> None:
    """Add [start, end) unless empty (nothing to highlight), merged with a span it touches."""
    if start >= end:
        return
    if marks and marks[-1][1] == start:
        marks[-1] = (marks[-1][0], end)
    else:
        marks.append((start, end))


# -------------------------------------------------------------------------------------------- diagnostics --


@dataclass(frozen=True)
class Diagnostic:
    line: int  # 1-based, in the student's source file
    column: int | None  # 1-based, when the tool reports one
    severity: Severity
    message: str  # one line, stripped, at most MESSAGE_CHARS characters


def diagnostics(output: str, source_name: str) -> list[Diagnostic]:
    """The positions in `source_name` (e.g. "main.c", "Main.java") that a compiler's or interpreter's output reports.

    A path names the student's file when it is `source_name` or ends in "/" + `source_name`: the sandbox runs
    programs in /box, so tools write "main.c", "./main.c" or "/box/main.c", and the file names the sandbox gives
    sources are not those of the system's headers and libraries, whose lines are ignored. Recognised:

    - gcc, g++, clang: `main.c:3:5: error: ...` (warning, note; a fatal error is an error);
    - javac: `Main.java:3: error: ...`; a Java exception: its message, at the innermost frame in the file;
    - CPython: a traceback's last line (`NameError: ...`), at its innermost frame in the file; warnings;
    - Node.js: an uncaught error (`/box/main.js:3` ... `ReferenceError: ...`, or an error line and its stack);
    - bash: `main.sh: line 3: foo: command not found` (and sh's `main.sh: 3: ...`).

    One diagnostic per traceback or stack trace; duplicates (same line, column and message) dropped; in the order
    of the output; at most MAX_DIAGNOSTICS.
    """
    lines = _ANSI.sub("", output).splitlines()
    found: list[Diagnostic] = []
    seen: set[tuple[int, int | None, str]] = set()
    i = 0
    while i < len(lines) and len(found) < MAX_DIAGNOSTICS:
        diagnostic, i = _parse_at(lines, i, source_name)
        if diagnostic is not None and (diagnostic.line, diagnostic.column, diagnostic.message) not in seen:
            seen.add((diagnostic.line, diagnostic.column, diagnostic.message))
            found.append(diagnostic)
    return found


def diagnostics_to_json(items: Iterable[Diagnostic]) -> list[dict[str, Any]]:
    """Plain data with the dataclass's field names."""
    return [{"line": d.line, "column": d.column, "severity": d.severity, "message": d.message} for d in items]


# A compiler told to colour its output (-fdiagnostics-color=always) wraps paths and severities in escape codes.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# gcc/g++/clang (with a column) and javac (without): "path:line[:column]: severity: message".
_COMPILER = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:(?P<column>\d+):)? "
                       r"(?P<severity>fatal error|error|warning|note): (?P<message>.*)$")  # fmt: skip
_SEVERITIES: dict[str, Severity] = {"fatal error": "error", "error": "error", "warning": "warning", "note": "note"}
_PY_WARNING = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+): (?P<message>[A-Za-z_]\w*Warning: .*)$")
_PY_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$")
_PY_FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in .*)?$')
_BASH = re.compile(r"^(?P<path>[^\s:][^:]*): line (?P<line>\d+): (?P<message>.*)$")
_SH = re.compile(r"^(?P<path>[^\s:][^:]*): (?P<line>\d+): (?P<message>.*)$")
# Node.js prints an uncaught error's location alone on a line, then the source line, carets, a blank line and the
# error's stack: "Name: message" and "    at f (/box/main.js:3:5)" lines.
_NODE_LOCATION = re.compile(r"^(?P<path>\S+):(?P<line>\d+)$")
_NODE_CARETS = re.compile(r"^\s*\^+\s*$")
_NODE_FRAME = re.compile(r"^\s+at (?:.* \()?(?P<path>[^\s()]+):(?P<line>\d+):(?P<column>\d+)\)?$")
_JS_ERROR = re.compile(r"^(?:[A-Za-z_$][\w$]*)?(?:Error|Exception)(?: \[[\w-]+\])?(?::.*)?$")
_JAVA_EXCEPTION = re.compile(r'^(?:Exception in thread "[^"]*" |Caused by: )(?P<message>\S.*)$')
_JAVA_FRAME = re.compile(r"^\s+at [^\s(]+\((?P<path>[^():]+):(?P<line>\d+)\)$")
_JAVA_MORE = re.compile(r"^\s+\.\.\. \d+ more$")


def _parse_at(lines: list[str], i: int, name: str) -> tuple[Diagnostic | None, int]:
    """The diagnostic that starts at line i, if any, and the index of the first line after it (always > i)."""
    text = lines[i]
    if _PY_TRACEBACK.match(text) or _PY_FRAME.match(text):
        return _python_traceback(lines, i, name)
    if (m := _COMPILER.match(text)) and _is_source(m["path"], name):
        column = int(m["column"]) if m["column"] else None
        return Diagnostic(int(m["line"]), column, _SEVERITIES[m["severity"]], _message(m["message"])), i + 1
    if (m := _PY_WARNING.match(text)) and _is_source(m["path"], name):
        return Diagnostic(int(m["line"]), None, "warning", _message(m["message"])), i + 1
    if (m := _BASH.match(text) or _SH.match(text)) and _is_source(m["path"], name):
        return Diagnostic(int(m["line"]), None, "error", _message(m["message"])), i + 1
    if (m := _NODE_LOCATION.match(text)) and _is_source(m["path"], name):
        return _node_uncaught(lines, i, int(m["line"]), name)
    if m := _JAVA_EXCEPTION.match(text):
        return _stack_trace(lines, i + 1, m["message"], _JAVA_FRAME, name)
    if _JS_ERROR.match(text) and i + 1 < len(lines) and _NODE_FRAME.match(lines[i + 1]):
        return _stack_trace(lines, i + 1, text, _NODE_FRAME, name)
    return None, i + 1


def _python_traceback(lines: list[str], i: int, name: str) -> tuple[Diagnostic | None, int]:
    """A traceback, or a SyntaxError's report (its "File" line without the "Traceback" line before it).

    Frames are listed outermost first, so the last frame in the student's file is where the student's code was
    when the exception happened (a frame after it is in a library the code called). The exception is the first
    line after the frames that is not indented (frames, source lines and carets all are).
    """
    if _PY_TRACEBACK.match(lines[i]):
        i += 1
    innermost: int | None = None
    while i < len(lines):
        text = lines[i]
        if (frame := _PY_FRAME.match(text)) is not None:
            if _is_source(frame["path"], name):
                innermost = int(frame["line"])
        elif text and not text[0].isspace():
            break
        i += 1
    if i == len(lines) or _PY_TRACEBACK.match(lines[i]):  # cut short: no exception line to quote
        return None, i
    if innermost is None:
        return None, i + 1
    return Diagnostic(innermost, None, "error", _message(lines[i])), i + 1


def _node_uncaught(lines: list[str], i: int, line: int, name: str) -> tuple[Diagnostic | None, int]:
    j = i + 2  # after the location and the source line it quotes
    if j < len(lines) and _NODE_CARETS.match(lines[j]):
        j += 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j == len(lines):
        return None, i + 1
    message, column = lines[j], None
    j += 1
    # The location has no column; the stack's frame for the same line has one (none for a SyntaxError).
    while j < len(lines) and (frame := _NODE_FRAME.match(lines[j])) is not None:
        if column is None and _is_source(frame["path"], name) and int(frame["line"]) == line:
            column = int(frame["column"])
        j += 1
    return Diagnostic(line, column, "error", _message(message)), j


def _stack_trace(lines: list[str], j: int, message: str, frames: re.Pattern[str],
                 name: str) -> tuple[Diagnostic | None, int]:  # fmt: skip
    """An error line followed by stack frames, innermost first: the first frame in the student's file counts."""
    position: tuple[int, int | None] | None = None
    while j < len(lines) and ((frame := frames.match(lines[j])) is not None or _JAVA_MORE.match(lines[j])):
        if position is None and frame is not None and _is_source(frame["path"], name):
            column = frame.groupdict().get("column")
            position = (int(frame["line"]), int(column) if column else None)
        j += 1
    if position is None:
        return None, j
    return Diagnostic(position[0], position[1], "error", _message(message)), j


def _is_source(path: str, name: str) -> bool:
    return path == name or path.endswith("/" + name)


def _message(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
