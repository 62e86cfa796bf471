"""`manage.py seed_demo` (run by `make run` on every start) is idempotent and keeps the passwords it made."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from sandbox_service.problems.models import Problem


def seed(credentials: Path) -> str:
    out = io.StringIO()
    call_command("seed_demo", credentials_file=credentials, stdout=out)
    return out.getvalue()


def test_seed_demo_twice_makes_everything_once_and_prints_the_same_passwords(db: Any, tmp_path: Path) -> None:
    credentials = tmp_path / "demo-credentials.txt"
    first = seed(credentials)
    second = seed(credentials)

    assert first == second
    assert User.objects.count() == 3
    assert set(Group.objects.values_list("name", flat=True)) == {"student", "grader", "admin"}
    assert Problem.objects.count() == 2
    for line in credentials.read_text().splitlines()[1:]:
        role, username, password = line.split()
        assert f"username {username}" in first and password in first
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_seed_demo_roles_have_their_flags_and_permissions(db: Any, tmp_path: Path) -> None:
    seed(tmp_path / "credentials")
    admin, grader, student = (User.objects.get(username=name) for name in ("admin", "grader", "student"))
    assert admin.is_staff and admin.is_superuser
    assert grader.is_staff and not grader.is_superuser
    assert not student.is_staff and not student.is_superuser
    for permission in ("problems.add_problem", "problems.change_testcase", "submissions.view_submission",
                       "submissions.view_testresult"):  # fmt: skip
        assert grader.has_perm(permission), permission
    assert not grader.has_perm("submissions.change_submission")
    assert not grader.has_perm("auth.change_user")
    assert not student.has_perm("problems.view_problem")


def test_seed_demo_problems_are_published_with_tests_and_open_to_every_language(db: Any, tmp_path: Path) -> None:
    seed(tmp_path / "credentials")
    a_plus_b = Problem.objects.get(slug="a-plus-b")
    assert a_plus_b.title == "A + B" and a_plus_b.published
    assert a_plus_b.test_cases.count() == 4
    assert a_plus_b.test_cases.filter(visible=True).count() == 2
    assert not a_plus_b.allowed_languages.exists()  # empty: all languages
    reverse = Problem.objects.get(slug="reverse-a-line")
    assert reverse.published and reverse.test_cases.count() >= 2
    assert [t.expected_output for t in reverse.test_cases.all()][0] == "olleh\n"


def test_seed_demo_leaves_an_edited_problem_alone_and_resets_changed_passwords(db: Any, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    seed(credentials)
    Problem.objects.filter(slug="a-plus-b").update(title="A + B (edited)")
    student = User.objects.get(username="student")
    student.set_password("changed-by-hand")
    student.save()

    seed(credentials)

    assert Problem.objects.get(slug="a-plus-b").title == "A + B (edited)"
    assert Problem.objects.get(slug="a-plus-b").test_cases.count() == 4
    password = next(line.split()[2] for line in credentials.read_text().splitlines() if line.startswith("student "))
    assert authenticate(username="student", password=password) is not None
