"""Shared fixtures. The sandbox needs root and the kernel's namespaces and cgroups: without them the tests that
use it fail loudly (they never skip)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from executor.config import Config
from executor.limits import Limits
from executor.sandbox import cleanup_leftovers

TEST_STATE_DIR = "/run/executor-test"
TEST_CGROUP_PARENT = "executor-test"


@pytest.fixture(scope="session")
def config() -> Iterator[Config]:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests must run as root (namespaces, cgroups, mounts)", pytrace=False)
    config = Config(state_dir=TEST_STATE_DIR, cgroup_parent=TEST_CGROUP_PARENT, slots=16)
    cleanup_leftovers(config)  # as a worker does when it starts: an interrupted earlier test run may have left some
    yield config


def host_processes_with_uids(uids: range) -> list[tuple[int, str]]:
    """(pid, /proc/<pid>/status text) of every host process whose real, effective, saved or fs uid is in `uids`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        match = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M)
        if match and any(int(u) in uids for u in match.groups()):
            found.append((int(entry), status))
    return found


def box_processes_on_host(config: Config) -> list[int]:
    """Pids of every host process running as a uid of some slot's range."""
    low = config.id_base
    return [pid for pid, _ in host_processes_with_uids(range(low, low + config.slots * 65536))]


def quick(**changes: float | int) -> Limits:
    """Small limits so that limit tests end fast."""
    base = Limits(cpu_time=1.0, wall_time=3.0, memory=128, processes=32)
    return base.with_changes(**changes)


def celery_use_broker(url: str) -> None:
    """Point this process's Celery app at another broker, dropping every cached connection and producer pool
    (Celery's own, kombu's global ones, and the control mailbox's), so nothing keeps using the old one."""
    from kombu import pools

    from sandbox_service.celery import app

    app.conf.broker_url = url
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    if "control" in app.__dict__:
        app.control.mailbox.__dict__.pop("producer_pool", None)
    pools.reset()
