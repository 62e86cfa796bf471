"""npm's semver ranges, which is what Piston's `version` selector is (`semver.satisfies(runtime.version, version)`).

The subset a version selector uses: exact versions (`3.11.2`, `v3.11.2`, `=3.11.2`), x-ranges (`*`, `3`, `3.x`,
`3.11.*`), comparators (`>=3.10`, `<4`), tilde (`~3.11`), caret (`^3.9.1`), hyphen ranges (`3.9 - 3.11`),
space-separated intersections and `||` unions, desugared exactly as node-semver does. Pre-release tags are not
supported (our toolchains report plain versions): a range naming one is invalid, and an invalid range matches
nothing, as npm's `satisfies()` answers false for it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

Version = tuple[int, int, int]
Partial = tuple[int | None, int | None, int | None]  # None: "x", "*" or left out
Comparator = tuple[Callable[[Version, Version], bool], Version]

_NUMBER = r"0|[1-9]\d*"
_PART = rf"(?:{_NUMBER}|[xX*])"
_PARTIAL = rf"v?=?\s*({_PART})(?:\.({_PART})(?:\.({_PART})(?:\+[0-9A-Za-z.-]+)?)?)?"
_COMPARATOR = re.compile(rf"^(<=|>=|<|>|=|~>|~|\^)?{_PARTIAL}$")
_HYPHEN = re.compile(rf"^{_PARTIAL}\s+-\s+{_PARTIAL}$")
_VERSION = re.compile(r"^\s*[v=]*\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?")

_ANY: list[Comparator] = [(operator.ge, (0, 0, 0))]
_NONE: list[Comparator] = [(operator.lt, (0, 0, 0))]


class InvalidRange(ValueError):
    pass


def parse_version(text: str) -> Version | None:
    """A runtime's version as (major, minor, patch); missing parts are 0, anything after them is ignored
    ("17.0.15" and "17.0.15+6" alike). None when it does not start with a number."""
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor or 0), int(patch or 0)


def satisfies(version: str, selector: str) -> bool:
    """Whether `version` is in the range `selector`; False for an invalid selector or version."""
    parsed = parse_version(version)
    if parsed is None:
        return False
    try:
        alternatives = parse_range(selector)
    except InvalidRange:
        return False
    return any(all(compare(parsed, bound) for compare, bound in comparators) for comparators in alternatives)


def parse_range(selector: str) -> list[list[Comparator]]:
    """The range as a union of intersections of comparators; InvalidRange when it is not one."""
    return [_comparator_set(part.strip()) for part in selector.split("||")]


def _comparator_set(text: str) -> list[Comparator]:
    if not text:
        return list(_ANY)  # "" is "*"
    hyphen = _HYPHEN.match(text)
    if hyphen is not None:
        groups = hyphen.groups()
        return _hyphen(_partial(groups[:3]), _partial(groups[3:]))
    # An operator may be followed by spaces ("> 1.2"); glue it to its version before splitting.
    text = re.sub(r"(<=|>=|~>|<|>|=|~|\^)\s+", r"\1", text)
    comparators: list[Comparator] = []
    for token in text.split():
        match = _COMPARATOR.match(token)
        if match is None:
            raise InvalidRange(token)
        op, *parts = match.groups()
        comparators += _desugar(op or "", _partial(parts))
    return comparators


def _partial(parts: tuple[str | None, ...] | list[str | None]) -> Partial:
    numbers: list[int | None] = []
    for part in parts:
        if part is None or part in ("x", "X", "*") or (numbers and numbers[-1] is None):
            numbers.append(None)  # everything after an "x" is an "x" too
        else:
            numbers.append(int(part))
    major, minor, patch = numbers
    return major, minor, patch


def _desugar(op: str, partial: Partial) -> list[Comparator]:
    major, minor, patch = partial
    if major is None:  # "*", "x", ">=*": anything; ">*", "<*": nothing
        return list(_NONE) if op in ("<", ">") else list(_ANY)
    low = (major, minor or 0, patch or 0)
    if minor is None:
        next_up = (major + 1, 0, 0)
    elif patch is None:
        next_up = (major, minor + 1, 0)
    else:
        next_up = None  # a full version
    if op in ("", "="):
        return [(operator.eq, low)] if next_up is None else [(operator.ge, low), (operator.lt, next_up)]
    if op in ("~", "~>"):
        return [(operator.ge, low), (operator.lt, next_up or (major, low[1] + 1, 0))]
    if op == "^":
        return [(operator.ge, low), (operator.lt, _caret_ceiling(partial))]
    if op == ">":
        return [(operator.gt, low)] if next_up is None else [(operator.ge, next_up)]
    if op == ">=":
        return [(operator.ge, low)]
    if op == "<":
        return [(operator.lt, low)]
    # "<=": up to the end of what the partial version names
    return [(operator.le, low)] if next_up is None else [(operator.lt, next_up)]


def _caret_ceiling(partial: Partial) -> Version:
    """The first version ^partial excludes: the next change of its left-most non-zero part."""
    major, minor, patch = partial
    assert major is not None
    if major != 0 or minor is None:
        return (major + 1, 0, 0)
    if minor != 0 or patch is None:
        return (0, minor + 1, 0)
    return (0, 0, patch + 1)


def _hyphen(low: Partial, high: Partial) -> list[Comparator]:
    lower: list[Comparator] = list(_ANY) if low[0] is None else [(operator.ge, (low[0], low[1] or 0, low[2] or 0))]
    major, minor, patch = high
    if major is None:
        return lower
    if minor is None:
        return [*lower, (operator.lt, (major + 1, 0, 0))]
    if patch is None:
        return [*lower, (operator.lt, (major, minor + 1, 0))]
    return [*lower, (operator.le, (major, minor, patch))]
