"""The submission services on a real database: validation, backpressure, the state machine, recovery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from executor.result import StageResult
from executor.result import Status as RunStatus
from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem, TestCase
from sandbox_service.submissions import selectors, services
from sandbox_service.submissions.grading import GradeResult, TestOutcome
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import ALLOWED, IllegalTransition, Status, Verdict, transition

pytestmark = pytest.mark.django_db


def make(owner: User, **kwargs: Any) -> Submission:
    return services.submission_create(owner=owner, language_id=kwargs.pop("language_id", "python3"),
                                      source=kwargs.pop("source", "print(1)"), **kwargs)  # fmt: skip


def outcome(order: int, verdict: str = Verdict.ACCEPTED, points: int = 1) -> TestOutcome:
    raw = StageResult(RunStatus.OK, 0, None, b"out", b"", False, False, 0.01, 0.02, 1000, output=b"out")
    return TestOutcome(order=order, test_case_id=None, verdict=verdict, points=points, cpu_time=0.01,
                       wall_time=0.02, memory=1000, exit_code=0, signal=None, stdout="out", stderr="",
                       checker_message="", raw=raw)  # fmt: skip


def grade_result(*tests: TestOutcome) -> GradeResult:
    return GradeResult(verdict=Verdict.ACCEPTED, score=sum(t.points for t in tests), max_score=len(tests),
                       compile_output="", message="", tests=list(tests), cpu_time=0.01, wall_time=0.02,
                       memory=1000)  # fmt: skip


def test_the_transition_table_refuses_what_it_does_not_list(languages: Any, student: User) -> None:
    sub = make(student)
    assert Status.FINISHED not in ALLOWED[Status.FINISHED]
    with pytest.raises(IllegalTransition):
        transition(Submission.objects.all(), sub.pk, Status.FINISHED, Status.RUNNING)


def test_a_created_submission_is_queued_and_enqueued_on_commit(
    languages: Any, student: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        sub = make(student, stdin="5\n", limits={"memory": 128})
    assert len(callbacks) == 2  # logged as created, then sent, only once the row is committed
    sub.refresh_from_db()
    assert sub.status == Status.QUEUED and sub.queued_at is not None and sub.limits["memory"] == 128
    assert sub.limits["cpu_time"] == Language.objects.get(pk="python3").cpu_time


def test_a_duplicate_delivery_changes_nothing(languages: Any, student: User) -> None:
    sub = make(student)
    first = services.submission_start(sub.pk, "w1")
    assert first is not None and first.attempts == 1 and first.worker == "w1"
    assert services.submission_start(sub.pk, "w2") is None
    sub.refresh_from_db()
    assert sub.attempts == 1 and sub.worker == "w1" and sub.status == Status.RUNNING


def test_only_the_current_attempt_may_record_a_result(languages: Any, student: User) -> None:
    sub = make(student)
    assert services.submission_start(sub.pk, "w1") is not None
    Submission.objects.filter(pk=sub.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.submissions_recover_stuck().taken_back == 1  # w1 stopped answering
    again = services.submission_start(sub.pk, "w2")
    assert again is not None and again.attempts == 2
    assert not services.submission_record_result(sub.pk, 1, grade_result(outcome(1)), scratch=False)  # stale w1
    assert services.submission_record_result(sub.pk, 2, grade_result(outcome(1), outcome(2)), scratch=False)
    assert not services.submission_record_result(sub.pk, 2, grade_result(outcome(1)), scratch=False)  # twice
    sub.refresh_from_db()
    assert sub.status == Status.FINISHED and sub.verdict == Verdict.ACCEPTED and sub.score == 2
    assert TestResult.objects.filter(submission=sub).count() == 2


def test_a_scratch_run_keeps_its_output_on_the_submission(languages: Any, student: User) -> None:
    sub = make(student)
    services.submission_start(sub.pk, "w1")
    assert services.submission_record_result(sub.pk, 1, grade_result(outcome(1)), scratch=True)
    sub.refresh_from_db()
    assert bytes(sub.stdout) == b"out" and bytes(sub.output) == b"out" and sub.exit_code == 0
    assert not TestResult.objects.filter(submission=sub).exists()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"language_id": "cobol"}, "language"),
    ({"language_id": "java"}, "language"),  # unavailable: its self-test failed
    ({"limits": {"memory": 10**7}}, "limits.memory"),
    ({"limits": {"colour": 3}}, "limits.colour"),
    ({"files": [{"name": "../x", "content": ""}]}, "files[0].name"),
    ({"files": [{"name": "main.py", "content": ""}]}, "files[0].name"),
    ({"files": [{"name": "a.bin", "content": "***", "encoding": "base64"}]}, "files[0].content"),
    ({"files": [{"name": "a", "content": "", "encoding": "rot13"}]}, "files[0].encoding"),
    ({"args": ["a"] * 100}, "args"),
])  # fmt: skip
def test_bad_input_is_refused_naming_the_field(languages: Any, student: User, kwargs: dict[str, Any],
                                               field: str) -> None:  # fmt: skip
    with pytest.raises(services.SubmissionError) as error:
        make(student, **kwargs)
    assert error.value.field == field
    assert not Submission.objects.exists()


def test_a_disabled_language_and_a_language_the_problem_does_not_allow_are_refused(
    languages: Any, student: User
) -> None:
    Language.objects.filter(pk="bash").update(enabled=False)
    with pytest.raises(services.SubmissionError, match="disabled"):
        make(student, language_id="bash")
    problem = Problem.objects.create(title="P", slug="p", published=True)
    problem.allowed_languages.add(Language.objects.get(pk="c"))
    with pytest.raises(services.SubmissionError, match="not allowed"):
        make(student, problem=problem)


def test_a_full_queue_refuses_new_submissions_and_keeps_the_accepted_ones(
    languages: Any, student: User, other_student: User, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "MAX_QUEUED": 3}
    accepted = [make(student), make(student), make(other_student)]
    with pytest.raises(services.QueueFull) as error:
        make(other_student)
    assert error.value.retry_after > 0
    assert set(Submission.objects.values_list("pk", flat=True)) == {s.pk for s in accepted}


def test_a_user_over_the_rate_limit_is_refused_others_are_not(
    languages: Any, student: User, other_student: User, settings: Any
) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 2}
    make(student)
    make(student)
    with pytest.raises(services.RateLimited) as error:
        make(student)
    assert 1 <= error.value.retry_after <= 61
    make(other_student)
    assert Submission.objects.count() == 3


def test_recovery_takes_back_expired_leases_and_fails_after_too_many(languages: Any, student: User) -> None:
    sub = make(student)
    max_attempts = services._conf("MAX_ATTEMPTS")
    for attempt in range(1, max_attempts + 1):
        assert services.submission_start(sub.pk, f"w{attempt}") is not None
        Submission.objects.filter(pk=sub.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        recovery = services.submissions_recover_stuck()
        sub.refresh_from_db()
        if attempt < max_attempts:
            assert recovery.taken_back == 1 and sub.status == Status.QUEUED and sub.failures == attempt
        else:
            assert recovery.failed == 1 and sub.status == Status.FINISHED
            assert sub.verdict == Verdict.INTERNAL_ERROR and "stopped answering" in sub.message


def test_recovery_resends_submissions_queued_for_too_long(languages: Any, student: User) -> None:
    old = make(student)
    fresh = make(student)
    Submission.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    assert services.submissions_recover_stuck().resent == 1
    old.refresh_from_db()
    assert old.status == Status.QUEUED and old.queued_at > timezone.now() - timedelta(minutes=1)
    assert Submission.objects.get(pk=fresh.pk).status == Status.QUEUED


def test_rejudge_requeues_on_the_grading_queue_and_replaces_results(languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="P", slug="p", published=True)
    TestCase.objects.create(problem=problem, order=1, expected_output="1\n")
    sub = make(student, problem=problem)
    services.submission_start(sub.pk, "w1")
    services.submission_record_result(sub.pk, 1, grade_result(outcome(1, Verdict.WRONG_ANSWER, 0)), scratch=False)
    assert services.problem_rejudge(problem) == 1
    sub.refresh_from_db()
    assert sub.status == Status.QUEUED and sub.queue == "grading" and sub.failures == 0
    again = services.submission_start(sub.pk, "w2")
    assert again is not None and again.attempts == 2  # attempts never go down: the old worker stays fenced off
    services.submission_record_result(sub.pk, 2, grade_result(outcome(1)), scratch=False)
    assert list(TestResult.objects.filter(submission=sub).values_list("verdict", flat=True)) == ["accepted"]


def test_compile_limits_may_only_be_lowered(languages: Any, student: User) -> None:
    with pytest.raises(services.SubmissionError) as error:
        make(student, language_id="c", source="int main(){}", compile_limits={"memory": 10**6})
    assert error.value.field == "compile_limits.memory"
    with pytest.raises(services.SubmissionError, match="only cpu_time"):
        make(student, language_id="c", source="int main(){}", compile_limits={"processes": 1})
    sub = make(student, language_id="c", source="int main(){}", compile_limits={"wall_time": 2.5})
    job, _ = selectors.grading_job_for(sub)
    assert job.compile_limits is not None and job.compile_limits.wall_time == 2.5
    assert job.compile_limits.memory == selectors.executor_language("c").compile_limits.memory


def test_staff_are_not_rate_limited_students_are(languages: Any, student: User, settings: Any) -> None:
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_MINUTE": 1}
    grader = User.objects.create_user("g", password="pw-grader-1", is_staff=True)
    for _ in range(3):
        make(grader)  # a grader's batch of a class's programs
    make(student)
    with pytest.raises(services.RateLimited):
        make(student)


def test_a_language_row_the_sandbox_does_not_know_is_refused(languages: Any, student: User) -> None:
    Language.objects.create(id="cobol", name="COBOL", available=True)
    with pytest.raises(services.SubmissionError, match="not a language of this sandbox"):
        make(student, language_id="cobol")


# --- what a student watching a submission sees: stage, progress, queue position, Runs ---------------------------


def test_a_started_submission_is_compiling_then_testing_then_finished_without_a_stage(
        languages: Any, student: User) -> None:  # fmt: skip
    sub = make(student)
    started = services.submission_start(sub.pk, "w1")
    assert started is not None and started.stage == "compiling"
    assert services.submission_renew_lease(sub.pk, 1, 0)  # compiled: the tests begin
    sub.refresh_from_db()
    assert (sub.stage, sub.tests_done) == ("testing", 0)
    assert services.submission_renew_lease(sub.pk, 1, 1)
    sub.refresh_from_db()
    assert (sub.stage, sub.tests_done) == ("testing", 1)
    assert not services.submission_renew_lease(sub.pk, 2, 1)  # another attempt's progress is not this one's
    services.submission_record_result(sub.pk, 1, grade_result(outcome(1)), scratch=True)
    sub.refresh_from_db()
    assert sub.status == Status.FINISHED and sub.stage == ""


def test_progress_wakes_up_whoever_watches_once_committed(languages: Any, student: User, monkeypatch: Any,
                                                         django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    from sandbox_service.submissions import waiting

    noticed: list[int] = []
    monkeypatch.setattr(waiting, "notify", lambda submission_id, what=b"progress": noticed.append(submission_id))
    sub = make(student)
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_start(sub.pk, "w1")
        services.submission_renew_lease(sub.pk, 1, 0)
    assert noticed == [sub.pk, sub.pk]


def test_a_requeued_submission_loses_its_stage(languages: Any, student: User) -> None:
    sub = make(student)
    services.submission_start(sub.pk, "w1")
    assert services.submission_requeue(sub.pk, 1, "sandbox failed")
    sub.refresh_from_db()
    assert sub.status == Status.QUEUED and sub.stage == ""


def test_the_queue_position_counts_who_is_ahead_in_the_same_queue(languages: Any, student: User) -> None:
    first, second, third = make(student), make(student), make(student)
    bulk = make(student, queue="grading")
    assert [selectors.queue_position(s) for s in (first, second, third, bulk)] == [1, 2, 3, 1]
    services.submission_start(first.pk, "w1")
    first.refresh_from_db()
    assert selectors.queue_position(first) is None and selectors.queue_position(third) == 2


def test_a_run_of_the_examples_has_only_the_visible_tests_and_no_score(languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="P", slug="p", published=True)
    TestCase.objects.create(problem=problem, order=1, stdin="1", expected_output="1", visible=True)
    TestCase.objects.create(problem=problem, order=2, stdin="2", expected_output="2")
    run = services.submission_run_create(owner=student, language_id="python3", source="x", problem=problem,
                                         stdin=None)  # fmt: skip
    assert run.examples_only and run.tests_total == 1
    job, scratch = selectors.grading_job_for(run)
    assert not scratch and [t.stdin for t in job.tests] == [b"1"]
    graded = make(student, problem=problem)
    assert len(selectors.grading_job_for(graded)[0].tests) == 2


def test_a_run_of_own_input_takes_the_problems_limits(languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="P", slug="p", published=True, cpu_time=0.5, memory=64)
    run = services.submission_run_create(owner=student, language_id="python3", source="x", problem=problem,
                                         stdin="7\n")  # fmt: skip
    assert run.problem is None and run.stdin == "7\n"
    assert (run.limits["cpu_time"], run.limits["memory"]) == (0.5, 64)


def test_a_run_of_the_examples_needs_a_problem_with_examples(languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="P", slug="p", published=True)
    TestCase.objects.create(problem=problem, order=1, stdin="1", expected_output="1")
    with pytest.raises(services.SubmissionError) as e:
        services.submission_run_create(owner=student, language_id="python3", source="x", problem=problem, stdin=None)
    assert e.value.field == "examples"
    with pytest.raises(services.SubmissionError) as e:
        services.submission_run_create(owner=student, language_id="python3", source="x", problem=None, stdin=None)
    assert e.value.field == "stdin"
