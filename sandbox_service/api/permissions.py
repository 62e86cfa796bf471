"""Who may do what, by role (core.roles decides the role)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from sandbox_service.core.roles import ADMIN, GRADER, STUDENT, role_of
from sandbox_service.problems.models import Problem
from sandbox_service.submissions.models import Submission

__all__ = ["ADMIN", "GRADER", "STUDENT", "IsGraderOrAdmin", "can_rejudge", "can_view_submission", "grades",
           "role_of"]


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
