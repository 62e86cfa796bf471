"""The operations dashboard in the admin: the page (tables rendered here, so it reads without JavaScript and to a
screen reader; the charts are drawn by ops/frontend/dashboard.js) and the JSON its script fetches every few seconds.

Both are reached through `SandboxAdminSite.admin_view` (logged in, staff) and are for admins only: graders are staff
and use the admin for their problems, but the state of the workers and every user's failures are not theirs to see.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from sandbox_service.core.roles import ADMIN, role_of
from sandbox_service.ops.dashboard import dashboard_data
from sandbox_service.web.views import csp


def _admins_only(request: HttpRequest) -> None:
    if role_of(request.user) != ADMIN:
        raise PermissionDenied("the operations dashboard is for admins")


# The page shows text from submissions (internal errors' messages); Django escapes it, and the policy that forbids
# inline scripts on the student pages holds here too, as a second line of defence.
@csp
@require_GET
def dashboard(request: HttpRequest, site: AdminSite | None = None) -> HttpResponse:
    _admins_only(request)
    site = site or admin.site
    context = {
        **site.each_context(request),
        "title": "Operations dashboard",
        "data": dashboard_data(),
    }
    return TemplateResponse(request, "admin/ops/dashboard.html", context)


@require_GET
def dashboard_data_json(request: HttpRequest, site: AdminSite | None = None) -> JsonResponse:
    _admins_only(request)
    return JsonResponse(dashboard_data())
