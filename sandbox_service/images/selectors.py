"""Reads on images: which languages run on one."""

from __future__ import annotations

from executor import languages as registry
from sandbox_service.languages.models import Language


def image_users(name: str) -> list[str]:
    """Ids of the languages whose root is image `name`: declared in the executor, or added by an admin."""
    declared = {language.id for language in registry.LANGUAGES if language.image == name}
    added = set(Language.objects.filter(image=name).values_list("pk", flat=True))
    return sorted(declared | added)
