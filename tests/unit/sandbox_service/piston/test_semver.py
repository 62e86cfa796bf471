"""Piston's version selector is an npm semver range: the desugaring of node-semver, case by case."""

from __future__ import annotations

import pytest

from sandbox_service.piston.semver import parse_version, satisfies


@pytest.mark.parametrize(("version", "selector"), [
    ("3.11.2", "*"), ("3.11.2", ""), ("3.11.2", "x"), ("3.11.2", "3"), ("3.11.2", "3.x"), ("3.11.2", "3.11"),
    ("3.11.2", "3.11.x"), ("3.11.2", "3.11.*"), ("3.11.2", "3.11.2"), ("3.11.2", "v3.11.2"), ("3.11.2", "=3.11.2"),
    ("3.11.2", ">=3.10"), ("3.11.2", "> 3.10.9"), ("3.11.2", ">3.10"), ("3.11.2", "<4"), ("3.11.2", "<=3.11"),
    ("3.11.2", "<=3.11.2"), ("3.11.2", "~3.11"), ("3.11.2", "~3.11.1"), ("3.11.2", "~>3.11.0"), ("3.11.2", "~3"),
    ("3.11.2", "^3"), ("3.11.2", "^3.9"), ("3.11.2", "^3.11.2"), ("0.2.5", "^0.2.3"), ("0.0.3", "^0.0.3"),
    ("0.0.9", "^0.0"), ("3.11.2", "3.9 - 3.11"), ("3.11.2", "3.9.1 - 3.11.2"), ("3.11.2", "3 - 4"),
    ("3.11.2", ">=3.10 <3.12"), ("3.11.2", "2.x || 3.x"), ("3.11.2", "1.0.0 || >=3.11.2"),
    ("17.0.15", "17"), ("17.0.15", "17.0.15+6"), ("12.2.0", "^12"),
])  # fmt: skip
def test_versions_in_the_range_are_selected(version: str, selector: str) -> None:
    assert satisfies(version, selector)


@pytest.mark.parametrize(("version", "selector"), [
    ("3.11.2", "2"), ("3.11.2", "3.10"), ("3.11.2", "3.11.3"), ("3.11.2", ">3.11"), ("3.11.2", ">3.11.2"),
    ("3.11.2", "<3.11"), ("3.11.2", "<3.11.2"), ("3.11.2", "<=3.10"), ("3.11.2", "~3.10"), ("3.11.2", "~3.11.3"),
    ("3.11.2", "^2.7"), ("3.11.2", "^3.12"), ("0.3.0", "^0.2.3"), ("0.0.4", "^0.0.3"), ("0.1.0", "^0.0"),
    ("3.11.2", "3.0 - 3.10"), ("3.11.2", "3.11.3 - 4"), ("3.11.2", ">=3.10 <3.11"), ("3.11.2", "2.x || 4.x"),
    ("3.11.2", ">*"), ("3.11.2", "<*"),
])  # fmt: skip
def test_versions_out_of_the_range_are_not_selected(version: str, selector: str) -> None:
    assert not satisfies(version, selector)


@pytest.mark.parametrize("selector", ["latest", "3.11.2-beta", "python", ">=3.10 <", "3..1", "^^3", "3.11.2.1"])
def test_an_invalid_range_matches_nothing(selector: str) -> None:
    assert not satisfies("3.11.2", selector)


def test_a_version_that_is_not_a_number_matches_nothing() -> None:
    assert parse_version("unknown") is None and not satisfies("unknown", "*")
    assert parse_version("5.2.15(1)-release") == (5, 2, 15) and parse_version("17") == (17, 0, 0)
