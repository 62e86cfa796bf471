"""The results as a Markdown table, printed and written with a description of the machine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Row


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit in ("ms", "/s"):
        return f"{value:.1f} {unit}"
    return f"{value:.3f} {unit}"


def table(rows: list[Row]) -> str:
    lines = ["| section | measured | ours (median) | baseline | baseline (median) | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for row in rows:
        ratio = "–" if row.ratio is None else f"{row.ratio:.2f}"
        met = "–" if row.met is None else ("yes" if row.met else "**no**")
        note = f" ({row.note})" if row.note else ""
        lines.append(f"| {row.section} | {row.what}{note} | {_number(row.ours, row.unit)} | {row.baseline_name} | "
                     f"{_number(row.baseline, row.unit)} | {ratio} | {row.target} | {met} |")  # fmt: skip
    return "\n".join(lines)


def write(path: str, rows: list[Row], machine: dict[str, str], took: float) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    described = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    Path(path).write_text(f"""# Benchmark results

Written by `make bench` on {when}; every figure was measured next to its baseline in the same run
({took:.0f} s in all). Medians unless the row says otherwise; a ratio is ours ÷ the baseline.

## Machine
{described}

## Results
{table(rows)}

## How each is measured
- **sandbox:** `Sandbox(config)` created, `/bin/true` run with the default limits (every namespace, seccomp,
  cgroup limits, the overlay root), destroyed — from a warm Python process. bwrap and runc are timed as whole
  processes (`subprocess.run`), as a user of them would run them; the bare baseline is `subprocess.run(["/bin/true"])`.
  The contenders take turns (one run of each per round), so that the machine drifting weighs on all alike. Each
  worker process keeps one box prepared (`EXECUTOR_POOL=1`, the default): a run takes the prepared box and the
  next one is made while it runs, as in the service.
- **cpu:** the same `gcc -O2` binary (a xorshift loop of about one second) run outside and inside a box.
- **grading:** a problem of N tests graded by the service's grading code (compile once, a fresh box per test,
  checker): (time for N tests − time for 1 test) ÷ (N − 1), against 1.5 × the sandbox overhead plus the program's
  own time run bare.
- **end to end:** the service as `make run` starts it (gunicorn, one Celery worker per queue, Redis, SQLite), a
  `POST /api/v1/submissions/?wait=true` of `print(1)` in Python, one after another, taking turns with the bare run.
- **throughput:** the same service, a burst of POSTs from 16 client threads, timed until every submission has
  finished; the bare limit is as many `python3 -c 'print(1)'` processes run with one thread per core.
""")
