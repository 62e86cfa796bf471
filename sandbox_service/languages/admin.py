from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from sandbox_service.languages.models import Language
from sandbox_service.languages.services import language_sync


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "version", "image", "compiled", "enabled", "available", "cpu_time", "memory",
                    "max_cpu_time", "max_memory", "checked_at"]  # fmt: skip
    list_editable = ["enabled"]
    list_filter = ["enabled", "available", "compiled", "image"]
    search_fields = ["id", "name"]
    readonly_fields = ["id", "name", "version", "image", "base", "compiled", "available", "self_test_message",
                       "checked_at"]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["id", "name", "version", "image", "base", "compiled", "enabled"]}),
        ("Default limits", {"fields": ["cpu_time", "wall_time", "memory", "processes", "output"]}),
        ("Maximum limits a request may ask for", {"fields": ["max_cpu_time", "max_wall_time", "max_memory",
                                                             "max_processes", "max_output"]}),  # fmt: skip
        ("Self-test", {"fields": ["available", "self_test_message", "checked_at"]}),
    ]
    actions = ["self_test"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the executor's registry (manage.py sync_languages), or `manage.py languages add` on an image

    @admin.action(description="Run the self-test of the selected languages (in the sandbox)", permissions=["change"])
    def self_test(self, request: HttpRequest, queryset: QuerySet[Language]) -> None:
        rows = language_sync(self_test=True, ids=set(queryset.values_list("pk", flat=True)))
        failed = [f"{row.id}: {row.self_test_message}" for row in rows if not row.available]
        self.message_user(request, f"{len(rows) - len(failed)} of {len(rows)} languages passed their self-test.",
                          messages.SUCCESS if not failed else messages.WARNING)  # fmt: skip
        for line in failed:
            self.message_user(request, line, messages.ERROR)
