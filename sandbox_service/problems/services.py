"""Writes on problems and their test cases: create, update, delete, import an archive.

Every write checks all of its input before it writes anything and raises ProblemError naming the field (the API
answers 400 with it). An import writes the whole problem or nothing. Who may write is the caller's (the API's)
decision; these functions only say whether the data is right.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce, Length

from executor import limits as executor_limits
from executor.config import Config
from sandbox_service.core.errors import FieldError
from sandbox_service.core.roles import STUDENT, role_of
from sandbox_service.languages.models import Language
from sandbox_service.problems import zipformat
from sandbox_service.problems.models import Checker, Problem, TestCase

MiB = 1024 * 1024
MAX_TESTS = 1000  # per problem
MAX_TEST_FIELD_BYTES = 16 * MiB  # each of a test's stdin and expected output
MAX_PROBLEM_TEST_CHARS = 256 * MiB  # all tests of a problem together (characters: what the database can count)
MAX_STATEMENT_BYTES = 1 * MiB
MAX_CHECKER_SOURCE_BYTES = 512 * 1024
MAX_POINTS = 1_000_000
MAX_ORDER = 2**31 - 1  # PositiveIntegerField
RESERVED_SLUGS = frozenset({"import"})  # /api/v1/problems/import/
LIMIT_FIELDS = zipformat.LIMIT_NAMES  # cpu_time, wall_time, memory, processes, output
ARCHIVE_CAPS = zipformat.Caps(tests=MAX_TESTS, test_file_bytes=MAX_TEST_FIELD_BYTES,
                              statement_bytes=MAX_STATEMENT_BYTES, checker_bytes=MAX_CHECKER_SOURCE_BYTES)  # fmt: skip

PROBLEM_FIELDS = frozenset({
    "title", "slug", "statement", "limits", "allowed_languages", "checker", "float_abs_tolerance",
    "float_rel_tolerance", "checker_language", "checker_source", "stop_on_first_failure", "published", "graders",
})  # fmt: skip
TEST_FIELDS = frozenset({"stdin", "expected_output", "points", "visible", "order", "name"})


class ProblemError(FieldError):
    """Bad input of a problem or test case; `field` names what is wrong (the API answers 400 with it)."""


class ProblemInUse(Exception):
    """A problem with submissions is deleted only when asked to force it (their submissions go with it)."""

    def __init__(self, submissions: int) -> None:
        super().__init__(f"the problem has {submissions} submissions, which would be deleted with it; unpublish it "
                         f"instead, or delete with force")  # fmt: skip
        self.submissions = submissions


class ReplaceRefused(Exception):
    """An import would overwrite a problem its importer may not change."""


# ---------------------------------------------------------------------------------------------- problems ----


def problem_create(*, owner: AbstractBaseUser, title: str, slug: str, **fields: Any) -> Problem:
    """A new problem owned by `owner`. `fields` are those of PROBLEM_FIELDS; missing ones take the defaults."""
    with transaction.atomic():
        problem = Problem(owner=owner)  # type: ignore[misc]
        _problem_write(problem, {"title": title, "slug": slug, **fields})
    return problem


def problem_update(problem: Problem, **changes: Any) -> Problem:
    """Change the given fields. `limits` changes the limits it names (None: back to the language's default);
    `allowed_languages` and `graders` replace the lists."""
    with transaction.atomic():
        _problem_write(problem, changes)
    return problem


def problem_delete(problem: Problem, *, force: bool = False) -> None:
    submissions = problem.submissions.count()
    if submissions and not force:
        raise ProblemInUse(submissions)
    problem.delete()


def _problem_write(problem: Problem, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - PROBLEM_FIELDS
    if unknown:
        raise TypeError(f"unknown problem fields: {', '.join(sorted(unknown))}")
    values, languages, graders = _clean_problem(problem, changes)
    for name, value in values.items():
        setattr(problem, name, value)
    _check_checker(problem)
    try:
        with transaction.atomic():  # a savepoint: a lost race on the slug leaves the outer transaction usable
            problem.save()
    except IntegrityError:
        raise ProblemError("slug", f"a problem {problem.slug!r} exists already") from None
    if languages is not None:
        problem.allowed_languages.set(languages)
    if graders is not None:
        problem.graders.set(graders)


def _clean_problem(problem: Problem, changes: Mapping[str, Any]) -> tuple[dict[str, Any], list[Language] | None,
                                                                          list[User] | None]:  # fmt: skip
    values: dict[str, Any] = {}
    languages = graders = None
    for name, value in changes.items():
        if name == "title":
            _text(name, value, max_chars=200)
            if not value.strip():
                raise ProblemError(name, "must not be blank")
            values[name] = value
        elif name == "slug":
            _text(name, value, max_chars=50)
            try:
                validate_slug(value)
            except ValidationError:
                raise ProblemError(name, "letters, digits, '-' and '_' only") from None
            if value in RESERVED_SLUGS:
                raise ProblemError(name, f"{value!r} is reserved (it names an API path)")
            if Problem.objects.filter(slug=value).exclude(pk=problem.pk).exists():
                raise ProblemError(name, f"a problem {value!r} exists already")
            values[name] = value
        elif name == "statement":
            values[name] = _text(name, value, max_bytes=MAX_STATEMENT_BYTES)
        elif name == "checker_source":
            values[name] = _text(name, value, max_bytes=MAX_CHECKER_SOURCE_BYTES)
        elif name == "limits":
            values.update(_clean_limits(problem, value))
        elif name == "checker":
            if value not in Checker.values:
                raise ProblemError(name, f"{value!r} is not one of {', '.join(Checker.values)}")
            values[name] = value
        elif name in ("float_abs_tolerance", "float_rel_tolerance"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ProblemError(name, "must be a finite number >= 0")
            values[name] = float(value)
        elif name == "checker_language":
            if value is None:
                values[name] = None
            else:
                values[name] = _languages(name, [value])[0]
        elif name in ("stop_on_first_failure", "published"):
            if not isinstance(value, bool):
                raise ProblemError(name, "must be true or false")
            values[name] = value
        elif name == "allowed_languages":
            languages = _languages(name, value)
        elif name == "graders":
            graders = _graders(value)
    return values, languages, graders


def _text(field: str, value: Any, *, max_chars: int | None = None, max_bytes: int | None = None) -> str:
    if not isinstance(value, str):
        raise ProblemError(field, "must be text")
    if "\0" in value:
        raise ProblemError(field, "must not contain NUL characters")
    if max_chars is not None and len(value) > max_chars:
        raise ProblemError(field, f"at most {max_chars} characters")
    if max_bytes is not None and len(value) > max_bytes // 4 and len(value.encode()) > max_bytes:
        raise ProblemError(field, f"larger than {_human(max_bytes)}")
    return value


def _clean_limits(problem: Problem, limits: Any) -> dict[str, Any]:
    if not isinstance(limits, Mapping):
        raise ProblemError("limits", f"an object with some of {', '.join(LIMIT_FIELDS)}")
    for name in limits:
        if name not in LIMIT_FIELDS:
            raise ProblemError(f"limits.{name}", f"unknown limit; known: {', '.join(LIMIT_FIELDS)}")
    merged = {name: limits[name] if name in limits else getattr(problem, name) for name in LIMIT_FIELDS}
    try:
        given = {name: value for name, value in merged.items() if value is not None}
        # A float that is whole (a JSON 128.0) is fine for a whole-number limit; executor.validate refuses the rest.
        given = {n: int(v) if n in zipformat.WHOLE_LIMITS and isinstance(v, float) and v.is_integer() else v
                 for n, v in given.items()}  # fmt: skip
        executor_limits.validate(executor_limits.Limits().with_changes(**given), Config.from_env().maxima)
    except executor_limits.LimitError as e:
        name, _, message = str(e).partition(": ")
        raise ProblemError(f"limits.{name}", message) from None
    return {name: given.get(name) for name in LIMIT_FIELDS}


def _languages(field: str, ids: Any) -> list[Language]:
    if not isinstance(ids, (list, tuple)) or not all(isinstance(i, str) for i in ids):
        raise ProblemError(field, "a list of language ids")
    found = {language.pk: language for language in Language.objects.filter(pk__in=ids)}
    unknown = [i for i in ids if i not in found]
    if unknown:
        known = ", ".join(Language.objects.values_list("pk", flat=True))
        raise ProblemError(field, f"unknown language(s) {', '.join(map(repr, unknown))}; known: {known}")
    return [found[i] for i in dict.fromkeys(ids)]


def _graders(usernames: Any) -> list[User]:
    if not isinstance(usernames, (list, tuple)) or not all(isinstance(u, str) for u in usernames):
        raise ProblemError("graders", "a list of usernames")
    users = {user.username: user for user in User.objects.filter(username__in=usernames).prefetch_related("groups")}
    unknown = [u for u in usernames if u not in users]
    if unknown:
        raise ProblemError("graders", f"no user(s) {', '.join(map(repr, unknown))}")
    students = [u for u in dict.fromkeys(usernames) if role_of(users[u]) == STUDENT]
    if students:
        raise ProblemError("graders", f"{', '.join(map(repr, students))}: only graders and admins can grade")
    return [users[u] for u in dict.fromkeys(usernames)]


def _check_checker(problem: Problem) -> None:
    """What grading would refuse (it reports a misconfigured checker as internal_error): refuse it here first."""
    if problem.checker == Checker.CUSTOM:
        if problem.checker_language_id is None:
            raise ProblemError("checker_language", "a custom checker needs a language")
        if not problem.checker_source.strip():
            raise ProblemError("checker_source", "a custom checker needs a source")


# -------------------------------------------------------------------------------------------- test cases ----


def test_case_create(problem: Problem, **fields: Any) -> TestCase:
    """A new test of `problem`; fields of TEST_FIELDS, missing ones default (order: after the last test)."""
    with transaction.atomic():
        Problem.objects.select_for_update().filter(pk=problem.pk).first()  # one writer of this problem's tests
        if problem.test_cases.count() >= MAX_TESTS:
            raise ProblemError("tests", f"at most {MAX_TESTS} tests per problem")
        test = TestCase(problem=problem)
        if fields.get("order") is None:
            fields = {k: v for k, v in fields.items() if k != "order"}
            last = problem.test_cases.order_by("-order").values_list("order", flat=True).first()
            test.order = 1 if last is None else min(last + 1, MAX_ORDER)
        _test_write(test, fields)
    return test


def test_case_update(test: TestCase, **changes: Any) -> TestCase:
    with transaction.atomic():
        Problem.objects.select_for_update().filter(pk=test.problem_id).first()
        _test_write(test, changes)
    return test


def test_case_delete(test: TestCase) -> None:
    test.delete()


def _test_write(test: TestCase, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - TEST_FIELDS
    if unknown:
        raise TypeError(f"unknown test fields: {', '.join(sorted(unknown))}")
    for name, value in _clean_test(changes).items():
        setattr(test, name, value)
    if "stdin" in changes or "expected_output" in changes:
        others = TestCase.objects.filter(problem_id=test.problem_id).exclude(pk=test.pk).aggregate(
            total=Coalesce(Sum(Length("stdin")), 0) + Coalesce(Sum(Length("expected_output")), 0))["total"]  # fmt: skip
        if others + len(test.stdin) + len(test.expected_output) > MAX_PROBLEM_TEST_CHARS:
            raise ProblemError("tests", f"the tests of a problem are at most {_human(MAX_PROBLEM_TEST_CHARS)} "
                                        f"characters together")  # fmt: skip
    test.save()


def _clean_test(changes: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in changes.items():
        field = f"{prefix}{name}"
        if name in ("stdin", "expected_output"):
            values[name] = _text(field, value, max_bytes=MAX_TEST_FIELD_BYTES)
        elif name == "name":
            values[name] = _text(field, value, max_chars=100)
        elif name in ("points", "order"):
            ceiling = MAX_POINTS if name == "points" else MAX_ORDER
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ceiling:
                raise ProblemError(field, f"a whole number from 0 to {ceiling}")
            values[name] = value
        elif name == "visible":
            if not isinstance(value, bool):
                raise ProblemError(field, "must be true or false")
            values[name] = value
    return values


# ------------------------------------------------------------------------------------------------ import ----

# problem.json's names of the fields the services name in their errors.
_ARCHIVE_FIELD_NAMES = {
    "checker": "checker.kind", "float_abs_tolerance": "checker.abs_tolerance",
    "float_rel_tolerance": "checker.rel_tolerance", "checker_language": "checker.language",
    "checker_source": "checker.source", "statement": zipformat.STATEMENT_MD,
}  # fmt: skip


def problem_import(*, owner: AbstractBaseUser, archive: IO[bytes], replace: bool = False,
                   may_replace: Callable[[Problem], bool] = lambda problem: False) -> tuple[Problem, bool]:  # fmt: skip
    """Read a problem archive (see zipformat) and write it: a new problem owned by `owner`, or, with `replace`,
    over the problem of the same slug if `may_replace` says so (ReplaceRefused otherwise), keeping its owner,
    graders, publication and submissions. All or nothing. Returns the problem and whether it is new.

    Errors name the member at fault: ProblemError("problem.json", "limits.memory: ...").
    """
    try:
        data = zipformat.read(archive, ARCHIVE_CAPS)
    except zipformat.ArchiveError as e:
        raise ProblemError(e.member, e.message) from None
    fields: dict[str, Any] = {
        "title": data.title, "slug": data.slug, "statement": data.statement, "limits": dict(data.limits),
        "allowed_languages": list(data.allowed_languages), "checker": data.checker,
        "float_abs_tolerance": data.abs_tolerance, "float_rel_tolerance": data.rel_tolerance,
        "checker_language": data.checker_language, "checker_source": data.checker_source,
        "stop_on_first_failure": data.stop_on_first_failure,
    }  # fmt: skip
    with transaction.atomic():
        existing = Problem.objects.select_for_update().filter(slug=data.slug).first()
        if existing is not None and not replace:
            raise ProblemError(zipformat.PROBLEM_JSON, f"slug: a problem {data.slug!r} exists already; import with "
                                                       f"replace to overwrite it")  # fmt: skip
        if existing is not None and not may_replace(existing):
            raise ReplaceRefused(f"you may not change the problem {data.slug!r}")
        problem = existing if existing is not None else Problem(owner=owner)  # type: ignore[misc]
        try:
            _problem_write(problem, fields)
        except ProblemError as e:
            if e.field == "statement":
                raise ProblemError(zipformat.STATEMENT_MD, e.message) from None
            raise ProblemError(zipformat.PROBLEM_JSON,
                               f"{_ARCHIVE_FIELD_NAMES.get(e.field, e.field)}: {e.message}") from None  # fmt: skip
        tests = [_imported_test(problem, number, test) for number, test in enumerate(data.tests, start=1)]
        if sum(len(t.stdin) + len(t.expected_output) for t in tests) > MAX_PROBLEM_TEST_CHARS:
            raise ProblemError(zipformat.ARCHIVE, f"the tests of a problem are at most "
                                                  f"{_human(MAX_PROBLEM_TEST_CHARS)} characters together")  # fmt: skip
        problem.test_cases.all().delete()  # their old results keep their verdicts, no longer their test case
        TestCase.objects.bulk_create(tests, batch_size=20)
    return problem, existing is None


def test_cases_import(problem: Problem, archive: IO[bytes], *, replace: bool = False) -> int:
    """Add the tests of a tests-only archive (zipformat.read_tests) after the problem's own, or instead of them
    with `replace`. All or nothing; returns how many were added. Errors name the member at fault."""
    try:
        tests = zipformat.read_tests(archive, ARCHIVE_CAPS)
    except zipformat.ArchiveError as e:
        raise ProblemError(e.member, e.message) from None
    with transaction.atomic():
        Problem.objects.select_for_update().filter(pk=problem.pk).first()  # one import at a time per problem
        kept = [] if replace else list(problem.test_cases.only("order", "stdin", "expected_output"))
        start = max([t.order for t in kept], default=0)
        rows = [_imported_test(problem, test.order, dataclasses.replace(test, order=start + test.order))
                for test in tests]  # fmt: skip
        if sum(len(t.stdin) + len(t.expected_output) for t in [*kept, *rows]) > MAX_PROBLEM_TEST_CHARS:
            raise ProblemError(zipformat.ARCHIVE, f"the tests of a problem are at most "
                                                  f"{_human(MAX_PROBLEM_TEST_CHARS)} characters together")  # fmt: skip
        if replace:
            problem.test_cases.all().delete()  # their old results keep their verdicts, no longer their test case
        TestCase.objects.bulk_create(rows, batch_size=20)
    return len(rows)


def _imported_test(problem: Problem, number: int, test: zipformat.TestData) -> TestCase:
    try:
        values = _clean_test({"stdin": test.stdin, "expected_output": test.expected_output, "name": test.name,
                              "order": test.order, "points": test.points, "visible": test.visible})  # fmt: skip
    except ProblemError as e:
        stdin_name, expected_name = zipformat.test_file_names(number)
        member = {"stdin": stdin_name, "expected_output": expected_name}.get(e.field, zipformat.PROBLEM_JSON)
        where = "" if member != zipformat.PROBLEM_JSON else f"tests[{number - 1}].{e.field}: "
        raise ProblemError(member, f"{where}{e.message}") from None
    return TestCase(problem=problem, **values)


def _human(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // 1024} KiB"
