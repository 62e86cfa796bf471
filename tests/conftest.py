"""Shared fixtures. The sandbox needs root and the kernel's namespaces and cgroups: without them the tests that
use it fail loudly (they never skip)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from executor.config import Config
from executor.limits import Limits

TEST_STATE_DIR = "/run/executor-test"
TEST_CGROUP_PARENT = "executor-test"


@pytest.fixture(scope="session")
def config() -> Iterator[Config]:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests must run as root (namespaces, cgroups, mounts)", pytrace=False)
    yield Config(state_dir=TEST_STATE_DIR, cgroup_parent=TEST_CGROUP_PARENT, slots=16)


def box_processes_on_host(config: Config) -> list[tuple[int, int]]:
    """(pid, uid) of every host process running as a uid of some slot's range."""
    low, high = config.id_base, config.id_base + config.slots * 65536
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        match = re.search(r"^Uid:\s+(\d+)", status, re.M)
        if match and low <= int(match.group(1)) < high:
            found.append((int(entry), int(match.group(1))))
    return found


def quick(**changes: float | int) -> Limits:
    """Small limits so that limit tests end fast."""
    base = Limits(cpu_time=1.0, wall_time=3.0, memory=128, processes=32)
    return base.with_changes(**changes)
