"""Waiting for a submission to change without polling the database: the worker publishes on the submission's Redis
channel when it moves (compiled, a test done, finished), and a waiter subscribes before it looks at the row, so no
change can slip between its look and its wait. The row is always the truth; a notice only says "look again"."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings

from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status

log = logging.getLogger(__name__)
CHANNEL = "sandbox:submission:{}"


@functools.cache
def _client(url: str) -> redis.Redis:
    # One client (and its connection pool) per process: a notice per test must not cost a new connection.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def notify(submission_id: int, what: bytes = b"progress") -> None:
    """Called once a change of the row is committed. A lost notice only makes a waiter wait for its timeout."""
    try:
        _client(settings.REDIS_URL).publish(CHANNEL.format(submission_id), what)
    except redis.RedisError:
        log.warning("could not publish a change of submission %s", submission_id)


def notify_finished(submission_id: int) -> None:
    notify(submission_id, b"finished")


def wait_until(submission: Submission, done: Callable[[Submission], bool], timeout: float) -> Submission:
    """The submission, reloaded, once `done(submission)` holds or `timeout` seconds have passed (first of the two)."""
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        pubsub = _client(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL.format(submission.pk))
    except redis.RedisError:
        pubsub = None
    try:
        while True:
            submission.refresh_from_db()
            left = deadline - time.monotonic()
            if done(submission) or left <= 0:
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


def wait_finished(submission: Submission, timeout: float) -> Submission:
    return wait_until(submission, lambda s: s.status == Status.FINISHED, timeout)
