from django.urls import path

from sandbox_service.api import views

urlpatterns = [
    path("api/v1/languages/", views.LanguageListApi.as_view(), name="language-list"),
    path("api/v1/submissions/", views.SubmissionCreateApi.as_view(), name="submission-create"),
    path("api/v1/submissions/<uuid:token>/", views.SubmissionDetailApi.as_view(), name="submission-detail"),
]
