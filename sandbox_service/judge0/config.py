"""The effective Judge0 configuration: Judge0 1.13.1's defaults and maxima (app/helpers/config.rb), never above
the sandbox operator's maxima (executor Config.maxima), plus what this service really does (no network, no
per-process limits, no submission delete, callbacks only to allow-listed hosts).

An operator may override a Judge0 value with the optional Django setting JUDGE0 = {"CPU_TIME_LIMIT": 2, ...} (the
names of judge0.conf); the operator's sandbox maxima still win.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from executor.config import Config
from sandbox_service.submissions import services as submission_services

VERSION = "1.13.1"

# judge0.conf of 1.13.1: name → default.
JUDGE0_DEFAULTS: dict[str, float | int] = {
    "CPU_TIME_LIMIT": 5.0, "MAX_CPU_TIME_LIMIT": 15.0,
    "CPU_EXTRA_TIME": 1.0, "MAX_CPU_EXTRA_TIME": 5.0,
    "WALL_TIME_LIMIT": 10.0, "MAX_WALL_TIME_LIMIT": 20.0,
    "MEMORY_LIMIT": 128000, "MAX_MEMORY_LIMIT": 512000,  # KB
    "STACK_LIMIT": 64000, "MAX_STACK_LIMIT": 128000,  # KB
    "MAX_PROCESSES_AND_OR_THREADS": 60, "MAX_MAX_PROCESSES_AND_OR_THREADS": 120,
    "MAX_FILE_SIZE": 1024, "MAX_MAX_FILE_SIZE": 4096,  # KB
    "NUMBER_OF_RUNS": 1, "MAX_NUMBER_OF_RUNS": 20,
    "MAX_EXTRACT_SIZE": 10240,  # KB
    "MAX_SUBMISSION_BATCH_SIZE": 20,
}  # fmt: skip
# How long POST /submissions?wait=true waits at most before answering with the submission as it is then.
DEFAULT_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Judge0Config:
    """Every key of 1.13.1's GET /config_info, in its order and with its type."""

    maintenance_mode: bool
    enable_wait_result: bool
    enable_compiler_options: bool
    allowed_languages_for_compile_options: list[str]
    enable_command_line_arguments: bool
    enable_submission_delete: bool
    enable_callbacks: bool
    callbacks_max_tries: int
    callbacks_timeout: float
    enable_additional_files: bool
    max_queue_size: int
    cpu_time_limit: float
    max_cpu_time_limit: float
    cpu_extra_time: float
    max_cpu_extra_time: float
    wall_time_limit: float
    max_wall_time_limit: float
    memory_limit: int
    max_memory_limit: int
    stack_limit: int
    max_stack_limit: int
    max_processes_and_or_threads: int
    max_max_processes_and_or_threads: int
    enable_per_process_and_thread_time_limit: bool
    allow_enable_per_process_and_thread_time_limit: bool
    enable_per_process_and_thread_memory_limit: bool
    allow_enable_per_process_and_thread_memory_limit: bool
    max_file_size: int
    max_max_file_size: int
    number_of_runs: int
    max_number_of_runs: int
    redirect_stderr_to_stdout: bool
    max_extract_size: int
    enable_batched_submissions: bool
    max_submission_batch_size: int
    submission_cache_duration: float
    use_docs_as_homepage: bool
    allow_enable_network: bool
    enable_network: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _judge0_setting(name: str) -> float | int:
    overrides = getattr(settings, "JUDGE0", None) or {}
    value = float(overrides.get(name, JUDGE0_DEFAULTS[name]))
    return int(value) if isinstance(JUDGE0_DEFAULTS[name], int) else value


def _pair(name: str, ceiling: float | int) -> tuple[float | int, float | int]:
    """(default, maximum) of a Judge0 limit: the maximum never above the operator's, the default never above it."""
    kind = type(JUDGE0_DEFAULTS[name])
    maximum = kind(min(_judge0_setting(f"MAX_{name}"), ceiling))
    return kind(min(_judge0_setting(name), maximum)), maximum


def current() -> Judge0Config:
    maxima = Config.from_env().maxima
    cpu, max_cpu = _pair("CPU_TIME_LIMIT", maxima.cpu_time)
    extra, max_extra = _pair("CPU_EXTRA_TIME", math.inf)
    wall, max_wall = _pair("WALL_TIME_LIMIT", maxima.wall_time)
    memory, max_memory = _pair("MEMORY_LIMIT", maxima.memory * 1024)
    stack, max_stack = _pair("STACK_LIMIT", maxima.stack)
    processes, max_processes = _pair("MAX_PROCESSES_AND_OR_THREADS", maxima.processes)
    file_size, max_file_size = _pair("MAX_FILE_SIZE", maxima.file_size)
    runs, max_runs = _pair("NUMBER_OF_RUNS", submission_services.MAX_RUNS)
    return Judge0Config(
        maintenance_mode=False,
        enable_wait_result=True,
        enable_compiler_options=True,
        allowed_languages_for_compile_options=[],
        enable_command_line_arguments=True,
        enable_submission_delete=False,
        enable_callbacks=bool(settings.WEBHOOK_ALLOWED_HOSTS),
        callbacks_max_tries=int(settings.WEBHOOK_MAX_ATTEMPTS),
        callbacks_timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
        enable_additional_files=True,
        max_queue_size=int(settings.SUBMISSIONS["MAX_QUEUED"]),
        cpu_time_limit=float(cpu), max_cpu_time_limit=float(max_cpu),
        cpu_extra_time=float(extra), max_cpu_extra_time=float(max_extra),
        wall_time_limit=float(wall), max_wall_time_limit=float(max_wall),
        memory_limit=int(memory), max_memory_limit=int(max_memory),
        stack_limit=int(stack), max_stack_limit=int(max_stack),
        max_processes_and_or_threads=int(processes), max_max_processes_and_or_threads=int(max_processes),
        # A box's limits are its cgroup's, for all its processes together: per-process limits do not exist here.
        enable_per_process_and_thread_time_limit=False,
        allow_enable_per_process_and_thread_time_limit=False,
        enable_per_process_and_thread_memory_limit=False,
        allow_enable_per_process_and_thread_memory_limit=False,
        max_file_size=int(file_size), max_max_file_size=int(max_file_size),
        number_of_runs=int(runs), max_number_of_runs=int(max_runs),
        redirect_stderr_to_stdout=False,
        max_extract_size=int(min(_judge0_setting("MAX_EXTRACT_SIZE"), submission_services.MAX_FILES_BYTES // 1024)),
        enable_batched_submissions=True,
        max_submission_batch_size=int(_judge0_setting("MAX_SUBMISSION_BATCH_SIZE")),
        submission_cache_duration=0.0,  # every read is the database's current row
        use_docs_as_homepage=False,
        allow_enable_network=False,  # a box has only its own loopback
        enable_network=False,
    )  # fmt: skip


def wait_seconds() -> float:
    return float(getattr(settings, "JUDGE0_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
