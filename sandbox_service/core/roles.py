"""Who someone is: student, grader or admin. Roles are groups (core.services makes them); staff counts as a
grader and a superuser as an admin, so accounts made by hand in the admin behave as expected. The one place that
decides a role: API permissions, selectors and services all ask here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

STUDENT, GRADER, ADMIN = "student", "grader", "admin"


def role_of(user: AbstractBaseUser | AnonymousUser) -> str:
    if getattr(user, "is_superuser", False):
        return ADMIN
    groups = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()  # type: ignore[union-attr]
    if ADMIN in groups:
        return ADMIN
    if GRADER in groups or getattr(user, "is_staff", False):
        return GRADER
    return STUDENT
