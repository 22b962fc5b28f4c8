"""The SSRF guard's URL check: every refused class, embedded IPv4, allow lists, resolution."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import httpx
import pytest

from nunchi.config import Settings
from nunchi.errors import InvalidInput, OutboundBlocked, PermanentError
from nunchi.outbound import OutboundPolicy, blocked_reason, check_url


def resolving_to(*addresses: str) -> OutboundPolicy:
    """A default policy whose resolver answers ``addresses`` for every name."""
    return policy_with(addresses)


def policy_with(
    addresses: Sequence[str], *, allow_private: bool = False, allow_hosts: Sequence[str] = ()
) -> OutboundPolicy:
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return OutboundPolicy(allow_private, allow_hosts, resolver=resolver)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("192.0.2.1", "private"),  # TEST-NET documentation range
        ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("::ffff:10.0.0.1", "private (IPv4"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::7f00:1", "loopback (IPv4"),  # NAT64
        ("2002:7f00:1::1", "loopback (IPv4"),  # 6to4
        ("::127.0.0.1", "loopback (IPv4"),  # IPv4-compatible
    ],
)
def test_non_public_addresses_are_classified(address: str, reason: str) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "1.1.1.1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None
    target = check_url("https://example.com/x?y=1", resolving_to(address))
    assert target.addresses == (str(ipaddress.ip_address(address)),)
    assert (target.host, target.port) == ("example.com", 443)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.100", "CGNAT"),
        ("::ffff:192.168.0.1", "private"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.1.1.1", "reserved"),
        ("fe80::abcd", "link-local"),
    ],
)
def test_check_url_refuses_each_blocked_class(address: str, reason: str) -> None:
    with pytest.raises(OutboundBlocked, match=reason) as info:
        check_url("http://hooks.example.com/secret-token?key=abc", resolving_to(address))
    message = str(info.value)
    assert "hooks.example.com" in message and str(ipaddress.ip_address(address)) in message
    assert "secret-token" not in message and "key=abc" not in message  # no path/query leaked
    assert isinstance(info.value, PermanentError)


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(OutboundBlocked, match=r"10\.0\.0\.1"):
        check_url("https://example.com/", resolving_to("93.184.216.34", "10.0.0.1"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://example.com/", "scheme 'gopher'"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http:///nohost", "no host"),
        ("http://exa mple.com/", "spaces and control characters"),
        ("http://example.com/a\r\nX-Injected: 1", "control characters"),
        ("http://example.com:99999/", "port 99999"),
        ("http://example.com:0/", "port 0"),
        ("https://example.com/" + "a" * 2100, "at most 2048"),
    ],
)
def test_bad_urls_are_refused_before_resolving(url: str, message: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("must not resolve a refused URL")

    with pytest.raises(OutboundBlocked, match=message):
        check_url(url, OutboundPolicy(resolver=resolver))


def test_literal_and_numeric_ip_hosts_are_resolved_and_refused() -> None:
    # The system resolver turns these forms into addresses without any network access.
    for url in ("http://127.0.0.1/", "http://[::1]:8080/", "http://2130706433/", "http://0x7f.1/"):
        with pytest.raises(OutboundBlocked, match="loopback"):
            check_url(url, OutboundPolicy())


def test_allow_private_lifts_the_address_check_only() -> None:
    policy = policy_with(["10.0.0.1"], allow_private=True)
    assert check_url("http://intranet/", policy).addresses == ("10.0.0.1",)
    with pytest.raises(OutboundBlocked, match="scheme"):
        check_url("ftp://intranet/", policy)
    with pytest.raises(OutboundBlocked, match="credentials"):
        check_url("http://a:b@intranet/", policy)


def test_allow_hosts_by_cidr() -> None:
    policy = policy_with(["127.0.0.1"], allow_hosts=["127.0.0.1/32"])
    assert check_url("http://anything:9/", policy).addresses == ("127.0.0.1",)
    other = policy_with(["127.0.0.2"], allow_hosts=["127.0.0.1/32"])
    with pytest.raises(OutboundBlocked):
        check_url("http://anything/", other)
    mapped = policy_with(["::ffff:127.0.0.1"], allow_hosts=["127.0.0.1"])
    assert check_url("http://anything/", mapped).port == 80


def test_allow_hosts_by_name_and_wildcard() -> None:
    policy = policy_with(["10.0.0.7"], allow_hosts=["Hooks.Internal.", "*.corp.example"])
    assert check_url("http://hooks.internal/x", policy).host == "hooks.internal"
    assert check_url("http://a.b.corp.example/x", policy).host == "a.b.corp.example"
    for url in ("http://corp.example/", "http://evil-corp.example/", "http://hooks.internal.x/"):
        with pytest.raises(OutboundBlocked):
            check_url(url, policy)


@pytest.mark.parametrize("entry", ["http://x.com", "a/b/c", "*", "user@host", ""])
def test_bad_allow_hosts_entries_say_what_to_write(entry: str) -> None:
    with pytest.raises(InvalidInput, match="neither a host name nor an IP/CIDR"):
        OutboundPolicy(allow_hosts=[entry])


def test_policy_from_settings() -> None:
    settings = Settings(outbound_allow_private=False, outbound_allow_hosts=["10.0.0.0/8", "x.y"])
    policy = OutboundPolicy.from_settings(settings)
    assert policy.allow_hosts == ("10.0.0.0/8", "x.y") and not policy.allow_private
    assert policy.address_allowed(ipaddress.ip_address("10.9.9.9"))
    assert policy.host_allowed("X.Y")


def test_unresolvable_hosts_are_connect_errors_not_refusals() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(httpx.ConnectError, match=r"cannot resolve host 'nowhere\.invalid'"):
        check_url("https://nowhere.invalid/", OutboundPolicy(resolver=resolver))
    with pytest.raises(httpx.ConnectError, match="no address"):
        check_url("https://example.com/", resolving_to())


def test_idna_hosts_are_resolved_in_their_ascii_form() -> None:
    seen: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return ["93.184.216.34"]

    target = check_url("https://한국.kr:8443/", OutboundPolicy(resolver=resolver))
    assert seen == [("xn--3e0b707e.kr", 8443)] and target.port == 8443
