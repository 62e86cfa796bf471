"""The launcher: a small process that prepares boxes ahead of their runs, so that a run neither starts as a copy of a
large worker nor waits for its namespaces and root to be made.

Why a separate process: fork(2) copies the page tables of the whole process, and every process of a box (keeper,
init, program) is a fork of the one before. Forked from a Celery worker with Django loaded (100+ MB), each of those
forks and exits costs milliseconds; forked from this process (the executor's modules only), a fraction of that.

Why prepared boxes: most of a box does not depend on the run: the keeper's mount, UTS, IPC, pid and network
namespaces (the network namespace is the slowest to make), init, the fixed part of the root (runtime, /etc, /dev,
/proc) and the program's process. A prepared box has all of that and waits, blocked on two sockets, for a run's
plan. What depends on the run (the cgroup, /box and the writable tmpfs with their limits, the uid range, rlimits,
seccomp) is done after the plan arrives, in the same fixed order as always: a prepared box holds no capability over
anything the program will have, and is used for one run only.

How: the worker starts one launcher per process on first use (`python -m executor.launcher`, with an environment of
its own: nothing of the worker's reaches it), and talks to it over a private socketpair. The worker asks for a box
of a shape (state directory and layout); the launcher forks its keeper and hands back the keeper's pid and the two
sockets of the box (SCM_RIGHTS). The worker keeps `Config.pool` boxes ready, asks for the next one as soon as it
takes one, and sends a run's plan (pickled: the worker is trusted, the sockets are reachable by no one else) with
its descriptors straight to the box: the launcher is off the path of every run. It dies with the worker
(PR_SET_PDEATHSIG) and the boxes die with it, so a killed worker still takes its boxes with it; a prepared box whose
sockets close exits unused. Keepers are reaped by the kernel (SIGCHLD ignored here); the worker learns how a run
ended from its status pipe. Step 1 of a keeper resets SIGCHLD to its default: an ignored SIGCHLD is inherited
through fork and would make the keeper's and init's waits fail.
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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from executor import syscalls

if TYPE_CHECKING:
    from executor.sandbox import _Plan, _Shape

MAX_MESSAGE = 1 << 20  # a plan is a few KiB (most of it the seccomp filter)
MAX_FDS = 64
MAX_SHAPES = 4  # kinds of boxes (images, state directories) a worker process keeps prepared at once
ANSWER_TIMEOUT = 10.0  # seconds for the launcher to prepare a box; more means something is wrong with the host
_PID = struct.Struct("=i")


class LauncherError(OSError):
    """The launcher could not start a box (it died, or did not answer): an infrastructure failure, retried as one."""


def plan_message(plan: _Plan) -> tuple[bytes, list[int]]:
    """The plan as one message: its bytes, and the descriptors a box needs in the order `receive_plan` maps them."""
    fds = [plan.stdin_fd, plan.stdout_w, plan.stderr_w, plan.status_w, *plan.cgroup_fds]
    return pickle.dumps(plan), fds


def receive_plan(sock: int) -> _Plan | None:
    """In a prepared box: wait for the plan on `sock`; None if the socket closed (the box will not be used)."""
    with socket.socket(fileno=os.dup(sock)) as s:
        message, fds, _, _ = socket.recv_fds(s, MAX_MESSAGE, MAX_FDS)
    os.close(sock)
    if not message:
        return None
    plan: _Plan = pickle.loads(message)  # noqa: S301 - from our own worker only, over a private socket
    return replace(plan, stdin_fd=fds[0], stdout_w=fds[1], stderr_w=fds[2], status_w=fds[3],
                   cgroup_fds=list(fds[4:]))  # fmt: skip


@dataclass
class Prepared:
    """A box made ahead of its run, waiting for the plan: the keeper's pid and the sockets of init and program."""

    pid: int
    shape: _Shape
    init_sock: socket.socket
    program_sock: socket.socket

    def start(self, message: bytes, fds: list[int]) -> None:
        """Send the run's plan: to the program's process first, so that a box whose init is gone takes nothing."""
        try:
            for sock in (self.program_sock, self.init_sock):
                socket.send_fds(sock, [message], fds)
        finally:
            self.close()

    def close(self) -> None:
        self.init_sock.close()
        self.program_sock.close()


def prepare(shape: _Shape) -> Prepared:
    """Fork a keeper that prepares a box of this shape (see sandbox._keeper) and waits for its plan."""
    from executor.sandbox import _keeper  # the box's code, the same whoever forks it

    init_ours, init_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    program_ours, program_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    parent = os.getpid()
    try:
        pid = os.fork()
        if pid == 0:
            _keeper(shape, init_theirs.fileno(), program_theirs.fileno(), parent)  # never returns
    except BaseException:
        init_ours.close()
        program_ours.close()
        raise
    finally:
        init_theirs.close()
        program_theirs.close()
    return Prepared(pid, shape, init_ours, program_ours)


class Launcher:
    """The worker's side: one launcher process per worker process, started on first use, and the boxes it made
    that are ready for a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = 0  # the pid that started the process below (a fork of the worker must start its own)
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._ready: list[Prepared] = []
        self._asked: list[_Shape] = []  # the shapes of the boxes asked for, whose answers have not been read yet

    def start_box(self, plan: _Plan, pool: int) -> int:
        """Start `plan` on a prepared box; its keeper's pid. Starts (or restarts) the launcher if need be, and
        asks it for the next box so that `pool` are ready or on their way."""
        message, fds = plan_message(plan)
        with self._lock:
            error: OSError | None = None
            for _ in (1, 2):
                try:
                    box = self._take(plan.shape)
                    box.start(message, fds)
                    self._ask(plan.shape, pool)
                    return box.pid
                except OSError as e:  # the launcher or the box died, or did not answer: start afresh once
                    error = e
                    self._stop()
        raise LauncherError(f"the launcher did not start the box: {error}")

    def _take(self, shape: _Shape) -> Prepared:
        """A ready box of this shape; boxes of other shapes (another image, another state directory) stay ready
        for their next run, the oldest of them closed when more than MAX_SHAPES shapes are kept."""
        if self._owner != os.getpid() or self._process is None or self._process.poll() is not None:
            self._start()
        while True:
            for box in self._ready:
                if box.shape == shape:
                    self._ready.remove(box)
                    return box
            if shape not in self._asked:
                self._ask(shape, self._count(shape) + 1)
            self._ready.append(self._answer())
            self._trim(shape)

    def _count(self, shape: _Shape) -> int:
        return sum(box.shape == shape for box in self._ready) + self._asked.count(shape)

    def _ask(self, shape: _Shape, pool: int) -> None:
        """Ask for boxes of this shape until `pool` of them are ready or on their way."""
        assert self._socket is not None
        while self._count(shape) < pool:
            self._socket.send(pickle.dumps(shape))
            self._asked.append(shape)

    def _trim(self, keep: _Shape) -> None:
        shapes: list[_Shape] = []  # the most recent first (shapes compare by value; they are not hashable)
        for box in reversed(self._ready):
            if box.shape not in shapes:
                shapes.append(box.shape)
        for old in [s for s in shapes if s != keep][MAX_SHAPES - 1 :]:
            for box in [b for b in self._ready if b.shape == old]:
                self._ready.remove(box)
                box.close()  # it exits unused

    def _answer(self) -> Prepared:
        """The next box the launcher made (answers come in the order of the questions)."""
        assert self._socket is not None
        message, fds, _, _ = socket.recv_fds(self._socket, _PID.size, 2)
        shape = self._asked.pop(0)
        if len(message) != _PID.size or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise LauncherError("the launcher did not prepare a box")
        return Prepared(int(_PID.unpack(message)[0]), shape, socket.socket(fileno=fds[0]),
                        socket.socket(fileno=fds[1]))  # fmt: skip

    def _start(self) -> None:
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.settimeout(ANSWER_TIMEOUT)
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
        for box in self._ready:
            box.close()
        self._ready, self._asked = [], []
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
    """The launcher's loop: a shape in, a box of that shape prepared, its pid and sockets out; until the worker
    closes the socket."""
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != worker_pid:  # the worker died before the line above: nothing to serve
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    while True:
        try:
            message = sock.recv(MAX_MESSAGE)
        except ConnectionResetError:  # the worker went away with a question unanswered
            return
        if not message:
            return
        try:
            box = prepare(pickle.loads(message))  # noqa: S301 - from our own worker only
        except Exception:  # noqa: BLE001 - a bad message: the worker gets no box and reports the failure
            sock.send(b"")
            continue
        try:
            socket.send_fds(sock, [_PID.pack(box.pid)], [box.init_sock.fileno(), box.program_sock.fileno()])
        except OSError:  # the worker went away
            return
        finally:
            box.close()


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    serve(sock, int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
