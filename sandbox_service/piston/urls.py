"""Mounted at /piston/api/v2/ (sandbox_service/urls.py): Piston's own paths, without trailing slashes."""

from django.urls import path

from sandbox_service.piston import views

urlpatterns = [
    path("runtimes", views.RuntimeListApi.as_view(), name="piston-runtimes"),
    path("execute", views.ExecuteApi.as_view(), name="piston-execute"),
]
