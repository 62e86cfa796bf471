"""Feedback for students: the side-by-side diff of outputs and the positions found in compiler/interpreter output.

The diagnostics tests run the real tools (gcc, g++, javac, java, python3, node, bash) on small broken programs, so
that the formats parsed are the ones the tools really print; literal strings cover the sandbox's /box/ paths.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from sandbox_service.submissions.feedback import (
    CHAR_DIFF_CHARS,
    MAX_DIAGNOSTICS,
    MESSAGE_CHARS,
    Diagnostic,
    DiffRow,
    SideBySide,
    diagnostics,
    diagnostics_to_json,
    side_by_side,
    to_json,
)


def tags(result: SideBySide) -> list[str]:
    return [row.tag for row in result.rows]


# ------------------------------------------------------------------------------------------- side by side --


def test_equal_outputs_give_only_equal_rows_with_both_line_numbers() -> None:
    result = side_by_side("1\n2\n3\n", "1\n2\n3\n")
    assert result == SideBySide([DiffRow("equal", n, str(n), n, str(n)) for n in (1, 2, 3)], truncated=False)


def test_one_changed_line_marks_exactly_the_differing_characters() -> None:
    result = side_by_side("sum = 10\nok\n", "sum = 12\nok\n")
    assert tags(result) == ["changed", "equal"]
    row = result.rows[0]
    assert (row.expected_line, row.expected, row.actual_line, row.actual) == (1, "sum = 10", 1, "sum = 12")
    assert row.expected_marks == [(7, 8)]
    assert row.actual_marks == [(7, 8)]


def test_changed_line_marks_each_differing_run_separately() -> None:
    row = side_by_side("a 1 b 2 c\n", "a 9 b 8 c\n").rows[0]
    assert row.tag == "changed"
    assert row.expected_marks == [(2, 3), (6, 7)]
    assert row.actual_marks == [(2, 3), (6, 7)]


def test_characters_only_in_the_actual_line_are_marked_on_the_actual_side_only() -> None:
    row = side_by_side("Hello World\n", "Hello, World\n").rows[0]
    assert row.expected_marks == []
    assert row.actual_marks == [(5, 6)]
    assert row.actual[5:6] == ","


def test_a_line_the_program_did_not_print_is_missing_with_its_expected_line_number() -> None:
    result = side_by_side("a\nb\nc\n", "a\nc\n")
    assert result.rows == [
        DiffRow("equal", 1, "a", 1, "a"),
        DiffRow("missing", 2, "b", None, None),
        DiffRow("equal", 3, "c", 2, "c"),
    ]


def test_a_line_printed_but_not_expected_is_extra_with_its_actual_line_number() -> None:
    result = side_by_side("a\nc\n", "a\nDEBUG x=1\nc\n")
    assert result.rows == [
        DiffRow("equal", 1, "a", 1, "a"),
        DiffRow("extra", None, None, 2, "DEBUG x=1"),
        DiffRow("equal", 2, "c", 3, "c"),
    ]


def test_a_replaced_block_pairs_lines_one_to_one_and_the_surplus_is_missing() -> None:
    result = side_by_side("x\n1\n2\n3\ny\n", "x\n7\n8\ny\n")
    assert tags(result) == ["equal", "changed", "changed", "missing", "equal"]
    assert [(r.expected_line, r.actual_line) for r in result.rows] == [(1, 1), (2, 2), (3, 3), (4, None), (5, 4)]
    assert result.rows[3].expected == "3"


def test_a_replaced_block_with_more_actual_lines_ends_in_extra_rows() -> None:
    result = side_by_side("x\n1\ny\n", "x\n7\n8\ny\n")
    assert tags(result) == ["equal", "changed", "extra", "equal"]
    assert (result.rows[2].actual_line, result.rows[2].actual) == (3, "8")


def test_trailing_spaces_alone_are_a_changed_row_whose_marks_cover_the_spaces() -> None:
    result = side_by_side("1 2\n3\n", "1 2  \n3\n")
    assert tags(result) == ["changed", "equal"]
    row = result.rows[0]
    assert row.expected_marks == []
    assert row.actual_marks == [(3, 5)]
    assert row.actual[3:5] == "  "


def test_trailing_space_missing_from_the_actual_output_is_marked_on_the_expected_side() -> None:
    row = side_by_side("1 2 \n", "1 2\n").rows[0]
    assert (row.tag, row.expected_marks, row.actual_marks) == ("changed", [(3, 4)], [])


def test_a_carriage_return_is_a_visible_difference_not_a_line_break() -> None:
    row = side_by_side("1\r\n", "1\n").rows[0]
    assert (row.tag, row.expected, row.expected_marks) == ("changed", "1\r", [(1, 2)])


def test_a_missing_final_newline_alone_gives_all_equal_rows() -> None:
    result = side_by_side("1\n2\n", "1\n2")
    assert tags(result) == ["equal", "equal"]
    assert result.truncated is False


def test_an_extra_blank_line_at_the_end_is_an_extra_row() -> None:
    result = side_by_side("1\n2\n", "1\n2\n\n")
    assert result.rows[-1] == DiffRow("extra", None, None, 3, "")


def test_empty_actual_output_makes_every_expected_line_missing() -> None:
    result = side_by_side("a\nb\n", "")
    assert result.rows == [DiffRow("missing", 1, "a", None, None), DiffRow("missing", 2, "b", None, None)]


def test_empty_expected_output_makes_every_printed_line_extra() -> None:
    result = side_by_side("", "a\n")
    assert result.rows == [DiffRow("extra", None, None, 1, "a")]


def test_both_outputs_empty_give_no_rows() -> None:
    assert side_by_side("", "") == SideBySide([], truncated=False)


def test_html_is_kept_verbatim_for_the_template_to_escape() -> None:
    line = "<script>alert(1)</script>"
    result = side_by_side("hello\n", f"{line}\n")
    assert result.rows[0].actual == line
    assert json.loads(json.dumps(to_json(result)))["rows"][0]["actual"] == line


def test_more_rows_than_max_lines_are_cut_and_flagged_truncated() -> None:
    expected = "".join(f"{n}\n" for n in range(10))
    actual = "".join(f"{n}\n" for n in range(10) if n != 2)
    result = side_by_side(expected, actual, max_lines=4)
    assert result.truncated is True
    assert tags(result) == ["equal", "equal", "missing", "equal"]
    assert [r.expected_line for r in result.rows] == [1, 2, 3, 4]


def test_exactly_max_lines_rows_are_not_truncated() -> None:
    result = side_by_side("a\nb\nc\n", "a\nx\nc\n", max_lines=3)
    assert (len(result.rows), result.truncated) == (3, False)


def test_a_long_equal_output_is_truncated_after_max_lines_equal_rows() -> None:
    text = "7\n" * 2000
    result = side_by_side(text, text, max_lines=500)
    assert (len(result.rows), result.truncated) == (500, True)
    assert set(tags(result)) == {"equal"}


def test_a_huge_wrong_output_is_aligned_quickly_and_truncated() -> None:
    # Lines that repeat make difflib's matching quadratic; only the shown part of the outputs may be aligned.
    expected = "0\n1\n" * 50_000
    actual = "1\n0\n" * 50_000
    started = time.monotonic()
    result = side_by_side(expected, actual, max_lines=100)
    assert time.monotonic() - started < 5
    assert (len(result.rows), result.truncated) == (100, True)
    # Rows stay in order on both sides: each side's line numbers only ever grow.
    for side in ("expected_line", "actual_line"):
        numbers = [getattr(r, side) for r in result.rows if getattr(r, side) is not None]
        assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))


def test_equal_lines_after_the_difference_keep_their_own_line_numbers_on_each_side() -> None:
    result = side_by_side("a\nb\nz\nz\n", "a\nb\nb2\nz\nz\n")
    assert [(r.tag, r.expected_line, r.actual_line) for r in result.rows] == [
        ("equal", 1, 1), ("equal", 2, 2), ("extra", None, 3), ("equal", 3, 4), ("equal", 4, 5),
    ]  # fmt: skip


def test_very_long_changed_lines_mark_the_span_between_common_prefix_and_suffix() -> None:
    want = "a" * CHAR_DIFF_CHARS + "XY" + "b" * 10
    got = "a" * CHAR_DIFF_CHARS + "Z" + "b" * 10
    row = side_by_side(want, got).rows[0]
    assert row.expected_marks == [(CHAR_DIFF_CHARS, CHAR_DIFF_CHARS + 2)]
    assert row.actual_marks == [(CHAR_DIFF_CHARS, CHAR_DIFF_CHARS + 1)]


def test_negative_max_lines_is_refused() -> None:
    with pytest.raises(ValueError, match="max_lines"):
        side_by_side("a", "b", max_lines=-1)


def test_to_json_gives_plain_data_with_the_field_names() -> None:
    data = to_json(side_by_side("a\nk\nb 1\n", "k\nb 2\nc\n"))
    assert data == {
        "rows": [
            {"tag": "missing", "expected_line": 1, "expected": "a", "actual_line": None, "actual": None,
             "expected_marks": [], "actual_marks": []},
            {"tag": "equal", "expected_line": 2, "expected": "k", "actual_line": 1, "actual": "k",
             "expected_marks": [], "actual_marks": []},
            {"tag": "changed", "expected_line": 3, "expected": "b 1", "actual_line": 2, "actual": "b 2",
             "expected_marks": [[2, 3]], "actual_marks": [[2, 3]]},
            {"tag": "extra", "expected_line": None, "expected": None, "actual_line": 3, "actual": "c",
             "expected_marks": [], "actual_marks": []},
        ],
        "truncated": False,
    }  # fmt: skip
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------- diagnostics: real tools --


def run(tmp_path: Path, name: str, source: str, *command: str) -> str:
    """Write `source` as `name` in tmp_path, run `command` there and return its stdout and stderr together."""
    (tmp_path / name).write_text(source)
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


C_UNDECLARED = """#include <stdio.h>
int main(void) {
    int y = x + 1;
    printf("%d\\n", y);
    return 0;
}
"""


@pytest.mark.parametrize(("name", "compiler"), [("main.c", "gcc"), ("main.cpp", "g++")])
def test_gcc_error_for_an_undeclared_identifier_is_found_at_its_line_and_column(
    tmp_path: Path, name: str, compiler: str
) -> None:
    output = run(tmp_path, name, C_UNDECLARED, compiler, "-o", "program", name)
    found = diagnostics(output, name)
    errors = [d for d in found if d.severity == "error"]
    assert errors, output
    # Line 3, column of the "x" (1-based).
    assert (errors[0].line, errors[0].column) == (3, C_UNDECLARED.splitlines()[2].index("x") + 1)
    assert "x" in errors[0].message and "error:" not in errors[0].message
    assert "In function" not in " ".join(d.message for d in found)


def test_gcc_warning_is_found_with_severity_warning(tmp_path: Path) -> None:
    source = "int main(void) {\n    int a = 1;\n    int unused;\n    return a;\n}\n"
    output = run(tmp_path, "main.c", source, "gcc", "-Wall", "-o", "program", "main.c")
    assert [(d.line, d.severity) for d in diagnostics(output, "main.c")] == [(3, "warning")], output


def test_gcc_fatal_error_for_a_missing_header_is_an_error(tmp_path: Path) -> None:
    output = run(tmp_path, "main.c", "int a;\n#include <no_such_header.h>\n", "gcc", "-c", "main.c")
    assert [(d.line, d.severity) for d in diagnostics(output, "main.c")] == [(2, "error")], output


def test_gcc_errors_inside_another_file_are_not_reported_for_the_source(tmp_path: Path) -> None:
    (tmp_path / "helper.h").write_text("int f(void) {\n    return undefined_thing;\n}\n")
    source = '#include "helper.h"\nint main(void) {\n    return f() + missing;\n}\n'
    output = run(tmp_path, "main.c", source, "gcc", "-o", "program", "main.c")
    assert "helper.h:2" in output, output  # gcc did report the header's error...
    assert [d.line for d in diagnostics(output, "main.c")] == [3]  # ...which is not the student's file's


def test_javac_error_is_found_at_its_line(tmp_path: Path) -> None:
    source = "public class Main {\n    public static void main(String[] args) {\n        int y = x + 1;\n    }\n}\n"
    output = run(tmp_path, "Main.java", source, "javac", "Main.java")
    found = diagnostics(output, "Main.java")
    assert [(d.line, d.column, d.severity) for d in found] == [(3, None, "error")], output
    assert found[0].message == "cannot find symbol"


def test_java_exception_is_found_at_the_students_frame(tmp_path: Path) -> None:
    source = (
        "public class Main {\n"
        "    public static void main(String[] args) {\n"
        '        System.out.println(Integer.parseInt("abc"));\n'
        "    }\n"
        "}\n"
    )
    run(tmp_path, "Main.java", source, "javac", "Main.java")
    output = run(tmp_path, "Main.java", source, "java", "Main")
    found = diagnostics(output, "Main.java")
    # The innermost frames are in java.lang.Integer; the student's code called it on line 3.
    assert [(d.line, d.severity) for d in found] == [(3, "error")], output
    assert found[0].message.startswith("java.lang.NumberFormatException")


def test_python_traceback_points_at_the_innermost_frame_of_the_students_file(tmp_path: Path) -> None:
    source = "def f():\n    return x\n\n\nprint(f())\n"
    output = run(tmp_path, "main.py", source, "python3", "main.py")
    assert 'main.py", line 5' in output and 'main.py", line 2' in output, output
    assert diagnostics(output, "main.py") == [Diagnostic(2, None, "error", "NameError: name 'x' is not defined")]


def test_python_traceback_ignores_frames_in_the_standard_library(tmp_path: Path) -> None:
    source = "import json\n\n\njson.loads('{')\n"
    output = run(tmp_path, "main.py", source, "python3", "main.py")
    found = diagnostics(output, "main.py")
    assert [d.line for d in found] == [4], output
    assert found[0].message.startswith("json.decoder.JSONDecodeError: ")


def test_python_syntax_error_is_found_at_its_line(tmp_path: Path) -> None:
    output = run(tmp_path, "main.py", "x = 1\nif x\n    print(x)\n", "python3", "main.py")
    found = diagnostics(output, "main.py")
    assert [d.line for d in found] == [2], output
    assert found[0].message.startswith("SyntaxError: ")


def test_chained_python_exceptions_give_one_diagnostic_per_traceback(tmp_path: Path) -> None:
    source = "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    raise ValueError('bad') from e\n"
    output = run(tmp_path, "main.py", source, "python3", "main.py")
    found = diagnostics(output, "main.py")
    assert [(d.line, d.message) for d in found] == [(2, "ZeroDivisionError: division by zero"), (4, "ValueError: bad")]


def test_python_warning_is_a_warning_at_its_line(tmp_path: Path) -> None:
    output = run(tmp_path, "main.py", "import warnings\nwarnings.warn('careful')\n", "python3", "main.py")
    assert diagnostics(output, "main.py") == [Diagnostic(2, None, "warning", "UserWarning: careful")]


def test_node_uncaught_error_is_one_diagnostic_at_the_throwing_line(tmp_path: Path) -> None:
    source = "let a = 1;\nfunction f() {\n  return y;\n}\nf();\n"
    output = run(tmp_path, "main.js", source, "node", "main.js")
    found = diagnostics(output, "main.js")
    assert [(d.line, d.message) for d in found] == [(3, "ReferenceError: y is not defined")], output
    assert found[0].column is not None


def test_node_syntax_error_is_found_at_its_line(tmp_path: Path) -> None:
    output = run(tmp_path, "main.js", "let a = 1;\nlet b = ;\n", "node", "main.js")
    assert diagnostics(output, "main.js") == [Diagnostic(2, None, "error", "SyntaxError: Unexpected token ';'")]


def test_node_thrown_error_takes_its_column_from_the_stack(tmp_path: Path) -> None:
    source = 'function f() {\n  throw new Error("boom");\n}\nf();\n'
    output = run(tmp_path, "main.js", source, "node", "main.js")
    assert diagnostics(output, "main.js") == [Diagnostic(2, source.splitlines()[1].index("new") + 1, "error",
                                                         "Error: boom")], output  # fmt: skip


def test_bash_command_not_found_is_found_at_its_line(tmp_path: Path) -> None:
    output = run(tmp_path, "main.sh", "echo start\n\nno_such_command_xyz\n", "bash", "main.sh")
    assert diagnostics(output, "main.sh") == [Diagnostic(3, None, "error", "no_such_command_xyz: command not found")]


def test_bash_run_by_relative_path_is_found(tmp_path: Path) -> None:
    output = run(tmp_path, "main.sh", "echo start\nno_such_command_xyz\n", "bash", "./main.sh")
    assert output.startswith("start\n./main.sh: line 2"), output
    assert [d.line for d in diagnostics(output, "main.sh")] == [2]


# -------------------------------------------------------------------------------- diagnostics: the sandbox --


def test_gcc_paths_under_box_are_the_students_file_and_headers_are_ignored() -> None:
    output = (
        "In file included from /box/main.c:1:\n"
        "/usr/include/stdio.h:27:10: fatal error: bits/libc-header-start.h: No such file or directory\n"
        "/box/main.c: In function 'main':\n"
        "/box/main.c:3:5: error: expected ';' before 'return'\n"
        "./main.c:4:9: warning: unused variable 'k' [-Wunused-variable]\n"
        "/box/main.c:5:1: note: declared here\n"
        "/box/main.c:6:1: fatal error: oops\n"
        "/box/other.c:2:1: error: not the student's file\n"
        "/box/notmain.c:2:1: error: nor this\n"
    )
    assert diagnostics(output, "main.c") == [
        Diagnostic(3, 5, "error", "expected ';' before 'return'"),
        Diagnostic(4, 9, "warning", "unused variable 'k' [-Wunused-variable]"),
        Diagnostic(5, 1, "note", "declared here"),
        Diagnostic(6, 1, "error", "oops"),
    ]


def test_coloured_compiler_output_is_parsed() -> None:
    output = "\x1b[01m\x1b[Kmain.c:3:13:\x1b[m\x1b[K \x1b[01;31m\x1b[Kerror: \x1b[m\x1b[K'x' undeclared\n"
    assert diagnostics(output, "main.c") == [Diagnostic(3, 13, "error", "'x' undeclared")]


def test_javac_under_box() -> None:
    output = "/box/Main.java:3: error: ';' expected\n        int y = 1\n                 ^\n1 error\n"
    assert diagnostics(output, "Main.java") == [Diagnostic(3, None, "error", "';' expected")]


def test_python_traceback_under_box_takes_the_innermost_student_frame_and_the_last_line() -> None:
    output = (
        "Traceback (most recent call last):\n"
        '  File "/box/main.py", line 9, in <module>\n'
        "    main()\n"
        '  File "/box/main.py", line 3, in main\n'
        "    helper(x)\n"
        "    ^^^^^^^^^\n"
        '  File "/usr/lib/python3.11/helper.py", line 40, in helper\n'
        "    raise ValueError\n"
        "ValueError: bad value\n"
    )
    assert diagnostics(output, "main.py") == [Diagnostic(3, None, "error", "ValueError: bad value")]


def test_python_frame_without_in_is_recognised() -> None:
    output = '  File "/box/main.py", line 3\n    print("a"\n         ^\nSyntaxError: \'(\' was never closed\n'
    assert diagnostics(output, "main.py") == [Diagnostic(3, None, "error", "SyntaxError: '(' was never closed")]


def test_python_traceback_without_a_frame_in_the_students_file_gives_nothing() -> None:
    output = 'Traceback (most recent call last):\n  File "<string>", line 1, in <module>\nNameError: x\n'
    assert diagnostics(output, "main.py") == []


def test_python_traceback_cut_short_gives_nothing_and_does_not_swallow_the_next_one() -> None:
    output = (
        'Traceback (most recent call last):\n  File "/box/main.py", line 2, in <module>\n'
        'Traceback (most recent call last):\n  File "/box/main.py", line 7, in <module>\nKeyError: 1\n'
    )
    assert diagnostics(output, "main.py") == [Diagnostic(7, None, "error", "KeyError: 1")]


def test_node_error_under_box_with_its_stack_is_one_diagnostic() -> None:
    output = (
        "/box/main.js:3\n"
        "  return y;\n"
        "  ^\n"
        "\n"
        "ReferenceError: y is not defined\n"
        "    at f (/box/main.js:3:3)\n"
        "    at Object.<anonymous> (/box/main.js:5:1)\n"
        "    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n"
        "\n"
        "Node.js v20.20.2\n"
    )
    assert diagnostics(output, "main.js") == [Diagnostic(3, 3, "error", "ReferenceError: y is not defined")]


def test_node_stack_without_a_location_line_uses_the_first_student_frame() -> None:
    output = (
        "TypeError: Cannot read properties of undefined (reading 'x')\n"
        "    at helper (/box/lib/other.js:10:2)\n"
        "    at Object.<anonymous> (/box/main.js:4:7)\n"
        "    at /box/main.js:9:1\n"
    )
    assert diagnostics(output, "main.js") == [
        Diagnostic(4, 7, "error", "TypeError: Cannot read properties of undefined (reading 'x')")
    ]


def test_node_location_in_another_file_is_not_the_students() -> None:
    output = "/usr/lib/node_modules/x/index.js:3\n  boom();\n  ^\n\nReferenceError: boom is not defined\n"
    assert diagnostics(output, "main.js") == []


def test_bash_under_box() -> None:
    output = "/box/main.sh: line 3: foo: command not found\nmain.sh: line 8: syntax error: unexpected end of file\n"
    assert diagnostics(output, "main.sh") == [
        Diagnostic(3, None, "error", "foo: command not found"),
        Diagnostic(8, None, "error", "syntax error: unexpected end of file"),
    ]


def test_duplicates_are_dropped_and_order_kept() -> None:
    output = "main.c:5:1: error: b\nmain.c:2:1: error: a\nmain.c:5:1: error: b\nmain.c:5:2: error: b\n"
    assert [(d.line, d.column) for d in diagnostics(output, "main.c")] == [(5, 1), (2, 1), (5, 2)]


def test_at_most_max_diagnostics_are_returned() -> None:
    output = "".join(f"main.c:{n}:1: error: e{n}\n" for n in range(1, MAX_DIAGNOSTICS + 50))
    found = diagnostics(output, "main.c")
    assert len(found) == MAX_DIAGNOSTICS
    assert found[-1].line == MAX_DIAGNOSTICS


def test_messages_are_stripped_and_cut_to_message_chars() -> None:
    output = f"main.c:1:1: error:    {'m' * 1000}   \nmain.c:2:1: error:   short  \n"
    long, short = diagnostics(output, "main.c")
    assert len(long.message) == MESSAGE_CHARS and long.message.startswith("mmm")
    assert short.message == "short"


def test_output_without_diagnostics_gives_an_empty_list() -> None:
    assert diagnostics("hello\nworld 3:4\n", "main.c") == []
    assert diagnostics("", "main.py") == []


def test_diagnostics_to_json_gives_plain_data_with_the_field_names() -> None:
    data = diagnostics_to_json([Diagnostic(3, 5, "error", "bad"), Diagnostic(4, None, "note", "here")])
    assert data == [
        {"line": 3, "column": 5, "severity": "error", "message": "bad"},
        {"line": 4, "column": None, "severity": "note", "message": "here"},
    ]
    assert json.loads(json.dumps(data)) == data
