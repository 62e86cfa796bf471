"""Placeholder until webhook delivery lands: the task exists so that finished submissions can enqueue it."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def deliver_webhook(submission_id: int) -> None:
    raise NotImplementedError("webhook delivery")
