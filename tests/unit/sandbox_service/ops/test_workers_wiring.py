"""A Celery worker sets up Django and nothing else of ours: the heartbeat's signal receivers must be connected by
then, or no worker is ever listed. A fresh process, because this one has imported everything long ago."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

PROBE = """
import django, weakref
django.setup()
from celery.signals import worker_ready, worker_shutdown
def names(signal):
    refs = [r() if isinstance(r, weakref.ReferenceType) else r for _, r in signal.receivers]
    return sorted(f"{f.__module__}.{f.__name__}" for f in refs if f is not None)
print(names(worker_ready), names(worker_shutdown))
"""


def test_setting_up_django_connects_the_heartbeat_to_the_worker_signals() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sandbox_service.settings"}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sandbox_service.ops.workers._start_heartbeat" in result.stdout, (
        "OpsConfig.ready() must import sandbox_service.ops.workers")  # fmt: skip
    assert "sandbox_service.ops.workers._stop_heartbeat" in result.stdout
