"""Namespaces: which ones a box gets, and the user-namespace id mapping.

The box process tree is built in this order (see sandbox.contain for the whole checklist):
  keeper (host root)  -- unshare(mount, uts, ipc, net, pid) -->  init (pid 1 of the box, host root)
  init                -- fork -->  program: joins the cgroup, unshares the cgroup namespace, then the user
                                   namespace last, and becomes uid 1000 inside / id_base + slot*65536 + 1000 outside.
Entering the user namespace last means the mount, pid, net, UTS and IPC namespaces are owned by the host's initial
user namespace: the program never holds a capability over any of them, not even as "root" inside its own user
namespace, and so cannot remount, unmount or reconfigure anything of the box.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from executor import syscalls

# Created by the keeper, owned by the initial user namespace.
KEEPER_NAMESPACES = (
    syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWNET | syscalls.CLONE_NEWPID
)

BOX_UID = 1000  # the program's uid and gid inside the box
BOX_USER = "sandbox"
HOSTNAME = "sandbox"
ID_RANGE = 65536  # ids 0..65535 of the box are mapped; everything else is the overflow id (nobody)


@dataclass(frozen=True)
class IdMap:
    """The host id range of one slot."""

    host_base: int

    @classmethod
    def for_slot(cls, id_base: int, slot: int) -> IdMap:
        return cls(id_base + slot * ID_RANGE)

    @property
    def box_user_on_host(self) -> int:
        """The host uid (and gid) the program runs as."""
        return self.host_base + BOX_UID

    def line(self) -> bytes:
        return f"0 {self.host_base} {ID_RANGE}\n".encode()


def write_id_maps(pid: int, idmap: IdMap, proc: str = "/proc") -> None:
    """Map the box's ids for a process that has just unshared its user namespace.

    Written by a host-root process (CAP_SETUID/CAP_SETGID in the parent user namespace), so no "deny" to
    setgroups is needed; the program has already dropped its supplementary groups before unsharing.
    """
    for name in ("uid_map", "gid_map"):
        fd = os.open(f"{proc}/{pid}/{name}", os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.write(fd, idmap.line())
        finally:
            os.close(fd)


def enter_user_namespace_unmapped() -> None:
    syscalls.unshare(syscalls.CLONE_NEWUSER)


def enter_cgroup_namespace() -> None:
    """After joining the box's cgroup, so that the box sees its own cgroup as the root '/'."""
    syscalls.unshare(syscalls.CLONE_NEWCGROUP)


def set_hostname() -> None:
    syscalls.sethostname(HOSTNAME)
