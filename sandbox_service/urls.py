from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("sandbox_service.api.urls")),
    path("", include("sandbox_service.web.urls")),
]
