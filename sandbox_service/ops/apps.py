from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OpsConfig(AppConfig):
    name = "sandbox_service.ops"
    label = "ops"
    verbose_name = "Operations"


class SandboxAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as the default `admin.site` (the dashboard's URLs are in it)."""

    default = False  # AdminConfig is django.contrib.admin's default; this one is only used where named
    default_site = "sandbox_service.ops.admin_site.SandboxAdminSite"
