"""Which addresses a webhook may reach: public ones, and loopback or private ones only when listed."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from sandbox_service.webhooks.policy import CallbackRefused, address_allowed, callback_target, check_callback_url


@pytest.mark.parametrize(
    ("listed", "address", "port", "allowed"),
    [
        ([], "93.184.216.34", 443, True),  # public
        ([], "2606:2800:220:1:248:1893:25c8:1946", 443, True),
        ([], "127.0.0.1", 80, False),
        ([], "::1", 80, False),
        ([], "::ffff:127.0.0.1", 80, False),  # IPv4-mapped loopback
        ([], "10.1.2.3", 80, False),
        ([], "169.254.169.254", 80, False),  # cloud metadata
        ([], "0.0.0.0", 80, False),
        ([], "224.0.0.1", 80, False),
        (["127.0.0.1"], "127.0.0.1", 8080, True),
        (["127.0.0.1"], "::ffff:127.0.0.1", 8080, True),
        (["127.0.0.1:8080"], "127.0.0.1", 8080, True),
        (["127.0.0.1:8080"], "127.0.0.1", 22, False),  # listed for another port
        (["[::1]:8080"], "::1", 8080, True),
        (["::1"], "::1", 9, True),
        (["localhost"], "127.0.0.1", 80, False),  # a listed name does not list the addresses it resolves to
    ],
)
def test_an_address_is_allowed_if_public_or_listed(settings: Any, listed: list[str], address: str, port: int,
                                                  allowed: bool) -> None:  # fmt: skip
    settings.WEBHOOK_ALLOWED_HOSTS = listed
    assert address_allowed(ipaddress.ip_address(address), port) is allowed


def test_an_ipv6_callback_url_matches_a_bracketed_entry(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["[::1]:8080"]
    assert check_callback_url("http://[::1]:8080/hook")
    with pytest.raises(CallbackRefused):
        check_callback_url("http://[::1]:8081/hook")


def test_the_target_keeps_the_name_path_and_query_and_the_validated_addresses(settings: Any) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1:8080"]
    target = callback_target("http://127.0.0.1:8080/a/b?x=1&y=2")
    assert (target.host, target.port, target.path, target.addresses) == ("127.0.0.1", 8080, "/a/b?x=1&y=2",
                                                                          ("127.0.0.1",))  # fmt: skip


def test_every_resolved_address_must_be_allowed(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.test"]

    def two_answers(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("93.184.216.34", "10.0.0.7")]

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    with pytest.raises(CallbackRefused, match="10.0.0.7"):
        callback_target("https://hooks.example.test/hook")
