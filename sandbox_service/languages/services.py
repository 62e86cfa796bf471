"""Keep the Language table in step with the executor's registry."""

from __future__ import annotations

import re
from collections.abc import Collection

from django.utils import timezone

from executor import images, runner
from executor import languages as registry
from executor.config import Config
from sandbox_service.languages.models import Language
from sandbox_service.submissions.selectors import executor_language


def language_sync(*, self_test: bool = True, config: Config | None = None,
                  ids: Collection[str] | None = None) -> list[Language]:  # fmt: skip
    """Create or update one row per executor language (only those of `ids` if given): name, version, compiled,
    availability; and check the languages admins added on images (`language_add`) the same way.

    Admin choices (enabled, default limits and their maxima) are kept. With self_test, each language's self-test
    program is compiled and run in the sandbox, and a failure marks the language unavailable with the reason.
    """
    rows = []
    for declaration in registry.LANGUAGES:
        if ids is not None and declaration.id not in ids:
            continue
        rows.append(_check(declaration, Language.objects.update_or_create(id=declaration.id, defaults={
            "name": declaration.name, "image": declaration.image, "base": ""})[0], self_test, config))  # fmt: skip
    added = Language.objects.exclude(base="")
    for row in added.filter(id__in=ids) if ids is not None else added:
        try:
            declaration = executor_language(row.pk)
        except registry.UnknownLanguage:
            row.available, row.self_test_message = False, f"its base language {row.base!r} is not in the executor"
            row.save(update_fields=["available", "self_test_message"])
            rows.append(row)
            continue
        rows.append(_check(declaration, row, self_test, config))
    gone = Language.objects.filter(base="").exclude(id__in=[d.id for d in registry.LANGUAGES])
    if ids is not None:
        gone = gone.filter(id__in=ids)
    gone.update(available=False, self_test_message="not in the executor's registry")
    return rows


def _check(declaration: registry.Language, row: Language, self_test: bool, config: Config | None) -> Language:
    missing = declaration.missing_toolchain() if declaration.image == images.HOST else []
    problem = f"toolchain missing: {', '.join(missing)}" if missing else None
    if problem is None and self_test:
        problem = runner.self_test(declaration, config)
    row.version = runner.version(declaration, config)
    row.compiled = declaration.compiled
    row.available = problem is None
    row.self_test_message = problem or ("self-test passed" if self_test else "toolchain present")
    row.checked_at = timezone.now()
    row.save(update_fields=["version", "compiled", "available", "self_test_message", "checked_at"])
    return row


def language_add(*, id: str, like: str, image: str, name: str = "", self_test: bool = True,  # noqa: A002
                 config: Config | None = None) -> Language:  # fmt: skip
    """A language that behaves like executor language `like` on image `image` (imported, pulled or built first),
    self-tested in a box of that image. Its defaults (limits) start as its base language's."""
    if not LANGUAGE_ID.match(id):
        raise LanguageError(f"language id {id!r}: lower-case letters, digits, '.', '_' and '-', at most 32")
    if id in registry.REGISTRY or Language.objects.filter(pk=id).exists():
        raise LanguageError(f"language {id!r} exists already")
    try:
        base = registry.get(like)
    except registry.UnknownLanguage as e:
        raise LanguageError(str(e)) from None
    if image != images.HOST:
        images.store_of(config or Config.from_env()).get(image)  # ImageNotFound: a clear error before any row
    template = Language.objects.filter(pk=like).first()
    limits = {f: getattr(template, f) for f in LIMIT_FIELDS} if template is not None else {}
    row = Language.objects.create(id=id, name=name or f"{base.name} on {image}", image=image, base=like, **limits)
    return language_sync(self_test=self_test, config=config, ids=[row.pk])[0]


def language_remove(language_id: str) -> None:
    """Remove a language an admin added; the executor's own are disabled instead, never removed."""
    row = Language.objects.filter(pk=language_id).first()
    if row is None:
        raise LanguageError(f"no language {language_id!r}")
    if not row.base:
        raise LanguageError(f"{language_id} is one of the executor's own languages: disable it instead")
    if row.submissions.exists():
        raise LanguageError(f"{language_id} has submissions: disable it instead (their history stays readable)")
    row.delete()


class LanguageError(ValueError):
    """A language that cannot be added or removed; the message is one line."""


LANGUAGE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
LIMIT_FIELDS = ("cpu_time", "wall_time", "memory", "processes", "output", "max_cpu_time", "max_wall_time",
                "max_memory", "max_processes", "max_output")  # fmt: skip
