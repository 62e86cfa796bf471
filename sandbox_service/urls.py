from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("sandbox_service.ops.urls")),
    path("", include("sandbox_service.api.urls")),
    path("judge0/", include("sandbox_service.judge0.urls")),
    path("piston/api/v2/", include("sandbox_service.piston.urls")),
    path("", include("sandbox_service.web.urls")),
]
