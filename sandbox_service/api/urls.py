from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from sandbox_service.api import submissions, tokens, views

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (the CSP allows none).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/languages/", views.LanguageListApi.as_view(), name="language-list"),
    path("api/v1/tokens/", tokens.TokenCollectionApi.as_view(), name="token-collection"),
    path("api/v1/tokens/<int:token_id>/", tokens.TokenRevokeApi.as_view(), name="token-revoke"),
    path("api/v1/submissions/", submissions.SubmissionCollectionApi.as_view(), name="submission-collection"),
    path("api/v1/submissions/batch/", submissions.SubmissionBatchCreateApi.as_view(), name="submission-batch"),
    path("api/v1/submissions/<str:token>/", submissions.SubmissionDetailApi.as_view(), name="submission-detail"),
    path("api/v1/submissions/<str:token>/rejudge/", submissions.SubmissionRejudgeApi.as_view(),
         name="submission-rejudge"),
    path("api/v1/problems/<slug:slug>/rejudge/", submissions.ProblemRejudgeApi.as_view(), name="problem-rejudge"),
    path("", include("sandbox_service.api.problem_urls")),
    # Last: every other URL under /api/ is a JSON 404 (or a 308 to the same URL with its trailing slash).
    re_path(r"^api/(?P<path>[\s\S]*)$", views.api_not_found),
]
