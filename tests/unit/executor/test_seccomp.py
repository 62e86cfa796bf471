"""executor.seccomp against the real kernel: every check forks a child, sets no_new_privs, loads the compiled
filter and then makes the call (or execs the program) under it. Needs root, gcc, g++, java, node; fails
loudly when something is missing rather than skipping."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import json
import os
import random
import signal
import subprocess
import textwrap
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from executor import seccomp as seccomp_module
from executor.seccomp import (
    DEFAULT_POLICY,
    DENIED_GROUPS,
    DENIED_SYSCALLS,
    SeccompPolicy,
    compile_bpf,
    load_bpf,
    render_pfc,
    set_no_new_privs,
    syscall_number,
)
from executor.seccomp_policy import (
    AF_ALG,
    AF_VSOCK,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    TIOCLINUX,
    TIOCSTI,
)

pytestmark = pytest.mark.root

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

AF_UNIX = 1
AF_INET = 2
SOCK_STREAM = 1
FIONREAD = 0x541B
READ_IMPLIES_EXEC = 0x0400000
ADDR_NO_RANDOMIZE = 0x0040000
HIGH_BIT = 1 << 32
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def raw_syscall(number: int, *args: int) -> int:
    """The syscall's return value, or -errno when it fails."""
    ctypes.set_errno(0)
    ret = _libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
    return -ctypes.get_errno() if ret == -1 else int(ret)


def run_confined(body: Callable[[], Any], program: bytes | None = None) -> Any:
    """Run body() in a forked child under the filter and return its (JSON-able) result."""
    program = compile_bpf() if program is None else program
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_end)
            os.setsid()  # no controlling terminal: vhangup & co. cannot touch the one pytest runs in
            set_no_new_privs()
            load_bpf(program)
            payload = {"result": body()}
        except BaseException:  # noqa: BLE001 - everything must go back to the parent
            payload = {"error": traceback.format_exc()}
        try:
            os.write(write_end, json.dumps(payload).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child died: status {status:#x}"
    payload = json.loads(b"".join(chunks))
    if "error" in payload:
        pytest.fail(f"child raised:\n{payload['error']}")
    return payload["result"]


def confine(program: bytes | None = None) -> Callable[[], None]:
    """A subprocess preexec_fn: fork -> no_new_privs -> load -> exec."""
    program = compile_bpf() if program is None else program

    def preexec() -> None:
        set_no_new_privs()
        load_bpf(program)

    return preexec


def run_program(
    argv: Sequence[str | Path], cwd: Path, *, confined: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env={**ENV, "HOME": str(cwd), **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=confine() if confined else None,
    )


def run_ok(argv: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = run_program(argv, cwd, env=env)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return proc.stdout


# --- the policy as data ------------------------------------------------------------------------------------


def test_denied_syscalls_are_not_in_the_allow_list() -> None:
    assert DEFAULT_POLICY.allowed.isdisjoint(DENIED_SYSCALLS)


def test_every_named_syscall_exists_on_x86_64() -> None:
    for name in DEFAULT_POLICY.allowed | DENIED_SYSCALLS:
        assert syscall_number(name) >= 0, name


def test_every_denied_group_says_why() -> None:
    for group in DENIED_GROUPS:
        assert group.syscalls and len(group.why) > 40, group


@pytest.mark.parametrize("name", ["ioctl", "socket", "socketpair", "clone", "personality", "clone3"])
def test_syscall_with_an_argument_rule_cannot_also_be_allowed_outright(name: str) -> None:
    # libseccomp would silently drop the argument rule in favour of the unconditional allow.
    with pytest.raises(ValueError, match="must not also be allowed"):
        SeccompPolicy(allowed=DEFAULT_POLICY.allowed | {name})


def test_compile_bpf_is_cached_per_policy() -> None:
    assert compile_bpf() is compile_bpf(DEFAULT_POLICY) is compile_bpf(SeccompPolicy())
    other = dataclasses.replace(DEFAULT_POLICY, default_errno=errno.EACCES)
    assert compile_bpf(other) != compile_bpf()
    assert len(compile_bpf()) % 8 == 0 and len(compile_bpf()) // 8 <= 4096


def test_ioctl_has_no_unconditional_allow() -> None:
    pfc = render_pfc()
    ioctl_block = pfc.split('"ioctl"', 1)[1].split("# filter for syscall", 1)[0]
    first_line = ioctl_block.split("\n")[2].strip()  # the line right after `if ($syscall == 16)`
    assert first_line.startswith("if ($a1"), ioctl_block[:300]


def test_masked_complement_matches_exactly_the_values_not_excluded() -> None:
    excluded = (TIOCSTI, TIOCLINUX)
    patterns = seccomp_module._masked_complement(excluded)

    def allowed(x: int) -> bool:
        hits = sum((x & mask) == value for mask, value in patterns)
        assert hits <= 1, f"overlapping patterns for {x:#x}"
        return hits == 1

    rng = random.Random(0)
    samples = [*range(0x5400, 0x5500), 0, 0xFFFFFFFF, *(rng.getrandbits(32) for _ in range(20000))]
    for x in samples:
        assert allowed(x) == (x not in excluded), hex(x)
    assert len(seccomp_module._masked_complement(())) == 1  # one pattern, mask 0: everything


def test_load_bpf_rejects_what_is_not_a_program() -> None:
    for bad in (b"", b"\x00" * 7, b"\x00" * 8 * 4097):
        with pytest.raises(ValueError):
            load_bpf(bad)


# --- denied syscalls ---------------------------------------------------------------------------------------

# Every argument is -1: a bad pointer, fd, pid or flag word, so that each of these calls would fail harmlessly
# with its own errno (EFAULT, EBADF, EINVAL, ESRCH, ...) even if it did reach the kernel as root.
JUNK_ARGS = (-1,) * 6


def _expected_errno(name: str, policy: SeccompPolicy = DEFAULT_POLICY) -> int:
    return dict(policy.errno_overrides).get(name, policy.default_errno)


@pytest.mark.parametrize("name", sorted(DENIED_SYSCALLS))
def test_denied_syscall_fails_with_eperm(name: str) -> None:
    number = syscall_number(name)
    got = run_confined(lambda: -raw_syscall(number, *JUNK_ARGS))
    expected = _expected_errno(name)
    assert got == expected, f"{name}: {errno.errorcode.get(got, got)}, want {errno.errorcode[expected]}"


def test_clone3_fails_with_enosys_so_glibc_falls_back_to_clone() -> None:
    assert run_confined(lambda: -raw_syscall(syscall_number("clone3"), *JUNK_ARGS)) == errno.ENOSYS


def test_denied_syscalls_are_refused_by_the_filter_not_by_the_kernel() -> None:
    # Same policy, but a default errno the kernel never produces for these calls: if every denied syscall
    # answers with it, the filter (not a missing capability or bad argument) stopped it.
    marker = 133  # EHWPOISON ("memory page has hardware error"), which none of these calls can produce
    policy = dataclasses.replace(DEFAULT_POLICY, default_errno=marker)
    numbers = {name: syscall_number(name) for name in DENIED_SYSCALLS}
    got = run_confined(
        lambda: {name: -raw_syscall(nr, *JUNK_ARGS) for name, nr in numbers.items()}, compile_bpf(policy)
    )
    assert got == {name: _expected_errno(name, policy) for name in DENIED_SYSCALLS}


def test_filter_survives_execve_with_no_new_privs(tmp_path: Path) -> None:
    status = run_ok(["/bin/cat", "/proc/self/status"], tmp_path)
    assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t1\n" in status


# --- clone -------------------------------------------------------------------------------------------------

_NR_CLONE = 56


def _clone(flags: int) -> int:
    pid = raw_syscall(_NR_CLONE, flags, 0, 0, 0, 0)
    if pid == 0:  # the clone child (only if the call was let through): leave at once
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid


@pytest.mark.parametrize(
    "flag",
    [CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP],
    ids=["NEWUSER", "NEWNS", "NEWPID", "NEWNET", "NEWUTS", "NEWIPC", "NEWCGROUP"],
)
def test_clone_with_a_namespace_flag_is_denied(flag: int) -> None:
    assert run_confined(lambda: _clone(flag | signal.SIGCHLD)) == -errno.EPERM


def test_clone_as_plain_fork_is_allowed() -> None:
    assert run_confined(lambda: _clone(signal.SIGCHLD)) > 0


# --- personality -------------------------------------------------------------------------------------------

_NR_PERSONALITY = 135


@pytest.mark.parametrize("persona", [0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF, HIGH_BIT])
def test_personality_harmless_values_are_allowed(persona: int) -> None:
    assert run_confined(lambda: raw_syscall(_NR_PERSONALITY, persona)) >= 0


@pytest.mark.parametrize("persona", [READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, HIGH_BIT | READ_IMPLIES_EXEC])
def test_personality_other_values_are_denied(persona: int) -> None:
    assert run_confined(lambda: raw_syscall(_NR_PERSONALITY, persona)) == -errno.EPERM


# --- socket ------------------------------------------------------------------------------------------------

_NR_SOCKET = 41
_NR_SOCKETPAIR = 53


def _socketpair(family: int) -> int:
    fds = (ctypes.c_int * 2)()
    return raw_syscall(_NR_SOCKETPAIR, family, SOCK_STREAM, 0, ctypes.addressof(fds))


@pytest.mark.parametrize(
    "family",
    [AF_VSOCK, AF_ALG, HIGH_BIT | AF_VSOCK, HIGH_BIT | AF_ALG],
    ids=["VSOCK", "ALG", "VSOCK+high-bits", "ALG+high-bits"],
)
def test_socket_vsock_and_alg_are_denied(family: int) -> None:
    assert run_confined(lambda: raw_syscall(_NR_SOCKET, family, SOCK_STREAM, 0)) == -errno.EPERM
    assert run_confined(lambda: _socketpair(family)) == -errno.EPERM


@pytest.mark.parametrize("family", [AF_UNIX, AF_INET], ids=["UNIX", "INET"])
def test_socket_unix_and_inet_are_allowed(family: int) -> None:
    assert run_confined(lambda: raw_syscall(_NR_SOCKET, family, SOCK_STREAM, 0)) >= 0


def test_socketpair_unix_is_allowed() -> None:
    assert run_confined(lambda: _socketpair(AF_UNIX)) == 0


# --- ioctl -------------------------------------------------------------------------------------------------

_NR_IOCTL = 16


def _ioctl_on_pipe(cmd: int) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, b"abc")
    value = ctypes.c_int(-1)
    ret = raw_syscall(_NR_IOCTL, read_end, cmd, ctypes.addressof(value))
    return ret if ret < 0 else value.value


@pytest.mark.parametrize(
    "cmd",
    [TIOCSTI, HIGH_BIT | TIOCSTI, TIOCLINUX, HIGH_BIT | TIOCLINUX],
    ids=["TIOCSTI", "TIOCSTI+high-bits", "TIOCLINUX", "TIOCLINUX+high-bits"],
)
def test_ioctl_tiocsti_and_tioclinux_are_denied(cmd: int) -> None:
    # On a pipe the kernel itself would say ENOTTY, so EPERM can only come from the filter.
    assert run_confined(lambda: _ioctl_on_pipe(cmd)) == -errno.EPERM


@pytest.mark.parametrize("cmd", [FIONREAD, HIGH_BIT | FIONREAD], ids=["FIONREAD", "FIONREAD+high-bits"])
def test_ioctl_fionread_is_allowed(cmd: int) -> None:
    assert run_confined(lambda: _ioctl_on_pipe(cmd)) == 3


# --- foreign syscall ABIs ----------------------------------------------------------------------------------

I386_GETPID = r"""
int main(void) {
    long ret;
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L) : "memory");  /* i386 getpid */
    return ret > 0 ? 0 : 1;
}
"""

X32_GETPID = r"""
int main(void) {
    long ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(0x40000000L | 39L) : "rcx", "r11", "memory");
    return 0;  /* without a filter: the result (pid, or -ENOSYS on a kernel without x32) does not matter */
}
"""


@pytest.mark.parametrize("source", [I386_GETPID, X32_GETPID], ids=["i386-int80", "x32"])
def test_foreign_abi_syscall_kills_the_process_with_sigsys(source: str, tmp_path: Path) -> None:
    (tmp_path / "abi.c").write_text(source)
    build = run_program(["gcc", "-O0", "-o", "abi", "abi.c"], tmp_path, confined=False)
    assert build.returncode == 0, build.stderr
    control = run_program(["./abi"], tmp_path, confined=False)
    assert control.returncode == 0, f"the program itself is broken: {control.returncode} {control.stderr}"
    assert run_program(["./abi"], tmp_path).returncode == -signal.SIGSYS


# --- real runtimes under the filter ------------------------------------------------------------------------


def test_python_with_threads_and_subprocess_runs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import threading, subprocess, json
        squares = []
        threads = [threading.Thread(target=lambda i=i: squares.append(i * i)) for i in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        child = subprocess.run(["/bin/echo", "child"], capture_output=True, text=True, check=True)
        print(json.dumps({"squares": sorted(squares), "child": child.stdout.strip()}))
        """
    )
    out = run_ok(["/usr/bin/python3", "-c", script], tmp_path)
    assert json.loads(out) == {"squares": [i * i for i in range(8)], "child": "child"}


def test_gcc_compiles_links_and_runs_hello_world(tmp_path: Path) -> None:
    (tmp_path / "hello.c").write_text('#include <stdio.h>\nint main(void) { puts("hello, c"); return 0; }\n')
    run_ok(["gcc", "-O2", "-Wall", "-o", "hello", "hello.c"], tmp_path)
    assert run_ok(["./hello"], tmp_path) == "hello, c\n"


def test_gxx_compiles_links_and_runs_hello_world_with_a_thread(tmp_path: Path) -> None:
    (tmp_path / "hello.cpp").write_text(
        "#include <iostream>\n#include <thread>\n"
        'int main() { std::thread t([] { std::cout << "hello, c++" << std::endl; }); t.join(); }\n'
    )
    run_ok(["g++", "-O2", "-std=c++17", "-pthread", "-o", "hello", "hello.cpp"], tmp_path)
    assert run_ok(["./hello"], tmp_path) == "hello, c++\n"


def test_java_version_javac_and_java_run(tmp_path: Path) -> None:
    version = run_program(["java", "-version"], tmp_path)
    assert version.returncode == 0 and "openjdk version" in version.stderr, version.stderr
    (tmp_path / "Main.java").write_text(
        textwrap.dedent(
            """
            public class Main {
                public static void main(String[] args) throws Exception {
                    long sum = java.util.stream.LongStream.rangeClosed(1, 1_000_000).parallel().sum();
                    Thread t = new Thread(() -> System.out.println("sum=" + sum));
                    t.start();
                    t.join();
                }
            }
            """
        )
    )
    run_ok(["javac", "Main.java"], tmp_path)
    assert run_ok(["java", "-cp", ".", "Main"], tmp_path) == "sum=500000500000\n"


@pytest.mark.parametrize("io_uring", ["0", "1"], ids=["libuv-default", "libuv-io_uring-forced"])
def test_node_reads_files_sync_and_async_and_spawns(io_uring: str, tmp_path: Path) -> None:
    # With UV_USE_IO_URING=1 libuv tries io_uring_setup, gets EPERM and must fall back to its thread pool.
    script = textwrap.dedent(
        """
        const fs = require("fs");
        const { execFileSync } = require("child_process");
        const sync = fs.readFileSync("/etc/hostname", "utf8");
        fs.promises.readFile("/etc/hostname", "utf8").then((async_) => {
            const child = execFileSync("/bin/echo", ["child"], { encoding: "utf8" }).trim();
            console.log(JSON.stringify({ same: sync === async_ && sync.length > 0, child, n: 6 * 7 }));
        });
        """
    )
    out = run_ok(["node", "-e", script], tmp_path, env={"UV_USE_IO_URING": io_uring})
    assert json.loads(out) == {"same": True, "child": "child", "n": 42}


def test_bash_arithmetic_and_command_substitution(tmp_path: Path) -> None:
    assert run_ok(["bash", "-c", "echo $(( 6*7 )) $(echo hi | tr a-z A-Z)"], tmp_path) == "42 HI\n"
