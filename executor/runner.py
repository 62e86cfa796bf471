"""Compile (when the language has a compile step) once, then run: the behaviour behind every language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

from executor import images
from executor import limits as limits_mod
from executor.config import Config
from executor.languages import SELF_TEST_INPUT, SELF_TEST_OUTPUT, Language
from executor.limits import Limits
from executor.result import Outcome, StageResult, Status
from executor.sandbox import Sandbox


def run_limits(language: Language, requested: Limits, maxima: Limits) -> Limits:
    """The request (validated against the maxima) plus the language's own overhead, capped at the maxima."""
    limits_mod.validate(requested, maxima)
    changes: dict[str, float | int] = {}
    for f in fields(Limits):
        extra = language.extra.get(f.name)
        if extra:
            value = getattr(requested, f.name) + extra
            changes[f.name] = min(type(getattr(requested, f.name))(value), getattr(maxima, f.name))
    return replace(requested, **changes)  # type: ignore[arg-type]


def run_argv(language: Language, requested: Limits, args: Sequence[str]) -> list[str]:
    return [part.replace("{memory}", str(requested.memory)) for part in language.run] + list(args)


@dataclass
class Program:
    """A compiled-or-not program held in one sandbox, ready to run many times (one fresh box per run)."""

    language: Language
    sandbox: Sandbox
    compile_result: StageResult | None = None

    def run(self, stdin: bytes, limits: Limits, args: Sequence[str] = (), merge_stderr: bool = False) -> StageResult:
        maxima = self.sandbox.config.maxima
        return self.sandbox.run(run_argv(self.language, limits, args), run_limits(self.language, limits, maxima),
                                stdin=stdin, env=self.language.env, merge_stderr=merge_stderr)  # fmt: skip

    @property
    def ready(self) -> bool:
        return self.compile_result is None or self.compile_result.status is Status.OK


def compile_argv(language: Language, options: Sequence[str] = ()) -> list[str]:
    """The compile command with extra compiler options placed just before the source file, after our own
    defaults, so that a user's `-O0` or `-std=c11` wins. (It runs in the sandbox: options cannot harm the host.)"""
    assert language.compile is not None
    argv = list(language.compile)
    at = len(argv) - argv[::-1].index(language.source_name) - 1 if language.source_name in argv else len(argv)
    return argv[:at] + list(options) + argv[at:]


def prepare(sandbox: Sandbox, language: Language, source: bytes, files: Mapping[str, bytes] | None = None,
            compile_limits: Limits | None = None, compiler_options: Sequence[str] = ()) -> Program:  # fmt: skip
    """Write the source and extra files into the sandbox's read-only layer and compile once if needed."""
    for name, data in (files or {}).items():
        if name == language.source_name:
            raise ValueError(f"file name {name!r}: the source file of {language.id} is already called that")
        sandbox.add_file(name, data)
    sandbox.add_file(language.source_name, source)
    program = Program(language, sandbox)
    if language.compile is not None:
        program.compile_result = sandbox.run(compile_argv(language, compiler_options),
                                             compile_limits or language.compile_limits,
                                             env=language.env, keep_layer="build")  # fmt: skip
    return program


def execute(language: Language, source: bytes, stdin: bytes = b"", limits: Limits | None = None,
            args: Sequence[str] = (), files: Mapping[str, bytes] | None = None,
            config: Config | None = None) -> Outcome:  # fmt: skip
    """Compile and run one program in a fresh sandbox, destroyed afterwards whatever happens."""
    requested = limits or Limits()
    with sandbox_for(language, config or Config.from_env()) as sandbox:
        limits_mod.validate(requested, sandbox.config.maxima)
        program = prepare(sandbox, language, source, files)
        if not program.ready:
            return Outcome(program.compile_result, None)
        return Outcome(program.compile_result, program.run(stdin, requested, args))


def sandbox_for(language: Language, config: Config) -> Sandbox:
    """A sandbox (not created yet) whose root is the language's image: the host's runtime, or an image's layers
    with the image's environment."""
    layout, env = images.box_setup(images.store_of(config), language.image)
    return Sandbox(config, layout=layout, env=env)


def version(language: Language, config: Config | None = None) -> str:
    """The toolchain's own version: read on the host for the host's runtime, in a box for an image."""
    if language.image == images.HOST:
        return language.version
    try:
        with sandbox_for(language, config or Config.from_env()) as box:
            result = box.run(list(language.version_command), VERSION_LIMITS, env=language.env, merge_stderr=True)
    except Exception:  # noqa: BLE001 - no image, no box: the version is unknown, the self-test says why
        return "unknown"
    return language.version_in(result.output.decode(errors="replace"))


VERSION_LIMITS = Limits(cpu_time=10.0, wall_time=20.0, memory=512, processes=64)


def self_test(language: Language, config: Config | None = None) -> str | None:
    """None if the language works end to end in the sandbox, else why not."""
    missing = language.missing_toolchain() if language.image == images.HOST else []
    if missing:
        return f"toolchain missing: {', '.join(missing)}"
    try:
        outcome = execute(language, language.self_test.encode(), SELF_TEST_INPUT, config=config)
    except Exception as e:  # noqa: BLE001 - any failure means: unavailable, and why
        return f"self-test could not run: {e}"
    if outcome.status is not Status.OK:
        stage = outcome.run or outcome.compile
        detail = (stage.message + " " + stage.stderr.decode(errors="replace")[-300:]) if stage else ""
        return f"self-test {outcome.status}: {detail.strip()}"
    assert outcome.run is not None
    if outcome.run.stdout != SELF_TEST_OUTPUT:
        return f"self-test printed {outcome.run.stdout[:80]!r}, expected {SELF_TEST_OUTPUT!r}"
    return None
