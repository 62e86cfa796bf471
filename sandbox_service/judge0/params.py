"""A Judge0 submission request: its attributes read and validated as Judge0 1.13.1 does (the `permit` list of
submissions_controller.rb, `set_defaults` and the validations of models/submission.rb, Rails' casting), then turned
into the arguments of our own `submission_create`.

Rails' ways that clients rely on are kept: a missing or null number takes the configured default; a string is
cast as Rails casts it ("12" is 12, "abc" is not a number); an array or object where a scalar belongs is dropped
(`permit` ignores it); the errors come out as {attribute: [messages]} in the order Rails adds them, with Rails'
messages ("can't be blank", "must be less than or equal to 15.0", "language with id 9 doesn't exist").
"""

from __future__ import annotations

import base64
import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandbox_service.judge0 import archive
from sandbox_service.judge0 import languages as judge0_languages
from sandbox_service.judge0.config import Judge0Config
from sandbox_service.judge0.encoding import decimal_string, ruby_base64_decode, ruby_to_i
from sandbox_service.languages.models import Language

PERMITTED = (
    "source_code", "language_id", "compiler_options", "command_line_arguments", "number_of_runs", "stdin",
    "expected_output", "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
    "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit", "max_file_size", "redirect_stderr_to_stdout", "callback_url",
    "additional_files", "enable_network",
)  # fmt: skip
BASE64_TEXT_ATTRIBUTES = ("source_code", "stdin", "expected_output")
MAX_OPTION_CHARS = 512
# Judge0 deletes these before putting compiler_options and command_line_arguments into a bash script.
_SHELL_SPECIAL = re.compile(r"[$&;<>|`]")
_NUMBER = re.compile(r"\s*[+-]?(\d[\d_]*(\.\d[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?\s*")
_FALSE_STRINGS = frozenset({"0", "f", "F", "false", "FALSE", "off", "OFF"})


class InvalidSubmission(Exception):
    """422: {attribute: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class _Errors:
    by_attribute: dict[str, list[str]] = field(default_factory=dict)

    def add(self, attribute: str, message: str) -> None:
        self.by_attribute.setdefault(attribute, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_attribute)


@dataclass(frozen=True)
class SubmissionRequest:
    """A valid Judge0 submission, in Judge0's terms (units: seconds, kilobytes)."""

    language: judge0_languages.Judge0Language
    language_row: Language
    source_code: str
    stdin: str | None
    expected_output: str | None
    compiler_options: str | None
    command_line_arguments: str | None
    number_of_runs: int
    cpu_time_limit: Decimal
    cpu_extra_time: Decimal
    wall_time_limit: Decimal
    memory_limit: int
    stack_limit: int
    max_processes_and_or_threads: int
    enable_per_process_and_thread_time_limit: bool
    enable_per_process_and_thread_memory_limit: bool
    max_file_size: int
    redirect_stderr_to_stdout: bool
    enable_network: bool
    callback_url: str | None
    additional_files: bytes | None

    def limits(self) -> dict[str, float | int]:
        """The run limits in the executor's units (memory in MiB, rounded up; KB are KiB in Judge0's usage)."""
        return {
            "cpu_time": float(self.cpu_time_limit),
            "wall_time": float(self.wall_time_limit),
            "memory": max(1, math.ceil(self.memory_limit / 1024)),
            "processes": self.max_processes_and_or_threads,
            "stack": self.stack_limit,
            "file_size": self.max_file_size,
        }

    def compiler_option_words(self) -> list[str]:
        return _words(self.compiler_options)

    def argument_words(self) -> list[str]:
        return _words(self.command_line_arguments)

    def files(self, max_bytes: int) -> list[dict[str, str]]:
        if not self.additional_files:
            return []
        return archive.unpack(self.additional_files, source_name=self.language.source_file, max_bytes=max_bytes)

    def client_fields(self) -> dict[str, Any]:
        """Judge0's attributes that the submission row has no column for, echoed back by GET."""
        return {"judge0": {
            "language_id": self.language.id,
            "stdin_null": self.stdin is None,
            "compiler_options": self.compiler_options,
            "command_line_arguments": self.command_line_arguments,
            "cpu_time_limit": decimal_string(self.cpu_time_limit),
            "cpu_extra_time": decimal_string(self.cpu_extra_time),
            "wall_time_limit": decimal_string(self.wall_time_limit),
            "memory_limit": self.memory_limit,
            "stack_limit": self.stack_limit,
            "max_processes_and_or_threads": self.max_processes_and_or_threads,
            "enable_per_process_and_thread_time_limit": self.enable_per_process_and_thread_time_limit,
            "enable_per_process_and_thread_memory_limit": self.enable_per_process_and_thread_memory_limit,
            "max_file_size": self.max_file_size,
            "enable_network": self.enable_network,
            "additional_files": None if self.additional_files is None
            else base64.b64encode(self.additional_files).decode("ascii"),
        }}  # fmt: skip


def _words(text: str | None) -> list[str]:
    """Shell words, as bash splits the line Judge0 writes into its compile and run scripts."""
    cleaned = _SHELL_SPECIAL.sub("", (text or "").strip())
    try:
        return shlex.split(cleaned)
    except ValueError:  # an unbalanced quote: bash would fail; take the words as they are
        return cleaned.split()


def _scalar(params: Mapping[str, Any], name: str) -> Any:
    """The request's value, as `permit` lets it through: arrays and objects are dropped."""
    value = params.get(name)
    return None if isinstance(value, (list, dict, tuple)) else value


def _text(value: Any) -> str | None:
    """A text/string column's cast."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _boolean(value: Any) -> bool | None:
    """ActiveModel::Type::Boolean: None and "" are nil, Rails' FALSE_VALUES are false, anything else true."""
    if value is None or value == "":
        return None
    if value is False or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return False
    if isinstance(value, str) and value in _FALSE_STRINGS:
        return False
    return True


def _number(value: Any) -> float | None:
    """What Rails' numericality validator accepts (Kernel.Float): numbers and numeric strings, not booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value.replace("_", ""))
    return None


@dataclass(frozen=True)
class _Limit:
    attribute: str
    lower: tuple[str, float | int]  # (">" or ">=", bound)
    maximum: str  # the Judge0Config field holding the maximum
    default: str  # the Judge0Config field holding the default
    integer: bool


_LIMITS = (
    _Limit("number_of_runs", (">", 0), "max_number_of_runs", "number_of_runs", True),
    _Limit("cpu_time_limit", (">=", 0), "max_cpu_time_limit", "cpu_time_limit", False),
    _Limit("cpu_extra_time", (">=", 0), "max_cpu_extra_time", "cpu_extra_time", False),
    _Limit("wall_time_limit", (">=", 1), "max_wall_time_limit", "wall_time_limit", False),
    _Limit("memory_limit", (">=", 2048), "max_memory_limit", "memory_limit", True),
    _Limit("stack_limit", (">=", 0), "max_stack_limit", "stack_limit", True),
    _Limit("max_processes_and_or_threads", (">", 0), "max_max_processes_and_or_threads",
           "max_processes_and_or_threads", True),
    _Limit("max_file_size", (">=", 0), "max_max_file_size", "max_file_size", True),
)  # fmt: skip


def _limit(params: Mapping[str, Any], limit: _Limit, config: Judge0Config, errors: _Errors) -> Decimal | int:
    raw = _scalar(params, limit.attribute)
    default = getattr(config, limit.default)
    if raw is None or raw == "":
        return int(default) if limit.integer else Decimal(str(default))
    number = _number(raw)
    if number is None:
        errors.add(limit.attribute, "is not a number")
        return int(default) if limit.integer else Decimal(str(default))
    operator, bound = limit.lower
    if (operator == ">" and not number > bound) or (operator == ">=" and not number >= bound):
        wording = "greater than" if operator == ">" else "greater than or equal to"
        errors.add(limit.attribute, f"must be {wording} {bound}")
    maximum = getattr(config, limit.maximum)
    if number > maximum:
        errors.add(limit.attribute, f"must be less than or equal to {maximum}")
    if limit.integer:
        return (ruby_to_i(raw) or 0) if isinstance(raw, str) else int(number)
    return Decimal(raw.strip().replace("_", "")) if isinstance(raw, str) else Decimal(str(raw))


def parse(params: Mapping[str, Any], *, base64_encoded: bool, config: Judge0Config) -> SubmissionRequest:
    """Validate one submission's attributes as Judge0 does; raise InvalidSubmission with Judge0's error shape."""
    errors = _Errors()
    texts: dict[str, str | None] = {}
    undecodable: list[str] = []
    for name in BASE64_TEXT_ATTRIBUTES:
        value = _text(_scalar(params, name))
        if base64_encoded and value is not None:
            try:
                value = ruby_base64_decode(value).decode("utf-8")
            except UnicodeDecodeError:
                undecodable.append(name)
                value = ""
        texts[name] = value
    raw_files = _text(_scalar(params, "additional_files"))
    additional_files = ruby_base64_decode(raw_files) if raw_files else None
    compiler_options = _text(_scalar(params, "compiler_options"))
    command_line_arguments = _text(_scalar(params, "command_line_arguments"))
    callback_url = _text(_scalar(params, "callback_url"))
    language_id = ruby_to_i(_scalar(params, "language_id"))
    booleans = {name: _boolean(_scalar(params, name)) for name in (
        "enable_per_process_and_thread_time_limit", "enable_per_process_and_thread_memory_limit",
        "redirect_stderr_to_stdout", "enable_network")}  # fmt: skip

    # The model's validations, in their order.
    source_code = texts["source_code"]
    if (source_code is None or not source_code.strip()) and "source_code" not in undecodable:
        errors.add("source_code", "can't be blank")
    if language_id is None:
        errors.add("language_id", "can't be blank")
    values = {limit.attribute: _limit(params, limit, config, errors) for limit in _LIMITS}
    for name, allowed in (("enable_per_process_and_thread_time_limit",
                           config.allow_enable_per_process_and_thread_time_limit),
                          ("enable_per_process_and_thread_memory_limit",
                           config.allow_enable_per_process_and_thread_memory_limit)):  # fmt: skip
        if booleans[name] is None:
            booleans[name] = getattr(config, name)
        if booleans[name] and not allowed:
            errors.add(name, "this option cannot be enabled")
    for name, value in (("compiler_options", compiler_options), ("command_line_arguments", command_line_arguments)):
        if value is not None and len(value) > MAX_OPTION_CHARS:
            errors.add(name, f"is too long (maximum is {MAX_OPTION_CHARS} characters)")
    resolved = judge0_languages.resolve(language_id) if language_id is not None else None
    if resolved is None:
        errors.add("language_id", f"language with id {'' if language_id is None else language_id} doesn't exist")
    elif not resolved[1].usable:
        errors.add("language_id", f"language with id {language_id} is archived and cannot be used anymore")
    if compiler_options and compiler_options.strip():
        if not config.enable_compiler_options:
            errors.add("compiler_options", "setting compiler options is not allowed")
        elif resolved is not None and resolved[0].compile_cmd is None:
            errors.add("compiler_options", "setting compiler options is only allowed for compiled languages")
    if command_line_arguments and command_line_arguments.strip() and not config.enable_command_line_arguments:
        errors.add("command_line_arguments", "setting command line arguments is not allowed")
    if callback_url and callback_url.strip() and not config.enable_callbacks:
        errors.add("callback_url", "setting callback is not allowed")
    if additional_files and not config.enable_additional_files:
        errors.add("additional_files", "setting additional files is not allowed")
    if booleans["redirect_stderr_to_stdout"] is None:
        booleans["redirect_stderr_to_stdout"] = config.redirect_stderr_to_stdout
    if booleans["enable_network"] is None:
        booleans["enable_network"] = config.enable_network
    if booleans["enable_network"] and not config.allow_enable_network:
        errors.add("enable_network", "enabling network is not allowed")
    # Ours: this service keeps source, stdin and expected output as text (Judge0 keeps bytes).
    for name in undecodable:
        errors.add(name, "must be valid UTF-8 once Base64-decoded (send binary data in additional_files)")
    if errors or resolved is None or source_code is None:
        raise InvalidSubmission(errors.by_attribute)
    return SubmissionRequest(
        language=resolved[0], language_row=resolved[1], source_code=source_code, stdin=texts["stdin"],
        expected_output=texts["expected_output"], compiler_options=compiler_options,
        command_line_arguments=command_line_arguments, number_of_runs=int(values["number_of_runs"]),
        cpu_time_limit=Decimal(values["cpu_time_limit"]), cpu_extra_time=Decimal(values["cpu_extra_time"]),
        wall_time_limit=Decimal(values["wall_time_limit"]), memory_limit=int(values["memory_limit"]),
        stack_limit=int(values["stack_limit"]),
        max_processes_and_or_threads=int(values["max_processes_and_or_threads"]),
        enable_per_process_and_thread_time_limit=bool(booleans["enable_per_process_and_thread_time_limit"]),
        enable_per_process_and_thread_memory_limit=bool(booleans["enable_per_process_and_thread_memory_limit"]),
        max_file_size=int(values["max_file_size"]),
        redirect_stderr_to_stdout=bool(booleans["redirect_stderr_to_stdout"]),
        enable_network=bool(booleans["enable_network"]), callback_url=callback_url or None,
        additional_files=additional_files or None,
    )  # fmt: skip
