"""Accounts in the admin: each user's role (student, grader, admin: groups with their permissions) and quotas,
per user and per group (a course)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from sandbox_service.core.models import Quota
from sandbox_service.core.roles import ADMIN, GRADER, STUDENT, role_from

QUOTA_FIELDS = ["submissions_per_hour", ("max_cpu_time", "max_wall_time"),
                ("max_memory", "max_processes", "max_output"), "note"]  # fmt: skip


class QuotaInline(admin.StackedInline):
    model = Quota
    extra = 0
    max_num = 1
    can_delete = True
    fields = QUOTA_FIELDS
    verbose_name = verbose_name_plural = "Quota"


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(STUDENT, "Student"), (GRADER, "Grader"), (ADMIN, "Admin")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        # As core.roles.role_of decides: superuser or the admin group → admin; grader group or staff → grader.
        admins = queryset.filter(is_superuser=True) | queryset.filter(groups__name=ADMIN)
        graders = (queryset.filter(groups__name=GRADER) | queryset.filter(is_staff=True)).exclude(
            pk__in=admins.values("pk"))
        if self.value() == ADMIN:
            return admins.distinct()
        if self.value() == GRADER:
            return graders.distinct()
        if self.value() == STUDENT:
            return queryset.exclude(pk__in=admins.values("pk")).exclude(pk__in=graders.values("pk"))
        return queryset


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "role", "is_active", "last_login", "date_joined"]
    list_filter = [RoleFilter, "groups", "is_active", "is_staff", "is_superuser"]
    inlines = [QuotaInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, obj: User) -> str:
        groups = {g.name for g in obj.groups.all()}  # prefetched: no query per row
        return role_from(is_superuser=obj.is_superuser, is_staff=obj.is_staff, groups=groups)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    list_display = ["name", "member_count"]
    inlines = [QuotaInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Group]:
        return super().get_queryset(request).annotate(members=Count("user"))

    @admin.display(description="members", ordering="members")
    def member_count(self, obj: Group) -> int:
        return obj.members  # type: ignore[attr-defined]


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "group", "submissions_per_hour", "max_cpu_time", "max_memory", "note",
                    "updated_at"]  # fmt: skip
    list_select_related = ["user", "group"]
    search_fields = ["user__username", "group__name", "note"]
    autocomplete_fields = ["user", "group"]
    fields = [("user", "group"), *QUOTA_FIELDS]

