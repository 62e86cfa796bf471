"""Languages, statuses and the information endpoints: Judge0's shapes with our values, and the configuration
clamped to the sandbox operator's maxima."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from judge0.base_types import Config as SdkConfig
from judge0.base_types import Language as SdkLanguage
from rest_framework.test import APIClient

from executor import languages as registry
from sandbox_service.judge0 import health
from sandbox_service.judge0 import languages as judge0_languages
from sandbox_service.languages.models import Language
from sandbox_service.submissions.states import Queue
from tests.unit.sandbox_service.judge0.conftest import URL, create

pytestmark = pytest.mark.django_db

# GET /statuses of a live Judge0 1.13.1, verbatim.
JUDGE0_STATUSES = [
    {"id": 1, "description": "In Queue"}, {"id": 2, "description": "Processing"},
    {"id": 3, "description": "Accepted"}, {"id": 4, "description": "Wrong Answer"},
    {"id": 5, "description": "Time Limit Exceeded"}, {"id": 6, "description": "Compilation Error"},
    {"id": 7, "description": "Runtime Error (SIGSEGV)"}, {"id": 8, "description": "Runtime Error (SIGXFSZ)"},
    {"id": 9, "description": "Runtime Error (SIGFPE)"}, {"id": 10, "description": "Runtime Error (SIGABRT)"},
    {"id": 11, "description": "Runtime Error (NZEC)"}, {"id": 12, "description": "Runtime Error (Other)"},
    {"id": 13, "description": "Internal Error"}, {"id": 14, "description": "Exec Format Error"},
]  # fmt: skip
# GET /config_info of a live Judge0 1.13.1 (judge0.conf defaults but MAX_QUEUE_SIZE=500), verbatim.
JUDGE0_CONFIG_INFO = {
    "maintenance_mode": False, "enable_wait_result": True, "enable_compiler_options": True,
    "allowed_languages_for_compile_options": [], "enable_command_line_arguments": True,
    "enable_submission_delete": False, "enable_callbacks": True, "callbacks_max_tries": 3, "callbacks_timeout": 5.0,
    "enable_additional_files": True, "max_queue_size": 500, "cpu_time_limit": 5.0, "max_cpu_time_limit": 15.0,
    "cpu_extra_time": 1.0, "max_cpu_extra_time": 5.0, "wall_time_limit": 10.0, "max_wall_time_limit": 20.0,
    "memory_limit": 128000, "max_memory_limit": 512000, "stack_limit": 64000, "max_stack_limit": 128000,
    "max_processes_and_or_threads": 60, "max_max_processes_and_or_threads": 120,
    "enable_per_process_and_thread_time_limit": False, "allow_enable_per_process_and_thread_time_limit": True,
    "enable_per_process_and_thread_memory_limit": False, "allow_enable_per_process_and_thread_memory_limit": True,
    "max_file_size": 1024, "max_max_file_size": 4096, "number_of_runs": 1, "max_number_of_runs": 20,
    "redirect_stderr_to_stdout": False, "max_extract_size": 10240, "enable_batched_submissions": True,
    "max_submission_batch_size": 20, "submission_cache_duration": 1.0, "use_docs_as_homepage": False,
    "allow_enable_network": True, "enable_network": False,
}  # fmt: skip


def test_statuses_are_judge0s_fourteen(client: APIClient) -> None:
    assert client.get(f"{URL}/statuses").json() == JUDGE0_STATUSES


def test_languages_lists_the_usable_ones_as_id_and_name_in_judge0s_order(client: APIClient) -> None:
    response = client.get(f"{URL}/languages")
    assert response.status_code == 200
    assert response.json() == [
        {"id": 46, "name": "Bash (5.2.15)"},
        {"id": 48, "name": "C (GCC 12.2.0)"}, {"id": 49, "name": "C (GCC 12.2.0)"},
        {"id": 50, "name": "C (GCC 12.2.0)"},
        {"id": 52, "name": "C++ (GCC 12.2.0)"}, {"id": 53, "name": "C++ (GCC 12.2.0)"},
        {"id": 54, "name": "C++ (GCC 12.2.0)"},
        {"id": 63, "name": "JavaScript (Node.js 20.1.0)"},
        {"id": 71, "name": "Python (3.11.2)"},
    ]  # fmt: skip  (Java is disabled: only in /languages/all)
    assert all(SdkLanguage(**item) for item in response.json())


def test_languages_all_includes_the_disabled_ones_as_archived(client: APIClient) -> None:
    body = client.get(f"{URL}/languages/all").json()
    assert {"id": 62, "name": "Java (OpenJDK 17.0.15)", "is_archived": True} in body
    assert {"id": 71, "name": "Python (3.11.2)", "is_archived": False} in body
    assert all(list(item) == ["id", "name", "is_archived"] for item in body) and len(body) == 10


def test_an_unavailable_language_is_archived_too(client: APIClient) -> None:
    Language.objects.filter(id="bash").update(available=False)
    assert 46 not in [item["id"] for item in client.get(f"{URL}/languages").json()]
    assert client.get(f"{URL}/languages/46").json()["is_archived"] is True


def test_a_language_in_judge0s_shape_with_our_commands(client: APIClient) -> None:
    assert client.get(f"{URL}/languages/71").json() == {
        "id": 71, "name": "Python (3.11.2)", "is_archived": False, "source_file": "main.py", "compile_cmd": None,
        "run_cmd": shlex.join(registry.get("python3").run),
    }  # fmt: skip
    c = client.get(f"{URL}/languages/50").json()
    assert c["source_file"] == "main.c" and c["run_cmd"] == "./main"
    assert c["compile_cmd"].startswith("/usr/bin/gcc ") and c["compile_cmd"].endswith(" %s main.c -lm")
    SdkLanguage(**c)


@pytest.mark.parametrize("language_id", ["75", "1", "150000", "abc"])
def test_a_language_we_do_not_have_is_404(client: APIClient, language_id: str) -> None:
    response = client.get(f"{URL}/languages/{language_id}")
    assert response.status_code == 404 and response.json() == {"status": 404, "error": "Not Found"}


def test_the_collation_puts_c_and_cpp_together_as_postgresql_does() -> None:
    names = ["Clojure (1.8.0)", "C++ (GCC 7.4.0)", "C (GCC 8.3.0)", "C (GCC 7.4.0)", "C# (Mono 6.6.0.161)"]
    assert sorted(names, key=judge0_languages.collation_key) == [
        "C (GCC 7.4.0)", "C++ (GCC 7.4.0)", "C (GCC 8.3.0)", "Clojure (1.8.0)", "C# (Mono 6.6.0.161)"]  # fmt: skip


def test_about_says_the_api_version_and_version_is_plain_text(client: APIClient) -> None:
    about = client.get(f"{URL}/about").json()
    assert list(about) == ["version", "homepage", "source_code", "maintainer"] and about["version"] == "1.13.1"
    version = client.get(f"{URL}/version")
    assert version.content == b"1.13.1" and version["Content-Type"].startswith("text/plain")


def test_config_info_has_every_key_of_judge0_1_13_1_with_its_type(client: APIClient) -> None:
    body = client.get(f"{URL}/config_info").json()
    assert list(body) == list(JUDGE0_CONFIG_INFO)
    for key, value in JUDGE0_CONFIG_INFO.items():
        assert type(body[key]) is type(value), key
    SdkConfig(**body)


def test_config_info_reports_our_effective_settings(client: APIClient, settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = []
    body = client.get(f"{URL}/config_info").json()
    same = {k: v for k, v in JUDGE0_CONFIG_INFO.items() if k not in {
        "max_queue_size", "enable_callbacks", "callbacks_max_tries", "allow_enable_per_process_and_thread_time_limit",
        "allow_enable_per_process_and_thread_memory_limit", "max_extract_size", "submission_cache_duration",
        "allow_enable_network"}}  # fmt: skip
    assert {k: body[k] for k in same} == same  # Judge0's defaults and maxima, all within the sandbox's
    assert body["max_queue_size"] == settings.SUBMISSIONS["MAX_QUEUED"]
    assert body["callbacks_max_tries"] == settings.WEBHOOK_MAX_ATTEMPTS
    assert body["enable_callbacks"] is False and body["allow_enable_network"] is False
    assert body["allow_enable_per_process_and_thread_time_limit"] is False
    assert body["max_extract_size"] == 8192 and body["submission_cache_duration"] == 0.0
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    assert client.get(f"{URL}/config_info").json()["enable_callbacks"] is True


def test_config_info_never_exceeds_the_sandbox_operators_maxima(client: APIClient, monkeypatch: Any) -> None:
    monkeypatch.setenv("EXECUTOR_MAX_CPU_TIME", "3")
    monkeypatch.setenv("EXECUTOR_MAX_MEMORY", "256")
    monkeypatch.setenv("EXECUTOR_MAX_PROCESSES", "100")
    body = client.get(f"{URL}/config_info").json()
    assert (body["cpu_time_limit"], body["max_cpu_time_limit"]) == (3.0, 3.0)
    assert (body["memory_limit"], body["max_memory_limit"]) == (128000, 262144)
    assert (body["max_processes_and_or_threads"], body["max_max_processes_and_or_threads"]) == (60, 100)
    refused = create(client, {"cpu_time_limit": 4})
    assert refused.json() == {"cpu_time_limit": ["must be less than or equal to 3.0"]}


def test_system_info_is_lscpu_and_free_of_this_host(client: APIClient) -> None:
    body = client.get(f"{URL}/system_info").json()
    assert body["CPU(s)"].isdigit() and "Mem" in body and all(isinstance(v, str) for v in body.values())


def test_workers_reports_each_queue(client: APIClient, monkeypatch: Any) -> None:
    queues = {"w1@host": [{"name": "interactive"}], "w2@host": [{"name": "interactive"}, {"name": "grading"}]}
    stats = {"w1@host": {"pool": {"max-concurrency": 4}}, "w2@host": {"pool": {"max-concurrency": 2}}}
    monkeypatch.setattr(health, "_inspect", lambda: (queues, stats))
    create(client)
    assert client.get(f"{URL}/workers").json() == [
        {"queue": Queue.INTERACTIVE, "size": 1, "available": 6, "idle": 6, "working": 0, "paused": 0, "failed": 0},
        {"queue": Queue.GRADING, "size": 0, "available": 2, "idle": 2, "working": 0, "paused": 0, "failed": 0},
    ]  # fmt: skip


def test_workers_without_a_broker_reports_none_available(client: APIClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(health, "_inspect", lambda: ({}, {}))
    assert [w["available"] for w in client.get(f"{URL}/workers").json()] == [0, 0]


def test_an_operator_may_change_judge0s_defaults_within_the_sandboxs_maxima(client: APIClient, settings: Any) -> None:
    settings.JUDGE0 = {"CPU_TIME_LIMIT": "2", "MAX_MEMORY_LIMIT": 10**9, "MAX_SUBMISSION_BATCH_SIZE": 5}
    body = client.get(f"{URL}/config_info").json()
    assert body["cpu_time_limit"] == 2.0 and body["max_submission_batch_size"] == 5
    assert body["max_memory_limit"] == 2048 * 1024  # the sandbox's own maximum wins
    assert create(client).status_code == 201
