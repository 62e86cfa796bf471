"""`make bench` (python -m benchmarks): every benchmark next to its baseline, in one run; prints the table and
writes benchmarks/RESULTS.md. `--quick` runs fewer iterations (a smoke run, not figures to quote); `--quick` and
`--only` runs print their table without writing RESULTS.md."""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox_service.settings")

import django  # noqa: E402 - the grading benchmark uses the service's grading code (no database)

django.setup()

from benchmarks import report, sandbox_bench, service_bench  # noqa: E402
from benchmarks.common import VAR, Row, machine  # noqa: E402

SECTIONS = ("sandbox", "cpu", "grading", "end-to-end", "throughput")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations: check that everything runs")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--output", default="benchmarks/RESULTS.md", help="where to write the results")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks: the sandbox needs root", file=sys.stderr)
        return 2
    VAR.mkdir(parents=True, exist_ok=True)
    only = set(args.only or SECTIONS)
    quick = args.quick
    started = time.monotonic()
    rows: list[Row] = []
    if "sandbox" in only:
        rows += sandbox_bench.overhead(runs=30 if quick else 300)
    if "cpu" in only:
        rows += sandbox_bench.cpu(runs=2 if quick else 7)
    if "grading" in only:
        rows += sandbox_bench.grading(tests=10 if quick else 50, repeats=1 if quick else 3)
    if only & {"end-to-end", "throughput"}:
        with service_bench.stack() as stack:
            if "end-to-end" in only:
                rows += service_bench.end_to_end(stack, runs=20 if quick else 200)
            if "throughput" in only:
                rows += service_bench.throughput(stack, count=50 if quick else 500)
    took = time.monotonic() - started
    text = report.table(rows)
    print(text)
    print(f"\n(all benchmarks: {took:.0f} s)")
    if not quick and not args.only:  # RESULTS.md holds whole runs only
        report.write(args.output, rows, machine(), took)
        print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
