from __future__ import annotations

import resource

import pytest

from executor.limits import DEFAULT_MAXIMA, LimitError, Limits, maxima_from_env, rlimits, validate


def test_defaults_are_within_the_default_maxima() -> None:
    assert validate(Limits(), DEFAULT_MAXIMA) == Limits()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("memory", 10**6, "memory: 1000000 is above the maximum"),
    ("cpu_time", -1.0, "cpu_time: -1.0 is below the minimum"),
    ("processes", 2.5, "processes: must be a whole number"),
    ("wall_time", float("nan"), "wall_time: must be a number"),
    ("disk", True, "disk: must be a number"),
])  # fmt: skip
def test_invalid_limits_are_refused_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(LimitError, match=message):
        validate(Limits().with_changes(**{field: value}), DEFAULT_MAXIMA)  # type: ignore[arg-type]


def test_operator_sets_maxima_from_the_environment() -> None:
    maxima = maxima_from_env({"EXECUTOR_MAX_MEMORY": "512", "EXECUTOR_MAX_CPU_TIME": "3.5"})
    assert maxima.memory == 512 and maxima.cpu_time == 3.5 and maxima.disk == DEFAULT_MAXIMA.disk
    with pytest.raises(LimitError, match="memory"):
        validate(Limits(memory=1024), maxima)
    with pytest.raises(LimitError, match="EXECUTOR_MAX_MEMORY"):
        maxima_from_env({"EXECUTOR_MAX_MEMORY": "lots"})


def test_with_changes_ignores_unset_options() -> None:
    assert Limits().with_changes(memory=None, cpu_time=3.0) == Limits(cpu_time=3.0)


def test_rlimits_carry_the_per_process_limits() -> None:
    pairs = dict(rlimits(Limits(cpu_time=1.5, file_size=100, open_files=50, stack=2048)))
    assert pairs[resource.RLIMIT_CPU] == 3  # a backstop one second past the cgroup-wide CPU limit
    assert pairs[resource.RLIMIT_FSIZE] == 100 * 1024
    assert pairs[resource.RLIMIT_NOFILE] == 50
    assert pairs[resource.RLIMIT_STACK] == 2048 * 1024
    assert pairs[resource.RLIMIT_CORE] == 0
