"""The whole service, as `make run` starts it (gunicorn, one worker per queue with the default concurrency, Redis),
on its own ports, database and sandbox slots: end-to-end latency of a waiting request and the throughput of a
burst, each next to what the bare machine does with the same Python program."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks.common import CONFIG, ROOT, VAR, Row, median, percentile, run_quiet, timed_side_by_side

HELLO = "print(1)\n"
BARE_PYTHON = ["/usr/bin/python3", "-c", "print(1)"]


@dataclass
class Stack:
    url: str
    token: str
    processes: list[subprocess.Popen[bytes]]
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def stack() -> Iterator[Stack]:
    """Redis, the two workers and gunicorn, as the Makefile's `start` runs them, on a fresh SQLite database."""
    home = VAR / "service"
    if home.exists():
        shutil.rmtree(home)
    (home / "redis").mkdir(parents=True)
    redis_port, web_port = _free_port(), _free_port()
    cores = os.cpu_count() or 2
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox_service.settings", "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}", "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "EXECUTOR_STATE_DIR": CONFIG.state_dir, "EXECUTOR_CGROUP_PARENT": CONFIG.cgroup_parent,
           "EXECUTOR_SLOTS": str(CONFIG.slots), "EXECUTOR_ID_BASE": str(CONFIG.id_base),
           "API_THROTTLE_RATES": "submit=100000/min,read=100000/min", "SUBMISSIONS_MAX_QUEUED": "100000",
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    python = sys.executable
    logs = open(home / "stack.log", "ab")  # noqa: SIM115 - closed at the end of the stack
    processes: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> None:
        processes.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip

    try:
        run_quiet([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env)
        start(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
               "--dir", str(home / "redis")])  # fmt: skip
        token = subprocess.run([python, "-c", _SETUP], cwd=ROOT, env=env, check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]  # fmt: skip
        celery = [python, "-m", "celery", "-A", "sandbox_service", "worker", "--prefetch-multiplier", "1",
                  "--without-mingle", "--without-gossip", "-l", "warning"]  # fmt: skip
        start([*celery, "-Q", "interactive", "--concurrency", str(cores), "-n", f"bench-interactive-{web_port}@%h"])
        start([*celery, "-Q", "grading", "--concurrency", str(max(1, cores // 2)),
               "-n", f"bench-grading-{web_port}@%h"])
        start([python, "-m", "gunicorn", "sandbox_service.wsgi", "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
               "--worker-class", "gthread", "--threads", "16", "--timeout", "120", "--no-control-socket"])  # fmt: skip
        url = f"http://127.0.0.1:{web_port}"
        _wait_ready(url)
        yield Stack(url, token, processes, env)
    finally:
        for process in reversed(processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        logs.close()


# Run in a fresh interpreter on the bench database: languages (the self-tests ran in the sandbox benchmarks),
# a grader account (not rate limited per minute) and its API token, printed last.
_SETUP = """
import django
django.setup()
from sandbox_service.languages.services import language_sync
from sandbox_service.core.services import role_user_ensure
from sandbox_service.api.models import ApiToken
language_sync(self_test=False)
user = role_user_ensure(username="bench", role="grader", password="bench-password-not-secret")
token, key = ApiToken.issue(user=user, name="bench")
print(key)
"""


def _wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:  # noqa: S310 - our own server
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the bench service at {url} was not ready within {timeout} s (see var/bench/service/stack.log)")


def _post(stack: Stack, body: dict[str, object], wait: bool) -> dict[str, object]:
    request = urllib.request.Request(f"{stack.url}/api/v1/submissions/{'?wait=true' if wait else ''}",  # noqa: S310
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Token {stack.token}",
                                              "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - our own server
        return json.loads(response.read())  # type: ignore[no-any-return]


def end_to_end(st: Stack, runs: int) -> list[Row]:
    """POST with wait=true of a Python hello world, one after another: p50 and p95."""
    body = {"language": "python3", "source": HELLO, "stdin": ""}

    def once() -> None:
        result = _post(st, body, wait=True)
        if result.get("verdict") != "accepted":
            raise RuntimeError(f"end to end: {result}")

    times = timed_side_by_side({"ours": once, "bare": lambda: run_quiet(BARE_PYTHON)}, runs, warmup=5)
    latencies, bare = times["ours"], median(times["bare"])
    p50, p95 = median(latencies), percentile(latencies, 0.95)
    return [Row("end to end", "POST ?wait=true, Python hello world: p50", p50 * 1000,
                "bare `python3 -c 'print(1)'` process", bare * 1000, "ms", "ratio ≤ 3", p50 <= 3 * bare),
            Row("end to end", "POST ?wait=true, Python hello world: p95", p95 * 1000,
                "bare `python3 -c 'print(1)'` process", bare * 1000, "ms", "(no target)", None)]  # fmt: skip


def throughput(st: Stack, count: int) -> list[Row]:
    """A burst of `count` Python hello worlds through the API (16 clients posting at once), then until all finish:
    completed per second, next to how many bare `python3 -c 'print(1)'` the same cores run per second."""
    body = {"language": "python3", "source": HELLO, "stdin": ""}
    before = _finished_count(st)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: _post(st, body, wait=False), range(count)))
    posted = time.monotonic() - start
    finished = _wait_all_finished(st, before + count) - before
    elapsed = time.monotonic() - start
    rate = count / elapsed
    bare_rate = _bare_rate(count)
    lost = count - finished
    return [Row("throughput", f"burst of {count} Python hello worlds: completed per second", rate,
                "bare `python3 -c 'print(1)'` per second, all cores", bare_rate, "/s", "ratio ≥ 0.6, none lost",
                rate >= 0.6 * bare_rate and lost == 0, f"posted in {posted:.1f} s, all done in {elapsed:.1f} s; "
                                                       f"lost: {lost}")]  # fmt: skip


def _finished_count(st: Stack) -> int:
    request = urllib.request.Request(f"{st.url}/api/v1/submissions/?status=finished&page_size=1",  # noqa: S310
                                     headers={"Authorization": f"Token {st.token}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
        return int(json.loads(response.read())["count"])


def _wait_all_finished(st: Stack, expected: int, timeout: float = 600) -> int:
    """The count of finished submissions, once it reaches `expected` or `timeout` passes (one request per 0.2 s)."""
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = _finished_count(st)
        if done >= expected:
            return done
        time.sleep(0.2)
    return done


def _bare_rate(count: int) -> float:
    cores = os.cpu_count() or 2
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(cores) as pool:
        list(pool.map(lambda _: run_quiet(BARE_PYTHON), range(count)))
    return count / (time.monotonic() - start)
