from django.contrib import admin

from sandbox_service.languages.models import Language


@admin.register(Language)
class LanguageAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "version", "compiled", "enabled", "available", "checked_at"]
    list_editable = ["enabled"]
    readonly_fields = ["id", "name", "version", "compiled", "available", "self_test_message", "checked_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "version", "compiled", "enabled"]}),
        ("Default limits", {"fields": ["cpu_time", "wall_time", "memory", "processes", "output"]}),
        ("Self-test", {"fields": ["available", "self_test_message", "checked_at"]}),
    ]
