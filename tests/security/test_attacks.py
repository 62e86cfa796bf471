"""The attack suite: every file in cases/ is one hostile program, run through the real sandbox.

A case says what the program must observe (`[expect]`, checked against the Outcome) and what must not happen to
the host (`[must_not]`). The host-side invariants are cheap and a regression can show up in any case, so the
runner checks all of them after every case; a case's `[must_not]` table names the ones it attacks and may add
host files to watch. See README.md for the format.

Host bait set up once per session: a sentinel file in a host directory, TCP, Unix and abstract-Unix listeners,
sentinel processes (one as root, one per slot as the very host uid a box user gets), inheritable host fds, and
secrets in the environment of the process that calls `execute` (set per case, as the service would hold them).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from executor import languages
from executor.config import Config
from executor.limits import Limits
from executor.namespaces import BOX_UID, ID_RANGE
from executor.result import Outcome, StageResult, Status
from executor.runner import execute
from tests.conftest import host_processes_with_uids

CASES_DIR = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.toml"))
REPO = Path(__file__).resolve().parents[2]

# Its own uid range (above the default configuration's 64 slots), so that its bait processes and boxes never mix
# with those of other tests on the same host.
SECTEST_CONFIG = Config(state_dir="/run/executor-sectest", cgroup_parent="executor-sectest", slots=8,
                        id_base=100000 + 64 * ID_RANGE)  # fmt: skip
# Every uid any box of this configuration can have.
BOX_UIDS = range(SECTEST_CONFIG.id_base, SECTEST_CONFIG.id_base + SECTEST_CONFIG.slots * ID_RANGE)

# Host files every case is checked against, whatever it declares.
ALWAYS_WATCHED = (
    "@SENTINEL@", "/etc/passwd", "/etc/shadow", "/etc/hostname", "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/core_pattern",
)  # fmt: skip

TOP_KEYS = {"description", "language", "source", "stdin", "args", "files", "limits", "expect", "must_not", "peer"}
EXPECT_KEYS = {
    "status", "time_limit", "signal", "exit_code", "stdout_contains", "output_contains", "output_not_contains",
    "max_wall_seconds", "min_cpu_time", "raises",
}  # fmt: skip
MUST_NOT_KEYS = {
    "leak_secrets", "leave_processes", "change_host_files", "reach_host_listener", "kill_host_processes",
    "change_hostname",
}  # fmt: skip
PEER_KEYS = {"language", "source", "stdin", "args", "limits", "expect"}
LIMIT_KEYS = {f.name for f in dataclasses.fields(Limits)}


# ------------------------------------------------------------------------------------------- the case format --


class CaseError(ValueError):
    """A case file does not follow the format (a typo must not silently disable a check)."""


@dataclasses.dataclass(frozen=True)
class Program:
    language: str
    source: str
    stdin: str
    args: list[str]
    limits: dict[str, Any]
    files: dict[str, str]
    expect: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    description: str
    main: Program
    peer: Program | None
    must_not: dict[str, Any]


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def _check_expect_types(expect: Mapping[str, Any], where: str) -> None:
    for key, value in expect.items():
        if key.endswith("contains") and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise CaseError(f"{where}: `{key}` must be a list of strings")
    status = expect.get("status", [])
    for value in [status] if isinstance(status, str) else status:
        if value not in {str(s) for s in Status}:
            raise CaseError(f"{where}: unknown status {value!r}")


def load_case(path: Path) -> Case:
    with path.open("rb") as f:
        data = tomllib.load(f)
    _only(data, TOP_KEYS, path.name)
    for key in ("description", "language", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise CaseError(f"{path.name}: `{key}` must be a non-empty string")
    expect = data.get("expect", {})
    must_not = data.get("must_not", {})
    _only(expect, EXPECT_KEYS, f"{path.name} [expect]")
    _check_expect_types(expect, f"{path.name} [expect]")
    _only(must_not, MUST_NOT_KEYS, f"{path.name} [must_not]")
    _only(data.get("limits", {}), LIMIT_KEYS, f"{path.name} [limits]")
    main = Program(data["language"], data["source"], data.get("stdin", ""), list(data.get("args", [])),
                   dict(data.get("limits", {})), dict(data.get("files", {})), expect)  # fmt: skip
    peer = None
    if "peer" in data:
        raw = data["peer"]
        _only(raw, PEER_KEYS, f"{path.name} [peer]")
        _only(raw.get("expect", {}), EXPECT_KEYS, f"{path.name} [peer.expect]")
        _check_expect_types(raw.get("expect", {}), f"{path.name} [peer.expect]")
        _only(raw.get("limits", {}), LIMIT_KEYS, f"{path.name} [peer.limits]")
        peer = Program(raw.get("language", main.language), raw.get("source", main.source),
                       raw.get("stdin", main.stdin), list(raw.get("args", main.args)),
                       dict(raw.get("limits", main.limits)), main.files, raw.get("expect", expect))  # fmt: skip
    for lang in {main.language} | ({peer.language} if peer else set()):
        languages.get(lang)  # UnknownLanguage for a typo
    return Case(path.name, data["description"], main, peer, must_not)


# ---------------------------------------------------------------------------------------------- host bait --


@dataclasses.dataclass
class Host:
    dir: Path
    sentinel: Path
    tcp: socket.socket
    unix: socket.socket
    unix_path: str
    abstract: socket.socket
    abstract_name: str
    sentinels: list[subprocess.Popen[bytes]]
    inherited_fds: list[int]
    secrets: dict[str, str]
    markers: list[str]  # strings that must never appear in any output

    def substitutions(self) -> dict[str, str]:
        return {
            "@SENTINEL@": str(self.sentinel),
            "@SENTINEL_DIR@": str(self.dir),
            "@TCP_PORT@": str(self.tcp.getsockname()[1]),
            "@UNIX_SOCKET@": self.unix_path,
            "@ABSTRACT_SOCKET@": self.abstract_name,
            "@SENTINEL_PIDS@": ",".join(str(p.pid) for p in self.sentinels),
            "@TEST_PID@": str(os.getpid()),
            "@REPO@": str(REPO),
        }

    def fill(self, text: str) -> str:
        for key, value in self.substitutions().items():
            text = text.replace(key, value)
        return text


def _listener(family: int, address: tuple[str, int] | str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(8)
    sock.setblocking(False)
    return sock


def _sentinel_process(stack: contextlib.ExitStack, uid: int | None = None) -> subprocess.Popen[bytes]:
    ids = {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}
    # Bounded: if this pytest is killed before its teardown, the bait does not linger for long.
    proc = subprocess.Popen(["sleep", "900"], start_new_session=True, **ids)  # type: ignore[call-overload]
    stack.callback(proc.wait)
    stack.callback(proc.kill)
    return proc  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    if os.geteuid() != 0:
        pytest.fail("the attack suite must run as root: the sandbox needs namespaces, cgroups and mounts",
                    pytrace=False)  # fmt: skip
    with contextlib.ExitStack() as stack:
        token = secrets.token_hex(8)
        workdir = Path(tempfile.mkdtemp(prefix="executor-sectest-"))
        stack.callback(shutil.rmtree, workdir)
        workdir.chmod(0o755)  # readable by anyone: if a box could see the host's /tmp, nothing would stop it
        sentinel = workdir / "sentinel.txt"
        sentinel_marker = f"sentinel-content-{token}"
        sentinel.write_text(f"{sentinel_marker}\n")
        sentinel.chmod(0o666)  # even world-writable: only the sandbox keeps a box away from it
        tcp = stack.enter_context(_listener(socket.AF_INET, ("127.0.0.1", 0)))
        unix_path = str(workdir / "host.sock")
        unix = stack.enter_context(_listener(socket.AF_UNIX, unix_path))
        os.chmod(unix_path, 0o777)
        abstract_name = f"executor-sectest-{token}"
        abstract = stack.enter_context(_listener(socket.AF_UNIX, "\0" + abstract_name))
        # One sentinel as root, and one running as each slot's box uid on the host: same uid, yet out of reach.
        sentinels = [_sentinel_process(stack)]
        for slot in range(SECTEST_CONFIG.slots):
            sentinels.append(_sentinel_process(stack, SECTEST_CONFIG.id_base + slot * ID_RANGE + BOX_UID))
        # Descriptors a careless runtime would hand down: a host file and a socket, both inheritable.
        inherited = [os.open(sentinel, os.O_RDONLY), socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()]
        for fd in inherited:
            stack.callback(os.close, fd)
            os.set_inheritable(fd, True)
        values = {
            "SECRET_KEY": f"sectest-secret-key-{secrets.token_hex(12)}",
            "DATABASE_URL": f"postgres://svc:dbpass{secrets.token_hex(12)}@db.internal:5432/prod",
            "REDIS_URL": f"redis://:redispass{secrets.token_hex(12)}@redis.internal:6379/0",
        }
        # The whole values, and their random parts alone (a box might print them cut or re-quoted).
        markers = [sentinel_marker, *values.values()]
        markers += [m.group(0) for v in values.values() if (m := re.search(r"[0-9a-f]{24}", v))]
        yield Host(workdir, sentinel, tcp, unix, unix_path, abstract, abstract_name, sentinels, inherited, values,
                   markers)  # fmt: skip


# -------------------------------------------------------------------------------------- host-side checks --


def _snapshot(path: str) -> tuple[object, ...]:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ("absent",)
    digest = ""
    if stat.S_ISREG(st.st_mode):
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        except PermissionError:
            digest = "write-only"  # e.g. /proc/sys/vm/drop_caches
    # /proc/sys files report the current time as mtime: compare their content only.
    mtime = None if path.startswith("/proc/") else st.st_mtime_ns
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_ino, mtime, digest)


def _host_state(host: Host, files: list[str]) -> dict[str, object]:
    state: dict[str, object] = {path: _snapshot(path) for path in files}
    state["<sentinel dir listing>"] = sorted(os.listdir(host.dir))
    state["<hostname>"] = socket.gethostname()
    return state


def _foreign_executor(pid: int) -> bool:
    """True for a box of another executor configuration (other tests may run boxes at the same time)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            paths = [line.rstrip("\n").split(":", 2)[2] for line in f]
    except OSError:
        return False
    tops = {p.strip("/").split("/")[0] for p in paths}
    ours = SECTEST_CONFIG.cgroup_parent
    return ours not in tops and any(t.startswith("executor") for t in tops)


def box_processes(host: Host) -> list[str]:
    """Host processes with any uid in the box range: none of ours may outlive its run."""
    sentinel_pids = {p.pid for p in host.sentinels}
    found = []
    for pid, status in host_processes_with_uids(BOX_UIDS):
        if pid in sentinel_pids or _foreign_executor(pid):
            continue
        name = re.search(r"^Name:\s+(.*)$", status, re.M)
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M)
        found.append(f"pid {pid} ({name.group(1) if name else '?'}) uids {uids.group(1) if uids else '?'}")
    return found


def listener_hits(host: Host) -> list[str]:
    hits = []
    for what, sock in (("tcp 127.0.0.1", host.tcp), ("unix socket", host.unix), ("abstract socket", host.abstract)):
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            continue
        conn.close()
        hits.append(what)
    return hits


# ------------------------------------------------------------------------------------------ running a case --


@dataclasses.dataclass
class Ran:
    outcome: Outcome | None
    error: BaseException | None
    seconds: float

    def output(self) -> str:
        if self.outcome is None:
            return ""
        parts: list[str] = []
        for stage in (self.outcome.compile, self.outcome.run):
            if stage is not None:
                parts += [stage.stdout.decode("utf-8", "replace"), stage.stderr.decode("utf-8", "replace"),
                          stage.message]  # fmt: skip
        return "\n".join(parts)


def run_program(program: Program, host: Host) -> Ran:
    limits = Limits().with_changes(**program.limits)
    files = {host.fill(name): host.fill(text).encode() for name, text in program.files.items()}
    start = time.monotonic()
    try:
        outcome = execute(languages.get(program.language), host.fill(program.source).encode(),
                          stdin=host.fill(program.stdin).encode(), limits=limits,
                          args=[host.fill(a) for a in program.args], files=files, config=SECTEST_CONFIG)  # fmt: skip
    except Exception as e:  # noqa: BLE001 - `raises` cases expect one; the others report it
        return Ran(None, e, time.monotonic() - start)
    return Ran(outcome, None, time.monotonic() - start)


def describe(ran: Ran) -> str:
    if ran.outcome is None:
        return f"raised {type(ran.error).__name__}: {ran.error}"
    shown = []
    for name, stage in (("compile", ran.outcome.compile), ("run", ran.outcome.run)):
        if stage is None:
            continue
        fields = {k: v for k, v in stage.to_json().items() if k not in ("stdout", "stderr")}
        shown.append(f"{name}: {fields}\n  stdout: {stage.stdout[-1500:]!r}\n  stderr: {stage.stderr[-1500:]!r}")
    return f"status {ran.outcome.status} after {ran.seconds:.2f} s\n" + "\n".join(shown)


def check_expect(expect: Mapping[str, Any], ran: Ran, host: Host) -> list[str]:
    problems: list[str] = []
    expect = {k: [host.fill(s) for s in v] if k.endswith("contains") else v for k, v in expect.items()}
    if "raises" in expect:
        if ran.error is None or type(ran.error).__name__ != expect["raises"]:
            problems.append(f"expected execute() to raise {expect['raises']}")
        return problems
    if ran.outcome is None:
        return [f"execute() raised {type(ran.error).__name__}: {ran.error}"]
    run: StageResult | None = ran.outcome.run
    allowed = expect.get("status", [])
    allowed = [allowed] if isinstance(allowed, str) else allowed
    if allowed and str(ran.outcome.status) not in allowed:
        problems.append(f"status {ran.outcome.status}, expected one of {allowed}")
    for key in ("time_limit", "signal", "exit_code"):
        if key in expect:
            got = getattr(run, key) if run is not None else None
            if got != expect[key]:
                problems.append(f"run.{key} is {got!r}, expected {expect[key]!r}")
    stdout = run.stdout.decode("utf-8", "replace") if run is not None else ""
    output = ran.output()
    problems += [f"stdout lacks {s!r}" for s in expect.get("stdout_contains", []) if s not in stdout]
    problems += [f"output lacks {s!r}" for s in expect.get("output_contains", []) if s not in output]
    problems += [f"output contains {s!r}" for s in expect.get("output_not_contains", []) if s in output]
    if "max_wall_seconds" in expect and ran.seconds > expect["max_wall_seconds"]:
        problems.append(f"execute() took {ran.seconds:.2f} s, more than {expect['max_wall_seconds']} s")
    if "min_cpu_time" in expect and (run is None or run.cpu_time < expect["min_cpu_time"]):
        problems.append(f"run.cpu_time {run.cpu_time if run else None} below {expect['min_cpu_time']}")
    return problems


@pytest.mark.root
@pytest.mark.parametrize("path", CASE_FILES, ids=[p.name for p in CASE_FILES])
def test_attack_is_contained(path: Path, host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    case = load_case(path)
    for name, value in host.secrets.items():
        monkeypatch.setenv(name, value)  # the service's own secrets sit in the environment of its worker
    watched = list(dict.fromkeys(host.fill(p) for p in [*ALWAYS_WATCHED, *case.must_not.get("change_host_files", [])]))
    before = _host_state(host, watched)

    if case.peer is None:
        ran = {"main": run_program(case.main, host)}
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {"main": pool.submit(run_program, case.main, host),
                       "peer": pool.submit(run_program, case.peer, host)}  # fmt: skip
            ran = {who: f.result() for who, f in futures.items()}

    problems: list[str] = []
    programs = {"main": case.main, "peer": case.peer}
    for who, result in ran.items():
        program = programs[who]
        assert program is not None
        problems += [f"{who}: {p}" for p in check_expect(program.expect, result, host)]
        problems += [f"{who}: output leaks a host secret ({m[:12]}...)" for m in host.markers if m in result.output()]
    problems += [f"left behind on the host: {p}" for p in box_processes(host)]
    problems += [f"box reached the host's {what} listener" for what in listener_hits(host)]
    problems += [f"host sentinel process {p.pid} was killed" for p in host.sentinels if p.poll() is not None]
    after = _host_state(host, watched)
    problems += [f"host state changed: {key}: {before[key]} -> {after[key]}" for key in before
                 if before[key] != after[key]]  # fmt: skip

    details = "\n".join(f"[{who}] {describe(r)}" for who, r in ran.items())
    print(details)  # what the box observed: shown by `pytest -rP` for passing cases too
    if problems:
        pytest.fail(f"{case.name}: {case.description}\n- " + "\n- ".join(problems), pytrace=False)


def test_there_are_enough_cases_and_each_states_what_it_checks() -> None:
    assert len(CASE_FILES) >= 30, f"only {len(CASE_FILES)} case files in {CASES_DIR}"
    for path in CASE_FILES:
        case = load_case(path)
        assert case.description.strip(), f"{path.name}: empty description"
        expectations = {k: v for k, v in case.main.expect.items() if v not in ([], "", None)}
        declared = {k: v for k, v in case.must_not.items() if v not in (False, [], None)}
        assert expectations or declared, f"{path.name}: neither [expect] nor [must_not] states anything"
        assert re.fullmatch(r"\d\d-[a-z0-9-]+\.toml", path.name), f"{path.name}: name it NN-short-name.toml"
