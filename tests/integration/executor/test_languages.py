"""Every supported language compiles (where it must) and runs under the full sandbox and seccomp filter."""

from __future__ import annotations

import pytest

from executor import languages, runner
from executor.config import Config
from executor.limits import Limits
from executor.result import Status
from executor.sandbox import Sandbox


@pytest.mark.parametrize("language_id", [lang.id for lang in languages.LANGUAGES])
def test_self_test_passes_in_the_sandbox(config: Config, language_id: str) -> None:
    assert runner.self_test(languages.get(language_id), config) is None


def test_a_language_with_a_missing_toolchain_is_unavailable(config: Config) -> None:
    ghost = languages.Language(id="ghost", name="Ghost", source_name="main.g", run=("/usr/bin/ghost", "main.g"),
                               version_command=("/usr/bin/ghost", "--version"), version_pattern="(.*)",
                               toolchain=("/usr/bin/ghost",), self_test="")  # fmt: skip
    assert runner.self_test(ghost, config) == "toolchain missing: /usr/bin/ghost"
    assert ghost.version == "unknown"


def test_a_language_whose_self_test_fails_is_unavailable(config: Config) -> None:
    broken = languages.Language(id="broken", name="Broken", source_name="main.sh", run=("/usr/bin/bash", "main.sh"),
                                version_command=("/usr/bin/bash", "--version"), version_pattern="(.*)",
                                toolchain=("/usr/bin/bash",), self_test="echo wrong\n")  # fmt: skip
    problem = runner.self_test(broken, config)
    assert problem is not None and "wrong" in problem


def test_compile_once_then_many_runs_share_the_compiled_layer(config: Config) -> None:
    source = b'#include <stdio.h>\nint main(void){int x;scanf("%d",&x);printf("%d\\n",x*x);' \
             b'FILE*f=fopen("scratch","w");fputs("junk",f);fclose(f);return 0;}\n'  # fmt: skip
    with Sandbox(config) as box:
        program = runner.prepare(box, languages.get("c"), source)
        assert program.compile_result is not None and program.compile_result.status is Status.OK
        for n in (2, 3, 12):
            result = program.run(f"{n}\n".encode(), Limits())
            assert result.status is Status.OK and result.stdout == f"{n * n}\n".encode()
        listing = box.run(["ls", "/box"], Limits())  # each run's writes were thrown away
        assert listing.stdout.split() == [b"main", b"main.c"]


def test_java_gets_its_extra_memory_and_threads(config: Config) -> None:
    java = languages.get("java")
    limits = runner.run_limits(java, Limits(memory=256, processes=64), config.maxima)
    assert limits.memory == 256 + 192 and limits.processes == 64 + 32
    capped = runner.run_limits(java, Limits(memory=config.maxima.memory), config.maxima)
    assert capped.memory == config.maxima.memory


def test_an_extra_file_named_like_the_source_is_refused(config: Config) -> None:
    with pytest.raises(ValueError, match="main.py"):
        runner.execute(languages.get("python3"), b"print(1)", files={"main.py": b"print(2)"}, config=config)


def test_submitted_files_belong_to_the_box_user(config: Config) -> None:
    source = b"import os\nos.mkdir('data/new')\nopen('data/in.txt', 'a').write('more')\nprint(os.stat('data').st_uid)"
    out = runner.execute(languages.get("python3"), source, files={"data/in.txt": b"x"}, config=config)
    assert out.status is Status.OK and out.run is not None, out.to_json()
    assert out.run.stdout == b"1000\n"


def test_a_python_program_imports_its_own_modules(config: Config) -> None:
    out = runner.execute(languages.get("python3"), b"import helper\nprint(helper.twice(21))",
                         files={"helper.py": b"def twice(x):\n    return 2 * x\n"}, config=config)  # fmt: skip
    assert out.status is Status.OK and out.run is not None and out.run.stdout == b"42\n", out.to_json()
