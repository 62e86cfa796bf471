"""Celery tasks: thin. They take ids, call one service, and let the state machine absorb duplicates.

A student's time or memory overrun is a result, recorded by the service; only infrastructure failures
(InfrastructureError: the sandbox could not do its job) are retried, with exponential backoff.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_init

from executor.config import Config
from executor.sandbox import cleanup_leftovers
from sandbox_service.submissions import services
from sandbox_service.submissions.grading import InfrastructureError
from sandbox_service.webhooks.services import webhooks_resend_stale

log = logging.getLogger(__name__)


@functools.cache
def executor_config() -> Config:
    return Config.from_env()


@worker_init.connect
def _remove_leftovers_of_crashed_runs(**_: Any) -> None:
    """A worker that was killed mid-run left mounts, cgroups and directories: remove them before taking work."""
    try:
        cleaned = cleanup_leftovers(executor_config())
        if cleaned:
            log.warning("removed leftovers of %d crashed sandbox runs", cleaned)
    except Exception:  # noqa: BLE001 - a worker without root still starts; its runs will fail loudly
        log.exception("could not clean sandbox leftovers")


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def run_submission(self: Task, submission_id: int) -> str:
    try:
        return services.submission_process(submission_id, worker=self.request.hostname or "?",
                                           config=executor_config())  # fmt: skip
    except InfrastructureError as e:
        # The service has put the submission back in the queue (or failed it for good); retry with backoff.
        raise self.retry(exc=e, countdown=min(2 ** self.request.retries, 60)) from e


@shared_task(ignore_result=True)
def recover_stuck_submissions() -> dict[str, int]:
    recovery = services.submissions_recover_stuck()
    if recovery.taken_back or recovery.failed or recovery.resent:
        log.warning("recovered stuck submissions: %s", recovery)
    resent = webhooks_resend_stale()
    if resent:
        log.warning("sent %d stale webhooks again", resent)
    return {**vars(recovery), "webhooks_resent": resent}
