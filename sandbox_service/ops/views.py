"""Operations endpoints: /healthz, /readyz (no login: load balancers ask them) and /metrics (a token or an admin).

None of them may be cached: a cached "ready" or a cached scrape is a lie about now.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from sandbox_service.ops import health
from sandbox_service.ops.metrics import Access, metrics_access, metrics_text


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse(health.liveness())


@require_safe
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    readiness = health.readiness()
    return JsonResponse({"status": "ready" if readiness.ready else "not ready", "checks": readiness.checks},
                        status=200 if readiness.ready else 503)  # fmt: skip


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    access = metrics_access(request.headers.get("Authorization", ""), request.user)
    if access is Access.NO_CREDENTIALS:
        response = HttpResponse("401 Unauthorized: a bearer token or an admin's session\n", status=401,
                                content_type="text/plain; charset=utf-8")  # fmt: skip
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if access is Access.WRONG_CREDENTIALS:
        return HttpResponse("403 Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
