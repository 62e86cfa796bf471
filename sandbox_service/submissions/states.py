"""The submission state machine: one set of states, one table of allowed transitions, one way to move.

Every transition is a conditional single-row UPDATE (`... WHERE id = %s AND status = %s`): when two deliveries
of the same task race, exactly one moves the row and the other sees 0 rows updated and does nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"


class Stage(models.TextChoices):
    """Where a running submission is, for people watching it (the status says what the machine may do)."""

    NONE = "", "not started"
    COMPILING = "compiling"
    TESTING = "testing"  # tests_done of tests_total are done


class Verdict(models.TextChoices):
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INTERNAL_ERROR = "internal_error"


class Queue(models.TextChoices):
    INTERACTIVE = "interactive"  # a student waiting for the answer
    GRADING = "grading"  # bulk work: rejudges, batches


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.FINISHED}),  # finished: failed for good before it started
    Status.RUNNING: frozenset({Status.FINISHED, Status.QUEUED}),  # queued: its worker died and it is taken back
    Status.FINISHED: frozenset({Status.QUEUED}),  # a rejudge
}


class IllegalTransition(Exception):
    """A transition the table does not allow; the API maps it to 409."""


def transition(queryset: models.QuerySet[Any], pk: int, source: Status, target: Status, **changes: Any) -> bool:
    """Move row `pk` from `source` to `target` (plus field changes) if it is still in `source`.

    Returns whether this call moved it. `queryset` may carry extra conditions (e.g. the attempt number).
    """
    if target not in ALLOWED[source]:
        raise IllegalTransition(f"a submission cannot go from {source} to {target}")
    return queryset.filter(pk=pk, status=source).update(status=target, **changes) == 1
