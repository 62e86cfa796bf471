"""Fixtures for the service's real-process integration tests: a real Redis, real Celery worker and beat processes,
a test database whose rows those processes see, and the real sandbox. Nothing runs in Celery's eager mode.

- `redis_url` (session): the test Redis (REDIS_URL, default redis://127.0.0.1:6390/0; `make test` starts it and
  exports REDIS_URL). Started here when it does not answer; its database is flushed at session start, and this
  process's Celery app publishes to it (for every test in this directory).
- `redis_server`: a `RedisServer` handle with stop()/start() for fault tests; started again after the test.
- `live_db`: `transactional_db` (rows are committed, so other processes see them) plus `.url`, a DATABASE_URL of
  the *test* database for other processes (SQLite: the test database file; PostgreSQL: test_<name>).
- `celery_worker_factory(**options)` / `celery_worker_process`: `celery worker` subprocesses on the test database
  and Redis, ready (answering a ping) when returned; a `ServiceProcess` handle; always stopped at teardown.
  Override the `worker_env` fixture (or parametrize it) to pass settings such as SUBMISSIONS_LEASE_SECONDS.
- `celery_beat_factory(**options)` / `celery_beat_process`: `celery beat` likewise (`beat_env`; by default the
  recovery task runs every second: RECOVER_STUCK_EVERY=1).
- `languages`: the executor's languages mirrored into the database (toolchains checked, no self-test).
- `users`: users "student", "grader" and "admin" with their roles (groups, staff flags), password `PASSWORD`.
- `wait_for(predicate, timeout, interval)`: import it from this module.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from sandbox_service.celery import app as celery_app
from sandbox_service.core.services import Role, role_user_ensure
from sandbox_service.languages.models import Language
from sandbox_service.languages.services import language_sync
from tests.conftest import TEST_CGROUP_PARENT, TEST_STATE_DIR, celery_use_broker

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6390/0"
PASSWORD = "integration-test-password"
# What every worker and beat process of these tests gets unless a test says otherwise: the tests' own sandbox
# state directory and cgroup (as tests/conftest.py's `config`), 16 slots.
SERVICE_ENV_DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "sandbox_service.settings",
    "EXECUTOR_STATE_DIR": TEST_STATE_DIR,
    "EXECUTOR_CGROUP_PARENT": TEST_CGROUP_PARENT,
    "EXECUTOR_SLOTS": "16",
    "PYTHONUNBUFFERED": "1",
}

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.1, message: str = "") -> T:
    """Call `predicate` until it returns something true, and return that; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}", pytrace=False)
        time.sleep(interval)


# --- Redis ------------------------------------------------------------------------------------------------------


class RedisServer:
    """The test Redis. stop() shuts it down (no save); start() starts one on the same port if none answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.lstrip("/") or 0)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.dir = Path(settings.VAR_DIR) / "test"

    def answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 10.0) -> None:
        if self.answers():
            return
        if not ipaddress.ip_address(socket.gethostbyname(self.host)).is_loopback:
            pytest.fail(f"the test Redis {self.url} does not answer (and is not on this machine)", pytrace=False)
        self.dir.mkdir(parents=True, exist_ok=True)
        # As `make test` starts it: no persistence, pid and log beside the other test state.
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--daemonize", "yes", "--dir", str(self.dir), "--pidfile", str(self.dir / "redis.pid"),
             "--logfile", str(self.dir / "redis.log")],  # fmt: skip
            check=True,
        )
        wait_for(self.answers, timeout, message=f"the test Redis to answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self.client.shutdown(nosave=True)
        except (redis.RedisError, OSError):
            pass  # the server closes the connection as it goes
        wait_for(lambda: not self.answers(), timeout, message=f"the test Redis on port {self.port} to stop")

    def flush(self) -> None:
        self.client.flushdb()


def _celery_publish_to(url: str) -> None:
    """Make this process's Celery app (and anything reading settings) use `url` as its broker.

    Settings read REDIS_URL once, at import, and pytest-django imports them before any conftest runs, so the broker
    is set again here, and the pools holding connections to the old one are dropped.
    """
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    celery_use_broker(url)


def _celery_drop_connections() -> None:
    celery_use_broker(celery_app.conf.broker_url)


@pytest.fixture(scope="session")
def _test_redis() -> RedisServer:
    server = RedisServer(os.environ.get("REDIS_URL", DEFAULT_TEST_REDIS_URL))
    server.start()
    server.flush()
    _celery_publish_to(server.url)
    return server


@pytest.fixture(scope="session", autouse=True)
def _celery_on_the_test_redis(_test_redis: RedisServer) -> None:
    """Whatever a test here enqueues goes to the test Redis, never to the service's (REDIS_URL may be unset)."""


@pytest.fixture(scope="session")
def redis_url(_test_redis: RedisServer) -> str:
    return _test_redis.url


@pytest.fixture
def redis_server(_test_redis: RedisServer) -> Iterator[RedisServer]:
    yield _test_redis
    _test_redis.start()  # whatever the test did, the next one finds it running
    _celery_drop_connections()


# --- database ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveDatabase:
    url: str  # DATABASE_URL of the test database, for other processes
    vendor: str  # "sqlite" or "postgresql"
    name: str  # the test database's file or name


def database_url_of(settings_dict: Mapping[str, Any]) -> str:
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if not Path(name).is_absolute():
            pytest.fail(f"the SQLite test database must be a file for other processes to open it, not {name!r} "
                        "(settings: DATABASES TEST NAME, SQLITE_TEST_NAME)", pytrace=False)  # fmt: skip
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        user, password = quote(settings_dict["USER"] or "", safe=""), quote(settings_dict["PASSWORD"] or "", safe="")
        host, port = settings_dict["HOST"] or "", settings_dict["PORT"] or 5432
        return f"postgres://{user}:{password}@{host}:{port}/{quote(name, safe='')}"
    pytest.fail(f"no DATABASE_URL for the test database of {engine}", pytrace=False)


@pytest.fixture
def live_db(transactional_db: None) -> LiveDatabase:
    """Rows the test writes are committed at once (no wrapping transaction), so a worker process sees them; the
    tables are emptied after the test."""
    return LiveDatabase(url=database_url_of(connection.settings_dict), vendor=connection.vendor,
                        name=str(connection.settings_dict["NAME"]))  # fmt: skip


def _with_database(request: pytest.FixtureRequest) -> None:
    """Database access for a data fixture: the kind the test asked for, else `live_db`."""
    for name in ("live_db", "transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            return
    request.getfixturevalue("live_db")


@pytest.fixture
def languages(request: pytest.FixtureRequest) -> list[Language]:
    _with_database(request)
    return language_sync(self_test=False)


@dataclass(frozen=True)
class Users:
    student: User
    grader: User
    admin: User
    password: str = PASSWORD


@pytest.fixture
def users(request: pytest.FixtureRequest, languages: list[Language]) -> Users:
    _with_database(request)
    made = {role: role_user_ensure(username=role, role=role, password=PASSWORD) for role in Role.ALL}
    return Users(student=made[Role.STUDENT], grader=made[Role.GRADER], admin=made[Role.ADMIN])


# --- worker and beat processes ----------------------------------------------------------------------------------


def service_env(database: LiveDatabase, redis_url: str,
                overrides: Mapping[str, object] | None = None) -> dict[str, str]:  # fmt: skip
    """The environment of a service process of these tests: this one's, on the test database and Redis, with the
    tests' sandbox settings; `overrides` wins (a value of None removes the variable)."""
    env = {**os.environ, **SERVICE_ENV_DEFAULTS, "DATABASE_URL": database.url, "REDIS_URL": redis_url}
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


class ServiceProcess:
    """A worker or beat subprocess, leader of its own process group (with the worker's pool processes in it)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name  # the worker's node name (test-<hex>@<host>), or "beat"
        self.args = args
        self.env = env
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """Pids of the main process's children (a prefork worker's pool processes)."""
        found = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            try:
                found += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the main process only (its pool processes are left to notice)."""
        os.kill(self.pid, sig)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a worker's warm shutdown: it finishes running tasks), SIGKILL to the whole group after
        `timeout`; then SIGKILL to whatever is left in the group (pool processes of a killed main process)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group(signal.SIGKILL)
        self.popen.wait(10)

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if text in self.log():
                return True
            if not self.alive():
                pytest.fail(f"{self.name} exited ({self.popen.returncode}) before logging {text!r}:\n{self.log()}",
                            pytrace=False)  # fmt: skip
            return False

        wait_for(seen, timeout, interval=0.1, message=f"{self.name} to log {text!r}")


def celery_ping(name: str, timeout: float = 2.0) -> bool:
    replies = celery_app.control.ping(destination=[name], timeout=timeout)
    return any(name in reply for reply in replies)


@pytest.fixture
def worker_env() -> dict[str, object]:
    """Overrides of the environment of `celery_worker_process` (override or parametrize this fixture)."""
    return {}


@pytest.fixture
def beat_env() -> dict[str, object]:
    """Overrides of the environment of `celery_beat_process`."""
    return {"RECOVER_STUCK_EVERY": 1}


@pytest.fixture
def celery_worker_factory(live_db: LiveDatabase, redis_url: str,
                          tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:  # fmt: skip
    started: list[ServiceProcess] = []

    def start(*, env: Mapping[str, object] | None = None, queues: str = "interactive,grading", concurrency: int = 2,
              pool: str = "prefork", extra_args: tuple[str, ...] = (), host: str | None = None,
              timeout: float = 60.0) -> ServiceProcess:  # fmt: skip
        name = f"test-{uuid.uuid4().hex[:12]}@{host or socket.gethostname()}"
        args = [sys.executable, "-m", "celery", "-A", "sandbox_service", "worker", "-Q", queues,
                "--concurrency", str(concurrency), "-P", pool, "--prefetch-multiplier", "1", "-n", name,
                "--without-mingle", "--without-gossip", "-l", "info", *extra_args]  # fmt: skip
        process = ServiceProcess(name, args, service_env(live_db, redis_url, env),
                                 tmp_path / f"worker-{name.split('@')[0]}.log")  # fmt: skip
        started.append(process)
        process.wait_for_log(f"{name} ready.", timeout)
        wait_for(lambda: celery_ping(name), timeout, interval=0.2, message=f"worker {name} to answer a ping")
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def celery_worker_process(celery_worker_factory: Callable[..., ServiceProcess],
                          worker_env: dict[str, object]) -> ServiceProcess:  # fmt: skip
    return celery_worker_factory(env=worker_env)


@pytest.fixture
def celery_beat_factory(live_db: LiveDatabase, redis_url: str,
                        tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:  # fmt: skip
    started: list[ServiceProcess] = []

    def start(*, env: Mapping[str, object] | None = None, timeout: float = 60.0) -> ServiceProcess:
        index = len(started)
        args = [sys.executable, "-m", "celery", "-A", "sandbox_service", "beat",
                "-s", str(tmp_path / f"celerybeat-schedule-{index}"), "-l", "info"]  # fmt: skip
        process = ServiceProcess("beat", args, service_env(live_db, redis_url, env), tmp_path / f"beat-{index}.log")
        started.append(process)
        process.wait_for_log("beat: Starting...", timeout)
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def celery_beat_process(celery_beat_factory: Callable[..., ServiceProcess],
                        beat_env: dict[str, object]) -> ServiceProcess:  # fmt: skip
    return celery_beat_factory(env=beat_env)
