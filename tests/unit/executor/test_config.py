"""Operator settings: read from the environment, with a clear one-line error for a bad value."""

from __future__ import annotations

import pytest

from executor.config import MAX_POOL, Config


def test_defaults_keep_one_box_prepared_per_worker_process() -> None:
    config = Config.from_env({})
    assert config.pool == 1 and config.launcher


def test_the_pool_size_is_read_from_the_environment() -> None:
    assert Config.from_env({"EXECUTOR_POOL": "0"}).pool == 0
    assert Config.from_env({"EXECUTOR_POOL": str(MAX_POOL)}).pool == MAX_POOL


@pytest.mark.parametrize("raw", ["-1", str(MAX_POOL + 1), "many"])
def test_a_bad_pool_size_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="EXECUTOR_POOL"):
        Config.from_env({"EXECUTOR_POOL": raw})
