from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions.services import problem_rejudge


class TestCaseInline(admin.StackedInline):
    model = TestCase
    extra = 0
    fields = [("order", "name", "points", "visible"), ("stdin", "expected_output")]


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "checker", "published", "owner", "updated_at"]
    list_filter = ["published", "checker"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["allowed_languages", "graders"]
    inlines = [TestCaseInline]
    actions = ["rejudge"]

    @admin.action(description="Rejudge every finished submission of the selected problems")
    def rejudge(self, request: HttpRequest, queryset: QuerySet[Problem]) -> None:
        count = sum(problem_rejudge(problem) for problem in queryset)
        self.message_user(request, f"{count} submissions queued again.")

    def save_model(self, request: HttpRequest, obj: Problem, form: Any, change: bool) -> None:
        if not change and obj.owner_id is None:
            obj.owner = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
