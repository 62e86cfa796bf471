"""Problems in the admin: test cases inline, a bulk upload of test cases from a zip, rejudge. A grader sees and
changes only the problems they own or grade; an admin sees all."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from sandbox_service.problems import selectors, services
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions.services import problem_rejudge


class TestCaseInline(admin.StackedInline):
    model = TestCase
    extra = 0
    fields = [("order", "name", "points", "visible"), ("stdin", "expected_output")]


class UploadTestsForm(forms.Form):
    archive = forms.FileField(label="Zip of test files",
                              help_text="<name>.in with <name>.out (or .ans) for each test, in any folder; tests are "
                                        "ordered by name, numbers as numbers (2 before 10).")  # fmt: skip
    replace = forms.BooleanField(label="Replace the problem's tests (else add after them)", required=False)


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "checker", "published", "owner", "updated_at"]
    list_filter = ["published", "checker"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["allowed_languages", "graders"]
    list_select_related = ["owner"]
    inlines = [TestCaseInline]
    actions = ["rejudge"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Problem]:
        return super().get_queryset(request).filter(pk__in=selectors.problems_managed_by(request.user).values("pk"))

    def get_urls(self) -> list[Any]:
        return [path("<path:object_id>/upload-tests/", self.admin_site.admin_view(self.upload_tests),
                     name="problems_problem_upload_tests"),  # fmt: skip
                *super().get_urls()]

    def upload_tests(self, request: HttpRequest, object_id: str) -> HttpResponse:
        problem = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, problem):
            raise PermissionDenied
        form = UploadTestsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                added = services.test_cases_import(problem, form.cleaned_data["archive"],
                                                   replace=form.cleaned_data["replace"])  # fmt: skip
            except services.ProblemError as e:
                form.add_error("archive", f"{e.field}: {e.message}")
            else:
                self.message_user(request, f"{added} test cases added to {problem}.", messages.SUCCESS)
                return redirect(reverse("admin:problems_problem_change", args=[problem.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": problem,
                   "form": form, "title": f"Upload test cases: {problem}"}  # fmt: skip
        return TemplateResponse(request, "admin/problems/problem/upload_tests.html", context,
                                status=400 if form.errors else 200)  # fmt: skip

    @admin.action(description="Rejudge every finished submission of the selected problems", permissions=["change"])
    def rejudge(self, request: HttpRequest, queryset: QuerySet[Problem]) -> None:
        count = sum(problem_rejudge(problem) for problem in queryset)
        self.message_user(request, f"{count} submissions queued again.")

    def save_model(self, request: HttpRequest, obj: Problem, form: Any, change: bool) -> None:
        if not change and obj.owner_id is None:
            obj.owner = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
