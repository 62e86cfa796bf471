"""Scaling out without Docker: two Celery workers with their own host names and queues, separate processes sharing
one Redis and one database (PostgreSQL in the PostgreSQL run), both take work, and a language routed to the
workers of the hosts that have its runtime (SUBMISSIONS_LANGUAGE_QUEUES) is run only there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import override_settings

from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Verdict
from tests.integration.sandbox_service.conftest import ServiceProcess, Users
from tests.integration.sandbox_service.test_pipeline import finished

PYTHON = "print(sum(range(10)))\n"
BASH = "echo $((6 * 7))\n"


@override_settings(SUBMISSIONS_LANGUAGE_QUEUES={"bash": "special"})
def test_two_worker_hosts_share_the_work_and_a_routed_language_runs_only_where_its_queue_is(
        users: Users, celery_worker_factory: Callable[..., ServiceProcess]) -> None:  # fmt: skip
    general = celery_worker_factory(queues="interactive,grading", host="host-a", concurrency=2)
    special = celery_worker_factory(queues="interactive.special,grading.special", host="host-b", concurrency=2)
    assert general.name.endswith("@host-a") and special.name.endswith("@host-b")

    pythons = [services.submission_create(owner=users.grader, language_id="python3", source=PYTHON)
               for _ in range(6)]  # fmt: skip
    bashes = [services.submission_create(owner=users.grader, language_id="bash", source=BASH, queue=queue)
              for queue in (Queue.INTERACTIVE, Queue.GRADING, Queue.INTERACTIVE, Queue.GRADING)]  # fmt: skip
    assert {services.celery_queue(b) for b in bashes} == {"interactive.special", "grading.special"}
    assert {services.celery_queue(p) for p in pythons} == {"interactive"}

    done = finished(*pythons, *bashes, timeout=120)
    assert all(s.verdict == Verdict.ACCEPTED for s in done), [(s.language_id, s.message) for s in done]
    by_worker = {s.pk: s.worker for s in done}
    assert {by_worker[s.pk] for s in pythons} == {general.name}  # the general host took all the Python
    assert {by_worker[s.pk] for s in bashes} == {special.name}  # the routed language only ran on its host
    assert bytes(Submission.objects.get(pk=bashes[0].pk).stdout) == b"42\n"


@pytest.mark.parametrize("routes", [{}, {"csharp": "mono"}])
def test_a_language_without_a_route_stays_on_its_queue(users: Users, routes: dict[str, str]) -> None:
    with override_settings(SUBMISSIONS_LANGUAGE_QUEUES=routes):
        submission = services.submission_create(owner=users.grader, language_id="python3", source=PYTHON,
                                                queue=Queue.GRADING)  # fmt: skip
        assert services.celery_queue(submission) == "grading"
