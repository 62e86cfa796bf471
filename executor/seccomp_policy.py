"""The seccomp policy as data: which syscalls a sandboxed program may make, and why the rest are denied.

Default-deny allow-list for x86_64, derived from Docker's default profile (moby ``profiles/seccomp/
default.json``): its unconditional allow-list restricted to x86_64 names, minus every syscall that
Docker only allows together with a capability (we never grant capabilities), minus a few more listed in
``DENIED_GROUPS`` with the reason. ``executor.seccomp`` turns a ``SeccompPolicy`` into a BPF program.

Arguments are compared the way the kernel reads them: where the kernel takes an ``int`` or ``unsigned int``
(ioctl's ``cmd``, socket's ``family``, personality, the legacy clone's flags) it ignores the upper 32 bits
of the register, so the policy only ever looks at the lower 32 bits; ``0x100005412`` is TIOCSTI.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from executor.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

# --- constants the policy refers to (x86_64 values) -------------------------------------------------------

# In clone(2) (not clone3) 0x80 sits in the exit-signal byte; no valid signal (1..64) has that bit, and a time
# namespace can only be made through clone3/unshare, both denied. Masking it anyway costs nothing.
CLONE_NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME
)

AF_ALG = 38
AF_VSOCK = 40

TIOCSTI = 0x5412
TIOCLINUX = 0x541C

PER_LINUX = 0x0000
PER_LINUX32 = 0x0008
UNAME26 = 0x0020000
PERSONALITY_QUERY = 0xFFFFFFFF


# --- what is allowed ---------------------------------------------------------------------------------------

# Docker's unconditional allow-list, x86_64 names only (the *32/*64/_time64 variants, socketcall, ipc, … do
# not exist on x86_64; i386 and x32 callers are killed by the architecture check anyway), without:
#   adjtimex, clock_adjtime, io_uring_*, name_to_handle_at, fanotify_mark  -> see DENIED_GROUPS
#   epoll_ctl_old, epoll_wait_old                                             -> never implemented by Linux
_DOCKER_BASE: frozenset[str] = frozenset(
    """
    accept accept4 access alarm bind brk capget capset chdir chmod chown clock_getres clock_gettime
    clock_nanosleep close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
    epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2 execve execveat exit exit_group faccessat
    faccessat2 fadvise64 fallocate fchdir fchmod fchmodat fchown fchownat fcntl fdatasync fgetxattr flistxattr
    flock fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex futex_waitv futimesat getcpu getcwd
    getdents getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid
    getpriority getrandom getresgid getresuid getrlimit get_robust_list getrusage getsid getsockname
    getsockopt get_thread_area gettid gettimeofday getuid getxattr inotify_add_watch inotify_init
    inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents ioprio_get ioprio_set
    io_setup io_submit kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lgetxattr
    link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat madvise membarrier
    memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect
    mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd
    msync munlock munlockall munmap nanosleep newfstatat open openat openat2 pause pidfd_open
    pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2
    prlimit64 process_mrelease pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
    recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
    rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
    sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop sendfile
    sendmmsg sendmsg sendto setfsgid setfsuid setgid setgroups setitimer setpgid setpriority setregid
    setresgid setresuid setreuid setrlimit set_robust_list setsid setsockopt set_thread_area
    set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 splice
    stat statfs statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
    timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime
    times tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid write
    writev
    """.split()
)

# Docker allows these per architecture; on x86_64 every process needs arch_prctl (glibc sets up TLS with it).
_X86_64_ONLY: frozenset[str] = frozenset({"arch_prctl"})

# Syscalls newer than the Docker profile the list was taken from; each is the same power as something above:
#   fchmodat2 = fchmodat with flags (glibc >= 2.39 uses it and falls back only on ENOSYS, not EPERM),
#   cachestat = mincore for a file's page cache, futex_wake/wait/requeue = futex2, map_shadow_stack = CET
#   shadow stacks for the process itself, mseal = the process sealing its own mappings.
_NEWER: frozenset[str] = frozenset(
    {"cachestat", "fchmodat2", "futex_wake", "futex_wait", "futex_requeue", "map_shadow_stack", "mseal"}
)

# x86_64 numbers of syscalls that libseccomp 2.5.4 cannot resolve by name.
SYSCALL_NUMBERS_UNKNOWN_TO_LIBSECCOMP: tuple[tuple[str, int], ...] = (("mseal", 462),)


# --- what is denied, and why -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeniedGroup:
    why: str
    syscalls: tuple[str, ...]


# Everything not allowed is denied by default; these are the ones denied on purpose (tests check each one).
# Most of them already fail without capabilities, which the sandbox never grants; the filter is the second
# wall, and it also removes the kernel code behind them from what a submission can reach at all.
# Each group's names stay on a few lines rather than one per line.
# fmt: off
DENIED_GROUPS: tuple[DeniedGroup, ...] = (
    DeniedGroup(
        "The mount table and namespaces are built by the runtime before exec. Changing them from inside, even "
        "in a fresh user namespace, is the classic container-escape route and reaches large, bug-prone kernel "
        "code (e.g. CVE-2022-0185, a heap overflow in fsconfig reachable via unshare(CLONE_NEWUSER)). chroot is "
        "harmless without CAP_SYS_CHROOT but no program we run needs it.",
        (
            "mount", "umount2", "pivot_root", "unshare", "setns", "mount_setattr", "fsopen", "fsconfig",
            "fsmount", "fspick", "open_tree", "move_mount", "chroot",
        ),
    ),
    DeniedGroup(
        "Reading, writing or stealing from another process: a submission could tamper with its own "
        "compiler or checker, or with another test's process. ptrace could bypass seccomp before Linux 4.8 and "
        "has a long CVE history; no debugger runs in the sandbox. Docker allows these only with CAP_SYS_PTRACE.",
        ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"),
    ),
    DeniedGroup(
        "Kernel keyrings are not namespaced: keys are shared by uid across the host (e.g. CVE-2016-0728, a "
        "keyring refcount overflow to root). Nothing we run stores keys.",
        ("keyctl", "add_key", "request_key"),
    ),
    DeniedGroup(
        "io_uring executes its operations in the kernel without passing through seccomp, so allowing it "
        "would allow everything; it has also been the most exploited kernel subsystem of recent years. libuv "
        "(Node.js) probes it and falls back to its thread pool on EPERM.",
        ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    ),
    DeniedGroup(
        "Programmable and observing kernel interfaces: eBPF (verifier bugs), perf events (side channels, "
        "CVEs), userfaultfd (lets an exploit stall a kernel copy_from_user at will to win a race), the kernel "
        "log and dcookies (kernel addresses, other users' messages).",
        ("bpf", "perf_event_open", "userfaultfd", "lookup_dcookie", "syslog"),
    ),
    DeniedGroup(
        "open_by_handle_at opens any inode on a filesystem by handle, ignoring the mount namespace (the 2014 "
        "'shocker' Docker escape); name_to_handle_at makes those handles.",
        ("open_by_handle_at", "name_to_handle_at"),
    ),
    DeniedGroup(
        "Loading kernel code or restarting the machine (CAP_SYS_MODULE / CAP_SYS_BOOT).",
        ("kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot"),
    ),
    DeniedGroup(
        "Host-wide administration (swap, host and domain names, process accounting, quotas, the terminal "
        "hangup, filesystem-wide notification): all need capabilities and all change the host, not the sandbox. "
        "fanotify_mark is useless without a descriptor from fanotify_init.",
        (
            "swapon", "swapoff", "sethostname", "setdomainname", "acct", "quotactl", "quotactl_fd", "vhangup",
            "fanotify_init", "fanotify_mark",
        ),
    ),
    DeniedGroup(
        "The clocks are host-wide. Setting them needs CAP_SYS_TIME; the read-only adjtimex/clock_adjtime "
        "queries are not used by any runtime we ship, so the whole family goes.",
        ("clock_settime", "clock_adjtime", "settimeofday", "adjtimex"),
    ),
    DeniedGroup(
        "Direct hardware I/O ports (CAP_SYS_RAWIO) and the local descriptor table: modify_ldt only serves "
        "16-bit code (Wine, DOSEMU) and has been behind several x86 entry-code vulnerabilities.",
        ("iopl", "ioperm", "modify_ldt"),
    ),
    DeniedGroup(
        "NUMA memory placement: Docker allows it only with CAP_SYS_NICE; migrate_pages and move_pages act on "
        "other processes' memory.",
        ("mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages"),
    ),
    DeniedGroup(
        "Obsolete or never-implemented interfaces (uselib loads a.out libraries, _sysctl was removed in 5.5). "
        "Nothing calls them; listing them keeps the allow-list honest.",
        (
            "create_module", "get_kernel_syms", "query_module", "nfsservctl", "uselib", "ustat", "sysfs",
            "_sysctl", "vserver", "tuxcall", "security", "afs_syscall", "getpmsg", "putpmsg",
        ),
    ),
    DeniedGroup(
        "clone3 passes its flags in memory, where a seccomp filter cannot read them, so namespace flags could "
        "not be refused. It fails with ENOSYS (not EPERM) because that is what makes glibc fall back to clone, "
        "whose flags are checked.",
        ("clone3",),
    ),
)

# fmt: on

DENIED_SYSCALLS: frozenset[str] = frozenset(name for group in DENIED_GROUPS for name in group.syscalls)

# Landlock is deliberately allowed (it is in Docker's list): like seccomp itself it is unprivileged and can
# only take rights away from the caller.


# --- the policy --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeccompPolicy:
    # Syscalls allowed with any arguments. Must not name a syscall that has an argument rule below: libseccomp
    # silently drops conditional rules when an unconditional one exists for the same syscall.
    allowed: frozenset[str] = field(default_factory=lambda: _DOCKER_BASE | _X86_64_ONLY | _NEWER)
    # errno returned for every syscall not allowed (EPERM, like Docker: programs treat it as "not permitted"
    # and carry on, where a kill would turn a harmless probe into a crash).
    default_errno: int = errno.EPERM
    # Syscalls that fail with a specific errno instead of default_errno.
    errno_overrides: tuple[tuple[str, int], ...] = (("clone3", errno.ENOSYS),)
    # clone is allowed only when none of these flag bits is set (threads, fork and vfork stay possible).
    clone_forbidden_flags: int = CLONE_NAMESPACE_FLAGS
    # personality values allowed (Docker's list: plain Linux, 32-bit uname, 2.6 uname, and the query);
    # anything else, e.g. READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE, is denied.
    personality_allowed: tuple[int, ...] = (PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32 | UNAME26, PERSONALITY_QUERY)
    # Address families refused by socket and socketpair (lower 32 bits of arg 0): vsock talks to the
    # hypervisor/host, AF_ALG is the kernel crypto API (a string of CVEs, e.g. CVE-2017-17805).
    socket_denied_families: tuple[int, ...] = (AF_ALG, AF_VSOCK)
    # ioctl commands refused (lower 32 bits of arg 1): TIOCSTI pushes characters into a terminal's input
    # (typing commands into whoever owns the tty), TIOCLINUX reads/writes the Linux console.
    ioctl_denied_commands: tuple[int, ...] = (TIOCSTI, TIOCLINUX)

    def __post_init__(self) -> None:
        conditional = {"clone", "personality", "socket", "socketpair", "ioctl"} | {
            name for name, _ in self.errno_overrides
        }
        clash = self.allowed & conditional
        if clash:
            raise ValueError(f"syscalls with argument or errno rules must not also be allowed outright: {clash}")
        for value in (self.default_errno, *(e for _, e in self.errno_overrides)):
            if not 0 < value < 4095:
                raise ValueError(f"errno out of range: {value}")
        if any(e == self.default_errno for _, e in self.errno_overrides):
            # libseccomp refuses a rule whose action equals the default action (and it would be a no-op).
            raise ValueError("an errno override must differ from default_errno")


DEFAULT_POLICY = SeccompPolicy()
