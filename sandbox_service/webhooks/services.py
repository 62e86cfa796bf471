"""Webhooks: the payload of a finished submission, and one delivery attempt with its bookkeeping.

callback_status goes "pending" → "delivered" | "failed", and callback_attempts counts attempts. Each attempt
first takes its number with a conditional single-row update (`callback_attempts=n → n+1` while pending), so two
deliveries of the same task message cannot both send attempt n+1, and a submission that is no longer pending
(delivered, failed, or never asked for a callback) is left alone: a duplicate task is harmless.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils import timezone

from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Status
from sandbox_service.webhooks import policy, transport
from sandbox_service.webhooks.signing import webhook_secret, webhook_sign

log = logging.getLogger(__name__)

EVENT = "submission.finished"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# X-Sandbox-Delivery is a name-based UUID of the submission and its finish time: the same for every attempt of
# one event (a receiver can drop a duplicate: an answer lost on the way back means the event is sent again).
DELIVERY_NAMESPACE = uuid.UUID("5c3f7d6e-2b1a-4c8e-9f0d-6a7b8c9d0e1f")
ERROR_EXCERPT_CHARS = 500  # of a receiver's error answer, kept in callback_error


class Outcome(StrEnum):
    DELIVERED = "delivered"  # a 2xx answer
    RETRY = "retry"  # failed; attempts are left, still pending
    FAILED = "failed"  # failed for good: refused by the policy, or the last attempt
    SKIPPED = "skipped"  # nothing to do: not pending, not finished, or another delivery took this attempt


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def _stream(name: str, data: bytes | memoryview) -> dict[str, str]:
    raw = bytes(data)
    return {name: Submission.text(raw), f"{name}_base64": base64.b64encode(raw).decode("ascii")}


def webhook_payload(submission: Submission) -> bytes:
    """The JSON body: the finished submission, outputs both as text (invalid UTF-8 replaced) and as base64."""
    results = submission.results.order_by("order").values("order", "verdict", "points", "cpu_time", "wall_time",
                                                          "memory")  # fmt: skip
    payload: dict[str, Any] = {
        "event": EVENT,
        "token": str(submission.token),
        "status": submission.status,
        "verdict": submission.verdict or None,
        "score": submission.score,
        "max_score": submission.max_score,
        "message": submission.message,
        "language": submission.language_id,
        "problem": submission.problem.slug if submission.problem_id is not None else None,
        "cpu_time": submission.cpu_time,
        "wall_time": submission.wall_time,
        "memory": submission.memory,
        "exit_code": submission.exit_code,
        "signal": submission.signal,
        **_stream("stdout", submission.stdout),
        **_stream("stderr", submission.stderr),
        **_stream("compile_output", submission.compile_output),
        "created_at": _iso(submission.created_at),
        "finished_at": _iso(submission.finished_at),
        "results": list(results),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_delivery_id(submission: Submission) -> str:
    return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{submission.token}:{_iso(submission.finished_at)}"))


def webhook_attempt(submission_id: int) -> Outcome:
    """One delivery attempt of a finished submission's webhook; records its outcome on the row."""
    submission = (Submission.objects.select_related("problem")
                  .filter(pk=submission_id, status=Status.FINISHED, callback_status=PENDING).first())  # fmt: skip
    if submission is None:
        return Outcome.SKIPPED
    attempt = submission.callback_attempts + 1
    taken = Submission.objects.filter(pk=submission_id, status=Status.FINISHED, callback_status=PENDING,
                                      callback_attempts=attempt - 1).update(callback_attempts=attempt)  # fmt: skip
    if not taken:
        return Outcome.SKIPPED
    try:
        # Checked again now: the allow-list may have changed since the submission was created.
        target = policy.callback_target(submission.callback_url)
    except policy.CallbackRefused as e:
        return _failed(submission, attempt, f"refused: {e}", final=True)
    except OSError as e:
        return _failed(submission, attempt, f"could not resolve the host: {e}")
    body, method = webhook_payload(submission), "POST"
    if "judge0" in submission.client_fields:
        # Made through the Judge0 API: its clients expect Judge0's callback, a PUT of the default attributes.
        from sandbox_service.judge0.serializers import callback_body

        body, method = json.dumps(callback_body(submission), separators=(",", ":")).encode(), "PUT"
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "sandbox-service-webhook/1",
        "X-Sandbox-Event": EVENT,
        "X-Sandbox-Delivery": webhook_delivery_id(submission),
        "X-Sandbox-Timestamp": timestamp,
        "X-Sandbox-Signature": webhook_sign(webhook_secret(), timestamp, body),
    }
    try:
        response = transport.post(target, body, headers, float(settings.WEBHOOK_TIMEOUT_SECONDS), method)
    except transport.DeliveryError as e:
        return _failed(submission, attempt, str(e))
    if 200 <= response.status < 300:
        Submission.objects.filter(pk=submission_id, callback_status=PENDING, callback_attempts=attempt).update(
            callback_status=DELIVERED, callback_error="")  # fmt: skip
        log.info("webhook delivered", extra={"submission": str(submission.token), "attempt": attempt})
        return Outcome.DELIVERED
    reason = f"HTTP {response.status} {response.reason}".rstrip()
    if 300 <= response.status < 400:
        reason += " (redirects are not followed)"
    excerpt = Submission.text(response.excerpt).strip()[:ERROR_EXCERPT_CHARS]
    return _failed(submission, attempt, f"{reason}: {excerpt}" if excerpt else reason)


def webhook_deliver(submission_id: int) -> bool:
    """One attempt; whether the receiver answered 2xx."""
    return webhook_attempt(submission_id) is Outcome.DELIVERED


def _failed(submission: Submission, attempt: int, reason: str, final: bool = False) -> Outcome:
    final = final or attempt >= settings.WEBHOOK_MAX_ATTEMPTS
    Submission.objects.filter(pk=submission.pk, callback_status=PENDING, callback_attempts=attempt).update(
        callback_status=FAILED if final else PENDING, callback_error=f"attempt {attempt}: {reason}"[:2000])  # fmt: skip
    log.warning("webhook attempt %d of submission %s failed%s: %s", attempt, submission.token,
                " for good" if final else "", reason)  # fmt: skip
    return Outcome.FAILED if final else Outcome.RETRY


STALE_WEBHOOK_SECONDS = 900  # longer than the whole retry schedule: a pending webhook this old lost its task


def webhooks_resend_stale(now: datetime | None = None) -> int:
    """Webhooks still pending long after their submission finished lost their task (the broker was down when a
    retry was scheduled): enqueue them again. Each attempt claims its number, so a duplicate sends nothing twice."""
    from sandbox_service.webhooks.tasks import deliver_webhook

    cutoff = (now or timezone.now()) - timedelta(seconds=STALE_WEBHOOK_SECONDS)
    stale = Submission.objects.filter(status=Status.FINISHED, callback_status="pending", finished_at__lt=cutoff)
    count = 0
    for pk in stale.values_list("pk", flat=True)[:500]:
        try:
            deliver_webhook.apply_async(args=[pk], queue="interactive")
        except Exception:  # noqa: BLE001 - still no broker: the next recovery run tries again
            log.warning("could not enqueue the webhook of submission %s", pk)
            break
        count += 1
    return count
