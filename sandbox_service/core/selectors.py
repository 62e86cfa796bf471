"""Reads on capacity: the quota that applies to an account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from sandbox_service.core.models import CEILING_FIELDS, Quota
from sandbox_service.core.roles import STUDENT, role_of


@dataclass(frozen=True)
class EffectiveQuota:
    submissions_per_hour: int | None  # None: no hourly cap
    ceilings: dict[str, Any] = field(default_factory=dict)  # limit name → the largest value a request may ask for
    source: str = "default"  # "user", "group <name>", "default": where it comes from, for messages


def quota_for(user: AbstractBaseUser, role: str | None = None) -> EffectiveQuota:
    """The account's own quota; else the most generous of its groups' (per field: the highest hourly cap and the
    highest ceiling, no cap where any group has none); else the default (a cap for students, none for staff).
    `role`: the user's role if the caller knows it already (one query fewer)."""
    quotas = list(Quota.objects.filter(Q(user=user) | Q(group__user=user)).select_related("group").distinct())
    own = next((q for q in quotas if q.user_id == user.pk), None)
    if own is not None:
        return EffectiveQuota(own.submissions_per_hour, own.ceilings(), "user")
    groups = [q for q in quotas if q.group_id is not None]
    if groups:
        hourly = [q.submissions_per_hour for q in groups]
        ceilings: dict[str, Any] = {}
        for limit, name in CEILING_FIELDS.items():
            values = [getattr(q, name) for q in groups]
            if all(v is not None for v in values):
                ceilings[limit] = max(values)
        return EffectiveQuota(None if None in hourly else max(h for h in hourly if h is not None), ceilings,
                              "group " + ", ".join(sorted(q.group.name for q in groups if q.group)))  # fmt: skip
    default = int(settings.SUBMISSIONS["PER_USER_PER_HOUR"]) if (role or role_of(user)) == STUDENT else None
    return EffectiveQuota(default)
