"""The built-in checkers: pure functions on bytes, no database, no sandbox."""

from __future__ import annotations

import pytest

from sandbox_service.problems.models import Checker
from sandbox_service.submissions.checkers import CheckResult, check

ACCEPTED = CheckResult(True)


def rejected(kind: str, expected: bytes, actual: bytes, **tolerances: float) -> str:
    result = check(kind, expected, actual, **tolerances)
    assert not result.accepted, f"{kind} accepted {actual!r} for {expected!r}"
    assert result.message and "\n" not in result.message
    return result.message


# ----------------------------------------------------------------------------------------------- whitespace --


@pytest.mark.parametrize("actual", [
    b"1 2\n3\n",
    b"1 2\n3",  # no final newline
    b"1 2   \n3\t\n",  # trailing spaces and tabs
    b"1 2\r\n3\r\n",  # CRLF
    b"1 2\n3\n\n\n",  # trailing blank lines
    b"1 2\n3\n  \n\t\n\r\n",  # trailing lines of only whitespace
])  # fmt: skip
def test_whitespace_ignores_trailing_whitespace_and_trailing_blank_lines(actual: bytes) -> None:
    assert check("whitespace", b"1 2\n3\n", actual) == ACCEPTED


def test_whitespace_is_the_default_and_accepts_crlf_expected_against_lf_output() -> None:
    assert check("whitespace", b"a\r\nb\r\n", b"a\nb\n") == ACCEPTED


def test_whitespace_names_the_first_differing_line() -> None:
    assert rejected("whitespace", b"1\n2\n5\n7\n", b"1\n2\n6\n8\n") == "line 3: expected '5', got '6'"


@pytest.mark.parametrize(("actual", "line"), [
    (b" 1 2\n", "line 1: expected '1 2', got ' 1 2'"),  # leading whitespace counts
    (b"1  2\n", "line 1: expected '1 2', got '1  2'"),  # so does the space inside a line
    (b"1\t2\n", "line 1: expected '1 2', got '1\\t2'"),  # a tab is not a space, and is shown as one
    (b"\n1 2\n", "line 1: expected '1 2', got ''"),  # leading blank lines count
])  # fmt: skip
def test_whitespace_keeps_leading_and_inner_whitespace_significant(actual: bytes, line: str) -> None:
    assert rejected("whitespace", b"1 2\n", actual) == line


def test_whitespace_missing_and_extra_lines() -> None:
    assert rejected("whitespace", b"1\n2\n3\n", b"1\n2\n") == "line 3: expected '3', got end of output"
    assert rejected("whitespace", b"1\n2\n", b"1\n2\n3\n") == "line 3: expected end of output, got '3'"


def test_whitespace_empty_output() -> None:
    assert rejected("whitespace", b"42\n", b"") == "line 1: expected '42', got end of output"
    assert check("whitespace", b"", b"") == ACCEPTED
    assert check("whitespace", b"\n\n", b"") == ACCEPTED  # nothing but blank lines is nothing
    assert rejected("whitespace", b"", b"oops\n") == "line 1: expected end of output, got 'oops'"


def test_whitespace_cuts_long_lines_around_the_difference() -> None:
    message = rejected("whitespace", b"x" * 5000 + b"A" + b"y" * 5000, b"x" * 5000 + b"B" + b"y" * 5000)
    assert len(message) < 200
    assert "xA" in message and "xB" in message and message.count("...") == 4


def test_whitespace_does_not_crash_on_invalid_utf8() -> None:
    assert check("whitespace", b"\xff\xfe\n", b"\xff\xfe  \n") == ACCEPTED
    message = rejected("whitespace", b"\xff\n", b"\xfe\n")
    assert message == "line 1: expected '\ufffd', got '\ufffd'"  # the bytes differ, the message cannot show how


# ---------------------------------------------------------------------------------------------------- exact --


def test_exact_accepts_only_identical_bytes() -> None:
    assert check("exact", b"a b\n", b"a b\n") == ACCEPTED
    assert check("exact", b"", b"") == ACCEPTED
    assert check("exact", b"\xff\x00\xfe", b"\xff\x00\xfe") == ACCEPTED


def test_exact_names_the_offset_of_the_first_difference() -> None:
    assert rejected("exact", b"hello\nworld\n", b"hello\nwOrld\n") == \
        "byte offset 7 (line 2): expected 'hello\\nworld\\n', got 'hello\\nwOrld\\n'"  # fmt: skip


def test_exact_reports_shorter_and_longer_output() -> None:
    shorter = rejected("exact", b"abc\n", b"abc")
    assert shorter == "output is shorter: 3 bytes instead of 4; missing from byte offset 3 (line 1): '\\n'"
    longer = rejected("exact", b"abc\n", b"abc\n\n")
    assert longer == "output is longer: 5 bytes instead of 4; extra from byte offset 4 (line 2): '\\n'"
    assert rejected("exact", b"42\n", b"").startswith("output is shorter: 0 bytes instead of 3")


@pytest.mark.parametrize("actual", [b"a b\r\n", b"a  b\n", b"a b", b"a b\n\n", b" a b\n"])
def test_exact_counts_every_whitespace_byte(actual: bytes) -> None:
    rejected("exact", b"a b\n", actual)


def test_exact_shows_a_window_of_a_long_output_at_the_difference() -> None:
    expected = b"line\n" * 10000
    actual = expected[:30001] + b"X" + expected[30002:]
    message = rejected("exact", expected, actual)
    assert message.startswith("byte offset 30001 (line 6001): expected ...") and "X" in message
    assert len(message) < 200


def test_exact_on_invalid_utf8() -> None:
    assert rejected("exact", b"\xff\xfe", b"\xff\xfd").startswith("byte offset 1 (line 1)")


# --------------------------------------------------------------------------------------------------- tokens --


@pytest.mark.parametrize("actual", [b"1 2 3", b"1\n2\n3\n", b"  1\t2\r\n\n3  ", b"1 2 3\n\n\n"])
def test_tokens_ignore_how_they_are_separated(actual: bytes) -> None:
    assert check("tokens", b"1 2\n3\n", actual) == ACCEPTED


def test_tokens_are_compared_exactly() -> None:
    assert rejected("tokens", b"a b c x", b"a b c y") == "token 4: expected 'x', got 'y'"
    assert rejected("tokens", b"1.0", b"1") == "token 1: expected '1.0', got '1'"
    assert rejected("tokens", b"Yes", b"YES") == "token 1: expected 'Yes', got 'YES'"


def test_tokens_report_a_count_mismatch() -> None:
    assert rejected("tokens", b"1 2 3 4", b"1 2 3") == "expected 4 tokens, got 3: token 4 ('4') is missing"
    assert rejected("tokens", b"1 2", b"1 2 3") == "expected 2 tokens, got 3: token 3 ('3') is extra"
    assert rejected("tokens", b"42\n", b"   \n").startswith("expected 1 tokens, got 0")


def test_tokens_empty_is_empty() -> None:
    assert check("tokens", b"", b" \n\t") == ACCEPTED


def test_tokens_on_invalid_utf8() -> None:
    assert check("tokens", b"\xff \xfe", b"\xff\n\xfe") == ACCEPTED
    assert rejected("tokens", b"\xff", b"\xfe") == "token 1: expected '\ufffd', got '\ufffd'"


# ---------------------------------------------------------------------------------------------------- float --


@pytest.mark.parametrize(("expected", "actual"), [
    (b"1.0", b"1.000001"),  # exactly abs_tolerance away: within (the arithmetic is decimal, not binary)
    (b"1.0", b"0.999999"),
    (b"0.1", b"0.100001"),
    (b"1000000", b"1000001"),  # exactly rel_tolerance * |expected| away
    (b"3", b"3.0"),
    (b"3", b"3."),
    (b"0.5", b".5"),
    (b"1e3", b"1000.0000001"),  # scientific notation on either side
    (b"1234.5", b"1.2345E+3"),
    (b"1.5e-10", b"0"),  # tiny numbers are within the absolute tolerance of zero
    (b"-0.0", b"0"),
    (b"0", b"-0.000000"),
    (b"+2", b"2"),
    (b"nan", b"NaN"),  # NaN matches only NaN
    (b"inf", b"Infinity"),
    (b"-inf", b"-INF"),
])  # fmt: skip
def test_float_accepts_within_tolerance(expected: bytes, actual: bytes) -> None:
    assert check("float", expected, actual) == ACCEPTED


@pytest.mark.parametrize(("expected", "actual"), [
    (b"1.0", b"1.0000011"),  # just past abs_tolerance
    (b"1.0", b"0.9999989"),
    (b"1000000", b"1000001.1"),  # just past rel_tolerance * |expected|
    (b"0", b"1e-5"),
    (b"1", b"nan"),
    (b"nan", b"1"),
    (b"inf", b"-inf"),
    (b"inf", b"1e308"),
    (b"1e308", b"inf"),
    (b"2", b"two"),  # not a number on one side: compared exactly
    (b"1_000", b"1000"),  # Python's float() would take the underscore; a checker must not
    (b"16", b"0x10"),
])  # fmt: skip
def test_float_rejects_outside_tolerance(expected: bytes, actual: bytes) -> None:
    message = rejected("float", expected, actual)
    assert message.startswith("token 1: expected ")


def test_float_rejection_says_by_how_much() -> None:
    assert rejected("float", b"1 2.5 3", b"1 2.6 3") == "token 2: expected '2.5', got '2.6' (off by 0.1)"


def test_float_tolerances_are_parameters() -> None:
    assert check("float", b"1.0", b"1.05", abs_tolerance=0.1) == ACCEPTED
    assert check("float", b"100", b"105", abs_tolerance=0, rel_tolerance=0.05) == ACCEPTED
    rejected("float", b"100", b"105.01", abs_tolerance=0, rel_tolerance=0.05)
    # Zero tolerance: numerically equal only (but not textually: 1.50 is 1.5).
    assert check("float", b"1.5", b"1.50", abs_tolerance=0, rel_tolerance=0) == ACCEPTED
    rejected("float", b"1.5", b"1.5000000001", abs_tolerance=0, rel_tolerance=0)


def test_float_relative_tolerance_is_relative_to_the_expected_value() -> None:
    # |105 - 100| = 5 = 5% of 100 (expected), but more than 5% of... nothing else: only expected counts.
    assert check("float", b"100", b"105", abs_tolerance=0, rel_tolerance=0.05) == ACCEPTED
    rejected("float", b"105", b"100", abs_tolerance=0, rel_tolerance=0.04)


def test_float_compares_words_exactly_and_counts_tokens() -> None:
    assert check("float", b"Case #1: 0.5\n", b"Case  #1:\n0.5000001") == ACCEPTED
    assert rejected("float", b"Case #1: 0.5", b"case #1: 0.5") == "token 1: expected 'Case', got 'case'"
    assert rejected("float", b"0.5 0.25", b"0.5") == "expected 2 tokens, got 1: token 2 ('0.25') is missing"


def test_float_survives_hostile_numbers() -> None:
    # Exponents far past any float: no exception, no billion-digit subtraction.
    rejected("float", b"1e-999999999999999999999", b"1e999999999999999999999")
    assert check("float", b"1e-999999999999999999999", b"0") == ACCEPTED
    long_number = b"1" + b"0" * 100000
    assert check("float", long_number, long_number + b".0") == ACCEPTED


def test_float_on_invalid_utf8() -> None:
    assert check("float", b"\xff 1.0", b"\xff 1.0000001") == ACCEPTED
    assert rejected("float", b"1.0 \xff", b"1.0 \xfe") == "token 2: expected '\ufffd', got '\ufffd'"


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), -1e-6])
def test_float_refuses_a_meaningless_tolerance(tolerance: float) -> None:
    with pytest.raises(ValueError, match="abs_tolerance"):
        check("float", b"1", b"1", abs_tolerance=tolerance)


# ------------------------------------------------------------------------------------------------ dispatch --


@pytest.mark.parametrize("kind", ["custom", "Whitespace", "", "diff"])
def test_an_unknown_kind_is_a_value_error(kind: str) -> None:
    with pytest.raises(ValueError, match="unknown checker kind"):
        check(kind, b"1", b"1")


def test_every_model_choice_but_custom_is_built_in() -> None:
    for kind in Checker.values:
        if kind != Checker.CUSTOM:
            assert check(kind, b"1\n", b"1\n") == ACCEPTED
