"""The admin site: Django's, plus the operations dashboard (queues, workers, throughput, latency, verdicts)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from sandbox_service.core.roles import ADMIN, role_of


class SandboxAdminSite(admin.AdminSite):
    site_header = "Sandbox administration"
    site_title = "Sandbox admin"

    def get_urls(self) -> list[Any]:
        from sandbox_service.ops import dashboard_views

        # admin_view: logged in and staff (else the admin's login page), CSRF, never cached; the views themselves
        # let only admins through. Before the admin's own URLs: their last one catches every other path (a 404).
        return [
            path("dashboard/", self.admin_view(dashboard_views.dashboard), {"site": self}, name="ops-dashboard"),
            path("dashboard/data.json", self.admin_view(dashboard_views.dashboard_data_json), {"site": self},
                 name="ops-dashboard-data"),  # fmt: skip
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        # templates/admin/index.html links to the dashboard for those who may open it.
        extra_context = {**(extra_context or {}), "show_ops_dashboard": role_of(request.user) == ADMIN}
        return super().index(request, extra_context)
