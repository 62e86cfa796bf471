from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.services import submission_rejudge


class TestResultInline(admin.TabularInline):
    model = TestResult
    extra = 0
    can_delete = False
    fields = ["order", "verdict", "points", "cpu_time", "wall_time", "memory", "exit_code", "signal",
              "checker_message"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["token", "owner", "problem", "language", "status", "verdict", "score", "max_score",
                    "created_at", "worker"]  # fmt: skip
    list_filter = ["status", "verdict", "language", "queue", "problem"]
    search_fields = ["token", "owner__username", "problem__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "problem", "language"]
    readonly_fields = [f.name for f in Submission._meta.fields]
    inlines = [TestResultInline]
    actions = ["rejudge"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        # List pages never load sources or outputs.
        return super().get_queryset(request).defer("source", "files", "stdin", "stdout", "stderr",
                                                   "compile_output", "expected_output")  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Rejudge selected submissions")
    def rejudge(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        count = sum(submission_rejudge(s) for s in queryset)
        self.message_user(request, f"{count} submissions queued again.")
