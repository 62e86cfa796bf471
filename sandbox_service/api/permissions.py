"""Roles and who may do what. Student, grader and admin are groups (see core.services); staff counts as a grader
and superuser as an admin, so accounts made by hand in the admin behave as expected."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from sandbox_service.problems.models import Problem
from sandbox_service.submissions.models import Submission

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


def grades(user: Any, problem: Problem | None) -> bool:
    """Whether `user` is an admin, or a grader who owns or grades `problem`."""
    role = role_of(user)
    if role == ADMIN:
        return True
    if role != GRADER or problem is None:
        return False
    return problem.owner_id == user.pk or problem.graders.filter(pk=user.pk).exists()


def can_view_submission(user: Any, submission: Submission) -> bool:
    return submission.owner_id == user.pk or grades(user, submission.problem)


def can_rejudge(user: Any, submission: Submission) -> bool:
    return grades(user, submission.problem)


class IsGraderOrAdmin(BasePermission):
    message = "graders and admins only"

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and role_of(request.user) in (GRADER, ADMIN))
