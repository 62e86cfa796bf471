"""Roles and demo data. Every function here is idempotent: running it again changes nothing that is already right
and never duplicates a row, so `make run` can call it on every start."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from sandbox_service.core import roles
from sandbox_service.problems.models import Problem, TestCase


class Role:
    STUDENT = roles.STUDENT
    GRADER = roles.GRADER
    ADMIN = roles.ADMIN

    ALL = (ADMIN, GRADER, STUDENT)


# What a grader may do in Django admin: write problems and their tests, read submissions and results.
GRADER_PERMISSIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("problems", "problem"): ("view", "add", "change", "delete"),
    ("problems", "testcase"): ("view", "add", "change", "delete"),
    ("submissions", "submission"): ("view",),
    ("submissions", "testresult"): ("view",),
    ("languages", "language"): ("view",),
}


def role_groups_ensure() -> dict[str, Group]:
    """The groups "student", "grader" and "admin" with their permissions (set exactly, every time).

    Students hold no model permission (they act through the API and web views, not admin); admins are also
    superusers, their group holds every permission so that membership alone is enough.
    """
    groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.ALL}
    grader_permissions = [
        permission
        for (app_label, model), actions in GRADER_PERMISSIONS.items()
        for permission in Permission.objects.filter(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
    ]
    groups[Role.STUDENT].permissions.set([])
    groups[Role.GRADER].permissions.set(grader_permissions)
    groups[Role.ADMIN].permissions.set(Permission.objects.all())
    return groups


def role_user_ensure(*, username: str, role: str, password: str) -> User:
    """A user of `role` with exactly that group, the staff flags of the role and `password`."""
    if role not in Role.ALL:
        raise ValueError(f"unknown role {role!r}")
    groups = role_groups_ensure()
    user, _ = User.objects.get_or_create(username=username)
    user.is_active = True
    user.is_staff = role in (Role.GRADER, Role.ADMIN)
    user.is_superuser = role == Role.ADMIN
    user.set_password(password)
    user.save()
    user.groups.set([groups[role]])
    return user


@dataclass(frozen=True)
class DemoTest:
    stdin: str
    expected_output: str
    visible: bool = False


@dataclass(frozen=True)
class DemoProblem:
    slug: str
    title: str
    statement: str
    tests: tuple[DemoTest, ...]


DEMO_PROBLEMS = (
    DemoProblem(
        slug="a-plus-b",
        title="A + B",
        statement="Read two integers *a* and *b* (|a|, |b| ≤ 10⁹) from one line and print *a* + *b*.",
        tests=(
            DemoTest("1 2\n", "3\n", visible=True),
            DemoTest("-5 7\n", "2\n", visible=True),
            DemoTest("1000000000 1000000000\n", "2000000000\n"),
            DemoTest("0 0\n", "0\n"),
        ),
    ),
    DemoProblem(
        slug="reverse-a-line",
        title="Reverse a line",
        statement="Read one line of text and print it reversed, character by character.",
        tests=(
            DemoTest("hello\n", "olleh\n", visible=True),
            DemoTest("abc def\n", "fed cba\n"),
            DemoTest("racecar\n", "racecar\n"),
        ),
    ),
)


@transaction.atomic
def demo_problems_ensure(*, owner: User | None = None) -> list[Problem]:
    """The demo problems, published, open to every language. A problem that exists already is left as it is
    (an admin may have edited it); one that has lost all its tests gets the demo tests back."""
    problems = []
    for demo in DEMO_PROBLEMS:
        problem, _ = Problem.objects.get_or_create(
            slug=demo.slug,
            defaults={"title": demo.title, "statement": demo.statement, "published": True, "owner": owner},
        )
        if not problem.test_cases.exists():
            TestCase.objects.bulk_create(
                TestCase(problem=problem, order=order, name=f"test {order}", stdin=test.stdin,
                         expected_output=test.expected_output, visible=test.visible)  # fmt: skip
                for order, test in enumerate(demo.tests, start=1)
            )
        if owner is not None:
            problem.graders.add(owner)
        problems.append(problem)
    return problems


def demo_credentials_ensure(path: Path) -> dict[str, tuple[str, str]]:
    """{role: (username, password)} of the demo accounts, read from `path`; a role missing there gets a new random
    password, and the file is written back (0600). So the passwords are made once and every re-run prints the same.

    The file has one `role username password` line per account; lines starting with # are comments.
    """
    accounts: dict[str, tuple[str, str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) == 3 and not line.startswith("#") and fields[0] in Role.ALL:
                accounts[fields[0]] = (fields[1], fields[2])
    missing = [role for role in Role.ALL if role not in accounts]
    for role in missing:
        accounts[role] = (role, secrets.token_urlsafe(12))
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "# Demo accounts made by `manage.py seed_demo` (make run): role, username, password.\n" + "".join(
            f"{role} {username} {password}\n" for role, (username, password) in accounts.items()
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(text)
    return accounts


def demo_seed(*, credentials_file: Path) -> dict[str, tuple[str, str]]:
    """Groups, the demo admin, grader and student (passwords from `credentials_file`) and the demo problems.
    Returns {role: (username, password)}."""
    accounts = demo_credentials_ensure(credentials_file)
    with transaction.atomic():
        users = {role: role_user_ensure(username=username, role=role, password=password)
                 for role, (username, password) in accounts.items()}  # fmt: skip
        demo_problems_ensure(owner=users[Role.GRADER])
    return accounts
