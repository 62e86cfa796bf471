"""The command-line contract used by acceptance checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from executor.config import Config

ROOT = Path(__file__).resolve().parents[3]
STAGE_KEYS = {"status", "exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
              "cpu_time", "wall_time", "memory"}  # fmt: skip


def cli(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXECUTOR_STATE_DIR": config.state_dir, "EXECUTOR_CGROUP_PARENT": config.cgroup_parent,
           "EXECUTOR_SLOTS": str(config.slots), "PYTHONPATH": str(ROOT)}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "executor", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=False)  # fmt: skip


def test_languages_lists_id_name_version_compiled(config: Config) -> None:
    result = cli(config, "languages")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    ids = {entry["id"] for entry in listing}
    assert {"python3", "c", "cpp", "java", "javascript", "bash"} <= ids
    for entry in listing:
        assert {"id", "name", "version", "compiled"} <= set(entry)
        assert entry["version"] != "unknown", entry
    assert {e["id"]: e["compiled"] for e in listing}["c"] is True


def test_run_hello_prints_the_result_object(config: Config, tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("import sys\nprint('hello', sys.argv[1:], input())\n")
    (tmp_path / "in.txt").write_text("from stdin\n")
    result = cli(config, "run", "--language", "python3", str(tmp_path / "hello.py"), "--stdin",
                 str(tmp_path / "in.txt"), "--arg", "a b", "--arg", "c")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "ok" and out["compile"] is None
    assert STAGE_KEYS <= set(out["run"])
    assert out["run"]["stdout"] == "hello ['a b', 'c'] from stdin\n"


def test_run_compiled_reports_both_stages_and_extra_files(config: Config, tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text('#include <stdio.h>\nint main(void){FILE*f=fopen("data.txt","r");'
                                     'int x;fscanf(f,"%d",&x);printf("%d\\n",x*2);return 0;}\n')  # fmt: skip
    (tmp_path / "data.txt").write_text("21\n")
    result = cli(config, "run", "--language", "c", str(tmp_path / "main.c"), "--file", str(tmp_path / "data.txt"))
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["status"] == "ok"
    assert STAGE_KEYS <= set(out["compile"]) and out["compile"]["status"] == "ok"
    assert out["run"]["stdout"] == "42\n"


def test_program_failure_still_exits_zero(config: Config, tmp_path: Path) -> None:
    (tmp_path / "bad.c").write_text("int main(void){ return nope; }\n")
    result = cli(config, "run", "--language", "c", str(tmp_path / "bad.c"))
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert out["status"] == "compile_error" and out["run"] is None


def test_bad_arguments_exit_two_with_one_line(config: Config, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print(1)\n")
    cases = [
        ("run", "--language", "cobol", str(tmp_path / "a.py")),
        ("run", "--language", "python3", str(tmp_path / "missing.py")),
        ("run", "--language", "python3", str(tmp_path / "a.py"), "--memory", "999999"),
        ("run", "--language", "python3", str(tmp_path / "a.py"), "--cpu-time", "-1"),
        ("run", "--language", "python3", str(tmp_path / "a.py"), "--stdin", str(tmp_path / "nope")),
        ("run", "--language", "python3", str(tmp_path / "a.py"), "--processes", "many"),
        ("frobnicate",),
    ]
    for args in cases:
        result = cli(config, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    assert "memory" in cli(config, *cases[2]).stderr
