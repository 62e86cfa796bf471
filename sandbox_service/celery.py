"""The Celery app: Redis as broker, JSON only, one task at a time per worker process, late acknowledgement.

Why acks_late with prefetch 1: a submission's message is acknowledged only after it was graded, so a worker
killed mid-run leaves the message to be delivered again (and the database state machine makes a duplicate
delivery harmless); prefetching more would hold other submissions hostage behind a long run.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox_service.settings")

app = Celery("sandbox_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
