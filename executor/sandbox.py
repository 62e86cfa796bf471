"""The sandbox: an explicit lifecycle (create, run..., destroy) and the fixed order of isolation steps.

Process tree of one run (each arrow a fork):

    launcher ── keeper ── init (pid 1 in the box) ── program
      (or the   unshares mount, uts,   builds the root,       joins the cgroup, enters the cgroup
      worker)   ipc, net, pid ns;      maps the program's     and user namespaces, drops privileges,
                brings lo up           user namespace, reaps  limits, seccomp, execs
    worker: sends the run's plan to the box; supervises pipes, time limits, cgroup counters; kills

A box is prepared before its run is known (executor/launcher.py keeps one ready): everything up to the fork of the
program's process, which then waits for the plan; init waits for it too. The keeper and init stay host root but
are invisible and unreachable from the box (other uid, hidepid, no capabilities of the program). When the program
exits, init exits, and the kernel kills everything left in the pid namespace: orphans cannot outlive the run. If
the worker dies, PR_SET_PDEATHSIG takes launcher, keeper and init with it.

The steps, numbered as in the code below; each fails loudly (reported as internal_error, never skipped):
 prepared, before the plan:
   keeper   1 die with the launcher  2 close every fd but the box's sockets  3 mount, UTS, IPC, pid, then net
            namespace (lo up), hostname  4 fork init
   init     5 the fixed part of the root (runtime, /etc, /dev, /proc); fork the program's process
 with the plan (init and program at once):
   program  6 join the cgroup, cgroup namespace  7 drop groups, rlimits  8 unshare the user namespace
   init     9 write its uid/gid maps; then 5 (continued) /box, /tmp, /dev/shm, pivot_root, read-only root
   program 10 drop capabilities, become uid 1000  11 (the root finished) new session, cwd /box  12 fds 0-2 only,
           default signals  13 no_new_privs, seccomp, exec
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from executor import cgroups, launcher, mounts, namespaces, network, seccomp, slots, syscalls
from executor import limits as limits_mod
from executor.cgroups import CgroupBackend, CgroupLimits
from executor.config import Config
from executor.limits import Limits
from executor.result import StageResult, Status, internal_error

MIB = 1024 * 1024
READ_CHUNK = 65536
SETUP_TIMEOUT = 10.0  # seconds for a box to be built; more means something is wrong with the host
KILL_GRACE = 2.0  # seconds for a killed box to report before its keeper is killed too
MIN_CHECK_INTERVAL = 0.01  # seconds between two reads of the cgroup's CPU counter near the limit

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/box",
    "USER": namespaces.BOX_USER,
    "LOGNAME": namespaces.BOX_USER,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": "/tmp",
}


class SandboxError(RuntimeError):
    """The sandbox could not do its job (not: the program failed)."""


@dataclass(frozen=True)
class _Shape:
    """What a box is prepared with before its run is known: the same for every run under one configuration."""

    new_root: str  # the host directory the root is built on (inside the box's mount namespace)
    layout: mounts.Layout
    lo_request: bytes  # the netlink message that brings lo up


@dataclass(frozen=True)
class _Plan:
    """Everything of one run the box's processes need, computed in the worker and sent to a prepared box."""

    shape: _Shape
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    root: mounts.RootSpec
    idmap: namespaces.IdMap
    rlimits: list[tuple[int, int]]
    seccomp_bpf: bytes
    last_cap: int
    cgroup_fds: list[int]
    stdin_fd: int
    stdout_w: int
    stderr_w: int
    status_w: int


@dataclass
class Sandbox:
    """One box's lifetime. Use as a context manager so destroy always runs."""

    config: Config = field(default_factory=Config.from_env)
    backend: CgroupBackend | None = None
    layout: mounts.Layout = field(default_factory=mounts.Layout)
    slot: slots.Slot | None = None
    workspace: mounts.Workspace | None = None
    layers: list[str] = field(default_factory=list)  # lower layers of /box, top first
    env: Mapping[str, str] = field(default_factory=dict)  # added to BASE_ENV for every run (an image's environment)

    # ------------------------------------------------------------------------------------------ lifecycle --
    def create(self) -> Sandbox:
        if self.backend is None:
            self.backend = _backend(self.config.cgroup_parent, self.config.cgroup_mount)
        self.slot = slots.acquire(self.config, self.backend, start=os.getpid() % self.config.slots)
        try:
            os.makedirs(self.slot.path, mode=0o700, exist_ok=True)
            owner = namespaces.IdMap.for_slot(self.config.id_base, self.slot.number).box_user_on_host
            self.workspace = mounts.Workspace(self.slot.workspace, self.config.maxima.disk,
                                              self.config.maxima.disk_inodes, owner)  # fmt: skip
            self.layers = [self.workspace.files]
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        """Remove everything of this box. Idempotent; safe after a failed create."""
        if self.workspace is not None:
            self.workspace.destroy()
            self.workspace = None
        if self.slot is not None:
            if self.backend is not None:
                slots.vacate(self.slot, self.backend)
            else:
                self.slot.release()
            self.slot = None

    def __enter__(self) -> Sandbox:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Put a file of the submission into the box's read-only `files` layer (before any run)."""
        if self.workspace is None:
            raise SandboxError("add_file before create")
        self.workspace.write_file(name, data, mode)

    # ------------------------------------------------------------------------------------------------ run --
    def run(
        self,
        argv: Sequence[str],
        limits: Limits,
        stdin: bytes = b"",
        env: Mapping[str, str] | None = None,
        keep_layer: str | None = None,
        merge_stderr: bool = False,
    ) -> StageResult:
        """Run argv in a fresh box over the current layers.

        With keep_layer, what the run writes to /box is kept as a new read-only layer on top for later runs
        (the compile stage); otherwise it is thrown away with the box. With merge_stderr the program's stderr is
        its stdout (one pipe, one limit), as a terminal would show them.
        """
        if self.slot is None or self.workspace is None or self.backend is None:
            raise SandboxError("run before create")
        limits_mod.validate(limits, self.config.maxima)
        upper = work = None
        if keep_layer is not None:
            upper = self.workspace.new_layer_dir(keep_layer)
            work = self.workspace.new_layer_dir(keep_layer + ".work")
            idmap = namespaces.IdMap.for_slot(self.config.id_base, self.slot.number)
            os.chown(upper, idmap.box_user_on_host, idmap.box_user_on_host)  # fresh directory: nothing to follow
        result = self._run_once(argv, limits, stdin, env or {}, upper, work, merge_stderr)
        if upper is not None and result.status is Status.OK:
            self.layers.insert(0, upper)
        return result

    def _run_once(self, argv: Sequence[str], limits: Limits, stdin: bytes, env: Mapping[str, str],
                  upper: str | None, work: str | None, merge_stderr: bool) -> StageResult:  # fmt: skip
        assert self.slot is not None and self.backend is not None
        cgroup = self.backend.create(self.slot.cgroup_name)
        opened: list[int] = []
        try:
            cgroup.apply(CgroupLimits(memory_bytes=limits.memory * MIB, pids_max=limits.processes,
                                      cpu_quota_cpus=limits.cpus, io_read_bps=self.config.io_read_bps,
                                      io_write_bps=self.config.io_write_bps,
                                      io_device=_runtime_disk()))  # fmt: skip
            cgroup_fds = cgroup.open_procs_fds()
            opened += cgroup_fds
            stdin_fd = _stdin_fd(stdin)
            opened.append(stdin_fd)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            status_r, status_w = os.pipe2(os.O_CLOEXEC)
            opened += [out_r, out_w, err_r, err_w, status_r, status_w]
            idmap = namespaces.IdMap.for_slot(self.config.id_base, self.slot.number)
            plan = _Plan(
                shape=_Shape(f"{self.config.state_dir}/mnt/root", self.layout, network.loopback_up_request()),
                argv=list(argv),
                env={**BASE_ENV, **self.env, **env},
                cwd="/box",
                root=mounts.RootSpec(
                    new_root=f"{self.config.state_dir}/mnt/root",
                    scratch=f"{self.config.state_dir}/mnt/scratch",
                    layers=list(self.layers),
                    disk_mib=limits.disk,
                    disk_inodes=limits.disk_inodes,
                    box_uid_on_host=idmap.box_user_on_host,
                    upper=upper,
                    work=work,
                ),
                idmap=idmap,
                rlimits=limits_mod.rlimits(limits),
                seccomp_bpf=seccomp.compile_bpf(),
                last_cap=syscalls.last_cap(),
                cgroup_fds=cgroup_fds,
                stdin_fd=stdin_fd,
                stdout_w=out_w,
                stderr_w=out_w if merge_stderr else err_w,
                status_w=status_w,
            )
            if self.config.launcher:
                # A prepared box of the small launcher, not a fork of this (possibly large) process: see
                # executor/launcher.py.
                pid, ours = launcher.LAUNCHER.start_box(plan, self.config.pool), False
            else:
                box = launcher.prepare(plan.shape)
                box.start(*launcher.plan_message(plan))
                pid, ours = box.pid, True
            for fd in (out_w, err_w, status_w, stdin_fd, *cgroup_fds):
                os.close(fd)
                opened.remove(fd)
            return _supervise(pid, cgroup, limits, out_r, err_r, status_r, reap=ours)
        finally:
            for fd in opened:
                os.close(fd)
            cgroup.destroy()


def cleanup_leftovers(config: Config | None = None) -> int:
    """Remove what crashed runs left (cgroups and their processes, mounts, directories) in slots nobody holds.

    A worker calls this when it starts; acquiring a slot also cleans that slot. Returns how many slots had any.
    """
    config = config or Config.from_env()
    return slots.cleanup_leftovers(config, cgroups.detect(config.cgroup_parent, config.cgroup_mount))


@functools.lru_cache(maxsize=16)
def _backend(parent: str, mount: str) -> CgroupBackend:
    """The cgroup backend of this host, detected (and its parent cgroup made) once per process."""
    return cgroups.detect(parent, mount)


@functools.cache
def _runtime_disk() -> tuple[int, int] | None:
    return cgroups.whole_disk_of("/usr")


def _stdin_fd(data: bytes) -> int:
    """A read-only fd of a sealed anonymous in-memory file: no pipe to keep fed, no deadlock, nothing on disk,
    and no way for the program to reopen it for writing and change its own input."""
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, 0o400)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK
                    | fcntl.F_SEAL_SEAL)  # fmt: skip
        ro = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(fd)
    return ro


# ------------------------------------------------------------------------------------- the worker's side ----


@dataclass
class _Watch:
    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False


def _supervise(pid: int, cgroup: cgroups.Cgroup, limits: Limits, out_r: int, err_r: int,
               status_r: int, reap: bool = True) -> StageResult:  # fmt: skip
    """Collect output and status, enforce wall and CPU time and output size; never sleeps past an event."""
    streams = {out_r: _Watch(limits.output * 1024), err_r: _Watch(limits.output * 1024)}
    both = bytearray()  # stdout and stderr interleaved in the order they were read
    poller = select.poll()
    for fd in (out_r, err_r, status_r):
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    open_fds = {out_r, err_r, status_r}
    status_buf = bytearray()
    created = time.monotonic()
    started: float | None = None
    finished: float | None = None
    killed_for: str | None = None
    killed_at = 0.0
    next_cpu_check = 0.0  # when the cgroup's CPU counter is next worth reading

    def kill(reason: str) -> None:
        nonlocal killed_for, killed_at
        if killed_for is None:
            killed_for, killed_at = reason, time.monotonic()
            cgroup.kill()

    # Done when the program's exit is reported and its output is closed; the box's own teardown (init, keeper,
    # namespaces) goes on without us: it cannot change the result, and the cgroup is emptied by destroy.
    while open_fds - ({status_r} if finished is not None else set()):
        now = time.monotonic()
        if killed_for is not None:
            if now - killed_at > KILL_GRACE:
                _kill_keeper(pid)  # init dies with it (pdeathsig), and with init the whole box
            timeout = KILL_GRACE
        elif started is None:
            if now - created > SETUP_TIMEOUT:
                kill("setup")
            timeout = SETUP_TIMEOUT
        else:
            wall_left = started + limits.wall_time - now
            if wall_left <= 0:
                kill("wall")
                continue
            if now >= next_cpu_check:
                cpu_seen = cgroup.cpu_time()
                if cpu_seen >= limits.cpu_time:
                    kill("cpu")
                    continue
                # The box cannot burn CPU faster than its quota, so the limit cannot be reached before this.
                next_cpu_check = now + max((limits.cpu_time - cpu_seen) / limits.cpus, MIN_CHECK_INTERVAL)
            timeout = min(wall_left, next_cpu_check - now)
        for fd, _ in poller.poll(max(timeout, 0.001) * 1000):
            try:
                chunk = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
                continue
            if fd == status_r:
                status_buf += chunk
                if started is None and b"started\n" in status_buf:
                    started = time.monotonic()
                    next_cpu_check = started + limits.cpu_time / limits.cpus
                if b"\nexit " in b"\n" + status_buf and finished is None:
                    finished = time.monotonic()
                continue
            watch = streams[fd]
            room = watch.limit - len(watch.data)
            watch.data += chunk[:room]
            both += chunk[:room]
            if len(chunk) > room:
                watch.truncated = True
                kill("output")
    if reap:  # a keeper the launcher forked is its child, reaped there
        os.waitpid(pid, 0)
    return _result(status_buf.decode(errors="replace"), cgroup, limits, streams[out_r], streams[err_r],
                   bytes(both), started, finished, killed_for)  # fmt: skip


def _kill_keeper(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _result(status_text: str, cgroup: cgroups.Cgroup, limits: Limits, out: _Watch, err: _Watch, both: bytes,
            started: float | None, finished: float | None, killed_for: str | None) -> StageResult:  # fmt: skip
    errors = [line[6:] for line in status_text.splitlines() if line.startswith("error ")]
    exits = [int(line[5:]) for line in status_text.splitlines() if line.startswith("exit ")]
    cpu = cgroup.cpu_time()
    memory = cgroup.memory_peak()
    oom = cgroup.oom_killed()
    end = finished or time.monotonic()
    wall = 0.0 if started is None else end - started
    exit_code = sig = None
    if exits:
        if os.WIFSIGNALED(exits[0]):
            sig = os.WTERMSIG(exits[0])
        else:
            exit_code = os.waitstatus_to_exitcode(exits[0])

    def make(status: Status, message: str = "", time_limit: str | None = None) -> StageResult:
        return StageResult(status, exit_code, sig, bytes(out.data), bytes(err.data), out.truncated,
                           err.truncated, cpu, wall, memory, time_limit, oom, message, both)  # fmt: skip

    if errors or killed_for == "setup" or (not exits and killed_for is None):
        return internal_error("; ".join(errors) or "the box did not report its program's exit")
    if killed_for == "output":
        return make(Status.OUTPUT_LIMIT, f"output went over {limits.output} KiB")
    if oom:
        return make(Status.MEMORY_LIMIT, f"memory went over {limits.memory} MiB")
    if killed_for == "wall":
        return make(Status.TIME_LIMIT, f"wall time went over {limits.wall_time} s", "wall")
    if killed_for == "cpu" or cpu > limits.cpu_time:
        return make(Status.TIME_LIMIT, f"CPU time went over {limits.cpu_time} s", "cpu")
    if sig is not None:
        return make(Status.SIGNALED, f"killed by signal {sig} ({signal.Signals(sig).name})")
    if exit_code:
        return make(Status.RUNTIME_ERROR, f"exited with code {exit_code}")
    return make(Status.OK)


# ------------------------------------------------------------------------------------- inside the box -------


def _report(fd: int, line: str) -> None:
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())
    except OSError:
        pass


def _keeper(shape: _Shape, init_sock: int, program_sock: int, parent_pid: int) -> None:
    """Child of the launcher (or worker): make the namespaces the program will not own, then fork the box's init.

    Runs before the box's plan exists; a step that fails is reported once the plan (and its status pipe) arrives.
    """
    code = 1
    try:
        # 1. Die with the launcher (or worker), so a killed worker cannot leave a box running; wait for children
        #    as a fresh process does (the launcher ignores SIGCHLD, and that is inherited).
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # 2. Keep only the two sockets the plan will come on: the parent's sockets and files stay out.
        _close_fds_except([init_sock, program_sock])
        # 3. Mount, UTS, IPC and pid namespaces owned by the host's user namespace; then the network namespace.
        syscalls.unshare(namespaces.KEEPER_NAMESPACES & ~syscalls.CLONE_NEWNET)
        network.enter_new_network_namespace(shape.lo_request)
        namespaces.set_hostname()
        # 4. The first child in the new pid namespace is the box's init (pid 1).
        child = os.fork()
        if child == 0:
            _init(shape, init_sock, program_sock)
        os.close(init_sock)
        os.close(program_sock)
        _, status = os.waitpid(child, 0)
        code = 0 if os.waitstatus_to_exitcode(status) == 0 else 1
    except BaseException as e:  # noqa: B036 - anything at all must be reported, never propagate past fork
        _report_when_planned(init_sock, f"error keeper: {type(e).__name__}: {e}")
    finally:
        os._exit(code)


def _init(shape: _Shape, init_sock: int, program_sock: int) -> None:
    """pid 1 of the box: prepare the root, fork the program's process; then, with the plan, finish the root, map
    the program's user namespace, reap, report its status."""
    code = 1
    try:
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        # 5. The filesystem's fixed part: read-only runtime, /etc, /dev, /proc (mounts.prepare_root).
        mounts.prepare_root(shape.new_root, shape.layout)
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        exec_r, exec_w = os.pipe2(os.O_CLOEXEC)
        child = os.fork()
        if child == 0:
            for fd in (sync_r, go_w, exec_r, init_sock):
                os.close(fd)
            _program(program_sock, sync_w, go_r, exec_w)
        for fd in (sync_w, go_r, exec_w, program_sock):
            os.close(fd)
    except BaseException as e:  # noqa: B036
        _report_when_planned(init_sock, f"error init: {type(e).__name__}: {e}")
        os._exit(1)
    # --- prepared: from here on, the run ---
    plan = _receive_plan(init_sock)
    try:
        for fd in (plan.stdin_fd, plan.stdout_w, plan.stderr_w, *plan.cgroup_fds):
            os.close(fd)
        # 9. The program has entered its user namespace: map its ids onto this slot's host range.
        if os.read(sync_r, 1) == b"u":
            namespaces.write_id_maps(child, plan.idmap, proc=f"{shape.new_root}/proc")  # the box's /proc: its pids
            os.write(go_w, b"g")
        # 5. (continued) The run's own filesystems (/box, /tmp, /dev/shm), pivot_root, read-only root, while the
        #    program drops its capabilities; it waits for this before it looks at any file (step 11).
        mounts.finish_root(plan.root)
        os.write(go_w, b"r")
        os.close(go_w)
        # exec_r reaches EOF when execve succeeds (close-on-exec); anything read is the reason it failed.
        failure = _read_all(exec_r)
        if failure:
            _report(plan.status_w, f"error program: {failure.decode(errors='replace')}")
        else:
            _report(plan.status_w, "started")
        # Reap everything (orphans are re-parented to us) until the program itself has exited.
        while True:
            pid, status = os.wait()
            if pid == child:
                break
        if not failure:
            _report(plan.status_w, f"exit {status}")
        code = 0
    except BaseException as e:  # noqa: B036
        _report(plan.status_w, f"error init: {type(e).__name__}: {e}")
    finally:
        # Leaving pid 1 makes the kernel kill every process still in the box.
        os._exit(code)


def _receive_plan(sock: int) -> _Plan:
    """The run's plan, with its descriptors, from the launcher (or worker); no plan (socket closed) ends the box
    quietly: it was prepared and never used."""
    plan = launcher.receive_plan(sock)
    if plan is None:
        os._exit(0)
    return plan


def _report_when_planned(sock: int, line: str) -> None:
    """A prepared box that broke reports why on the status pipe of the plan it is given."""
    try:
        plan = launcher.receive_plan(sock)
    except BaseException:  # noqa: B036 - nothing left to report to
        return
    if plan is not None:
        _report(plan.status_w, line)


def _program(program_sock: int, sync_w: int, go_r: int, exec_w: int) -> None:
    """The program's process, from host root to a capability-less uid in its own user namespace, then exec."""
    step = "plan"
    try:
        plan = _receive_plan(program_sock)
        os.close(plan.status_w)  # init's to write
        # 6. Join the box's cgroup (still host root, which v1 requires), then hide the rest of the hierarchy.
        step = "6"
        cgroups.join_via_fds(plan.cgroup_fds)
        namespaces.enter_cgroup_namespace()
        # 7. rlimits while still privileged (raising a hard limit needs CAP_SYS_RESOURCE of the host).
        step = "7"
        os.setgroups([])
        limits_mod.apply_rlimits(plan.rlimits)
        # 8. A user namespace of its own, entered last; wait until init has mapped it (step 9).
        step = "8"
        namespaces.enter_user_namespace_unmapped()
        os.write(sync_w, b"u")
        if os.read(go_r, 1) != b"g":
            raise SandboxError("init did not map the user namespace")
        # 10. Drop every capability, then become the box user: uid 1000 inside, id_base+slot*65536+1000 outside.
        step = "10"
        syscalls.drop_bounding_set(plan.last_cap)
        os.setresgid(namespaces.BOX_UID, namespaces.BOX_UID, namespaces.BOX_UID)
        os.setresuid(namespaces.BOX_UID, namespaces.BOX_UID, namespaces.BOX_UID)
        syscalls.clear_capabilities()  # setresuid emptied the permitted set; this empties the inheritable one
        # 11. Once init has finished the root: a new session (no controlling terminal to inject into), the working
        #     directory.
        step = "11"
        if os.read(go_r, 1) != b"r":
            raise SandboxError("init did not finish the root")
        os.setsid()
        os.chdir(plan.cwd)
        # 12. Only fds 0, 1, 2 survive exec; exec_w (close-on-exec) tells init whether exec failed.
        step = "12"
        os.dup2(plan.stdin_fd, 0)
        os.dup2(plan.stdout_w, 1)
        os.dup2(plan.stderr_w, 2)
        os.dup2(exec_w, 3)
        syscalls.close_range(4)
        os.set_inheritable(3, False)
        exec_w = 3
        path = _which(plan.argv[0], plan.env["PATH"])
        # Signals as a fresh process has them: the worker's ignored signals (CPython ignores SIGPIPE and
        # SIGXFSZ) and blocked mask survive exec and would change how programs and pipelines behave.
        for signum in _RESETTABLE_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        # 13. no_new_privs, then the seccomp filter, then exec: nothing may run between the filter and exec.
        step = "13"
        seccomp.set_no_new_privs()
        seccomp.load_bpf(plan.seccomp_bpf)
        os.execve(path, list(plan.argv), dict(plan.env))  # noqa: S606 - the point of the sandbox
    except BaseException as e:  # noqa: B036
        try:
            os.write(exec_w, f"step {step}: {type(e).__name__}: {e}".encode())
        except OSError:
            pass
    finally:
        os._exit(127)


_RESETTABLE_SIGNALS = tuple(sorted(signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}))


def _which(name: str, path: str) -> str:
    if "/" in name:
        return name
    for d in path.split(":"):
        candidate = f"{d}/{name}"
        if os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(errno.ENOENT, f"command not found in the box: {name}")


def _read_all(fd: int) -> bytes:
    data = bytearray()
    while chunk := os.read(fd, 4096):
        data += chunk
    return bytes(data)


def _close_fds_except(keep: Sequence[int]) -> None:
    low = 3
    for fd in sorted(set(k for k in keep if k >= 3)):
        if fd > low:
            syscalls.close_range(low, fd - 1)
        low = fd + 1
    syscalls.close_range(low)
