"""The launcher: a small process that forks each box's keeper, so that a box never starts as a copy of a large worker.

Why: fork(2) copies the page tables of the whole process, and every process of a box (keeper, init, program) is a
fork of the one before. Forked from a Celery worker with Django loaded (100+ MB), each of those forks and exits
costs milliseconds; forked from this process (the executor's modules only), a fraction of that.

How: the worker starts one launcher per process on first use (`python -m executor.launcher`, with an environment of
its own: nothing of the worker's reaches it), and talks to it over a private socketpair: one message per box, the
box's plan (pickled: the worker is trusted, the socket is reachable by no one else) with its descriptors passed as
SCM_RIGHTS; the answer is the keeper's pid. The launcher dies with the worker (PR_SET_PDEATHSIG) and the keepers
die with the launcher, so a killed worker still takes its boxes with it. Keepers are reaped by the kernel
(SIGCHLD ignored here); the worker learns how a box ended from its status pipe, as before.

Step 1 of a keeper resets SIGCHLD to its default: an ignored SIGCHLD is inherited through fork and would make the
keeper's and init's waits fail.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from executor import syscalls

if TYPE_CHECKING:
    from executor.sandbox import _Plan

MAX_MESSAGE = 1 << 20  # a plan is a few KiB (most of it the seccomp filter)
MAX_FDS = 64
_PID = struct.Struct("=i")


class LauncherError(OSError):
    """The launcher could not start a box (it died, or did not answer): an infrastructure failure, retried as one."""


def plan_fds(plan: _Plan) -> list[int]:
    """The descriptors a keeper needs, in the order `with_fds` takes them back."""
    return [plan.stdin_fd, plan.stdout_w, plan.stderr_w, plan.status_w, *plan.cgroup_fds]


def with_fds(plan: _Plan, fds: list[int], parent_pid: int) -> _Plan:
    return replace(plan, stdin_fd=fds[0], stdout_w=fds[1], stderr_w=fds[2], status_w=fds[3],
                   cgroup_fds=list(fds[4:]), worker_pid=parent_pid)  # fmt: skip


class Launcher:
    """The worker's side: one launcher process per worker process, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = 0  # the pid that started the process below (a fork of the worker must start its own)
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None

    def start_keeper(self, plan: _Plan) -> int:
        """Have the launcher fork a keeper for `plan`; its pid. Starts (or restarts) the launcher if need be."""
        with self._lock:
            for attempt in (1, 2):
                if self._owner != os.getpid() or self._process is None or self._process.poll() is not None:
                    self._start()
                assert self._socket is not None
                error: OSError | None = None
                try:
                    socket.send_fds(self._socket, [pickle.dumps(plan)], plan_fds(plan))
                    answer = self._socket.recv(_PID.size)
                except OSError as e:
                    answer, error = b"", e
                if len(answer) == _PID.size:
                    return int(_PID.unpack(answer)[0])
                self._stop()
                if attempt == 2:
                    raise LauncherError(f"the launcher did not start the box: {error or 'no answer'}")
        raise AssertionError("unreachable")

    def _start(self) -> None:
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": package_root, "LANG": "C.UTF-8"}
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-s", "-m", "executor.launcher", str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, cwd="/",
            )
        finally:
            theirs.close()
        self._socket = ours
        self._owner = os.getpid()

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None and self._owner == os.getpid():
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
        self._process = None


LAUNCHER = Launcher()


def serve(sock: socket.socket, worker_pid: int) -> None:
    """The launcher's loop: one plan in, one keeper forked, its pid out; until the worker closes the socket."""
    from executor.sandbox import _keeper  # the keeper's code, as the worker would run it

    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != worker_pid:  # the worker died before the line above: nothing to serve
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    while True:
        message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
        if not message:
            return
        try:
            plan = with_fds(pickle.loads(message), fds, os.getpid())  # noqa: S301 - from our own worker only
            pid = os.fork()
            if pid == 0:
                sock.close()
                _keeper(plan)  # never returns
        except Exception:  # noqa: BLE001 - a bad message: the worker gets no pid and reports the failure
            pid = -1
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(_PID.pack(pid) if pid > 0 else b"")


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    serve(sock, int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
