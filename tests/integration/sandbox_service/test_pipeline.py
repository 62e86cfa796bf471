"""The whole pipeline with real parts: the database, Redis, Celery worker and beat processes, the sandbox.

Fault tests: a worker SIGKILLed mid-run, Redis stopped and restarted with submissions queued, a burst of 300.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest

from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Status, Verdict
from tests.integration.sandbox_service.conftest import ServiceProcess, Users, wait_for

A_PLUS_B = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture
def a_plus_b(users: Users) -> Problem:
    problem = Problem.objects.create(title="A + B", slug="a-plus-b", owner=users.grader, published=True)
    for order, (given, expected) in enumerate([("1 2", "3"), ("10 -3", "7"), ("0 0", "0")], start=1):
        TestCase.objects.create(problem=problem, order=order, stdin=given + "\n", expected_output=expected + "\n",
                                points=order, visible=order == 1)  # fmt: skip
    return problem


def finished(*submissions: Submission, timeout: float = 60.0) -> list[Submission]:
    ids = [s.pk for s in submissions]

    def done() -> list[Submission] | None:
        rows = list(Submission.objects.filter(pk__in=ids, status=Status.FINISHED))
        return rows if len(rows) == len(ids) else None

    rows = wait_for(done, timeout, interval=0.1, message=f"{len(ids)} submissions to finish")
    return sorted(rows, key=lambda s: ids.index(s.pk))


def test_a_problem_submission_is_graded_by_a_real_worker(
    users: Users, a_plus_b: Problem, celery_worker_process: ServiceProcess
) -> None:
    good = services.submission_create(owner=users.student, language_id="python3", source=A_PLUS_B, problem=a_plus_b)
    wrong = services.submission_create(owner=users.student, language_id="c", problem=a_plus_b,
                                       source='#include <stdio.h>\nint main(void){int a,b;scanf("%d %d",&a,&b);'
                                              'printf("%d\\n",a+b+(a==10));}\n')  # fmt: skip
    good, wrong = finished(good, wrong)
    assert good.verdict == Verdict.ACCEPTED and (good.score, good.max_score) == (6, 6)
    assert wrong.verdict == Verdict.WRONG_ANSWER and wrong.score == 4 and "test 2" in wrong.message
    assert list(TestResult.objects.filter(submission=wrong).values_list("verdict", flat=True)) == [
        "accepted", "wrong_answer", "accepted"]  # fmt: skip
    assert good.attempts == 1 and good.worker == celery_worker_process.name


def test_a_scratch_run_returns_its_output(users: Users, celery_worker_process: ServiceProcess) -> None:
    run = services.submission_create(owner=users.student, language_id="bash", source='read x; echo "got $x"',
                                     stdin="42\n")  # fmt: skip
    (run,) = finished(run)
    assert run.verdict == Verdict.ACCEPTED and bytes(run.stdout) == b"got 42\n" and run.exit_code == 0


@pytest.mark.parametrize("worker_env", [{"SUBMISSIONS_LEASE_SECONDS": 2}])
def test_a_worker_killed_mid_run_does_not_lose_the_submission(
    users: Users, a_plus_b: Problem, worker_env: dict[str, object],
    celery_worker_factory: Callable[..., ServiceProcess], celery_beat_process: ServiceProcess,
) -> None:  # fmt: skip
    first = celery_worker_factory(env=worker_env)
    slow = "import time\ntime.sleep(1.5)\n" + A_PLUS_B
    submission = services.submission_create(owner=users.student, language_id="python3", source=slow,
                                            problem=a_plus_b)  # fmt: skip
    wait_for(lambda: Submission.objects.filter(pk=submission.pk, status=Status.RUNNING).exists(), 30,
             message="the submission to start")  # fmt: skip
    first.kill_group(signal.SIGKILL)  # the worker and its pool processes, mid-run
    second = celery_worker_factory(env=worker_env)
    (submission,) = finished(submission, timeout=90)
    assert submission.verdict == Verdict.ACCEPTED and submission.score == 6
    assert submission.attempts == 2 and submission.failures == 1 and submission.worker == second.name
    assert TestResult.objects.filter(submission=submission).count() == 3  # recorded once


def test_submissions_queued_while_redis_restarts_are_not_lost(
    users: Users, redis_server: Any, celery_worker_factory: Callable[..., ServiceProcess],
    celery_beat_factory: Callable[..., ServiceProcess],
) -> None:  # fmt: skip
    before = [services.submission_create(owner=users.student, language_id="bash", source=f"echo {i}")
              for i in range(5)]  # fmt: skip
    redis_server.stop()  # no persistence in the test Redis: the 5 messages are gone with it
    during = [services.submission_create(owner=users.student, language_id="bash", source=f"echo {i}")
              for i in range(5, 8)]  # fmt: skip
    assert Submission.objects.filter(status=Status.QUEUED).count() == 8  # accepted, although Redis is down
    redis_server.start()
    env = {"SUBMISSIONS_REQUEUE_AFTER": 2}
    celery_worker_factory(env=env)
    celery_beat_factory(env={**env, "RECOVER_STUCK_EVERY": 1})
    done = finished(*before, *during, timeout=90)
    assert [bytes(s.stdout) for s in done] == [f"{i}\n".encode() for i in range(8)]
    assert all(s.verdict == Verdict.ACCEPTED and s.attempts == 1 for s in done)


def test_a_burst_of_300_submissions_all_finish_once(
    users: Users, celery_worker_process: ServiceProcess, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1000}
    burst = [services.submission_create(owner=users.student, language_id="bash", source=f"echo $(( {i} * 2 ))")
             for i in range(300)]  # fmt: skip
    done = finished(*burst, timeout=240)
    assert [bytes(s.stdout) for s in done] == [f"{i * 2}\n".encode() for i in range(300)]
    assert {s.verdict for s in done} == {Verdict.ACCEPTED}
    assert {s.attempts for s in done} == {1}  # none started twice


def test_a_regrade_does_not_starve_an_interactive_run(
    users: Users, a_plus_b: Problem, celery_worker_factory: Callable[..., ServiceProcess], settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1000}
    slow = "import time\ntime.sleep(0.3)\n" + A_PLUS_B  # about 1 s a submission: 3 tests
    old = [services.submission_create(owner=users.student, language_id="python3", source=slow, problem=a_plus_b)
           for _ in range(8)]  # fmt: skip
    worker = celery_worker_factory(concurrency=2)
    finished(*old)
    worker.stop()
    # As `make run` deploys them: one worker per queue; the interactive one is ready before the regrade starts.
    celery_worker_factory(queues="interactive", concurrency=1)
    celery_worker_factory(queues="grading", concurrency=1)
    assert services.problem_rejudge(a_plus_b) == 8
    wait_for(lambda: Submission.objects.filter(queue="grading", status=Status.FINISHED).exists(), 60,
             message="the regrade to start")  # fmt: skip
    interactive = services.submission_create(owner=users.student, language_id="bash", source="echo now")
    (interactive,) = finished(interactive)
    graded_before = Submission.objects.filter(queue="grading", finished_at__lt=interactive.finished_at).count()
    assert graded_before <= 3, f"the interactive run waited for {graded_before} of 8 regraded submissions"
    finished(*old, timeout=90)


@pytest.mark.parametrize("worker_env", [{"EXECUTOR_CGROUP_MOUNT": "/nonexistent", "SUBMISSIONS_MAX_ATTEMPTS": 2}])
def test_a_sandbox_that_keeps_failing_ends_in_internal_error_with_a_message(
    users: Users, celery_worker_process: ServiceProcess
) -> None:
    run = services.submission_create(owner=users.student, language_id="bash", source="echo hi")
    (run,) = finished(run, timeout=60)
    assert run.verdict == Verdict.INTERNAL_ERROR and "the sandbox failed 2 times" in run.message
    assert run.attempts == 2
