"""Webhook payload and delivery on a real database, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User

from sandbox_service.problems.models import Problem
from sandbox_service.submissions.models import Submission, TestResult
from sandbox_service.submissions.states import Status, Verdict
from sandbox_service.webhooks import services, transport
from sandbox_service.webhooks.policy import callback_target
from sandbox_service.webhooks.services import Outcome, webhook_attempt, webhook_deliver, webhook_payload
from sandbox_service.webhooks.transport import RESPONSE_EXCERPT_BYTES
from tests.unit.sandbox_service.webhooks.conftest import SECRET, finished_submission
from tests.unit.sandbox_service.webhooks.receiver import Answer, Receiver

pytestmark = pytest.mark.django_db

NAME = "hooks.example.test"


def callback(submission: Submission) -> tuple[str, str, int]:
    row = Submission.objects.get(pk=submission.pk)
    return row.callback_status, row.callback_error, row.callback_attempts


# --- payload ------------------------------------------------------------------------------------------------------


def test_the_payload_carries_the_finished_submission_with_exact_output_bytes(languages: Any, student: User) -> None:
    problem = Problem.objects.create(title="A + B", slug="a-plus-b")
    sub = finished_submission(student, "", problem=problem, verdict=Verdict.WRONG_ANSWER, score=1, max_score=3,
                              message="test 2: wrong answer", stdout=b"caf\xc3\xa9 \xff\n", stderr=b"",
                              compile_output=b"warning\x00\xfe", exit_code=1, signal=None)  # fmt: skip
    for order, verdict, points in [(2, Verdict.WRONG_ANSWER, 0), (1, Verdict.ACCEPTED, 1)]:
        TestResult.objects.create(submission=sub, order=order, verdict=verdict, points=points, cpu_time=0.5,
                                  wall_time=0.75, memory=2048, stdout="secret excerpt")  # fmt: skip
    sub = Submission.objects.select_related("problem").get(pk=sub.pk)

    payload = json.loads(webhook_payload(sub))

    assert set(payload) == {
        "event", "token", "status", "verdict", "score", "max_score", "message", "language", "problem", "cpu_time",
        "wall_time", "memory", "exit_code", "signal", "stdout", "stdout_base64", "stderr", "stderr_base64",
        "compile_output", "compile_output_base64", "created_at", "finished_at", "results",
    }  # fmt: skip
    assert payload["event"] == "submission.finished" and payload["token"] == str(sub.token)
    assert (payload["status"], payload["verdict"], payload["score"], payload["max_score"]) == (
        "finished", "wrong_answer", 1, 3)  # fmt: skip
    assert payload["language"] == "python3" and payload["problem"] == "a-plus-b"
    assert payload["message"] == "test 2: wrong answer" and payload["exit_code"] == 1 and payload["signal"] is None
    assert (payload["cpu_time"], payload["wall_time"], payload["memory"]) == (0.01, 0.02, 4096)
    assert payload["stdout"] == "café \ufffd\n"  # invalid UTF-8 replaced in the text ...
    assert base64.b64decode(payload["stdout_base64"]) == b"caf\xc3\xa9 \xff\n"  # ... and exact in base64
    assert base64.b64decode(payload["compile_output_base64"]) == b"warning\x00\xfe"
    assert payload["stderr"] == "" and payload["stderr_base64"] == ""
    for name in ("created_at", "finished_at"):
        assert payload[name].endswith("Z") and datetime.fromisoformat(payload[name]).utcoffset().total_seconds() == 0
    assert datetime.fromisoformat(payload["finished_at"]) == sub.finished_at.astimezone(UTC)
    assert payload["results"] == [
        {"order": 1, "verdict": "accepted", "points": 1, "cpu_time": 0.5, "wall_time": 0.75, "memory": 2048},
        {"order": 2, "verdict": "wrong_answer", "points": 0, "cpu_time": 0.5, "wall_time": 0.75, "memory": 2048},
    ]  # test outputs stay out of it


def test_a_scratch_run_has_no_problem_and_no_results(languages: Any, student: User) -> None:
    payload = json.loads(webhook_payload(finished_submission(student, "")))
    assert payload["problem"] is None and payload["results"] == [] and payload["stdout"] == "hi\n"


# --- delivery -----------------------------------------------------------------------------------------------------


def test_a_2xx_answer_marks_it_delivered_and_the_request_is_signed(
    languages: Any, student: User, receiver: Receiver
) -> None:
    receiver.answers = [Answer(204)]
    sub = finished_submission(student, receiver.url("/hook?client=42"))
    before = int(time.time())

    assert webhook_deliver(sub.pk) is True

    assert callback(sub) == ("delivered", "", 1)
    (request,) = receiver.received
    assert request.method == "POST" and request.path == "/hook?client=42"
    assert request.headers["host"] == receiver.host
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-sandbox-event"] == "submission.finished"
    uuid.UUID(request.headers["x-sandbox-delivery"])
    timestamp = request.headers["x-sandbox-timestamp"]
    assert before <= int(timestamp) <= int(time.time())
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-sandbox-signature"] == f"sha256={expected}"
    assert json.loads(request.body)["token"] == str(sub.token)
    assert request.body == webhook_payload(Submission.objects.get(pk=sub.pk))


def test_an_error_answer_leaves_it_pending_with_the_reason(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(500, b"database on fire")]
    sub = finished_submission(student, receiver.url())
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    status, error, attempts = callback(sub)
    assert (status, attempts) == ("pending", 1)
    assert "HTTP 500" in error and "database on fire" in error


def test_every_attempt_of_one_event_has_the_same_delivery_id(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(503), Answer(200)]
    sub = finished_submission(student, receiver.url())
    assert [webhook_attempt(sub.pk), webhook_attempt(sub.pk)] == [Outcome.RETRY, Outcome.DELIVERED]
    ids = {r.headers["x-sandbox-delivery"] for r in receiver.received}
    assert len(receiver.received) == 2 and len(ids) == 1
    assert callback(sub) == ("delivered", "", 2)


def test_the_last_attempt_marks_it_failed_and_later_ones_do_nothing(
    languages: Any, student: User, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.default = Answer(502)
    sub = finished_submission(student, receiver.url())
    assert [webhook_attempt(sub.pk) for _ in range(3)] == [Outcome.RETRY, Outcome.FAILED, Outcome.SKIPPED]
    status, error, attempts = callback(sub)
    assert (status, attempts) == ("failed", 2) and error.startswith("attempt 2: HTTP 502")
    assert len(receiver.received) == 2


def test_a_redirect_is_not_followed(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(302, headers={"Location": receiver.url("/elsewhere")})]
    sub = finished_submission(student, receiver.url())
    assert webhook_deliver(sub.pk) is False
    assert [r.path for r in receiver.received] == ["/hook"]
    status, error, _ = callback(sub)
    assert status == "pending" and "HTTP 302" in error and "redirects are not followed" in error


def test_a_slow_receiver_times_out(languages: Any, student: User, receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answers = [Answer(200, delay=3)]
    sub = finished_submission(student, receiver.url())
    started = time.monotonic()
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert time.monotonic() - started < 2
    assert "timed out after 0.3 s" in callback(sub)[1]


def test_the_timeout_bounds_the_whole_answer_not_each_read(
    languages: Any, student: User, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.answers = [Answer(drip=4)]  # a header line every 0.1 s: no single read ever waits 0.5 s
    sub = finished_submission(student, receiver.url())
    started = time.monotonic()
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert time.monotonic() - started < 2.5
    assert "timed out after 0.5 s" in callback(sub)[1]


def test_only_the_beginning_of_an_error_body_is_read(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(500, b"x" * 5_000_000)]
    target = callback_target(receiver.url())
    assert transport.post(target, b"{}", {}, timeout=2).excerpt == b"x" * RESPONSE_EXCERPT_BYTES
    receiver.answers = [Answer(500, b"x" * 5_000_000)]
    sub = finished_submission(student, receiver.url())
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert callback(sub)[1].count("x") == services.ERROR_EXCERPT_CHARS


def test_a_connection_refused_is_retried(languages: Any, student: User, settings: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    sub = finished_submission(student, f"http://127.0.0.1:{port}/hook")
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert "ConnectionRefusedError" in callback(sub)[1]


# --- what is not sent ---------------------------------------------------------------------------------------------


def test_a_url_removed_from_the_allow_list_is_not_contacted(
    languages: Any, student: User, receiver: Receiver, settings: Any
) -> None:
    sub = finished_submission(student, receiver.url())  # allowed when it was created
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org"]
    assert webhook_attempt(sub.pk) is Outcome.FAILED  # for good, though attempts are left
    status, error, attempts = callback(sub)
    assert (status, attempts) == ("failed", 1) and "not on the operator's allow-list" in error
    assert receiver.received == []


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """NAME resolves to `answers["addresses"]`; every lookup of NAME is counted; other names resolve normally."""
    state: dict[str, Any] = {"addresses": ["127.0.0.1"], "lookups": 0}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return real(host, port, *args, **kwargs)
        state["lookups"] += 1
        if state["addresses"] is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in state["addresses"]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


def test_a_listed_name_that_resolves_to_loopback_is_refused(
    languages: Any, student: User, receiver: Receiver, settings: Any, resolver: dict[str, Any]
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = [f"{NAME}:{receiver.port}"]  # the name is listed, 127.0.0.1 is not
    sub = finished_submission(student, f"http://{NAME}:{receiver.port}/hook")
    assert webhook_attempt(sub.pk) is Outcome.FAILED
    status, error, _ = callback(sub)
    assert status == "failed" and "resolves to 127.0.0.1" in error
    assert receiver.received == []


def test_a_listed_address_is_reached_through_the_name_resolved_once(
    languages: Any, student: User, receiver: Receiver, settings: Any, resolver: dict[str, Any]
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = [f"{NAME}:{receiver.port}", receiver.host]  # the operator lists both
    sub = finished_submission(student, f"http://{NAME}:{receiver.port}/hook")
    assert webhook_deliver(sub.pk) is True
    (request,) = receiver.received
    assert request.headers["host"] == f"{NAME}:{receiver.port}"  # the name in Host, the checked address dialled
    assert resolver["lookups"] == 1  # no second lookup that a rebinding DNS server could answer differently


def test_an_unresolvable_host_is_retried(
    languages: Any, student: User, receiver: Receiver, settings: Any, resolver: dict[str, Any]
) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = [NAME]
    resolver["addresses"] = None
    sub = finished_submission(student, f"https://{NAME}/hook")
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert "could not resolve the host" in callback(sub)[1]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"callback_status": ""}, "no callback asked for"),
        ({"callback_status": "delivered"}, "already delivered"),
        ({"callback_status": "failed"}, "already given up"),
        ({"status": Status.RUNNING, "finished_at": None}, "not finished yet"),
    ],
)
def test_a_submission_without_a_pending_callback_of_a_finished_run_is_left_alone(
    languages: Any, student: User, receiver: Receiver, fields: dict[str, Any], reason: str
) -> None:
    sub = finished_submission(student, receiver.url(), **fields)
    assert webhook_attempt(sub.pk) is Outcome.SKIPPED, reason
    assert receiver.received == [] and Submission.objects.get(pk=sub.pk).callback_attempts == 0


def test_an_attempt_another_delivery_already_took_is_skipped(
    languages: Any, student: User, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = finished_submission(student, receiver.url())
    real_filter = Submission.objects.filter

    def racing_filter(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("callback_attempts") == 0:  # the claim: a duplicate task took attempt 1 just before
            Submission.objects.filter(pk=sub.pk).update(callback_attempts=1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(services.Submission.objects, "filter", racing_filter)
    assert webhook_attempt(sub.pk) is Outcome.SKIPPED
    assert receiver.received == []


# --- https --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for NAME: (certificate file, key file)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}"],
                   check=True, capture_output=True)  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[str, str], settings: Any) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with Receiver(tls=context) as server:
        settings.WEBHOOK_ALLOWED_HOSTS = [f"{NAME}:{server.port}", server.host]
        settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
        yield server


def test_https_checks_the_certificate_against_the_name_while_dialling_the_checked_address(
    languages: Any, student: User, tls_receiver: Receiver, resolver: dict[str, Any], certificate: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    sub = finished_submission(student, f"https://{NAME}:{tls_receiver.port}/hook")
    assert webhook_attempt(sub.pk) is Outcome.RETRY  # self-signed: not trusted by the system's CAs
    assert "CERTIFICATE_VERIFY_FAILED" in callback(sub)[1] and tls_receiver.received == []

    trusting = ssl.create_default_context(cafile=certificate[0])  # now the receiver's certificate is trusted
    monkeypatch.setattr(transport.ssl, "create_default_context", lambda: trusting)
    assert webhook_attempt(sub.pk) is Outcome.DELIVERED
    assert tls_receiver.server_names == [NAME, NAME]  # SNI carries the name, not the address
    assert [r.headers["host"] for r in tls_receiver.received] == [f"{NAME}:{tls_receiver.port}"]


def test_https_refuses_a_certificate_for_another_name(
    languages: Any, student: User, tls_receiver: Receiver, certificate: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    trusting = ssl.create_default_context(cafile=certificate[0])
    monkeypatch.setattr(transport.ssl, "create_default_context", lambda: trusting)
    sub = finished_submission(student, f"https://{tls_receiver.host}/hook")  # the certificate names NAME
    assert webhook_attempt(sub.pk) is Outcome.RETRY
    assert "CERTIFICATE_VERIFY_FAILED" in callback(sub)[1] and tls_receiver.received == []


def test_a_judge0_submission_gets_judge0s_callback(languages: Any, student: User, receiver: Receiver) -> None:
    receiver.answers = [Answer(200)]
    sub = finished_submission(student, receiver.url("/judge0-hook"), client_fields={"judge0": {}})
    assert webhook_deliver(sub.pk) is True
    (request,) = receiver.received
    assert request.method == "PUT"  # as Judge0's isolate job does
    body = json.loads(request.body)
    assert body["token"] == str(sub.token) and body["status"] == {"id": 3, "description": "Accepted"}
    assert body["stdout"] == "aGkK\n"  # base64 of "hi\n", with the newline of Ruby's Base64.encode64
