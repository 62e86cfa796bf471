"""The webhook task: one attempt per run, retried with exponential backoff while the service says so.

acks_late: a worker that dies mid-request leaves the message to be delivered again; the next run takes the next
attempt number (the service's conditional update), so nothing is sent twice at once and the attempt limit holds.
"""

from __future__ import annotations

import os

from celery import Task, shared_task
from django.conf import settings

from sandbox_service.webhooks import services

MAX_COUNTDOWN_SECONDS = 300.0


def retry_base_seconds() -> float:
    """WEBHOOK_RETRY_BASE_SECONDS, from the settings if they have it, else from the environment; 2 s by default."""
    value = getattr(settings, "WEBHOOK_RETRY_BASE_SECONDS", None) or os.environ.get("WEBHOOK_RETRY_BASE_SECONDS")
    return float(value) if value else 2.0


def retry_countdown(retries: int) -> float:
    """Seconds before attempt `retries + 2`: base, 2·base, 4·base, … at most 300."""
    return min(retry_base_seconds() * 2**retries, MAX_COUNTDOWN_SECONDS)


# max_retries=None: the limit is the row's callback_attempts (WEBHOOK_MAX_ATTEMPTS), which also counts attempts
# of redelivered messages; the service marks the callback failed after the last one.
@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def deliver_webhook(self: Task, submission_id: int) -> str:
    outcome = services.webhook_attempt(submission_id)
    if outcome is services.Outcome.RETRY:
        raise self.retry(countdown=retry_countdown(self.request.retries))
    return str(outcome)
