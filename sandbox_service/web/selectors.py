"""What the student's pages show of a submission, as plain data for the templates (one rendering path: the page
renders it, and the live view asks for the same fragment again as it changes).

What a student may see of a test depends on the test: a visible example shows its input, the expected and the
actual output side by side; a hidden test shows only its verdict, time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from sandbox_service.submissions import feedback, selectors
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Stage, Status, Verdict

SHOWN_INPUT_CHARS = 4000  # of a visible test's input


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool  # differs from the other side


@dataclass(frozen=True)
class DiffLine:
    tag: str  # equal | changed | missing | extra
    expected_line: int | None
    expected: list[Segment]
    actual_line: int | None
    actual: list[Segment]


@dataclass(frozen=True)
class TestView:
    __test__ = False

    order: int
    name: str
    verdict: str
    verdict_label: str
    accepted: bool
    points: int
    cpu_ms: int
    memory_kib: int
    visible: bool
    input: str = ""
    actual: str = ""
    stderr: str = ""
    checker_message: str = ""
    diff: list[DiffLine] = field(default_factory=list)
    diff_truncated: bool = False


@dataclass(frozen=True)
class SubmissionView:
    submission: Submission
    kind: str  # "submission" (graded), "examples" (a Run of the examples), "run" (a run of its own input)
    key: str  # changes whenever what is shown changes
    finished: bool
    status_text: str
    queue_position: int | None
    verdict: str
    verdict_label: str
    accepted: bool
    compile_output: str
    diagnostics: list[feedback.Diagnostic]
    tests: list[TestView]
    stdout: str = ""
    stderr: str = ""

    def diagnostics_json(self) -> list[dict[str, Any]]:
        return feedback.diagnostics_to_json(self.diagnostics)


def kind_of(submission: Submission) -> str:
    if submission.problem_id is None:
        return "run"
    return "examples" if submission.examples_only else "submission"


def view_key(submission: Submission) -> str:
    position = selectors.queue_position(submission)
    return selectors.progress_key(submission) + ("" if position is None else f".{position}")


def status_text(submission: Submission, position: int | None) -> str:
    if submission.status == Status.QUEUED:
        return f"In the queue: position {position}" if position else "In the queue"
    if submission.status == Status.RUNNING:
        if submission.stage == Stage.COMPILING:
            return "Compiling"
        if submission.problem_id is None:
            return "Running"
        current = min(submission.tests_done + 1, max(submission.tests_total, 1))
        return f"Running test {current} of {submission.tests_total}"
    return "Finished"


def submission_view(submission: Submission) -> SubmissionView:
    position = selectors.queue_position(submission)
    finished = submission.status == Status.FINISHED
    verdict = submission.verdict if finished else ""
    source_name = _source_name(submission)
    compile_output = Submission.text(submission.compile_output) if finished else ""
    tests = _tests(submission) if finished and submission.problem_id is not None else []
    stdout = Submission.text(submission.stdout) if finished and submission.problem_id is None else ""
    stderr = Submission.text(submission.stderr) if finished and submission.problem_id is None else ""
    diagnostics: list[feedback.Diagnostic] = []
    if verdict == Verdict.COMPILE_ERROR:
        diagnostics = feedback.diagnostics(compile_output, source_name)
    elif verdict == Verdict.RUNTIME_ERROR:
        shown_stderr = stderr or next((t.stderr for t in tests if t.visible and not t.accepted), "")
        diagnostics = feedback.diagnostics(shown_stderr, source_name)
    return SubmissionView(
        submission=submission, kind=kind_of(submission), key=view_key(submission), finished=finished,
        status_text=status_text(submission, position), queue_position=position, verdict=verdict,
        verdict_label=Verdict(verdict).label if verdict else "", accepted=verdict == Verdict.ACCEPTED,
        compile_output=compile_output, diagnostics=diagnostics, tests=tests, stdout=stdout, stderr=stderr,
    )  # fmt: skip


def _source_name(submission: Submission) -> str:
    try:
        return selectors.executor_language(submission.language_id).source_name
    except KeyError:  # a language the executor no longer has: no positions to find
        return ""


def _tests(submission: Submission) -> list[TestView]:
    results = TestResult.objects.filter(submission=submission).select_related("test_case").order_by("order")
    return [_test_view(result, submission.examples_only) for result in results]


def _test_view(result: TestResult, examples_only: bool) -> TestView:
    case = result.test_case
    visible = case is not None and (case.visible or examples_only)
    accepted = result.verdict == Verdict.ACCEPTED
    common = {
        "order": result.order, "name": case.name if case is not None else "", "verdict": result.verdict,
        "verdict_label": Verdict(result.verdict).label, "accepted": accepted, "points": result.points,
        "cpu_ms": round(result.cpu_time * 1000), "memory_kib": result.memory // 1024, "visible": visible,
    }  # fmt: skip
    if not visible or case is None:
        return TestView(**common)
    diff: list[DiffLine] = []
    truncated = False
    if result.verdict == Verdict.WRONG_ANSWER:
        # The actual output is an excerpt (its first OUTPUT_EXCERPT_BYTES): compare the same much of the expected.
        limit = int(settings.SUBMISSIONS["OUTPUT_EXCERPT_BYTES"])
        compared = feedback.side_by_side(case.expected_output[:limit], result.stdout)
        diff = [_diff_line(row) for row in compared.rows]
        truncated = compared.truncated or len(case.expected_output) > limit
    return TestView(**common, input=case.stdin[:SHOWN_INPUT_CHARS], actual=result.stdout, stderr=result.stderr,
                    checker_message=result.checker_message, diff=diff, diff_truncated=truncated)  # fmt: skip


def _diff_line(row: feedback.DiffRow) -> DiffLine:
    return DiffLine(tag=row.tag, expected_line=row.expected_line, actual_line=row.actual_line,
                    expected=_segments(row.expected, row.expected_marks, row.tag in ("changed", "missing")),
                    actual=_segments(row.actual, row.actual_marks, row.tag in ("changed", "extra")))  # fmt: skip


def _segments(text: str | None, marks: list[tuple[int, int]], differs: bool) -> list[Segment]:
    """A line cut into marked and unmarked pieces; a whole line is marked when it has no counterpart."""
    if text is None:
        return []
    if not differs:
        return [Segment(text, False)]
    if not marks:
        return [Segment(text, True)]
    pieces, at = [], 0
    for start, end in sorted(marks):
        if start > at:
            pieces.append(Segment(text[at:start], False))
        pieces.append(Segment(text[start:end], True))
        at = max(at, end)
    if at < len(text):
        pieces.append(Segment(text[at:], False))
    return pieces
