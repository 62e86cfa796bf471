"""`python -m executor`: list languages, run a program. Exit 0 when the sandbox did its job, 2 for bad
arguments (one line on stderr), 1 for an internal error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from executor import languages, runner
from executor.config import Config
from executor.limits import LimitError, Limits
from executor.result import Status
from executor.sandbox import cleanup_leftovers


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        _usage_error(message)


def _usage_error(message: str) -> None:
    print(f"executor: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m executor", description="Run untrusted programs in hardened sandboxes.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    langs = sub.add_parser("languages", help="list languages as JSON")
    langs.add_argument("--self-test", action="store_true", help="also run each language's self-test")
    sub.add_parser("cleanup", help="remove what crashed runs left behind (run at worker start)")
    run = sub.add_parser("run", help="compile if needed and run SOURCE; print the result as JSON")
    run.add_argument("--language", required=True)
    run.add_argument("source")
    run.add_argument("--stdin", metavar="FILE")
    run.add_argument("--arg", action="append", default=[], metavar="ARG")
    run.add_argument("--file", action="append", default=[], metavar="PATH", help="extra file put beside the source")
    run.add_argument("--cpu-time", type=float, metavar="SECONDS")
    run.add_argument("--wall-time", type=float, metavar="SECONDS")
    run.add_argument("--memory", type=int, metavar="MIB")
    run.add_argument("--processes", type=int, metavar="N")
    run.add_argument("--output-limit", type=int, metavar="KIB")
    return parser


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        _usage_error(f"{what} {path}: {e.strerror}")
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
    except (ValueError, LimitError) as e:
        _usage_error(str(e))
    if args.command == "cleanup":
        print(json.dumps({"cleaned_slots": cleanup_leftovers(config)}))
        return 0
    if args.command == "languages":
        listing = []
        for lang in languages.LANGUAGES:
            entry: dict[str, object] = {"id": lang.id, "name": lang.name, "version": lang.version,
                                        "compiled": lang.compiled}  # fmt: skip
            problem = runner.self_test(lang, config) if args.self_test else None
            missing = lang.missing_toolchain()
            entry["available"] = not missing and problem is None
            if missing or problem:
                entry["error"] = problem or f"toolchain missing: {', '.join(missing)}"
            listing.append(entry)
        print(json.dumps(listing, indent=2))
        return 0
    try:
        language = languages.get(args.language)
    except languages.UnknownLanguage as e:
        _usage_error(str(e))
    source = _read(args.source, "source")
    stdin = _read(args.stdin, "stdin") if args.stdin else b""
    files = {}
    for path in args.file:
        name = os.path.basename(path)
        if name in files or name == language.source_name:
            _usage_error(f"--file {path}: a file named {name} is already in the box")
        files[name] = _read(path, "--file")
    requested = Limits().with_changes(cpu_time=args.cpu_time, wall_time=args.wall_time, memory=args.memory,
                                      processes=args.processes, output=args.output_limit)  # fmt: skip
    if language.missing_toolchain():
        _usage_error(f"language {language.id} is unavailable: missing {', '.join(language.missing_toolchain())}")
    try:
        outcome = runner.execute(language, source, stdin, requested, args.arg, files, config)
    except LimitError as e:
        _usage_error(f"limit {e}")
    except PermissionError as e:
        print(f"executor: internal error: {e} (the sandbox needs root)", file=sys.stderr)
        return 1
    print(json.dumps(outcome.to_json(), indent=2))
    return 1 if outcome.status is Status.INTERNAL_ERROR else 0
