"""Built-in output checkers: pure functions comparing the expected output with the program's, both as bytes.

Every comparison is done on bytes, so output that is not valid UTF-8 is compared like any other; text is decoded
(with replacement) only to write the message. A message names the first difference and is one line, short enough
to show a student: long lines and tokens are cut to a window around where they differ.

The custom checker is not here: it is a program, run in the sandbox by `grading`.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

SHOWN = 40  # characters of a line or token quoted in a message, around the first difference

# A number as a contestant would print one: no hex, no underscores (which Python's float() would accept).
_NUMBER = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
# Enough digits to hold any number a program prints in full, bounded so that a hostile token like 1e-999999999
# cannot make a subtraction produce a billion digits. Traps off: an exponent past the context's range becomes
# Infinity or zero instead of raising.
_DECIMALS = decimal.Context(prec=100, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


@dataclass(frozen=True)
class CheckResult:
    accepted: bool
    message: str = ""


def check(kind: str, expected: bytes, actual: bytes, abs_tolerance: float = 1e-6,
          rel_tolerance: float = 1e-6) -> CheckResult:  # fmt: skip
    """Compare with the checker `kind` (a `problems.models.Checker` value other than custom)."""
    if kind == "float":
        return check_float(expected, actual, abs_tolerance, rel_tolerance)
    checker = _CHECKERS.get(kind)
    if checker is None:
        raise ValueError(f"unknown checker kind {kind!r}; built in: {', '.join([*_CHECKERS, 'float'])} "
                         "(a custom checker is a program, run by grading)")  # fmt: skip
    return checker(expected, actual)


def check_whitespace(expected: bytes, actual: bytes) -> CheckResult:
    """Line by line; trailing spaces, tabs and carriage returns of each line and blank lines at the end ignored.

    Leading whitespace and the spaces inside a line count: "1 2" is not "1  2".
    """
    want, got = _lines(expected), _lines(actual)
    for number, (w, g) in enumerate(zip(want, got, strict=False), start=1):
        if w != g:
            return _reject(f"line {number}: {_difference(w, g)}")
    if len(want) > len(got):
        return _reject(f"line {len(got) + 1}: expected {_quote(want[len(got)])}, got end of output")
    if len(got) > len(want):
        return _reject(f"line {len(want) + 1}: expected end of output, got {_quote(got[len(want)])}")
    return CheckResult(True)


def check_exact(expected: bytes, actual: bytes) -> CheckResult:
    """Byte for byte: a missing final newline or a \\r is a difference."""
    if expected == actual:
        return CheckResult(True)
    offset = _common_prefix(expected, actual)
    line = expected.count(b"\n", 0, offset) + 1
    if offset == len(actual):
        return _reject(f"output is shorter: {len(actual)} bytes instead of {len(expected)}; "
                       f"missing from byte offset {offset} (line {line}): {_quote(expected[offset:])}")  # fmt: skip
    if offset == len(expected):
        return _reject(f"output is longer: {len(actual)} bytes instead of {len(expected)}; "
                       f"extra from byte offset {offset} (line {line}): {_quote(actual[offset:])}")  # fmt: skip
    return _reject(f"byte offset {offset} (line {line}): {_difference(expected, actual, offset)}")


def check_tokens(expected: bytes, actual: bytes) -> CheckResult:
    """Whitespace-separated tokens compared exactly; how much whitespace, and which, does not matter."""
    return _compare_tokens(expected.split(), actual.split(), lambda w, g: None if w == g else "")


def check_float(expected: bytes, actual: bytes, abs_tolerance: float = 1e-6,
                rel_tolerance: float = 1e-6) -> CheckResult:  # fmt: skip
    """Tokens; where both are numbers, equal within |a - e| <= abs_tolerance or |a - e| <= rel_tolerance * |e|.

    The arithmetic is decimal on the printed digits, so a tolerance boundary is exact: 1.000001 is within 1e-6
    of 1. NaN matches only NaN, and an infinity only the same infinity. A token that is not a number on either
    side is compared exactly.
    """
    abs_tol, rel_tol = _tolerance("abs_tolerance", abs_tolerance), _tolerance("rel_tolerance", rel_tolerance)

    def differ(w: bytes, g: bytes) -> str | None:
        if w == g:
            return None
        if not (_NUMBER.fullmatch(w) and _NUMBER.fullmatch(g)):
            return ""
        e, a = _DECIMALS.create_decimal(w.decode()), _DECIMALS.create_decimal(g.decode())
        if e.is_nan() or a.is_nan():
            return None if e.is_nan() and a.is_nan() else ""
        if e.is_infinite() or a.is_infinite():
            return None if e == a else ""
        error = _DECIMALS.abs(_DECIMALS.subtract(a, e))
        if error <= abs_tol or error <= _DECIMALS.multiply(rel_tol, _DECIMALS.abs(e)):
            return None
        return f" (off by {error:.3g})"

    return _compare_tokens(expected.split(), actual.split(), differ)


_CHECKERS: dict[str, Callable[[bytes, bytes], CheckResult]] = {
    "whitespace": check_whitespace,
    "exact": check_exact,
    "tokens": check_tokens,
}


# ------------------------------------------------------------------------------------------------ helpers --


def _reject(message: str) -> CheckResult:
    return CheckResult(False, message)


def _lines(data: bytes) -> list[bytes]:
    lines = [line.rstrip(b" \t\r") for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _compare_tokens(want: list[bytes], got: list[bytes], differ: Callable[[bytes, bytes], str | None]) -> CheckResult:
    """`differ` returns None when two tokens match, else a note added to the message ("" for none)."""
    for number, (w, g) in enumerate(zip(want, got, strict=False), start=1):
        note = differ(w, g)
        if note is not None:
            return _reject(f"token {number}: {_difference(w, g)}{note}")
    if len(want) > len(got):
        return _reject(f"expected {len(want)} tokens, got {len(got)}: "
                       f"token {len(got) + 1} ({_quote(want[len(got)])}) is missing")  # fmt: skip
    if len(got) > len(want):
        return _reject(f"expected {len(want)} tokens, got {len(got)}: "
                       f"token {len(want) + 1} ({_quote(got[len(want)])}) is extra")  # fmt: skip
    return CheckResult(True)


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low] and a[:high] != b[:high]: bisect, comparing in C
    while high - low > 1:
        mid = (low + high) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid
    return low


def _difference(want: bytes, got: bytes, offset: int | None = None) -> str:
    """Say "expected 'x', got 'y'", both cut to the same window around the first differing byte when long."""
    if offset is None:
        offset = _common_prefix(want, got)
    start = 0 if max(len(want), len(got)) <= SHOWN else max(0, offset - SHOWN // 4)
    return f"expected {_quote(want[start:start + SHOWN], start > 0, start + SHOWN < len(want))}, " \
           f"got {_quote(got[start:start + SHOWN], start > 0, start + SHOWN < len(got))}"  # fmt: skip


def _quote(data: bytes, cut_before: bool = False, cut_after: bool | None = None) -> str:
    """The bytes as a quoted one-line Python string literal (so tabs, \\r and odd bytes are visible)."""
    if cut_after is None:
        cut_after = len(data) > SHOWN
    text = repr(data[:SHOWN].decode("utf-8", "replace"))
    return ("..." if cut_before else "") + text + ("..." if cut_after else "")


def _tolerance(name: str, value: float) -> decimal.Decimal:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    return _DECIMALS.create_decimal(repr(float(value)))
