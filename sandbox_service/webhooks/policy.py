"""Which callback URLs a submission may name, and which addresses a webhook may be sent to.

Judge0's callback_url is an open server-side request forgery by design (any URL, fetched from inside the
operator's network). Ours is refused unless its host is listed in WEBHOOK_ALLOWED_HOSTS (checked when the
submission is created, and again at delivery: the list may have changed). At delivery the host is resolved once
and every address must be public or itself listed: a listed name that resolves (or is rebound) to 127.0.0.1, a
private network or a link-local metadata service is refused unless the operator listed that address too. The
connection then goes to an address validated here, never to the name, so a second DNS answer cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class CallbackRefused(ValueError):
    pass


def allowed_hosts() -> list[str]:
    return [h.lower() for h in settings.WEBHOOK_ALLOWED_HOSTS]


def check_callback_url(url: str) -> str:
    """Return the URL if a webhook may be sent to it, else raise CallbackRefused saying why."""
    if len(url) > 2048:
        raise CallbackRefused("longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise CallbackRefused(f"not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("must be an http or https URL with a host")
    if parts.username or parts.password:
        raise CallbackRefused("must not carry credentials")
    host = parts.hostname.lower()
    listed = allowed_hosts()
    if not {host, f"{host}:{port}", f"[{host}]:{port}"} & set(listed):
        raise CallbackRefused(f"host {host!r} is not on the operator's allow-list (WEBHOOK_ALLOWED_HOSTS)")
    return url


@dataclass(frozen=True)
class CallbackTarget:
    """Where to send one delivery: the URL's parts plus the validated addresses to connect to, in order."""

    scheme: str
    host: str  # the name, for the Host header and TLS (SNI and certificate check)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]


def callback_target(url: str) -> CallbackTarget:
    """Check the URL against the allow-list, resolve its host once and check every address.

    Raises CallbackRefused (a policy refusal: no retry makes sense) or OSError (the name did not resolve).
    """
    check_callback_url(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    # A scoped IPv6 address ("fe80::1%eth0") loses its scope: it is link-local, so refused unless listed anyway.
    addresses = tuple(dict.fromkeys(_canonical(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
                                    for info in infos))  # fmt: skip
    if not addresses:
        raise OSError(f"{host} has no address")
    for address in addresses:
        if not address_allowed(address, port):
            raise CallbackRefused(f"host {host!r} resolves to {address}, which is not a public address and not "
                                  "on the operator's allow-list (WEBHOOK_ALLOWED_HOSTS)")  # fmt: skip
    path = parts.path or "/"
    return CallbackTarget(scheme=parts.scheme, host=host, port=port, path=f"{path}?{parts.query}" if parts.query
                          else path, addresses=tuple(str(a) for a in addresses))  # fmt: skip


def address_allowed(address: IPAddress, port: int) -> bool:
    """A public unicast address, or one the allow-list names (as "10.0.0.5", "10.0.0.5:8080" or "[::1]:8080")."""
    address = _canonical(address)
    if address.is_global and not address.is_multicast:
        return True
    for entry in allowed_hosts():
        host, entry_port = _split_entry(entry)
        try:
            listed = _canonical(ipaddress.ip_address(host))
        except ValueError:
            continue  # a name, not an address
        if listed == address and entry_port in (None, port):
            return True
    return False


def _canonical(address: IPAddress) -> IPAddress:
    """::ffff:127.0.0.1 is 127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _split_entry(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, ""  # a name, an IPv4 address or a bare IPv6 address
    return host, int(port) if port.isdigit() else None
