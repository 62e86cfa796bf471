"""Network: a box's network namespace holds only the loopback device, up, and no route anywhere else.

Creating a network namespace is the slowest namespace to make (and to tear down: the kernel frees it from a
work queue under a global lock). The step is isolated here behind one function so that a pool of prepared
namespaces can replace `unshare` with `setns` later without touching the rest of the sandbox.
"""

from __future__ import annotations

from pyroute2 import IPRoute

from executor import syscalls


def enter_new_network_namespace() -> None:
    """Unshare the network namespace of the calling process and bring its `lo` up."""
    syscalls.unshare(syscalls.CLONE_NEWNET)
    bring_up_loopback()


def bring_up_loopback() -> None:
    # lo is always ifindex 1 in a new namespace; nothing else exists, so there is no route out.
    with IPRoute() as ipr:
        ipr.link("set", index=1, state="up")
