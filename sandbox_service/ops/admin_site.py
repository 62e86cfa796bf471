"""The admin site: Django's, plus the operations dashboard (queues, workers, throughput, latency, verdicts)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin


class SandboxAdminSite(admin.AdminSite):
    site_header = "Sandbox administration"
    site_title = "Sandbox admin"

    def get_urls(self) -> list[Any]:
        return super().get_urls()
