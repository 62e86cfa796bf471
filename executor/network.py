"""Network: a box's network namespace holds only the loopback device, up, and no route anywhere else.

Creating a network namespace is the slowest namespace to make (and to tear down: the kernel frees it from a
work queue under a global lock). The step is isolated here behind one function so that a pool of prepared
namespaces can replace `unshare` with `setns` later without touching the rest of the sandbox.

The rtnetlink request that brings `lo` up is built once with pyroute2's message classes, in the worker; the
box's keeper only sends those bytes on a plain netlink socket and checks the kernel's acknowledgement. (A full
pyroute2 IPRoute session costs about 4 ms per box; sending the prepared message costs microseconds.)
"""

from __future__ import annotations

import functools
import socket
import struct
import threading

from executor import syscalls

IFF_UP = 0x1
LOOPBACK_INDEX = 1  # lo is always ifindex 1 in a new network namespace
_NLMSG_ERROR = 2


_BUILD_LOCK = threading.Lock()  # pyroute2's first import is not safe from two threads at once


@functools.cache
def loopback_up_request() -> bytes:
    with _BUILD_LOCK:
        return _build_loopback_up_request()


def _build_loopback_up_request() -> bytes:
    # Imported here: the message is built once in the worker; the processes that fork boxes (executor.launcher)
    # stay small without pyroute2 in them.
    from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
    from pyroute2.netlink.rtnl import RTM_NEWLINK
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    msg = ifinfmsg()
    msg["index"] = LOOPBACK_INDEX
    msg["flags"] = IFF_UP
    msg["change"] = IFF_UP
    msg["header"]["type"] = RTM_NEWLINK
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    msg["header"]["sequence_number"] = 1
    msg.encode()
    return bytes(msg.data)


def enter_new_network_namespace(request: bytes | None = None) -> None:
    """Unshare the network namespace of the calling process and bring its `lo` up."""
    syscalls.unshare(syscalls.CLONE_NEWNET)
    bring_up_loopback(request or loopback_up_request())


def bring_up_loopback(request: bytes) -> None:
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.send(request)
        reply = sock.recv(4096)
    # struct nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid}, then struct nlmsgerr {int error; ...}
    _, kind, _, _, _, error = struct.unpack_from("=IHHIIi", reply)
    if kind != _NLMSG_ERROR or error != 0:
        raise OSError(-error, f"bringing lo up failed: netlink reply type {kind}, error {error}")
