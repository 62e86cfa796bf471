"""The operations dashboard: its data computed from real rows at a fixed moment (queues, percentiles, buckets,
verdicts, failures, a fixed number of queries), and who may open the page and its JSON. As every operations unit
test, these run with Redis refused (conftest.py), except those about workers: their heartbeats are written with the
workers' own function into the tests' Redis (REDIS_URL; they fail, they do not skip, without it). The charts
themselves are drawn in a browser in tests/e2e/test_admin_dashboard.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sandbox_service.core.services import Role, role_user_ensure
from sandbox_service.ops import workers
from sandbox_service.ops.dashboard import dashboard_data, percentile
from sandbox_service.ops.lifecycle import redis_client
from sandbox_service.ops.workers import WorkerInfo, worker_gone, worker_heartbeat
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status, Verdict

pytestmark = pytest.mark.django_db

# A fixed moment, whole seconds, so that every duration below is exact.
NOW = timezone.now().replace(microsecond=0)
# The tests' Redis, as `make test` starts it and the integration tests use it.
TEST_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
PAGE = "/admin/dashboard/"
DATA = "/admin/dashboard/data.json"


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@pytest.fixture
def owner(languages: Any) -> User:
    return User.objects.create_user("someone")


@pytest.fixture
def make(owner: User) -> Callable[..., Submission]:
    """A submission row as the pipeline leaves it; times are given, not taken from the clock."""

    def make(*, status: str = Status.FINISHED, verdict: str = "", language: str = "python3",
             queue: str = Queue.INTERACTIVE, created: datetime | None = None, queued: datetime | None = None,
             started: datetime | None = None, finished: datetime | None = None, failures: int = 0,
             message: str = "", worker: str = "") -> Submission:  # fmt: skip
        if status == Status.FINISHED:
            verdict = verdict or Verdict.ACCEPTED
            finished = finished or ago(minutes=1)
            started = started or finished
        queued = queued or started or ago(minutes=1)
        created = created or queued
        submission = Submission.objects.create(owner=owner, language_id=language, source="x", queue=queue,
                                               status=status, verdict=verdict, failures=failures, message=message,
                                               worker=worker)  # fmt: skip
        # created_at is auto_now_add: set it afterwards, as the other times.
        Submission.objects.filter(pk=submission.pk).update(created_at=created, queued_at=queued, started_at=started,
                                                           finished_at=finished)  # fmt: skip
        submission.refresh_from_db()
        return submission

    return make


@pytest.fixture
def heartbeats(redis_refused: str, settings: Any) -> Iterator[list[WorkerInfo]]:
    """Heartbeats written with the workers' own function into the tests' Redis (in place of conftest.py's refused
    one); removed afterwards, with any other run's leftovers before."""
    settings.REDIS_URL = TEST_REDIS_URL
    client = redis_client()
    for key in client.scan_iter(match=workers.KEY_PREFIX + "*"):
        client.delete(key)  # another run's leftovers
    written: list[WorkerInfo] = []
    yield written
    for info in written:
        worker_gone(info.name)


def beat(written: list[WorkerInfo], name: str, queues: list[str], concurrency: int = 4, slots: int = 16,
         seen: datetime | None = None) -> WorkerInfo:  # fmt: skip
    info = WorkerInfo(name=name, host=name.split("@")[1], queues=queues, concurrency=concurrency, slots=slots,
                      pid=4242, started_at=ago(hours=2), seen_at=seen or ago(seconds=3))  # fmt: skip
    worker_heartbeat(info)
    written.append(info)
    return info


# --- percentiles ------------------------------------------------------------------------------------------------


def test_percentile_interpolates_between_the_nearest_ranks() -> None:
    values = [float(v) for v in range(21, 0, -1)]  # 21..1, unsorted on purpose
    assert percentile(values, 0.50) == 11.0
    assert percentile(values, 0.95) == 20.0
    assert percentile([1.0, 2.0], 0.50) == 1.5
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.50) is None


# --- queues and workers -----------------------------------------------------------------------------------------


def test_queues_count_queued_and_running_per_queue_with_the_age_of_the_oldest_queued(
        make: Callable[..., Submission]) -> None:  # fmt: skip
    make(status=Status.QUEUED, queued=ago(seconds=90))
    make(status=Status.QUEUED, queued=ago(seconds=30))
    make(status=Status.RUNNING, queued=ago(seconds=200), started=ago(seconds=10))  # older, but no longer waiting
    make(status=Status.QUEUED, queue=Queue.GRADING, queued=ago(seconds=5))
    make(status=Status.RUNNING, queue=Queue.GRADING, started=ago(seconds=5))
    make(status=Status.RUNNING, queue=Queue.GRADING, started=ago(seconds=4))
    make(status=Status.FINISHED)  # not in any queue

    queues = {q["queue"]: q for q in dashboard_data(NOW)["queues"]}

    assert list(queues) == ["interactive", "grading"]
    assert queues["interactive"] | {"workers": 0, "concurrency": 0} == {
        "queue": "interactive", "queued": 2, "running": 1, "oldest_queued_seconds": 90.0, "workers": 0,
        "concurrency": 0}  # fmt: skip
    assert (queues["grading"]["queued"], queues["grading"]["running"]) == (1, 2)
    assert queues["grading"]["oldest_queued_seconds"] == 5.0


def test_an_empty_queue_has_no_oldest_age(make: Callable[..., Submission]) -> None:
    make(status=Status.RUNNING, queue=Queue.GRADING, started=ago(seconds=5))
    queues = {q["queue"]: q for q in dashboard_data(NOW)["queues"]}
    assert queues["interactive"]["queued"] == 0 and queues["interactive"]["oldest_queued_seconds"] is None
    assert queues["grading"]["queued"] == 0 and queues["grading"]["oldest_queued_seconds"] is None


def test_workers_come_from_their_heartbeats_and_each_queue_counts_the_workers_consuming_it(
        owner: User, heartbeats: list[WorkerInfo]) -> None:  # fmt: skip
    beat(heartbeats, "interactive@host-b", ["interactive"], concurrency=8, slots=32, seen=ago(seconds=4))
    beat(heartbeats, "grading@host-a", ["grading"], concurrency=2)
    beat(heartbeats, "both@host-a", ["grading", "interactive"], concurrency=1)

    data = dashboard_data(NOW)

    assert [w["name"] for w in data["workers"]] == ["both@host-a", "grading@host-a", "interactive@host-b"]
    assert data["workers_error"] == ""
    b = data["workers"][2]
    assert b == {"name": "interactive@host-b", "host": "host-b", "queues": ["interactive"], "concurrency": 8,
                 "slots": 32, "pid": 4242, "started_at": ago(hours=2).isoformat(),
                 "seen_at": ago(seconds=4).isoformat(), "seen_seconds_ago": 4.0}  # fmt: skip
    queues = {q["queue"]: q for q in data["queues"]}
    assert (queues["interactive"]["workers"], queues["interactive"]["concurrency"]) == (2, 9)
    assert (queues["grading"]["workers"], queues["grading"]["concurrency"]) == (2, 3)


def test_a_worker_that_stopped_is_no_longer_listed(owner: User, heartbeats: list[WorkerInfo]) -> None:
    beat(heartbeats, "interactive@host-a", ["interactive"])
    gone = beat(heartbeats, "interactive@host-b", ["interactive"])
    worker_gone(gone.name)
    data = dashboard_data(NOW)
    assert [w["name"] for w in data["workers"]] == ["interactive@host-a"]
    assert data["queues"][0]["workers"] == 1


def test_redis_down_leaves_the_workers_empty_with_a_reason_and_the_rest_of_the_dashboard(
        make: Callable[..., Submission], redis_refused: str) -> None:  # fmt: skip
    make(status=Status.QUEUED)
    data = dashboard_data(NOW)
    assert data["workers"] == [] and "ConnectionError" in data["workers_error"]
    assert data["queues"][0]["queued"] == 1 and data["queues"][0]["workers"] == 0


# --- throughput and latency -------------------------------------------------------------------------------------


def test_latency_p50_and_p95_over_the_window_are_computed_from_the_rows_times(make: Callable[..., Submission]) -> None:
    # Submission i was made 5 s before it was (last) queued, as a rejudge is, waited i s in its queue and ran
    # 10*i s: waits 1..21 s, runs 10..210 s, totals 16..236 s.
    for i in range(1, 22):
        finished = ago(minutes=1)
        started = finished - timedelta(seconds=10 * i)
        queued = started - timedelta(seconds=i)
        make(created=queued - timedelta(seconds=5), queued=queued, started=started, finished=finished)

    hour = dashboard_data(NOW)["windows"]["hour"]

    assert hour["finished"] == 21
    assert hour["latency"] == {"queue": {"p50": 11.0, "p95": 20.0}, "run": {"p50": 110.0, "p95": 200.0},
                               "total": {"p50": 126.0, "p95": 225.0}}  # fmt: skip
    last = hour["buckets"][-1]
    assert (last["finished"], last["total_p50"], last["total_p95"]) == (21, 126.0, 225.0)
    assert all(b["total_p50"] is None for b in hour["buckets"][:-1])  # no data is not zero seconds


def test_a_submission_that_failed_before_it_started_counts_in_throughput_and_total_but_not_queue_or_run(
        make: Callable[..., Submission]) -> None:  # fmt: skip
    failed = make(verdict=Verdict.INTERNAL_ERROR, created=ago(minutes=4), queued=ago(minutes=4),
                  finished=ago(minutes=2))  # fmt: skip
    Submission.objects.filter(pk=failed.pk).update(started_at=None)
    hour = dashboard_data(NOW)["windows"]["hour"]
    assert hour["finished"] == 1
    assert hour["latency"]["queue"] == {"p50": None, "p95": None} and hour["latency"]["run"]["p50"] is None
    assert hour["latency"]["total"] == {"p50": 120.0, "p95": 120.0}


def test_throughput_counts_finished_submissions_per_bucket_of_each_window(make: Callable[..., Submission]) -> None:
    for minutes in (1, 2, 7, 59):
        make(finished=ago(minutes=minutes))
    make(finished=ago(minutes=61))  # the day's only
    make(finished=ago(hours=25))  # neither
    make(status=Status.RUNNING, started=ago(minutes=1))  # not finished
    make(status=Status.QUEUED, queued=ago(minutes=3))

    windows = dashboard_data(NOW)["windows"]

    hour, day = windows["hour"], windows["day"]
    assert (hour["bucket_seconds"], len(hour["buckets"]), hour["finished"]) == (300, 12, 4)
    assert [b["finished"] for b in hour["buckets"]] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    assert hour["buckets"][0]["start"] == ago(hours=1).isoformat()
    assert hour["buckets"][-1]["end"] == NOW.isoformat() == hour["end"]
    assert (day["bucket_seconds"], len(day["buckets"]), day["finished"]) == (3600, 24, 5)
    assert [b["finished"] for b in day["buckets"]][-2:] == [1, 4] and sum(b["finished"] for b in day["buckets"]) == 5


def test_per_bucket_latency_is_computed_over_each_buckets_own_rows(make: Callable[..., Submission]) -> None:
    for total in (10, 20, 30):
        make(created=ago(minutes=2, seconds=total), started=ago(minutes=2), finished=ago(minutes=2))
    make(created=ago(minutes=32, seconds=100), started=ago(minutes=32), finished=ago(minutes=32))

    buckets = dashboard_data(NOW)["windows"]["hour"]["buckets"]

    assert (buckets[-1]["total_p50"], buckets[-1]["total_p95"]) == (20.0, 29.0)
    assert (buckets[5]["total_p50"], buckets[5]["total_p95"]) == (100.0, 100.0)


# --- verdicts and failures --------------------------------------------------------------------------------------


def test_verdicts_are_counted_per_language_over_the_last_day_for_finished_submissions_only(
        make: Callable[..., Submission]) -> None:  # fmt: skip
    make(verdict=Verdict.ACCEPTED)
    make(verdict=Verdict.ACCEPTED, finished=ago(hours=20))
    make(verdict=Verdict.WRONG_ANSWER)
    make(verdict=Verdict.COMPILE_ERROR, language="c")
    make(verdict=Verdict.ACCEPTED, finished=ago(hours=30))  # older than a day
    make(status=Status.RUNNING, language="bash", started=ago(minutes=1))

    verdicts = dashboard_data(NOW)["verdicts"]

    assert [v["verdict"] for v in verdicts["verdicts"]] == [v.value for v in Verdict]
    assert verdicts["verdicts"][1] == {"verdict": "wrong_answer", "label": "Wrong Answer"}
    assert [row["language"] for row in verdicts["languages"]] == ["python3", "c"]  # busiest first
    python = verdicts["languages"][0]
    assert python["total"] == 3
    assert python["counts"] == {v.value: 0 for v in Verdict} | {"accepted": 2, "wrong_answer": 1}
    assert verdicts["languages"][1]["counts"]["compile_error"] == 1


def test_failures_count_internal_errors_and_retried_submissions_per_hour(make: Callable[..., Submission]) -> None:
    make(verdict=Verdict.INTERNAL_ERROR, finished=ago(minutes=30))
    make(verdict=Verdict.INTERNAL_ERROR, finished=ago(hours=3, minutes=30))
    make(verdict=Verdict.INTERNAL_ERROR, finished=ago(hours=30))  # older than a day
    # Retries: a retry puts the submission back in its queue, so its queued_at is when it last failed.
    make(status=Status.QUEUED, failures=1, queued=ago(minutes=10))
    make(status=Status.RUNNING, failures=2, queued=ago(hours=2, minutes=10), started=ago(hours=2))
    make(verdict=Verdict.ACCEPTED, failures=1, queued=ago(hours=2, minutes=20), started=ago(hours=2))
    make(status=Status.QUEUED, queued=ago(minutes=10))  # never failed
    make(status=Status.QUEUED, failures=1, queued=ago(hours=26))  # too long ago

    failures = dashboard_data(NOW)["failures"]

    assert (failures["bucket_seconds"], len(failures["buckets"])) == (3600, 24)
    assert (failures["internal_errors"], failures["retried"]) == (2, 3)
    assert [b["internal_errors"] for b in failures["buckets"]][-4:] == [1, 0, 0, 1]
    assert [b["retried"] for b in failures["buckets"]][-4:] == [0, 2, 0, 1]
    # The list of the latest is not cut at a day: the last internal error may be what explains a quiet day.
    assert [e["finished_at"] for e in failures["recent"]] == [ago(minutes=30).isoformat(),
                                                              ago(hours=3, minutes=30).isoformat(),
                                                              ago(hours=30).isoformat()]  # fmt: skip


def test_the_ten_latest_internal_errors_are_listed_newest_first_with_an_excerpt_of_their_message(
        make: Callable[..., Submission]) -> None:  # fmt: skip
    made = [make(verdict=Verdict.INTERNAL_ERROR, finished=ago(minutes=m), message=f"failure {m}",
                 worker=f"interactive@host-{m}") for m in range(12, 0, -1)]  # fmt: skip
    message = "<script>alert(1)</script>" + "x" * 300
    long = make(verdict=Verdict.INTERNAL_ERROR, finished=ago(seconds=1), language="c", worker="grading@host-z",
                message=message)  # fmt: skip
    make(verdict=Verdict.RUNTIME_ERROR, finished=ago(seconds=0))  # not an internal error

    recent = dashboard_data(NOW)["failures"]["recent"]

    assert len(recent) == 10
    assert recent[0] == {"token": str(long.token), "finished_at": ago(seconds=1).isoformat(), "language": "c",
                         "worker": "grading@host-z", "message": message[:200] + "…"}  # fmt: skip
    assert [e["token"] for e in recent[1:]] == [str(s.token) for s in made[::-1][:9]]
    assert recent[1]["message"] == "failure 1" and recent[1]["worker"] == "interactive@host-1"


# --- the whole ----------------------------------------------------------------------------------------------------


def test_the_data_is_plain_json(make: Callable[..., Submission], heartbeats: list[WorkerInfo]) -> None:
    beat(heartbeats, "interactive@host-a", ["interactive"])
    make(verdict=Verdict.INTERNAL_ERROR, message="boom", failures=1)
    make(status=Status.QUEUED)
    data = dashboard_data(NOW)
    assert json.loads(json.dumps(data)) == data
    assert data["generated_at"] == NOW.isoformat() and data["refresh_seconds"] == 5


@pytest.mark.parametrize("rows", [1, 60])
def test_the_data_takes_three_queries_whatever_the_number_of_rows(
        rows: int, make: Callable[..., Submission], heartbeats: list[WorkerInfo],
        django_assert_num_queries: Any) -> None:  # fmt: skip
    beat(heartbeats, "interactive@host-a", ["interactive"])
    for i in range(rows):
        make(verdict=[Verdict.ACCEPTED, Verdict.INTERNAL_ERROR][i % 2], language=["python3", "c", "bash"][i % 3],
             finished=ago(minutes=i * 20), failures=i % 2, message="m")  # fmt: skip
        make(status=[Status.QUEUED, Status.RUNNING][i % 2], queue=[Queue.INTERACTIVE, Queue.GRADING][i % 2],
             queued=ago(seconds=i), started=ago(seconds=i))  # fmt: skip
    with django_assert_num_queries(3):
        data = dashboard_data(NOW)
    assert sum(q["queued"] + q["running"] for q in data["queues"]) == rows
    assert data["windows"]["day"]["finished"] == min(rows, 72)


# --- the pages ----------------------------------------------------------------------------------------------------


@pytest.fixture
def role_users(languages: Any, settings: Any) -> dict[str, User]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: the tests force_login
    return {role: role_user_ensure(username=role, role=role, password="pw-roles-1") for role in Role.ALL}


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_anonymous_people_are_sent_to_the_admin_login(client: Client, url: str, role_users: dict[str, User]) -> None:
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_a_student_is_not_let_into_the_admin(client: Client, url: str, role_users: dict[str, User]) -> None:
    client.force_login(role_users[Role.STUDENT])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [PAGE, DATA])
def test_a_grader_reaches_the_admin_but_not_the_dashboard(client: Client, url: str,
                                                          role_users: dict[str, User]) -> None:  # fmt: skip
    client.force_login(role_users[Role.GRADER])
    assert client.get("/admin/").status_code == 200
    assert client.get(url).status_code == 403


def test_the_urls_are_named_in_the_admin() -> None:
    assert reverse("admin:ops-dashboard") == PAGE and reverse("admin:ops-dashboard-data") == DATA


def test_an_admin_sees_the_dashboard_with_its_tables_charts_and_script(
        client: Client, role_users: dict[str, User], make: Callable[..., Submission],
        heartbeats: list[WorkerInfo]) -> None:  # fmt: skip
    beat(heartbeats, "interactive@host-a", ["interactive"], concurrency=3, slots=12)
    make(status=Status.QUEUED, queued=timezone.now() - timedelta(seconds=42))
    make(verdict=Verdict.INTERNAL_ERROR, message="sandbox <b onclick=x()>broke</b>", worker="interactive@host-a")
    client.force_login(role_users[Role.ADMIN])

    response = client.get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    for table in ("queues-table", "workers-table", "windows-table", "verdicts-table", "errors-table"):
        assert f'id="{table}"' in page
    for chart in ("queues", "throughput", "latency", "verdicts", "failures"):
        assert f'<canvas id="chart-{chart}"' in page
    assert '<tr data-queue="interactive">' in page and "42 s" in page
    assert "<th scope=\"row\">interactive@host-a</th>" in page and "host-a" in page
    assert '<div class="breadcrumbs">' in page and 'href="/admin/"' in page  # the admin's frame
    assert 'type="module" src="/static/ops/dist/dashboard.js"' in page
    assert 'data-url="/admin/dashboard/data.json"' in page
    assert 'id="dashboard-data" type="application/json"' in page


def test_the_dashboard_renders_submission_text_as_text_and_forbids_inline_scripts(
        client: Client, role_users: dict[str, User], make: Callable[..., Submission]) -> None:  # fmt: skip
    make(verdict=Verdict.INTERNAL_ERROR, message="<img src=x onerror=alert(1)></script><script>alert(2)</script>")
    client.force_login(role_users[Role.ADMIN])
    response = client.get(PAGE)
    page = response.content.decode()
    assert "<img src=x" not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the table
    assert "\\u003Cimg src=x" in page  # the embedded data (json_script escapes <, > and &)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_the_dashboard_json_is_the_dashboards_data(client: Client, role_users: dict[str, User],
                                                   make: Callable[..., Submission]) -> None:  # fmt: skip
    make(status=Status.QUEUED, queue=Queue.GRADING)
    make(verdict=Verdict.ACCEPTED)
    client.force_login(role_users[Role.ADMIN])

    response = client.get(DATA)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]  # never a stale figure from a cache
    data = response.json()
    assert set(data) == {"generated_at", "refresh_seconds", "queues", "workers", "workers_error", "windows",
                         "verdicts", "failures"}  # fmt: skip
    assert data["queues"][1] == {"queue": "grading", "queued": 1, "running": 0,
                                 "oldest_queued_seconds": data["queues"][1]["oldest_queued_seconds"], "workers": 0,
                                 "concurrency": 0}  # fmt: skip
    assert data["windows"]["hour"]["finished"] == 1
    assert client.post(DATA).status_code == 405


def test_the_admin_index_links_to_the_dashboard_for_admins_only(client: Client,
                                                                role_users: dict[str, User]) -> None:  # fmt: skip
    client.force_login(role_users[Role.ADMIN])
    page = client.get("/admin/").content.decode()
    assert f'<a href="{PAGE}">Operations dashboard</a>' in page
    assert "Submissions" in page  # Django's own list of applications is still there
    client.force_login(role_users[Role.GRADER])
    page = client.get("/admin/").content.decode()
    assert "Operations dashboard" not in page and "Problems" in page
