"""GET /system_info and GET /workers: what Judge0 reports about its host and its workers, about ours.

/system_info is, as in Judge0 (helpers/system_info.rb), `lscpu` and `free -h` of the web host as one flat object.
/workers has one entry per Celery queue (Judge0 has one Resque queue): its waiting submissions and the workers
consuming it (worker processes, from a short broadcast to the workers).
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from typing import Any

from sandbox_service.celery import app as celery_app
from sandbox_service.submissions.models import Submission
from sandbox_service.submissions.states import Queue, Status

log = logging.getLogger(__name__)
INSPECT_TIMEOUT_SECONDS = 0.5


def _command(*argv: str) -> str:
    path = shutil.which(argv[0])
    if path is None:
        return ""
    try:
        result = subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=5, check=False,
                                env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout


@functools.cache
def system_info() -> dict[str, str]:
    info: dict[str, str] = {}
    for line in _command("lscpu").splitlines():
        key, _, value = line.partition(":")
        if key.strip() and value.strip():
            info[key.strip()] = value.strip()
    for line in _command("free", "-h").splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key.strip() and rest.split():
            info[key.strip()] = rest.split()[0]
    return info


def _inspect() -> tuple[dict[str, Any], dict[str, Any]]:
    """({worker: [queue, ...]}, {worker: stats}) from the workers answering within the timeout."""
    try:
        inspector = celery_app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS)
        return inspector.active_queues() or {}, inspector.stats() or {}
    except Exception:  # noqa: BLE001 - the broker is down: no worker can be seen
        log.warning("could not ask the workers for their queues", exc_info=True)
        return {}, {}


def workers() -> list[dict[str, Any]]:
    queues, stats = _inspect()
    out = []
    for queue in (Queue.INTERACTIVE, Queue.GRADING):
        consumers = [w for w, qs in queues.items() if any(q.get("name") == queue for q in qs or [])]
        processes = sum(int((stats.get(w) or {}).get("pool", {}).get("max-concurrency", 1) or 1) for w in consumers)
        waiting = Submission.objects.filter(queue=queue, status=Status.QUEUED).count()
        working = min(Submission.objects.filter(queue=queue, status=Status.RUNNING).count(), processes)
        out.append({"queue": str(queue), "size": waiting, "available": processes, "idle": processes - working,
                    "working": working, "paused": 0, "failed": 0})  # fmt: skip
    return out
