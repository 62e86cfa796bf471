"""Compile the seccomp policy to a BPF program once, and install it in a child right before execve.

Parent (once per policy): ``compile_bpf(policy)`` builds the filter with libseccomp and exports the raw
classic-BPF program as bytes (cached).
Child, between fork and execve: ``set_no_new_privs()`` then ``load_bpf(program)`` -- two plain syscalls, no
libseccomp, no allocation beyond a pointer; the ctypes plumbing is prepared at import.

The filter:
- checks the architecture first: anything but x86_64 (i386 via ``int $0x80``) is KILL_PROCESS, and so is an
  x32 syscall number (``nr | 0x40000000``, which arrives with the x86_64 audit arch; libseccomp emits that
  check for an x86_64 filter, and a test proves it);
- allows the policy's syscalls, applies its argument rules, and fails everything else with EPERM.

Argument rules are written as *allow* rules only, falling through to the default errno. libseccomp cannot
express "allow ioctl, except TIOCSTI": a conditional rule next to an unconditional one for the same syscall
is silently dropped, a rule whose action equals the default action is refused, and one rule may compare an
argument only once. So "the lower 32 bits are not one of these values" is spelled as a union of
masked-equality patterns (``_masked_complement``), which is exact and ignores the upper 32 bits the way the
kernel does.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

import pyseccomp

from executor.seccomp_policy import (
    DEFAULT_POLICY,
    DENIED_GROUPS,
    DENIED_SYSCALLS,
    SYSCALL_NUMBERS_UNKNOWN_TO_LIBSECCOMP,
    DeniedGroup,
    SeccompPolicy,
)

__all__ = [
    "DEFAULT_POLICY",
    "DENIED_GROUPS",
    "DENIED_SYSCALLS",
    "DeniedGroup",
    "SeccompPolicy",
    "compile_bpf",
    "load_bpf",
    "render_pfc",
    "set_no_new_privs",
    "syscall_number",
]

# x86_64 syscall numbers and constants used below (linux/seccomp.h, linux/prctl.h, linux/filter.h).
_NR_PRCTL = 157
_NR_SECCOMP = 317
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_BPF_MAXINSNS = 4096
_BPF_INSN_SIZE = 8
_LOW32 = 0xFFFFFFFF


# --- building ----------------------------------------------------------------------------------------------


def syscall_number(name: str) -> int:
    """x86_64 number of a syscall name; raises ValueError for a name x86_64 does not have."""
    extra = dict(SYSCALL_NUMBERS_UNKNOWN_TO_LIBSECCOMP)
    if name in extra:
        return extra[name]
    number: int = pyseccomp.resolve_syscall(pyseccomp.Arch.X86_64, name)
    if number < 0:
        raise ValueError(f"{name!r} is not an x86_64 syscall")
    return number


def _masked_complement(excluded: tuple[int, ...], width: int = 32) -> list[tuple[int, int]]:
    """(mask, value) pairs such that ``x & mask == value`` for some pair iff the low ``width`` bits of x are
    not in ``excluded``. Walks the bits from the top and emits a pattern as soon as no excluded value shares
    the prefix: at most ``width * len(excluded)`` patterns, none overlapping."""
    full = (1 << width) - 1
    patterns: list[tuple[int, int]] = []

    def walk(fixed_bits: int, prefix: int, candidates: list[int]) -> None:
        if not candidates:
            mask = full ^ ((1 << (width - fixed_bits)) - 1)
            patterns.append((mask, prefix))
            return
        if fixed_bits == width:  # exactly an excluded value
            return
        bit = 1 << (width - fixed_bits - 1)
        for chosen in (0, bit):
            walk(fixed_bits + 1, prefix | chosen, [c for c in candidates if c & bit == chosen])

    walk(0, 0, sorted({value & full for value in excluded}))
    return patterns


def _allow_unless_low32_in(flt: pyseccomp.SyscallFilter, syscall: str, arg: int, denied: tuple[int, ...]) -> None:
    number = syscall_number(syscall)
    if not denied:
        flt.add_rule(pyseccomp.ALLOW, number)
        return
    for mask, value in _masked_complement(denied):
        flt.add_rule(pyseccomp.ALLOW, number, pyseccomp.Arg(arg, pyseccomp.MASKED_EQ, mask, value))


def _build_filter(policy: SeccompPolicy) -> pyseccomp.SyscallFilter:
    if pyseccomp.system_arch() != pyseccomp.Arch.X86_64:
        raise RuntimeError(f"the seccomp policy is written for x86_64, not {platform.machine()}")
    flt = pyseccomp.SyscallFilter(pyseccomp.ERRNO(policy.default_errno))
    # The filter holds only the native arch (libseccomp's default): i386 and x32 calls hit this action.
    flt.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    # Binary search over syscall numbers instead of a linear chain of ~300 comparisons.
    flt.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)

    for name in sorted(policy.allowed):
        flt.add_rule(pyseccomp.ALLOW, syscall_number(name))
    for name, err in policy.errno_overrides:
        flt.add_rule(pyseccomp.ERRNO(err), syscall_number(name))

    # clone(flags, ...) on x86_64: flags is arg 0.
    flt.add_rule(
        pyseccomp.ALLOW,
        syscall_number("clone"),
        pyseccomp.Arg(0, pyseccomp.MASKED_EQ, policy.clone_forbidden_flags, 0),
    )
    for persona in policy.personality_allowed:
        flt.add_rule(
            pyseccomp.ALLOW,
            syscall_number("personality"),
            pyseccomp.Arg(0, pyseccomp.MASKED_EQ, _LOW32, persona & _LOW32),
        )
    _allow_unless_low32_in(flt, "socket", 0, policy.socket_denied_families)
    _allow_unless_low32_in(flt, "socketpair", 0, policy.socket_denied_families)
    _allow_unless_low32_in(flt, "ioctl", 1, policy.ioctl_denied_commands)
    return flt


def compile_bpf(policy: SeccompPolicy = DEFAULT_POLICY) -> bytes:
    """The policy as a raw classic-BPF program (``struct sock_filter[]``), built once per distinct policy."""
    return _compile_cached(policy)


@functools.cache  # wrapped so that compile_bpf() and compile_bpf(DEFAULT_POLICY) share one cache entry
def _compile_cached(policy: SeccompPolicy) -> bytes:
    flt = _build_filter(policy)
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    with open(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        program = out.read()
    if not program or len(program) % _BPF_INSN_SIZE or len(program) // _BPF_INSN_SIZE > _BPF_MAXINSNS:
        raise RuntimeError(f"libseccomp exported an unusable BPF program ({len(program)} bytes)")
    return program


def render_pfc(policy: SeccompPolicy = DEFAULT_POLICY) -> str:
    """libseccomp's pseudo-code for the policy, for reading and debugging."""
    fd = os.memfd_create("seccomp-pfc", os.MFD_CLOEXEC)
    with open(fd, "w+b") as out:
        _build_filter(policy).export_pfc(out)
        out.seek(0)
        return out.read().decode()


# --- loading (runs in the forked child) -------------------------------------------------------------------


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_FPROG = _SockFprog()
_FPROG_REF = ctypes.byref(_FPROG)
_ZERO = ctypes.c_ulong(0)
_ONE = ctypes.c_ulong(1)
_ARGS_PRCTL = (
    ctypes.c_long(_NR_PRCTL),
    ctypes.c_ulong(_PR_SET_NO_NEW_PRIVS),
    _ONE,
    _ZERO,
    _ZERO,
    _ZERO,
)
_ARGS_SECCOMP = (ctypes.c_long(_NR_SECCOMP), ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER), _ZERO)


def _raise_errno(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS, 1): execve can no longer gain privileges (setuid bits, file
    capabilities), which is what lets an unprivileged process install a seccomp filter."""
    if _syscall(*_ARGS_PRCTL) != 0:
        _raise_errno("prctl(PR_SET_NO_NEW_PRIVS)")


def load_bpf(program: bytes) -> None:
    """Install a program from ``compile_bpf`` on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER).

    Call it in the child after fork, after ``set_no_new_privs()`` (without it the kernel refuses with EACCES
    unless the caller has CAP_SYS_ADMIN), as the last step before execve. It cannot be undone; the filter is
    inherited by every descendant and survives execve."""
    count, rest = divmod(len(program), _BPF_INSN_SIZE)
    if rest or not 0 < count <= _BPF_MAXINSNS:
        raise ValueError(f"not a BPF program: {len(program)} bytes")
    _FPROG.len = count
    # Points into the bytes object itself (no copy); `program` stays alive for the duration of the call.
    _FPROG.filter = ctypes.cast(ctypes.c_char_p(program), ctypes.c_void_p).value
    if _syscall(*_ARGS_SECCOMP, _FPROG_REF) != 0:
        _raise_errno("seccomp(SECCOMP_SET_MODE_FILTER)")
