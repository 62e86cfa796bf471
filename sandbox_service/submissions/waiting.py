"""Waiting for a submission to finish without polling the database: the worker publishes on a Redis channel
when it records a result, the waiter subscribes before it looks at the row, so no finish can slip between."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

log = logging.getLogger(__name__)
CHANNEL = "sandbox:submission-finished:{}"


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def notify_finished(submission_id: int) -> None:
    """Called once the finished row is committed. A lost notice only makes a waiter wait for its timeout."""
    try:
        with _client() as client:
            client.publish(CHANNEL.format(submission_id), b"finished")
    except redis.RedisError:
        log.warning("could not publish the end of submission %s", submission_id)


def wait_finished(submission: Submission, timeout: float) -> Submission:
    """The submission, reloaded, once it is finished or `timeout` seconds have passed (whichever is first)."""
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        client = _client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL.format(submission.pk))
    except redis.RedisError:
        pubsub = None
    try:
        while True:
            submission.refresh_from_db()
            left = deadline - time.monotonic()
            if submission.status == Status.FINISHED or left <= 0:
                return submission
            if pubsub is None:
                time.sleep(min(0.2, left))  # Redis is down: the row is still the truth
                continue
            try:
                pubsub.get_message(timeout=min(left, 1.0))
            except redis.RedisError:
                pubsub = None
    finally:
        if pubsub is not None:
            pubsub.close()
