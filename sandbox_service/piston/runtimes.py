"""Piston's names for our languages (data), and the reads behind `GET /runtimes` and a job's runtime lookup.

Names and aliases are those of Piston's own packages (packages/*/metadata.json): python `py py3 python3
python3.<minor>`, gcc's c `gcc`, c++ `cpp g++` and fortran `fortran f90`, node's javascript `node-javascript
node-js javascript js` and typescript `ts node-ts tsc`, mono's csharp, java (none), bash `sh`, ruby, go, rust,
php, perl, lua, pascal. `runtime` is the providing package when there is one (gcc, node), left out otherwise,
as Piston does. Versions are our toolchains' real ones (Language.version, read from the toolchain itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox_service.languages.models import Language
from sandbox_service.piston import semver


@dataclass(frozen=True)
class Declaration:
    language: str  # Piston's name
    language_id: str  # ours (the executor's)
    aliases: tuple[str, ...] = ()
    runtime: str | None = None  # Piston's providing package, when it provides several languages
    # An alias made from the version, e.g. "python{major}.{minor}" → python3.11, as Piston's python packages have.
    versioned_alias: str | None = None
    source_suffixes: tuple[str, ...] = ()  # extra files with these suffixes are compiled too (Piston: `gcc *.c`)


DECLARATIONS: tuple[Declaration, ...] = (
    Declaration("bash", "bash", ("sh",)),
    Declaration("c", "c", ("gcc",), runtime="gcc", source_suffixes=(".c",)),
    Declaration("c++", "cpp", ("cpp", "g++"), runtime="gcc", source_suffixes=(".cpp", ".cc", ".cxx", ".c++")),
    Declaration("java", "java"),
    Declaration("javascript", "javascript", ("node-javascript", "node-js", "javascript", "js"), runtime="node"),
    Declaration("python", "python3", ("py", "py3", "python3"), versioned_alias="python{major}.{minor}"),
    Declaration("ruby", "ruby", ("ruby3", "rb")),
    Declaration("go", "go", ("go", "golang")),
    Declaration("rust", "rust", ("rs",)),
    Declaration("php", "php"),
    Declaration("perl", "perl", ("pl",)),
    Declaration("lua", "lua"),
    Declaration("typescript", "typescript", ("ts", "node-ts", "tsc"), runtime="node"),
    Declaration("csharp", "csharp", ("mono", "mono-csharp", "mono-c#", "mono-cs", "c#", "cs"), runtime="mono"),
    Declaration("pascal", "pascal", ("freepascal", "pp", "pas")),
    Declaration("fortran", "fortran", ("fortran", "f90"), runtime="gcc"),
)


@dataclass(frozen=True)
class Runtime:
    declaration: Declaration
    row: Language

    @property
    def language(self) -> str:
        return self.declaration.language

    @property
    def version(self) -> str:
        return self.row.version

    @property
    def aliases(self) -> list[str]:
        aliases = list(self.declaration.aliases)
        parsed = semver.parse_version(self.version)
        if self.declaration.versioned_alias and parsed is not None:
            aliases.append(self.declaration.versioned_alias.format(major=parsed[0], minor=parsed[1]))
        return aliases

    def named(self, name: str) -> bool:
        return name == self.language or name in self.aliases  # case-sensitive, as Piston

    def satisfies(self, selector: str) -> bool:
        # "*" also takes a version our semver reading cannot parse (a toolchain that said something odd).
        return selector.strip() in ("*", self.version) or semver.satisfies(self.version, selector)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"language": self.language, "version": self.version, "aliases": self.aliases}
        if self.declaration.runtime is not None:
            data["runtime"] = self.declaration.runtime
        return data


def runtimes_available() -> list[Runtime]:
    """Our usable (enabled, self-tested) languages that Piston has a name for, in Piston's name order."""
    rows = list(Language.objects.filter(enabled=True, available=True))
    # A language an admin added on an image (Python 3.12 beside the host's 3.11) is another version of its base's.
    return [Runtime(d, row) for d in DECLARATIONS for row in rows if d.language_id in (row.pk, row.base)]


def runtime_find(language: str, version: str) -> Runtime | None:
    """The runtime Piston's `get_latest_runtime_matching_language_version` would pick: named `language` (or an
    alias of it) with a version in the range `version`, the highest such version (we hold one per language)."""
    matching = [rt for rt in runtimes_available() if rt.named(language) and rt.satisfies(version)]
    matching.sort(key=lambda rt: semver.parse_version(rt.version) or (-1, -1, -1), reverse=True)
    return matching[0] if matching else None
