"""Grading: compile a submission once, run each test in a fresh box, check each output. Plain data in and out.

No database here and no models: a service builds the `GradingJob` from rows and maps the `GradeResult` back to
rows. Two kinds of failure are kept apart:

- the program failed (wrong answer, time limit, compile error, ...): a verdict, in the result;
- the sandbox failed (no free slot, a cgroup or mount error, a box that did not report): `InfrastructureError`,
  which the caller retries. It is never a student's verdict.

A problem whose own custom checker is broken is neither: retrying cannot fix it and the student is not to blame,
so it is a result with the verdict internal_error and a message saying what is wrong with the checker.
"""

from __future__ import annotations

import codecs
import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

from executor import languages, runner
from executor import limits as limits_mod
from executor.cgroups import CgroupError
from executor.config import Config
from executor.limits import Limits
from executor.result import StageResult, Status
from executor.sandbox import SandboxError
from executor.slots import NoFreeSlot
from sandbox_service.submissions import checkers
from sandbox_service.submissions.states import Verdict

BUILT_IN_CHECKERS = ("whitespace", "exact", "tokens", "float")
CUSTOM = "custom"
# A custom checker is trusted code of the problem's author, but still runs in the sandbox; these limits are generous
# so that a slow checker is not mistaken for a broken one (capped at the operator's maxima).
CHECKER_LIMITS = Limits(cpu_time=5.0, wall_time=10.0, memory=512, processes=64, output=64)
CHECKER_MESSAGE_CHARS = 1000
# What the sandbox raises when it cannot do its job (as opposed to a result saying the program failed).
SANDBOX_ERRORS: tuple[type[BaseException], ...] = (NoFreeSlot, OSError, CgroupError, SandboxError)

# Verdicts as plain strings (the values of states.Verdict): a result is plain data, whoever reads it.
ACCEPTED = str(Verdict.ACCEPTED)
WRONG_ANSWER = str(Verdict.WRONG_ANSWER)
COMPILE_ERROR = str(Verdict.COMPILE_ERROR)
RUNTIME_ERROR = str(Verdict.RUNTIME_ERROR)
TIME_LIMIT = str(Verdict.TIME_LIMIT)
MEMORY_LIMIT = str(Verdict.MEMORY_LIMIT)
OUTPUT_LIMIT = str(Verdict.OUTPUT_LIMIT)
INTERNAL_ERROR = str(Verdict.INTERNAL_ERROR)

_RUN_VERDICTS: Mapping[Status, str] = {
    Status.RUNTIME_ERROR: RUNTIME_ERROR,
    Status.SIGNALED: RUNTIME_ERROR,
    Status.TIME_LIMIT: TIME_LIMIT,
    Status.MEMORY_LIMIT: MEMORY_LIMIT,
    Status.OUTPUT_LIMIT: OUTPUT_LIMIT,
}


class InfrastructureError(Exception):
    """The sandbox failed (not the program): the caller retries; never a student's verdict."""


@dataclass(frozen=True)
class TestSpec:
    __test__ = False  # not a pytest class

    order: int  # unique within a job: it names the test in messages and its directory for a custom checker
    stdin: bytes
    expected: bytes | None  # None: nothing to compare (a scratch run without expected output): ok is accepted
    points: int = 1
    test_case_id: int | None = None


@dataclass(frozen=True)
class CheckerSpec:
    kind: str = "whitespace"  # whitespace | exact | tokens | float | custom (problems.models.Checker values)
    abs_tolerance: float = 1e-6  # float only
    rel_tolerance: float = 1e-6  # float only
    language_id: str | None = None  # custom only: an executor language id
    # custom only: run as `<run argv> t<order>/input.txt t<order>/expected.txt t<order>/output.txt` in /box;
    # exit code 0 accepts, any other rejects; its stdout (trimmed, first 1000 characters) is the checker message.
    source: str = ""


@dataclass(frozen=True)
class GradingJob:
    language_id: str
    # The declaration itself when it is not the executor's registry's (a language an admin added on an image).
    language: languages.Language | None = field(default=None, kw_only=True)
    source: bytes
    files: Mapping[str, bytes]  # extra files beside the source
    args: Sequence[str]
    limits: Limits  # run limits of each test (the language's overhead is added by the runner)
    tests: Sequence[TestSpec]
    checker: CheckerSpec = field(default_factory=CheckerSpec)
    stop_on_first_failure: bool = False
    compiler_options: Sequence[str] = ()  # extra compiler arguments (Judge0's compiler_options)
    merge_stderr: bool = False  # the program's stderr goes to its stdout (Judge0's redirect_stderr_to_stdout)
    runs: int = 1  # run each test this many times: times are averaged, memory is the peak (Judge0's number_of_runs)
    compile_limits: Limits | None = None  # None: the language's own compile limits


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False

    order: int
    test_case_id: int | None
    verdict: str  # a states.Verdict value
    points: int  # awarded: the test's points if accepted, else 0
    cpu_time: float  # seconds
    wall_time: float  # seconds
    memory: int  # peak bytes
    exit_code: int | None
    signal: int | None
    stdout: str  # an excerpt: the first excerpt_bytes bytes, decoded
    stderr: str  # an excerpt
    checker_message: str
    raw: StageResult | None = field(default=None, compare=False, repr=False)  # the run itself, bytes and all


@dataclass(frozen=True)
class GradeResult:
    verdict: str  # compile_error; else the verdict of the first test not accepted, in order; else accepted
    score: int  # the sum of awarded points
    max_score: int  # the sum of every test's points, run or not
    compile_output: str  # the compiler's stdout and stderr, an excerpt ("" for interpreted languages)
    message: str  # one line: why not accepted ("test 3: wrong answer", "compile error"); "" when accepted
    tests: list[TestOutcome]  # in order; tests not run (stopped early, compile error) have none
    cpu_time: float  # the largest of the tests
    wall_time: float
    memory: int
    compile_stage: StageResult | None = field(default=None, compare=False, repr=False)  # the compile itself


def grade(job: GradingJob, config: Config | None = None, on_progress: Callable[[int, int], None] | None = None,
          excerpt_bytes: int = 4096) -> GradeResult:  # fmt: skip
    """Compile once, run the tests in order, check each output; `on_progress(done, total)` once compiled (done 0)
    and after each test.

    Raises InfrastructureError when the sandbox fails. A job that can never be graded raises ValueError
    (LimitError for limits above the operator's maxima, an unknown checker kind, test orders not unique: all before
    any box is made; a bad file name) or UnknownLanguage for the submission's language: the caller's bug, not to
    be retried. Exceptions of on_progress (e.g. the caller lost its lease) propagate unchanged and stop grading.
    """
    config = config or Config.from_env()
    language = job.language or languages.get(job.language_id)
    _validate(job, config)
    misconfigured = _checker_misconfigured(job.checker)
    if misconfigured is not None:
        return _result(INTERNAL_ERROR, [], sum(test.points for test in job.tests), "",
                       f"checker misconfigured: {misconfigured}")  # fmt: skip
    try:
        return _grade(job, language, config, on_progress, excerpt_bytes)
    except _ProgressFailed as e:
        error = e.error  # raised below, outside this handler, so that its own chain is left as it was
    except SANDBOX_ERRORS as e:
        raise InfrastructureError(f"the sandbox failed: {type(e).__name__}: {e}") from e
    raise error


# --------------------------------------------------------------------------------------------- internals --


class _ProgressFailed(Exception):
    """Carries an exception of on_progress past the handler that turns sandbox errors into InfrastructureError."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _validate(job: GradingJob, config: Config) -> None:
    limits_mod.validate(job.limits, config.maxima)
    if job.checker.kind not in (*BUILT_IN_CHECKERS, CUSTOM):
        raise ValueError(f"unknown checker kind {job.checker.kind!r}")
    orders = [test.order for test in job.tests]
    if len(set(orders)) != len(orders):
        raise ValueError(f"test orders must be unique, got {orders}")
    if any(test.points < 0 for test in job.tests):
        raise ValueError("test points must not be negative")


def _checker_misconfigured(spec: CheckerSpec) -> str | None:
    """What is wrong with a problem's checker settings that its author can get wrong (the model allows them)."""
    if spec.kind == "float":
        for name in ("abs_tolerance", "rel_tolerance"):
            value = getattr(spec, name)
            if not math.isfinite(value) or value < 0:
                return f"{name} must be a finite number >= 0, not {value!r}"
    if spec.kind == CUSTOM:
        if not spec.language_id or not spec.source.strip():
            return "a custom checker needs a language and a source"
        if spec.language_id not in languages.REGISTRY:
            return f"{languages.UnknownLanguage(spec.language_id)}"
    return None


def _grade(job: GradingJob, language: languages.Language, config: Config,
           on_progress: Callable[[int, int], None] | None, excerpt_bytes: int) -> GradeResult:  # fmt: skip
    max_score = sum(test.points for test in job.tests)
    with contextlib.ExitStack() as stack:
        box = stack.enter_context(runner.sandbox_for(language, config))
        program = runner.prepare(box, language, job.source, job.files, compile_limits=job.compile_limits,
                                 compiler_options=job.compiler_options)
        compiled = program.compile_result
        compile_output = "" if compiled is None else excerpt(compiled.stdout + compiled.stderr, excerpt_bytes)
        if compiled is not None and compiled.status is not Status.OK:
            if compiled.status is Status.INTERNAL_ERROR:
                raise InfrastructureError(f"compile: {compiled.message}")
            why = "" if compiled.status is Status.RUNTIME_ERROR else f": {compiled.message}"
            return _result(COMPILE_ERROR, [], max_score, compile_output, f"compile error{why}", compiled)

        checker: _CustomChecker | None = None
        if job.checker.kind == CUSTOM and any(test.expected is not None for test in job.tests):
            checker_or_problem = _CustomChecker.start(job.checker, config, stack)
            if isinstance(checker_or_problem, str):
                return _result(INTERNAL_ERROR, [], max_score, compile_output, checker_or_problem, compiled)
            checker = checker_or_problem

        def progress(done: int) -> None:
            if on_progress is not None:
                try:
                    on_progress(done, len(job.tests))
                except Exception as e:
                    raise _ProgressFailed(e) from e

        progress(0)  # compiled: the tests begin
        outcomes: list[TestOutcome] = []
        failure: str | None = None  # the message of the first test not accepted
        for done, test in enumerate(job.tests, start=1):
            stage = _run_test(program, test, job)
            if stage.status is Status.INTERNAL_ERROR:
                raise InfrastructureError(f"test {test.order}: {stage.message}")
            verdict, checker_message, why = _judge(job.checker, checker, test, stage)
            outcomes.append(TestOutcome(
                order=test.order, test_case_id=test.test_case_id, verdict=verdict,
                points=test.points if verdict == ACCEPTED else 0, cpu_time=stage.cpu_time,
                wall_time=stage.wall_time, memory=stage.memory, exit_code=stage.exit_code, signal=stage.signal,
                stdout=excerpt(stage.stdout, excerpt_bytes), stderr=excerpt(stage.stderr, excerpt_bytes),
                checker_message=checker_message, raw=stage,
            ))  # fmt: skip
            progress(done)
            if verdict == INTERNAL_ERROR:
                # Only a broken custom checker gets here. Its verdicts cannot be trusted for any test, so the
                # whole grade is internal_error (even after an earlier wrong answer), and running the remaining
                # tests would only spend up to the checker's wall limit on each.
                why = f"test {test.order}: {why}"
                return _result(INTERNAL_ERROR, outcomes, max_score, compile_output, why, compiled)
            if verdict != ACCEPTED:
                failure = failure or f"test {test.order}: {why}"
                if job.stop_on_first_failure:
                    break
        first_failed = next((o.verdict for o in outcomes if o.verdict != ACCEPTED), ACCEPTED)
        return _result(first_failed, outcomes, max_score, compile_output, failure or "", compiled)
    raise AssertionError("unreachable")  # for mypy: ExitStack may swallow exceptions as far as it knows


def _run_test(program: runner.Program, test: TestSpec, job: GradingJob) -> StageResult:
    stages = [program.run(test.stdin, job.limits, job.args, merge_stderr=job.merge_stderr) for _ in range(job.runs)]
    last = stages[-1]
    if len(stages) == 1 or any(s.status is not last.status for s in stages):
        return last
    return replace(last, cpu_time=sum(s.cpu_time for s in stages) / len(stages),
                   wall_time=sum(s.wall_time for s in stages) / len(stages), memory=max(s.memory for s in stages))


def _judge(spec: CheckerSpec, custom: _CustomChecker | None, test: TestSpec,
           stage: StageResult) -> tuple[str, str, str]:  # fmt: skip
    """(verdict, checker message, why not accepted) of one finished run."""
    if stage.status is not Status.OK:
        verdict = _RUN_VERDICTS[stage.status]
        if stage.status is Status.TIME_LIMIT:
            return verdict, "", f"time limit ({stage.time_limit or 'cpu'})"
        if verdict == RUNTIME_ERROR:
            return verdict, "", f"runtime error ({stage.message})"
        return verdict, "", verdict.replace("_", " ")
    if test.expected is None:
        return ACCEPTED, "", ""
    if custom is not None:
        return custom.check(test, stage.stdout)
    result = checkers.check(spec.kind, test.expected, stage.stdout, spec.abs_tolerance, spec.rel_tolerance)
    if result.accepted:
        return ACCEPTED, result.message, ""
    return WRONG_ANSWER, result.message, "wrong answer"


def _result(verdict: str, outcomes: list[TestOutcome], max_score: int, compile_output: str,
            message: str, compile_stage: StageResult | None = None) -> GradeResult:  # fmt: skip
    return GradeResult(
        verdict=verdict,
        score=sum(o.points for o in outcomes),
        max_score=max_score,
        compile_output=compile_output,
        message=message,
        tests=outcomes,
        cpu_time=max((o.cpu_time for o in outcomes), default=0.0),
        wall_time=max((o.wall_time for o in outcomes), default=0.0),
        memory=max((o.memory for o in outcomes), default=0),
        compile_stage=compile_stage,
    )


@dataclass
class _CustomChecker:
    """The problem author's checker program, compiled once in its own sandbox and run once per test.

    Decisions, as the author's fault is neither the student's nor the infrastructure's:
    - a checker that does not compile (or, see _checker_misconfigured, has no language or source) makes the grade
      internal_error with a message saying so (not an InfrastructureError: a retry would fail the same way);
    - a checker killed by a signal or a limit makes that test, and the whole grade, internal_error with
      "checker failed: ...";
    - any non-zero exit code rejects (wrong answer). This includes an uncaught exception in a Python checker
      (exit code 1): a checker cannot be told apart from one rejecting on purpose, so authors should catch
      their own errors;
    - an internal_error of the checker's box is the sandbox failing: InfrastructureError, retried.
    """

    program: runner.Program
    limits: Limits

    @classmethod
    def start(cls, spec: CheckerSpec, config: Config, stack: contextlib.ExitStack) -> _CustomChecker | str:
        """The checker ready to run, or why it does not compile."""
        assert spec.language_id is not None  # see _checker_misconfigured
        language = languages.get(spec.language_id)
        box = stack.enter_context(runner.sandbox_for(language, config))
        program = runner.prepare(box, language, spec.source.encode())
        compiled = program.compile_result
        if compiled is not None and compiled.status is not Status.OK:
            if compiled.status is Status.INTERNAL_ERROR:
                raise InfrastructureError(f"checker compile: {compiled.message}")
            lines = [line.strip() for line in excerpt(compiled.stderr + compiled.stdout, 8192).splitlines()]
            # The first error, not gcc's "main.c: In function 'main':" that comes before it.
            first = next((line for line in lines if "error" in line.lower()), next(filter(None, lines), ""))
            return f"checker does not compile: {(first or compiled.message)[:300]}"
        maxima = config.maxima
        limits = Limits(**{f.name: min(getattr(CHECKER_LIMITS, f.name), getattr(maxima, f.name))
                           for f in fields(Limits)})  # fmt: skip
        return cls(program, limits)

    def check(self, test: TestSpec, output: bytes) -> tuple[str, str, str]:
        assert test.expected is not None
        # Sandbox.add_file writes into the read-only files layer, below every box: safe between runs. Each test has
        # its own directory because a file there cannot be replaced.
        directory = f"t{test.order}"
        box = self.program.sandbox
        box.add_file(f"{directory}/input.txt", test.stdin)
        box.add_file(f"{directory}/expected.txt", test.expected)
        box.add_file(f"{directory}/output.txt", output)
        args = [f"{directory}/input.txt", f"{directory}/expected.txt", f"{directory}/output.txt"]
        stage = self.program.run(b"", self.limits, args)
        said = excerpt(stage.stdout, 4 * CHECKER_MESSAGE_CHARS).strip()[:CHECKER_MESSAGE_CHARS]
        if stage.status is Status.OK:
            return ACCEPTED, said, ""
        # testlib's convention: 1 (wrong answer) and 2 (presentation error) reject; any other exit code or a
        # signal means the checker itself failed. (An uncaught Python exception also exits with 1: a checker
        # author should catch everything and exit 3 on a bug of their own.)
        if stage.status is Status.RUNTIME_ERROR and stage.exit_code in CHECKER_REJECT_CODES:
            said = said or f"rejected by the checker (exit code {stage.exit_code})"
            return WRONG_ANSWER, said, "wrong answer"
        if stage.status is Status.INTERNAL_ERROR:
            raise InfrastructureError(f"checker on test {test.order}: {stage.message}")
        why = f"checker failed: {stage.message or stage.status}"
        return INTERNAL_ERROR, why, why


CHECKER_REJECT_CODES = (1, 2)


def excerpt(data: bytes, limit: int) -> str:
    """The first `limit` bytes as text: invalid UTF-8 replaced, a character cut at the end dropped, and NUL
    replaced too (PostgreSQL text cannot hold it)."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data[:limit], final=len(data) <= limit)
    return text.replace("\x00", "\ufffd")
