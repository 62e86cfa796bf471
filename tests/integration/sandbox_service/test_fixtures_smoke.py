"""The integration fixtures do what they promise: a real worker on the test Redis, answering pings; service
processes on the committed test database; a beat that sends the recovery task; a test Redis that stops and starts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis
from django.contrib.auth.models import Group, User

from sandbox_service.celery import app as celery_app
from tests.integration.sandbox_service.conftest import (
    ROOT,
    LiveDatabase,
    RedisServer,
    ServiceProcess,
    Users,
    wait_for,
)


def manage(env: dict[str, str], code: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_worker_answers_a_ping_through_the_test_redis(celery_worker_process: ServiceProcess, redis_url: str) -> None:
    assert celery_app.conf.broker_url == redis_url
    replies = celery_app.control.ping(destination=[celery_worker_process.name], timeout=2)
    assert replies == [{celery_worker_process.name: {"ok": "pong"}}]
    assert "interactive" in celery_worker_process.log() and "grading" in celery_worker_process.log()


def test_worker_environment_sees_rows_the_test_committed(live_db: LiveDatabase, users: Users,
                                                          celery_worker_process: ServiceProcess) -> None:  # fmt: skip
    env = celery_worker_process.env
    assert env["DATABASE_URL"] == live_db.url
    assert env["EXECUTOR_STATE_DIR"] == "/run/executor-test"
    code = "from django.contrib.auth.models import User; print(sorted(User.objects.values_list('username', flat=True)))"
    assert manage(env, code) == "['admin', 'grader', 'student']"
    # and the other way round: what that process commits, the test sees
    manage(env, "from django.contrib.auth.models import User; User.objects.create_user('made-elsewhere')")
    assert User.objects.filter(username="made-elsewhere").exists()


def test_live_db_url_names_the_test_database_not_the_service_one(live_db: LiveDatabase) -> None:
    assert live_db.url.endswith(live_db.name)
    assert "test" in live_db.name
    if live_db.vendor == "sqlite":
        assert live_db.url.startswith("sqlite:////")
    else:
        assert live_db.url.startswith("postgres://")


def test_users_have_their_roles(users: Users, languages: list) -> None:
    assert {language.id for language in languages} >= {"python3", "c", "cpp", "java", "javascript", "bash"}
    assert users.admin.is_superuser and users.admin.is_staff
    assert users.grader.is_staff and not users.grader.is_superuser
    assert not users.student.is_staff
    assert users.grader.has_perm("problems.change_problem")
    assert not users.student.has_perm("problems.view_problem")
    assert Group.objects.get(name="student").user_set.get() == users.student
    assert User.objects.get(username="student").check_password(users.password)


def test_a_killed_worker_is_gone_and_stop_removes_its_pool_processes(
    celery_worker_factory: Callable[..., ServiceProcess],
) -> None:
    worker = celery_worker_factory(concurrency=2)
    pool = worker.children()
    assert len(pool) >= 2, pool
    worker.kill(signal.SIGKILL)
    wait_for(lambda: not worker.alive(), 10, message="the killed worker to exit")
    worker.stop()
    wait_for(lambda: not any(_running(pid) for pid in pool), 10, message="the pool processes to be gone")


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def test_worker_takes_environment_overrides(celery_worker_factory: Callable[..., ServiceProcess]) -> None:
    worker = celery_worker_factory(env={"SUBMISSIONS_LEASE_SECONDS": 3, "EXECUTOR_SLOTS": None})
    assert worker.env["SUBMISSIONS_LEASE_SECONDS"] == "3"
    assert "EXECUTOR_SLOTS" not in worker.env
    code = "from django.conf import settings; print(settings.SUBMISSIONS['LEASE_SECONDS'])"
    assert manage(worker.env, code) == "3.0"


def test_beat_sends_the_recovery_task_on_its_schedule(celery_beat_process: ServiceProcess) -> None:
    celery_beat_process.wait_for_log("Sending due task recover-stuck-submissions", timeout=15)


def test_redis_stops_and_starts_again(redis_server: RedisServer) -> None:
    redis_server.client.set("before", "1")
    redis_server.stop()
    assert not redis_server.answers()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_server.url, socket_connect_timeout=1).ping()
    redis_server.start()
    assert redis_server.answers()
    assert redis_server.client.get("before") is None  # no persistence: a restart loses what was queued
    redis_server.client.set("after", "1")
    assert redis_server.client.get("after") == b"1"


def test_wait_for_returns_the_value_and_fails_after_the_timeout() -> None:
    calls = []
    assert wait_for(lambda: calls.append(1) or len(calls) >= 3, timeout=5, interval=0.01) is True
    assert len(calls) == 3
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="never"):
        wait_for(lambda: False, timeout=0.3, interval=0.05, message="never")
    assert 0.3 <= time.monotonic() - started < 2
