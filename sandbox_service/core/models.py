"""Capacity: what an account (or a group of them, such as a course) may use — submissions per hour and the largest
run limits a request may ask for — and the same ceilings on a language's limits."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

CEILING_FIELDS = {"cpu_time": "max_cpu_time", "wall_time": "max_wall_time", "memory": "max_memory",
                  "processes": "max_processes", "output": "max_output"}  # fmt: skip


class LimitCeilings(models.Model):
    """The largest run limits a request may ask for; empty: the operator's maximum (EXECUTOR_MAX_*)."""

    max_cpu_time = models.FloatField(null=True, blank=True, help_text="seconds; empty: the operator's maximum")
    max_wall_time = models.FloatField(null=True, blank=True, help_text="seconds; empty: the operator's maximum")
    max_memory = models.PositiveIntegerField(null=True, blank=True, help_text="MiB; empty: the operator's maximum")
    max_processes = models.PositiveIntegerField(null=True, blank=True, help_text="empty: the operator's maximum")
    max_output = models.PositiveIntegerField(null=True, blank=True,
                                             help_text="KiB per stream; empty: the operator's maximum")  # fmt: skip

    class Meta:
        abstract = True

    def ceilings(self) -> dict[str, Any]:
        """The ceilings that are set, by limit name (executor field names)."""
        return {limit: getattr(self, name) for limit, name in CEILING_FIELDS.items() if getattr(self, name) is not None}

    def clean(self) -> None:
        super().clean()
        for name in CEILING_FIELDS.values():
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValidationError({name: "must be above 0"})


class Quota(LimitCeilings):
    """The capacity of one account or of one group. An account's own quota wins; without one, the most generous of
    its groups' quotas; without any, the defaults (students: SUBMISSIONS_PER_USER_PER_HOUR; staff: no cap)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="quota")  # fmt: skip
    group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="quota")
    submissions_per_hour = models.PositiveIntegerField(null=True, blank=True,
                                                       help_text="empty: no hourly cap from this quota")  # fmt: skip
    note = models.CharField(max_length=200, blank=True, help_text="why (e.g. the course and term)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(user__isnull=False, group__isnull=True)
                                   | models.Q(user__isnull=True, group__isnull=False),
                                   name="quota_of_one_user_or_one_group"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"quota of {self.user or f'group {self.group}'}"

    def clean(self) -> None:
        super().clean()
        if (self.user_id is None) == (self.group_id is None):
            raise ValidationError("a quota belongs to one user or to one group")
