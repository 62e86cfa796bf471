"""Submissions in the admin: filters, search, the source highlighted, outputs as text, rejudge. List pages load no
source or output. A grader sees the submissions of the problems they own or grade (and their own)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from sandbox_service.submissions import selectors
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.services import submission_rejudge

# The large fields: never loaded for a list page.
LARGE_FIELDS = ("source", "files", "stdin", "expected_output", "compile_output", "compile_stdout", "compile_stderr",
                "stdout", "stderr", "output")  # fmt: skip
# Executor language ids that Pygments knows by another name.
LEXER_NAMES = {"pascal": "delphi", "fpc": "delphi"}
FORMATTER = HtmlFormatter(noclasses=True, linenos="inline", style="default", wrapcode=True)


def highlighted(source: str, language_id: str) -> SafeString:
    """The source as HTML with Pygments' colours; Pygments escapes every character of the source itself."""
    try:
        lexer = get_lexer_by_name(LEXER_NAMES.get(language_id, language_id), stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return mark_safe(highlight(source, lexer, FORMATTER))  # noqa: S308 - Pygments' output, source escaped by it


class TestResultInline(admin.TabularInline):
    model = TestResult
    extra = 0
    can_delete = False
    fields = ["order", "test_case", "verdict", "points", "cpu_time", "wall_time", "memory", "exit_code", "signal",
              "checker_message"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["token", "owner", "problem", "language", "status", "verdict", "score", "max_score", "queue",
                    "created_at", "worker"]  # fmt: skip
    list_filter = ["status", "verdict", "language", "queue", ("problem", admin.RelatedOnlyFieldListFilter),
                   ("owner", admin.RelatedOnlyFieldListFilter), "examples_only", "created_at"]  # fmt: skip
    search_fields = ["token", "owner__username", "problem__slug", "problem__title", "worker", "message"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "problem", "language"]
    inlines = [TestResultInline]
    actions = ["rejudge"]
    fieldsets = [
        (None, {"fields": ["token", "owner", "problem", "examples_only", "language", "queue", "status", "stage",
                           "verdict", "score", "max_score", "message"]}),  # fmt: skip
        ("Source", {"fields": ["source_highlighted", "files", "args", "compiler_options", "stdin_text"]}),
        ("Compile", {"fields": ["compile_output_text", "compile_exit_code", "compile_cpu_time", "compile_memory"]}),
        ("Run", {"fields": ["stdout_text", "stderr_text", "exit_code", "signal", "cpu_time", "wall_time", "memory",
                            "limits", "tests_done", "tests_total"]}),  # fmt: skip
        ("Life", {"fields": ["created_at", "queued_at", "started_at", "finished_at", "worker", "attempts", "failures",
                             "lease_expires_at", "callback_url", "callback_status", "callback_error"]}),  # fmt: skip
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        queryset = selectors.submissions_visible_to(request.user)
        # A list page never loads sources or outputs; the change page needs them.
        return queryset if _is_change_page(request) else queryset.defer(*LARGE_FIELDS)

    def get_readonly_fields(self, request: HttpRequest, obj: Submission | None = None) -> list[str]:
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        return False  # results are records: a rejudge replaces them, nothing removes them

    @admin.display(description="Source")
    def source_highlighted(self, obj: Submission) -> SafeString:
        return highlighted(obj.source, obj.language_id)

    @admin.display(description="Input (scratch runs)")
    def stdin_text(self, obj: Submission) -> SafeString:
        return _pre(obj.stdin)

    @admin.display(description="Compiler output")
    def compile_output_text(self, obj: Submission) -> SafeString:
        return _pre(Submission.text(obj.compile_output))

    @admin.display(description="stdout (scratch runs)")
    def stdout_text(self, obj: Submission) -> SafeString:
        return _pre(Submission.text(obj.stdout))

    @admin.display(description="stderr (scratch runs)")
    def stderr_text(self, obj: Submission) -> SafeString:
        return _pre(Submission.text(obj.stderr))

    @admin.action(description="Rejudge selected submissions", permissions=["change"])
    def rejudge(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        count = sum(submission_rejudge(s) for s in queryset.select_related(None).only("pk", "queue"))
        self.message_user(request, f"{count} submissions queued again.")


def _pre(text: str) -> SafeString:
    return format_html('<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto">{}</pre>', text)


def _is_change_page(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.url_name == "submissions_submission_change"
