"""The launcher: boxes are forked from a small process of their own, not from the (large) caller; it takes nothing of
the caller's environment, follows the caller through fork, is restarted when it dies, and dies with the caller."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from executor import launcher
from executor.config import Config
from executor.result import Status
from executor.sandbox import Sandbox
from tests.conftest import quick


def run_true(config: Config) -> Status:
    with Sandbox(config) as box:
        return box.run(["/bin/true"], quick()).status


def launcher_pid() -> int:
    process = launcher.LAUNCHER._process
    assert process is not None and process.poll() is None
    return process.pid


def rss_kib(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


def test_boxes_are_forked_from_a_small_launcher_that_knows_nothing_of_the_callers_environment(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "must-not-travel")
    launcher.LAUNCHER._stop()  # started again below, after the secret is in this process's environment
    assert run_true(config) is Status.OK
    pid = launcher_pid()
    assert Path(f"/proc/{pid}/status").read_text().count(f"PPid:\t{os.getpid()}") == 1
    assert b"must-not-travel" not in Path(f"/proc/{pid}/environ").read_bytes()
    assert rss_kib(pid) < rss_kib(os.getpid())  # the point: smaller than the process that asked for the box
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "django" not in maps and "pyroute2" not in maps


def test_a_dead_launcher_is_started_again(config: Config) -> None:
    assert run_true(config) is Status.OK
    old = launcher_pid()
    os.kill(old, signal.SIGKILL)
    time.sleep(0.05)  # gone; the Popen handle reaps it on its next poll()
    assert run_true(config) is Status.OK
    assert launcher_pid() != old


def test_a_forked_caller_starts_its_own_launcher(config: Config) -> None:
    assert run_true(config) is Status.OK
    parents = launcher_pid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            ok = run_true(config) is Status.OK and launcher_pid() != parents
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 2)
    os.waitpid(child, 0)
    assert answer == b"ok"
    assert launcher_pid() == parents  # the parent's is untouched


def test_the_launcher_dies_with_its_caller(config: Config) -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            run_true(config)
            os.write(write, str(launcher_pid()).encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write)
    pid = int(os.read(read, 32))
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
                break
        except OSError:
            break
        time.sleep(0.02)
    assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


def test_without_the_launcher_the_caller_forks_boxes_itself(config: Config) -> None:
    assert run_true(replace(config, launcher=False)) is Status.OK
