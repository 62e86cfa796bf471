"""URLs of the problems API (included by sandbox_service.api.urls). One API view per operation: where several
operations share a URL, `by_method` sends each HTTP method to its own view, with that view's own permissions,
throttles and parsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.urls import path
from rest_framework.views import APIView

from sandbox_service.api import problems as api


class _ByMethod(APIView):
    """Dispatches a request to the view of its method. A method no view handles goes through DRF as usual: 401
    for anonymous requests, otherwise 405 with the right Allow header (OPTIONS answers with metadata)."""

    operations: dict[str, Callable[..., HttpResponseBase]] = {}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        method = (request.method or "").lower()
        operation = self.operations.get("get" if method == "head" else method)
        if operation is None:
            return super().dispatch(request, *args, **kwargs)
        return operation(request, *args, **kwargs)


def by_method(name: str, **views: type[APIView]) -> Callable[..., HttpResponseBase]:
    """One URL, several operations: by_method("ProblemsApi", get=ProblemListApi, post=ProblemCreateApi).

    The class made here also carries each operation's handler (never called: dispatch goes to the operation's
    own view) so that Allow lists it and the schema generator finds its @extend_schema, plus the list's pagination
    and the writes' parsers, which the schema generator reads from the class."""
    attributes: dict[str, Any] = {
        "operations": {method: view.as_view() for method, view in views.items()},
        **{method: getattr(view, method) for method, view in views.items()},
    }
    for method, view in views.items():
        if method == "get" and getattr(view, "pagination_class", None):
            attributes["pagination_class"] = view.pagination_class
        if method != "get" and "parser_classes" in view.__dict__:
            attributes.setdefault("parser_classes", view.parser_classes)
    return type(name, (_ByMethod,), attributes).as_view()


urlpatterns = [
    path("api/v1/problems/", by_method("ProblemsApi", get=api.ProblemListApi, post=api.ProblemCreateApi),
         name="problem-list"),
    path("api/v1/problems/import/", api.ProblemImportApi.as_view(), name="problem-import"),
    path("api/v1/problems/<slug:slug>/",
         by_method("ProblemApi", get=api.ProblemDetailApi, put=api.ProblemUpdateApi, patch=api.ProblemUpdateApi,
                   delete=api.ProblemDeleteApi),
         name="problem-detail"),
    path("api/v1/problems/<slug:slug>/export/", api.ProblemExportApi.as_view(), name="problem-export"),
    path("api/v1/problems/<slug:slug>/scores.csv", api.ProblemScoresApi.as_view(), name="problem-scores"),
    path("api/v1/problems/<slug:slug>/tests/",
         by_method("TestCasesApi", get=api.TestCaseListApi, post=api.TestCaseCreateApi),
         name="problem-test-list"),
    path("api/v1/problems/<slug:slug>/tests/<int:test_id>/",
         by_method("TestCaseApi", get=api.TestCaseDetailApi, put=api.TestCaseUpdateApi, patch=api.TestCaseUpdateApi,
                   delete=api.TestCaseDeleteApi),
         name="problem-test-detail"),
]  # fmt: skip
