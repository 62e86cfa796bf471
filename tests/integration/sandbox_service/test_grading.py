"""Grading on the real sandbox: verdicts, scores, checkers, compiling once, and sandbox failures kept apart from
verdicts. No database: grading takes and returns plain data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from executor import result as result_mod
from executor import slots
from executor.cgroups import CgroupError
from executor.config import Config
from executor.limits import LimitError, Limits
from executor.sandbox import Sandbox
from sandbox_service.submissions.grading import (
    CheckerSpec,
    GradingJob,
    InfrastructureError,
    TestSpec,
    grade,
)
from sandbox_service.submissions.states import Verdict
from tests.conftest import quick

pytestmark = pytest.mark.root

SUM = {  # reads two integers, prints their sum
    "python3": "a, b = map(int, input().split())\nprint(a + b)\n",
    "c": '#include <stdio.h>\nint main(void){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);return 0;}\n',
    "cpp": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
    "java": "import java.util.*;\npublic class Main{public static void main(String[] x){"
    "Scanner s=new Scanner(System.in);System.out.println(s.nextLong()+s.nextLong());}}\n",
    "javascript": "const [a,b]=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/).map(Number);"
    "console.log(a+b);\n",
    "bash": "read -r a b\necho $((a + b))\n",
}


def sums(*pairs: tuple[int, int], points: Sequence[int] | None = None) -> list[TestSpec]:
    return [TestSpec(order=i, stdin=f"{a} {b}\n".encode(), expected=f"{a + b}\n".encode(),
                     points=1 if points is None else points[i - 1], test_case_id=100 + i)
            for i, (a, b) in enumerate(pairs, start=1)]  # fmt: skip


def job(language: str, source: str, tests: Sequence[TestSpec], limits: Limits | None = None,
        **changes: Any) -> GradingJob:  # fmt: skip
    return GradingJob(language_id=language, source=source.encode(), files=changes.pop("files", {}),
                      args=changes.pop("args", []), limits=limits or quick(), tests=tests, **changes)  # fmt: skip


def one_test(expected: bytes | None = b"", stdin: bytes = b"") -> list[TestSpec]:
    return [TestSpec(order=1, stdin=stdin, expected=expected)]


@pytest.fixture
def count_runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts Sandbox.run calls: compiles (they keep a layer) and the rest."""
    counts = {"compile": 0, "run": 0}
    original = Sandbox.run

    def counting(self: Sandbox, *args: Any, **kwargs: Any) -> result_mod.StageResult:
        counts["compile" if kwargs.get("keep_layer") is not None else "run"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Sandbox, "run", counting)
    return counts


# ------------------------------------------------------------------------------------------------- accepted --


@pytest.mark.parametrize("language", list(SUM))
def test_a_correct_program_is_accepted_in_every_language(config: Config, language: str) -> None:
    # Java is slow to start: one test for it, two for the others.
    tests = sums((2, 3)) if language == "java" else sums((2, 3), (-7, 100), points=[2, 3])
    limits = quick(cpu_time=3.0, wall_time=6.0) if language == "java" else quick()
    result = grade(job(language, SUM[language], tests, limits), config)
    assert result.verdict == Verdict.ACCEPTED and result.message == ""
    assert result.score == result.max_score == sum(t.points for t in tests)
    assert [(t.order, t.test_case_id, t.verdict, t.points) for t in result.tests] == \
        [(t.order, t.test_case_id, "accepted", t.points) for t in tests]  # fmt: skip
    assert result.tests[0].stdout == "5\n" and result.tests[0].exit_code == 0 and result.tests[0].signal is None


def test_results_are_plain_data_with_figures_that_are_the_maxima_over_tests(config: Config) -> None:
    source = "import sys\nn = int(input())\nx = bytearray(n * 1024 * 1024)\nprint(n)\n"
    tests = [TestSpec(order=i, stdin=f"{n}\n".encode(), expected=f"{n}\n".encode()) for i, n in enumerate([1, 40, 2])]
    result = grade(job("python3", source, tests), config)
    assert result.verdict == "accepted" and type(result.verdict) is str and type(result.tests[0].verdict) is str
    assert result.memory == max(t.memory for t in result.tests) == result.tests[1].memory >= 40 * 1024 * 1024
    assert result.cpu_time == max(t.cpu_time for t in result.tests) > 0
    assert result.wall_time == max(t.wall_time for t in result.tests) > 0


def test_extra_files_and_arguments_reach_the_program(config: Config) -> None:
    source = "import sys\nprint(open('data/words.txt').read().split()[int(input())], *sys.argv[1:])\n"
    result = grade(job("python3", source, one_test(b"beta --flag x y\n", b"1\n"),
                       files={"data/words.txt": b"alpha beta gamma"}, args=["--flag", "x y"]), config)  # fmt: skip
    assert result.verdict == "accepted", result


def test_a_scratch_run_without_expected_output_is_accepted_when_it_runs(config: Config) -> None:
    result = grade(job("bash", "cat; echo done >&2", one_test(expected=None, stdin=b"echo me\n")), config)
    assert result.verdict == "accepted" and result.tests[0].stdout == "echo me\n"
    assert result.tests[0].stderr == "done\n" and result.tests[0].checker_message == ""


def test_output_excerpts_are_cut_at_excerpt_bytes_without_half_characters(config: Config) -> None:
    source = "printf 'h\\xc3\\xa9llo \\xff\\x00!'; printf 'err%.0s' {1..1000} >&2"
    result = grade(job("bash", source, one_test(expected=None)), config, excerpt_bytes=2)
    assert result.tests[0].stdout == "h"  # "é" is two bytes: the first alone is dropped, not replaced
    assert result.tests[0].stderr == "er"
    whole = grade(job("bash", source, one_test(expected=None)), config)
    assert whole.tests[0].stdout == "h\u00e9llo \ufffd\ufffd!"  # invalid UTF-8 and NUL (PostgreSQL) replaced
    assert whole.tests[0].stderr == "err" * 1000


def test_on_progress_is_called_once_compiled_and_after_each_test(config: Config) -> None:
    calls: list[tuple[int, int]] = []
    result = grade(job("bash", "read -r a b; echo $((a+b))", sums((1, 1), (2, 2), (3, 3), (4, 4))), config,
                   on_progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert result.verdict == "accepted"
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_an_exception_of_on_progress_stops_grading_and_propagates_unchanged(
        config: Config, count_runs: dict[str, int]) -> None:  # fmt: skip
    class LeaseLost(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise LeaseLost("someone else has it")

    with pytest.raises(LeaseLost, match="someone else has it"):
        grade(job("bash", "echo 2", sums((1, 1), (1, 1), (1, 1))), config, on_progress=progress)
    assert count_runs["run"] == 2

    def oserror(done: int, total: int) -> None:
        raise ConnectionResetError("the database went away")

    # An OSError of the caller's is not mistaken for the sandbox failing.
    with pytest.raises(ConnectionResetError):
        grade(job("bash", "echo 2", sums((1, 1))), config, on_progress=oserror)


# ----------------------------------------------------------------------------------------- failed verdicts --


def test_wrong_answer_names_the_test_and_the_checker_says_where(config: Config) -> None:
    source = "read -r a b\nif [ $a = 3 ]; then echo 7; else echo $((a+b)); fi\n"
    result = grade(job("bash", source, sums((1, 1), (3, 3), (5, 5))), config)
    assert result.verdict == "wrong_answer" and result.message == "test 2: wrong answer"
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer", "accepted"]
    assert result.tests[1].checker_message == "line 1: expected '6', got '7'"
    assert result.tests[1].stdout == "7\n" and result.tests[1].points == 0
    assert (result.score, result.max_score) == (2, 3)


def test_compile_error_keeps_the_compilers_line_number_and_runs_nothing(
        config: Config, count_runs: dict[str, int]) -> None:  # fmt: skip
    source = "#include <stdio.h>\nint main(void){\n    int x = undeclared_thing;\n    return x;\n}\n"
    result = grade(job("c", source, sums((1, 1), (2, 2), points=[3, 4])), config)
    assert result.verdict == "compile_error" and result.message == "compile error"
    assert "main.c:3:" in result.compile_output and "undeclared_thing" in result.compile_output
    assert result.tests == [] and (result.score, result.max_score) == (0, 7)
    assert count_runs == {"compile": 1, "run": 0}


def test_a_warning_is_compile_output_of_an_accepted_program(config: Config) -> None:
    source = '#include <stdio.h>\nint main(void){int unused;puts("2");return 0;}\n'
    result = grade(job("c", source, sums((1, 1))), config)
    assert result.verdict == "accepted" and "unused" in result.compile_output


def test_a_nonzero_exit_is_a_runtime_error_with_its_stderr(config: Config) -> None:
    result = grade(job("python3", "a, b = map(int, input().split())\nprint(a // b)\n", sums((6, 0))), config)
    assert result.verdict == "runtime_error" and result.message == "test 1: runtime error (exited with code 1)"
    outcome = result.tests[0]
    assert outcome.exit_code == 1 and "ZeroDivisionError" in outcome.stderr and outcome.checker_message == ""


def test_a_crash_by_signal_is_a_runtime_error(config: Config) -> None:
    source = "#include <stdio.h>\nint main(void){volatile int *p = 0; *p = 42; puts(\"2\"); return 0;}\n"
    result = grade(job("c", source, sums((1, 1))), config)
    assert result.verdict == "runtime_error"
    assert result.tests[0].signal == 11 and result.tests[0].exit_code is None
    assert result.message == "test 1: runtime error (killed by signal 11 (SIGSEGV))"


def test_cpu_burn_is_a_time_limit_naming_cpu(config: Config) -> None:
    source = "int main(void){for(volatile unsigned long i=0;;i++);}\n"
    result = grade(job("c", source, sums((1, 1)), quick(cpu_time=0.3, wall_time=3)), config)
    assert result.verdict == "time_limit" and result.message == "test 1: time limit (cpu)"
    assert 0.3 <= result.tests[0].cpu_time < 1.0


def test_sleeping_is_a_time_limit_naming_wall(config: Config) -> None:
    result = grade(job("bash", "sleep 10", sums((1, 1)), quick(wall_time=0.3)), config)
    assert result.verdict == "time_limit" and result.message == "test 1: time limit (wall)"


def test_too_much_memory_is_a_memory_limit(config: Config) -> None:
    source = "x = bytearray(300 * 1024 * 1024)\nprint(2)\n"
    result = grade(job("python3", source, sums((1, 1)), quick(memory=64)), config)
    assert result.verdict == "memory_limit" and result.message == "test 1: memory limit"
    assert result.tests[0].stdout == ""


def test_too_much_output_is_an_output_limit(config: Config) -> None:
    source = "while True:\n    print('spam' * 100)\n"
    result = grade(job("python3", source, sums((1, 1)), quick(output=16)), config, excerpt_bytes=100)
    assert result.verdict == "output_limit" and result.message == "test 1: output limit"
    assert len(result.tests[0].stdout) == 100


# ---------------------------------------------------------------------------------- stopping and scoring --

# Tests 1..5 worth 1..5 points: test 2 gets a wrong answer, test 4 a runtime error.
SCORED_SOURCE = "read -r a b\ncase $a in 2) echo wrong;; 4) exit 3;; *) echo $((a+b));; esac\n"
SCORED_TESTS = sums((1, 0), (2, 0), (3, 0), (4, 0), (5, 0), points=[1, 2, 3, 4, 5])


def test_all_tests_run_by_default_and_the_first_failure_is_the_verdict(config: Config) -> None:
    result = grade(job("bash", SCORED_SOURCE, SCORED_TESTS), config)
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer", "accepted", "runtime_error", "accepted"]
    assert [t.points for t in result.tests] == [1, 0, 3, 0, 5]
    assert (result.verdict, result.score, result.max_score) == ("wrong_answer", 9, 15)
    assert result.message == "test 2: wrong answer"


def test_stop_on_first_failure_leaves_the_rest_without_an_outcome(config: Config) -> None:
    calls: list[tuple[int, int]] = []
    result = grade(job("bash", SCORED_SOURCE, SCORED_TESTS, stop_on_first_failure=True), config,
                   on_progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer"]
    assert (result.verdict, result.score, result.max_score) == ("wrong_answer", 1, 15)
    assert calls == [(0, 5), (1, 5), (2, 5)]


def test_a_job_without_tests_is_accepted_with_nothing_to_score(config: Config) -> None:
    result = grade(job("c", SUM["c"], []), config)
    assert (result.verdict, result.score, result.max_score, result.tests) == ("accepted", 0, 0, [])


# -------------------------------------------------------------------------------------------- the checkers --


@pytest.mark.parametrize(("kind", "printed", "expected", "accepted"), [
    ("whitespace", "1 2   \\n\\n\\n", b"1 2\n", True),
    ("whitespace", "1  2\\n", b"1 2\n", False),
    ("exact", "1 2\\n", b"1 2\n", True),
    ("exact", "1 2", b"1 2\n", False),
    ("tokens", "1\\n\\n2", b"1 2\n", True),
    ("tokens", "1 2 3", b"1 2\n", False),
    ("float", "0.3333334 2e3\\n", b"0.333333 2000\n", True),
    ("float", "0.3334 2e3\\n", b"0.333333 2000\n", False),
])  # fmt: skip
def test_each_checker_kind_end_to_end(config: Config, kind: str, printed: str, expected: bytes,
                                      accepted: bool) -> None:  # fmt: skip
    tests = [TestSpec(order=1, stdin=b"", expected=expected)]
    result = grade(job("bash", f"printf '{printed}'", tests, checker=CheckerSpec(kind=kind)), config)
    assert result.verdict == ("accepted" if accepted else "wrong_answer")
    assert bool(result.tests[0].checker_message) is not accepted


def test_float_tolerances_come_from_the_checker_spec(config: Config) -> None:
    tests = [TestSpec(order=1, stdin=b"", expected=b"3.14159\n")]
    loose = CheckerSpec(kind="float", abs_tolerance=0.01, rel_tolerance=0)
    assert grade(job("bash", "echo 3.14", tests, checker=loose), config).verdict == "accepted"
    strict = CheckerSpec(kind="float", abs_tolerance=0.001, rel_tolerance=0)
    result = grade(job("bash", "echo 3.14", tests, checker=strict), config)
    assert result.verdict == "wrong_answer"
    assert result.tests[0].checker_message == "token 1: expected '3.14159', got '3.14' (off by 0.00159)"


# Any square root of the input within 1e-3 is right, whatever the expected file says: a custom checker's job.
ROOT_CHECKER = """\
import sys
inp, exp, out = (open(p).read() for p in sys.argv[1:4])
n, x = float(inp), float(out)
if abs(x * x - n) <= 1e-3:
    print("ok: %g is a square root of %g" % (x, n))
    sys.exit(0)
print("%g squared is %g, not %g" % (x, x * x, n))
sys.exit(1)
"""
ROOT_PROGRAM = "import math\nn = float(input())\nprint(-math.sqrt(n) if n == 4 else round(math.sqrt(n), 1) + 0.05)\n"


def test_a_custom_checker_accepts_within_its_tolerance_and_rejects_with_its_message(config: Config) -> None:
    tests = [TestSpec(order=i, stdin=f"{n}\n".encode(), expected=f"{n ** 0.5}\n".encode())
             for i, n in [(1, 4), (2, 9), (3, 2.25)]]  # fmt: skip
    checker = CheckerSpec(kind="custom", language_id="python3", source=ROOT_CHECKER)
    result = grade(job("python3", ROOT_PROGRAM, tests, checker=checker), config)
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer", "wrong_answer"]
    assert result.tests[0].checker_message == "ok: -2 is a square root of 4"  # -2 is not the expected 2.0
    assert result.tests[1].checker_message == "3.05 squared is 9.3025, not 9"
    assert result.verdict == "wrong_answer" and result.message == "test 2: wrong answer"


def test_a_custom_checker_sees_each_tests_files_in_its_own_directory(config: Config) -> None:
    checker_source = 'echo "$@"; cat "$1" "$2" "$3" | tr "\\n" " "; [ "$(cat "$2")" = "$(cat "$3")" ]'
    tests = [TestSpec(order=7, stdin=b"in7\n", expected=b"out\n"), TestSpec(order=9, stdin=b"in9\n", expected=b"no\n")]
    checker = CheckerSpec(kind="custom", language_id="bash", source=checker_source)
    result = grade(job("bash", "echo out", tests, checker=checker), config)
    assert result.tests[0].checker_message == "t7/input.txt t7/expected.txt t7/output.txt\nin7 out out"
    assert result.tests[1].checker_message == "t9/input.txt t9/expected.txt t9/output.txt\nin9 no out"
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer"]


def test_a_silent_rejection_says_the_checkers_exit_code(config: Config) -> None:
    checker = CheckerSpec(kind="custom", language_id="bash", source="exit 2")  # testlib: presentation error
    result = grade(job("bash", "echo 2", sums((1, 1)), checker=checker), config)
    assert result.verdict == "wrong_answer"
    assert result.tests[0].checker_message == "rejected by the checker (exit code 2)"


def test_a_checker_exit_code_other_than_0_1_2_is_a_failure_of_the_checker(config: Config) -> None:
    checker = CheckerSpec(kind="custom", language_id="bash", source="exit 3")
    result = grade(job("bash", "echo 2", sums((1, 1)), checker=checker), config)
    assert result.verdict == "internal_error"
    assert result.tests[0].checker_message == "checker failed: exited with code 3"


def test_a_crashing_checker_is_an_internal_error_of_the_problem_not_the_sandbox(config: Config) -> None:
    checker = CheckerSpec(kind="custom", language_id="bash", source="kill -SEGV $$")
    result = grade(job("bash", "echo 2", sums((1, 1), (1, 1), (1, 1)), checker=checker), config)
    assert result.verdict == "internal_error"
    assert result.message == "test 1: checker failed: killed by signal 11 (SIGSEGV)"
    assert len(result.tests) == 1  # no point in running a checker known to be broken on the other tests
    assert result.tests[0].verdict == "internal_error" and result.tests[0].points == 0
    assert result.tests[0].checker_message == "checker failed: killed by signal 11 (SIGSEGV)"


def test_a_checker_that_fails_after_a_wrong_answer_still_makes_the_grade_an_internal_error(config: Config) -> None:
    checker = CheckerSpec(kind="custom", language_id="bash", source='grep -q 1 "$1" && exit 1; kill -KILL $$')
    result = grade(job("bash", "echo 2", sums((1, 1), (2, 2)), checker=checker), config)
    assert [t.verdict for t in result.tests] == ["wrong_answer", "internal_error"]
    assert result.verdict == "internal_error"
    assert result.message.startswith("test 2: checker failed: killed by signal 9")


def test_a_checker_that_does_not_compile_is_an_internal_error_and_the_program_is_not_run(
        config: Config, count_runs: dict[str, int]) -> None:  # fmt: skip
    checker = CheckerSpec(kind="custom", language_id="c", source="int main(void) { return oops; }\n")
    result = grade(job("bash", "echo 2", sums((1, 1)), checker=checker), config)
    assert result.verdict == "internal_error" and result.tests == []
    assert result.message.startswith("checker does not compile: main.c:") and "oops" in result.message
    assert "\n" not in result.message and result.compile_output == ""  # compile_output is the submission's
    assert count_runs == {"compile": 1, "run": 0}


@pytest.mark.parametrize(("checker", "why"), [
    (CheckerSpec(kind="custom", language_id=None, source="exit 0"), "a custom checker needs a language and a source"),
    (CheckerSpec(kind="custom", language_id="bash", source="  \n"), "a custom checker needs a language and a source"),
    (CheckerSpec(kind="custom", language_id="cobol", source="exit 0"), "unknown language 'cobol'; known: python3, "),
    (CheckerSpec(kind="float", abs_tolerance=-0.1), "abs_tolerance must be a finite number >= 0, not -0.1"),
    (CheckerSpec(kind="float", rel_tolerance=float("nan")), "rel_tolerance must be a finite number >= 0, not nan"),
])  # fmt: skip
def test_a_misconfigured_checker_is_an_internal_error_found_before_any_run(
        config: Config, count_runs: dict[str, int], checker: CheckerSpec, why: str) -> None:  # fmt: skip
    result = grade(job("bash", "echo 2", sums((1, 1), points=[4]), checker=checker), config)
    assert result.verdict == "internal_error" and result.message.startswith(f"checker misconfigured: {why}")
    assert result.tests == [] and (result.score, result.max_score) == (0, 4)
    assert count_runs == {"compile": 0, "run": 0}


def test_no_custom_checker_is_needed_without_expected_output(config: Config, count_runs: dict[str, int]) -> None:
    checker = CheckerSpec(kind="custom", language_id="c", source="does not even compile")
    result = grade(job("bash", "echo hi", one_test(expected=None), checker=checker), config)
    assert result.verdict == "accepted" and count_runs == {"compile": 0, "run": 1}


# ----------------------------------------------------------------------------------------- compiling once --


def test_a_compiled_language_is_compiled_once_for_many_tests(config: Config, count_runs: dict[str, int]) -> None:
    pairs = [(i, i * i) for i in range(10)]
    result = grade(job("c", SUM["c"], sums(*pairs)), config)
    assert result.verdict == "accepted" and len(result.tests) == 10
    assert count_runs == {"compile": 1, "run": 10}


def test_a_compiled_checker_is_compiled_once_too(config: Config, count_runs: dict[str, int]) -> None:
    checker_source = ('#include <stdio.h>\n#include <string.h>\nint main(int c,char**v){char a[64]={0},b[64]={0};'
                      'FILE*e=fopen(v[2],"r"),*o=fopen(v[3],"r");fgets(a,64,e);fgets(b,64,o);'
                      'return strcmp(a,b)!=0;}\n')  # fmt: skip
    checker = CheckerSpec(kind="custom", language_id="c", source=checker_source)
    result = grade(job("c", SUM["c"], sums((1, 2), (3, 4), (5, 6), (7, 8)), checker=checker), config)
    assert result.verdict == "accepted"
    assert count_runs == {"compile": 2, "run": 8}  # one compile each; each test: the program, then the checker


# ------------------------------------------------------------------------------------ when the sandbox fails --


def test_no_free_slot_is_an_infrastructure_error(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy(*args: Any, **kwargs: Any) -> slots.Slot:
        raise slots.NoFreeSlot("all 16 sandbox slots are busy")

    monkeypatch.setattr(slots, "acquire", busy)
    with pytest.raises(InfrastructureError, match="NoFreeSlot: all 16 sandbox slots are busy") as caught:
        grade(job("bash", "echo 2", sums((1, 1))), config)
    assert isinstance(caught.value.__cause__, slots.NoFreeSlot)


def fail_on_run(monkeypatch: pytest.MonkeyPatch, number: int,
                fail: Callable[[], result_mod.StageResult]) -> list[str]:  # fmt: skip
    """Make the `number`-th Sandbox.run call fail (1-based); record creates and destroys."""
    events: list[str] = []
    original_run, original_create, original_destroy = Sandbox.run, Sandbox.create, Sandbox.destroy

    def run(self: Sandbox, *args: Any, **kwargs: Any) -> result_mod.StageResult:
        events.append("run")
        if events.count("run") == number:
            return fail()
        return original_run(self, *args, **kwargs)

    def create(self: Sandbox) -> Sandbox:
        events.append("create")
        return original_create(self)

    def destroy(self: Sandbox) -> None:
        if self.slot is not None:
            events.append("destroy")
        original_destroy(self)

    monkeypatch.setattr(Sandbox, "run", run)
    monkeypatch.setattr(Sandbox, "create", create)
    monkeypatch.setattr(Sandbox, "destroy", destroy)
    return events


def test_an_internal_error_of_a_run_is_an_infrastructure_error_never_a_verdict(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    events = fail_on_run(monkeypatch, 2, lambda: result_mod.internal_error("the box did not report"))
    with pytest.raises(InfrastructureError, match="test 2: the box did not report"):
        grade(job("bash", "echo 2", sums((1, 1), (1, 1), (1, 1))), config)
    assert events == ["create", "run", "run", "destroy"]


def test_an_internal_error_of_the_compile_is_an_infrastructure_error(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    fail_on_run(monkeypatch, 1, lambda: result_mod.internal_error("mount failed"))
    with pytest.raises(InfrastructureError, match="compile: mount failed"):
        grade(job("c", SUM["c"], sums((1, 1))), config)


def test_a_sandbox_exception_mid_grading_is_an_infrastructure_error_and_both_boxes_are_destroyed(
        config: Config, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def boom() -> result_mod.StageResult:
        raise CgroupError("cannot write memory.max")

    events = fail_on_run(monkeypatch, 4, boom)  # program, checker, program, then the checker's run fails
    checker = CheckerSpec(kind="custom", language_id="bash", source="exit 0")
    with pytest.raises(InfrastructureError, match="CgroupError: cannot write memory.max") as caught:
        grade(job("bash", "echo 2", sums((1, 1), (1, 1), (1, 1)), checker=checker), config)
    assert isinstance(caught.value.__cause__, CgroupError)
    assert events.count("create") == events.count("destroy") == 2


def test_a_job_that_can_never_be_graded_raises_before_any_sandbox_is_made(
        config: Config, count_runs: dict[str, int]) -> None:  # fmt: skip
    duplicate = [TestSpec(order=1, stdin=b"", expected=b""), TestSpec(order=1, stdin=b"", expected=b"")]
    with pytest.raises(ValueError, match="test orders must be unique"):
        grade(job("bash", "echo", duplicate), config)
    with pytest.raises(LimitError, match="memory"):
        grade(job("bash", "echo", sums((1, 1)), Limits(memory=10**6)), config)
    with pytest.raises(ValueError, match="unknown checker kind"):
        grade(job("bash", "echo", sums((1, 1)), checker=CheckerSpec(kind="fuzzy")), config)
    assert count_runs == {"compile": 0, "run": 0}

