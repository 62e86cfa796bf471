"""The Django project: apps live inside this package; the Celery app is loaded with it."""

from sandbox_service.celery import app as celery_app

__all__ = ["celery_app"]
