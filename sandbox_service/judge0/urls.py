"""Judge0 CE 1.13.1's routes (config/routes.rb), mounted at /judge0/. Paths have no trailing slash, as Judge0's
(one is tolerated, as Rails tolerates it); a method a path does not have is a 404, as Rails' router answers.
/isolate, /license and /statistics are not here: this service has no isolate and no Judge0 licence to show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from sandbox_service.judge0 import views


def by_method(**handlers: type[views.Judge0Api]) -> Callable[..., HttpResponse]:
    """One view per operation, several operations per path: route on the method (HEAD as GET)."""
    routed = {method.upper(): handler.as_view() for method, handler in handlers.items()}

    @csrf_exempt  # token-authenticated, never a browser session
    def route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view = routed.get("GET" if request.method == "HEAD" else str(request.method))
        return views.not_found(request) if view is None else view(request, *args, **kwargs)

    return route


urlpatterns = [
    re_path(r"^submissions/?$", by_method(get=views.SubmissionListApi, post=views.SubmissionCreateApi)),
    re_path(r"^submissions/batch/?$",
            by_method(get=views.SubmissionBatchDetailApi, post=views.SubmissionBatchCreateApi)),  # fmt: skip
    re_path(r"^submissions/(?P<token>[^/]+)/?$",
            by_method(get=views.SubmissionDetailApi, delete=views.SubmissionDeleteApi)),  # fmt: skip
    re_path(r"^languages/?$", by_method(get=views.LanguageListApi)),
    re_path(r"^languages/all/?$", by_method(get=views.LanguageAllApi)),
    re_path(r"^languages/(?P<language_id>[^/]+)/?$", by_method(get=views.LanguageDetailApi)),
    re_path(r"^statuses/?$", by_method(get=views.StatusListApi)),
    re_path(r"^about/?$", by_method(get=views.AboutApi)),
    re_path(r"^version/?$", by_method(get=views.VersionApi)),
    re_path(r"^config_info/?$", by_method(get=views.ConfigInfoApi)),
    re_path(r"^system_info/?$", by_method(get=views.SystemInfoApi)),
    re_path(r"^workers/?$", by_method(get=views.WorkersApi)),
    re_path(r"^authenticate/?$", by_method(post=views.AuthenticateApi)),
    re_path(r"^authorize/?$", by_method(post=views.AuthorizeApi)),
]
