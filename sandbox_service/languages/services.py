"""Keep the Language table in step with the executor's registry."""

from __future__ import annotations

from collections.abc import Collection

from django.utils import timezone

from executor import languages as registry
from executor import runner
from executor.config import Config
from sandbox_service.languages.models import Language


def language_sync(*, self_test: bool = True, config: Config | None = None,
                  ids: Collection[str] | None = None) -> list[Language]:  # fmt: skip
    """Create or update one row per executor language (only those of `ids` if given): name, version, compiled,
    availability.

    Admin choices (enabled, default limits and their maxima) are kept. With self_test, each language's self-test
    program is compiled and run in the sandbox, and a failure marks the language unavailable with the reason.
    """
    rows = []
    for declaration in registry.LANGUAGES:
        if ids is not None and declaration.id not in ids:
            continue
        missing = declaration.missing_toolchain()
        problem = f"toolchain missing: {', '.join(missing)}" if missing else None
        if problem is None and self_test:
            problem = runner.self_test(declaration, config)
        row, _ = Language.objects.update_or_create(
            id=declaration.id,
            defaults={
                "name": declaration.name,
                "version": declaration.version,
                "compiled": declaration.compiled,
                "available": problem is None,
                "self_test_message": problem or ("self-test passed" if self_test else "toolchain present"),
                "checked_at": timezone.now(),
            },
        )
        rows.append(row)
    gone = Language.objects.exclude(id__in=[d.id for d in registry.LANGUAGES])
    if ids is not None:
        gone = gone.filter(id__in=ids)
    gone.update(available=False, self_test_message="not in the executor's registry")
    return rows
