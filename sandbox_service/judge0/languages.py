"""Judge0 CE 1.13.1's language ids for the languages we have (db/languages/active.rb there).

Each id names one of our executor languages; the name, source file and commands are ours (Judge0's Python 71 is
3.8.1, ours is whatever the host has), so a client that reads them learns the truth. Judge0 ids whose language we
do not have (Clang 75/76, Python 2 70, ...) do not exist here. 48/49/50 are Judge0's three GCC C versions and
52/53/54 its three G++ versions: all of them are our one GCC (the SDK's `CPP` alias resolves to 52, `C` to 50).

A language of ours that an admin disabled, or whose self-test failed, is shown as Judge0 shows an archived one:
only in /languages/all and /languages/{id}, with is_archived true, and refused for new submissions.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from executor import languages as registry
from executor import runner
from sandbox_service.languages.models import Language


@dataclass(frozen=True)
class Judge0Language:
    id: int
    executor_id: str
    name_format: str  # "{version}" becomes the version the host's toolchain reports

    def name(self, row: Language | None) -> str:
        version = (row.version if row is not None else "") or "unknown"
        return self.name_format.format(version=version)

    @property
    def declaration(self) -> registry.Language:
        return registry.get(self.executor_id)

    @property
    def source_file(self) -> str:
        return self.declaration.source_name

    @property
    def compile_cmd(self) -> str | None:
        """The compile command with "%s" where compiler_options go, as Judge0 writes its commands."""
        declaration = self.declaration
        if declaration.compile is None:
            return None
        return shlex.join(runner.compile_argv(declaration, ["%s"]))

    @property
    def run_cmd(self) -> str:
        return shlex.join(self.declaration.run)


LANGUAGES: tuple[Judge0Language, ...] = (
    Judge0Language(46, "bash", "Bash ({version})"),
    Judge0Language(48, "c", "C (GCC {version})"),
    Judge0Language(49, "c", "C (GCC {version})"),
    Judge0Language(50, "c", "C (GCC {version})"),
    Judge0Language(51, "csharp", "C# (Mono {version})"),
    Judge0Language(52, "cpp", "C++ (GCC {version})"),
    Judge0Language(53, "cpp", "C++ (GCC {version})"),
    Judge0Language(54, "cpp", "C++ (GCC {version})"),
    Judge0Language(59, "fortran", "Fortran (GFortran {version})"),
    Judge0Language(60, "go", "Go ({version})"),
    Judge0Language(62, "java", "Java (OpenJDK {version})"),
    Judge0Language(63, "javascript", "JavaScript (Node.js {version})"),
    Judge0Language(64, "lua", "Lua ({version})"),
    Judge0Language(67, "pascal", "Pascal (FPC {version})"),
    Judge0Language(68, "php", "PHP ({version})"),
    Judge0Language(71, "python3", "Python ({version})"),
    Judge0Language(72, "ruby", "Ruby ({version})"),
    Judge0Language(73, "rust", "Rust ({version})"),
    Judge0Language(74, "typescript", "TypeScript ({version})"),
    Judge0Language(85, "perl", "Perl ({version})"),
)
BY_ID: dict[int, Judge0Language] = {language.id: language for language in LANGUAGES}
# The id shown for a submission made through another API (which names only our language).
CANONICAL_ID: dict[str, int] = {
    "bash": 46, "c": 50, "csharp": 51, "cpp": 54, "fortran": 59, "go": 60, "java": 62, "javascript": 63, "lua": 64,
    "pascal": 67, "php": 68, "python3": 71, "ruby": 72, "rust": 73, "typescript": 74, "perl": 85,
}  # fmt: skip


def judge0_id_of(executor_id: str, stored: object = None) -> int | None:
    """The Judge0 id a submission was made with (`stored`), else the canonical one of its language."""
    if isinstance(stored, int) and stored in BY_ID and BY_ID[stored].executor_id == executor_id:
        return stored
    return CANONICAL_ID.get(executor_id)


def _rows() -> dict[str, Language]:
    return {row.id: row for row in Language.objects.filter(id__in={lang.executor_id for lang in LANGUAGES})}


def collation_key(name: str) -> tuple[str, str]:
    """The order PostgreSQL's en_US collation gives Judge0's `ORDER BY name`: letters and digits first, ignoring
    case and punctuation ("C (GCC 7.4.0)" next to "C++ (GCC 7.4.0)", both before "Clojure")."""
    return re.sub(r"[^0-9a-z]", "", name.casefold()), name


def _sorted(entries: Iterable[tuple[Judge0Language, Language]]) -> list[tuple[Judge0Language, Language]]:
    return sorted(entries, key=lambda pair: (collation_key(pair[0].name(pair[1])), pair[0].id))


def active_languages() -> list[dict[str, object]]:
    """GET /languages: [{id, name}] of the usable languages."""
    rows = _rows()
    pairs = [(lang, rows[lang.executor_id]) for lang in LANGUAGES
             if lang.executor_id in rows and rows[lang.executor_id].usable]  # fmt: skip
    return [{"id": lang.id, "name": lang.name(row)} for lang, row in _sorted(pairs)]


def all_languages() -> list[dict[str, object]]:
    """GET /languages/all: [{id, name, is_archived}] of every language we have, usable or not."""
    rows = _rows()
    pairs = [(lang, rows[lang.executor_id]) for lang in LANGUAGES if lang.executor_id in rows]
    return [{"id": lang.id, "name": lang.name(row), "is_archived": not row.usable} for lang, row in _sorted(pairs)]


def language_detail(language_id: int) -> dict[str, object] | None:
    """GET /languages/{id}: Judge0's full shape, or None (404)."""
    lang = BY_ID.get(language_id)
    if lang is None:
        return None
    row = Language.objects.filter(id=lang.executor_id).first()
    if row is None:
        return None
    return {"id": lang.id, "name": lang.name(row), "is_archived": not row.usable, "source_file": lang.source_file,
            "compile_cmd": lang.compile_cmd, "run_cmd": lang.run_cmd}  # fmt: skip


def resolve(language_id: int) -> tuple[Judge0Language, Language] | None:
    """The Judge0 language and our row behind a submission's language_id, if we have it at all."""
    lang = BY_ID.get(language_id)
    if lang is None:
        return None
    row = Language.objects.filter(id=lang.executor_id).first()
    return None if row is None else (lang, row)
