from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OpsConfig(AppConfig):
    name = "sandbox_service.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Connects the worker heartbeat to Celery's worker_ready and worker_shutdown signals.
        from sandbox_service.ops import workers  # noqa: F401


class SandboxAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as the default `admin.site` (the dashboard's URLs are in it)."""

    default = False  # AdminConfig is django.contrib.admin's default; this one is only used where named
    default_site = "sandbox_service.ops.admin_site.SandboxAdminSite"
