"""Operations endpoints: health and readiness probes, Prometheus metrics."""

from __future__ import annotations

from django.urls import URLPattern, path

from sandbox_service.ops import views

urlpatterns: list[URLPattern] = [
    path("healthz", views.healthz, name="ops-healthz"),
    path("readyz", views.readyz, name="ops-readyz"),
    path("metrics", views.metrics, name="ops-metrics"),
]
