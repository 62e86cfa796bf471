"""The launcher: boxes are forked from a small process of their own, not from the (large) caller; it takes nothing of
the caller's environment, follows the caller through fork, is restarted when it dies, and dies with the caller.
Boxes are prepared before their run: one waits while another runs, sees the files of a sandbox made after it, and
a prepared box that is killed, or cannot be made, costs the run nothing or fails it with the reason."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from executor import launcher, mounts
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


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry))
    return found


def prepared_keepers(expected: int = 1) -> list[int]:
    """The keepers of the boxes the launcher has made and that are waiting for a run, once the boxes of finished
    runs have gone (their teardown goes on after the run has returned) and the next one is made."""
    deadline = time.monotonic() + 5
    while len(keepers := children(launcher_pid())) != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return keepers


def gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


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


def test_after_a_run_the_next_box_is_already_prepared_and_waiting(config: Config) -> None:
    assert run_true(config) is Status.OK
    keepers = prepared_keepers()
    assert len(keepers) == config.pool == 1
    (keeper,) = keepers
    assert "State:\tS" in Path(f"/proc/{keeper}/status").read_text()  # asleep: it waits for a plan
    inits = children(keeper)
    assert len(inits) == 1 and len(children(inits[0])) == 1  # init and the program's process are made too
    assert run_true(config) is Status.OK
    assert gone(keeper)  # it was the box of this run
    assert prepared_keepers() != [keeper]


def test_a_box_prepared_before_its_sandbox_existed_sees_the_sandboxs_files(config: Config) -> None:
    assert run_true(config) is Status.OK
    prepared_keepers()  # a box is waiting; the workspace below is mounted after it was made
    with Sandbox(config) as box:
        box.add_file("data/made-later.txt", b"written after the box was prepared\n")
        result = box.run(["/bin/cat", "data/made-later.txt"], quick())
    assert result.status is Status.OK, result.message
    assert result.stdout == b"written after the box was prepared\n"


def test_the_state_directory_is_a_shared_tmpfs_so_that_workspaces_reach_prepared_boxes(config: Config) -> None:
    assert run_true(config) is Status.OK
    points = dict(mounts._mountinfo())
    assert any(tag.startswith("shared:") for tag in points[config.state_dir])
    line = next(x for x in Path("/proc/self/mountinfo").read_text().splitlines() if x.split()[4] == config.state_dir)
    assert line.split(" - ")[1].split()[0] == "tmpfs"  # no disk journal on the path of every sandbox


def test_a_prepared_box_killed_before_its_run_costs_the_run_nothing(config: Config) -> None:
    assert run_true(config) is Status.OK
    (keeper,) = prepared_keepers()
    os.kill(keeper, signal.SIGKILL)
    assert gone(keeper)
    assert run_true(config) is Status.OK


def test_a_box_that_cannot_be_prepared_fails_its_run_with_the_reason(config: Config) -> None:
    broken = mounts.Layout(devices=("null", "no-such-device"))
    with Sandbox(config, layout=broken) as box:
        result = box.run(["/bin/true"], quick())
    assert result.status is Status.INTERNAL_ERROR
    assert "init" in result.message and "no-such-device" in result.message
    assert run_true(config) is Status.OK  # boxes of the usual layout are unaffected


def test_with_no_pool_no_box_waits_between_runs(config: Config) -> None:
    launcher.LAUNCHER._stop()
    assert run_true(replace(config, pool=0)) is Status.OK
    assert prepared_keepers(expected=0) == []
    assert run_true(replace(config, pool=0)) is Status.OK
    launcher.LAUNCHER._stop()  # the next tests start with the default pool


def test_prepared_boxes_die_with_the_launcher(config: Config) -> None:
    assert run_true(config) is Status.OK
    (keeper,) = prepared_keepers()
    box_processes = [keeper, *children(keeper)]
    os.kill(launcher_pid(), signal.SIGKILL)
    assert all(gone(pid) for pid in box_processes)
