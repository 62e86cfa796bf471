"""Who someone is: student, grader or admin. Roles are groups (core.services makes them); staff counts as a
grader and a superuser as an admin, so accounts made by hand in the admin behave as expected. The one place that
decides a role: API permissions, selectors and services all ask here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

STUDENT, GRADER, ADMIN = "student", "grader", "admin"


def role_of(user: AbstractBaseUser | AnonymousUser) -> str:
    groups = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()  # type: ignore[union-attr]
    return role_from(is_superuser=getattr(user, "is_superuser", False), is_staff=getattr(user, "is_staff", False),
                     groups=groups)  # fmt: skip


def role_from(*, is_superuser: bool, is_staff: bool, groups: set[str]) -> str:
    """The rule itself, for callers that already hold a user's groups (a list page with prefetched groups)."""
    if is_superuser or ADMIN in groups:
        return ADMIN
    if GRADER in groups or is_staff:
        return GRADER
    return STUDENT
