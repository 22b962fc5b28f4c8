"""The outbound-request guard: every fetch nunchi makes to a user-supplied URL goes through here.

:func:`check_url` refuses URLs that could reach inside the network (SSRF): schemes other than
http/https, credentials in the URL, and host names that resolve (any of their addresses) to
private, loopback, link-local (cloud metadata), multicast, reserved, unspecified, shared
(CGNAT) or otherwise non-global addresses, including IPv4 addresses embedded in IPv6
(IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). :class:`OutboundPolicy` lifts the check
for chosen hosts or networks.

:class:`GuardedClient` wraps :class:`httpx.Client`: it checks every URL, follows redirects
itself (re-checking each hop), connects only to the addresses it checked (so a DNS answer that
changes between check and connect -- DNS rebinding -- cannot redirect the connection; for
https the TLS handshake still uses the URL's host name for SNI and certificate checks),
enforces connect/read/total timeouts and caps the response body. Proxies from the environment
are ignored on purpose: a proxy would connect on our behalf to addresses we never checked.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from nunchi.errors import InvalidInput, OutboundBlocked

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = [
    "GuardedClient",
    "OutboundPolicy",
    "OutboundResponse",
    "OutboundTarget",
    "Resolver",
    "Timeouts",
    "blocked_reason",
    "check_url",
    "check_url_syntax",
    "is_ip_address",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> IP address strings``; raises :class:`OSError` if the name does not resolve."""

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPAT = ipaddress.IPv6Network("::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_REDIRECTS = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver returns for ``host`` (order kept, duplicates dropped)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]).split("%", 1)[0], None)  # drop an IPv6 scope id
    return list(seen)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _IPV4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (e.g. ``"loopback"``), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (IPv4 {inner} inside IPv6)" if reason else None
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip in _METADATA:
        return "link-local (cloud metadata service)"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared address space (CGNAT 100.64.0.0/10)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    """Which non-public destinations are allowed anyway.

    ``allow_private`` turns the address check off (schemes and credentials are still
    checked). ``allow_hosts`` holds host names (exact, or ``*.example.com`` for sub-domains)
    and IP addresses/CIDRs (``127.0.0.1/32``, ``10.0.0.0/8``) that may be reached even when
    private."""

    allow_private: bool = False
    allow_hosts: Sequence[str] = ()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in self.allow_hosts:
            entry = raw.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            label = entry.removeprefix("*.")
            if not label or any(c in label for c in "/:@[]*? \t") or label.startswith("."):
                raise InvalidInput(
                    f"outbound_allow_hosts entry {raw!r} is neither a host name nor an IP/CIDR: "
                    "write e.g. 'hooks.internal', '*.corp.example' or '10.0.0.0/8'"
                )
            if entry.startswith("*."):
                suffixes.append("." + label)
            else:
                names.add(label)
        object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_suffixes", tuple(suffixes))

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        """The policy configured by ``outbound_allow_private`` and ``outbound_allow_hosts``."""
        return cls(settings.outbound_allow_private, tuple(settings.outbound_allow_hosts))

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` (a name) is listed in ``allow_hosts``."""
        name = host.lower().rstrip(".")
        return name in self._names or any(name.endswith(s) for s in self._suffixes)

    def address_allowed(self, ip: IPAddress) -> bool:
        """Whether ``ip`` falls in one of the allowed networks."""
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        return any(
            c in net for c in candidates for net in self._networks if c.version == net.version
        )


@dataclass(frozen=True)
class OutboundTarget:
    """A URL that passed the check, with the addresses it may be connected to."""

    url: httpx.URL
    host: str
    """The host as sent on the wire (IDNA-encoded, no brackets around IPv6)."""
    port: int
    addresses: tuple[str, ...]


_HOST_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$")


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _where(url: httpx.URL) -> str:
    # Only scheme, host and port: paths and queries of webhook URLs often carry tokens.
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


_MAX_URL = 2048


def _refuse_address(where: str, ip: IPAddress, reason: str) -> OutboundBlocked:
    return OutboundBlocked(
        f"refused {where}: it resolves to {ip}, a {reason} address; only public addresses "
        "may be fetched (allow it with NUNCHI_OUTBOUND_ALLOW_HOSTS or "
        "NUNCHI_OUTBOUND_ALLOW_PRIVATE)"
    )


def check_url_syntax(url: str | httpx.URL, policy: OutboundPolicy) -> tuple[httpx.URL, str, int]:
    """Everything :func:`check_url` checks without a DNS lookup: a well-formed http(s) URL of
    at most 2,048 characters with no spaces or control characters, no credentials, a valid
    host and port, and, for an IP address or a ``localhost`` name, one the policy allows.
    Returns ``(url, host, port)``; raises :class:`OutboundBlocked` saying what is wrong.

    Used where a URL is taken for later (a job's ``callback_url``), so a bad one is refused
    when given instead of failing at delivery."""
    text = str(url)
    if len(text) > _MAX_URL:
        raise OutboundBlocked(f"the URL is {len(text)} characters long; at most {_MAX_URL}")
    bad = next((c for c in text if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise OutboundBlocked(
            f"the URL holds {bad!r} at character {text.index(bad)}; spaces and control "
            "characters must be percent-encoded"
        )
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        raise OutboundBlocked(f"not a valid URL: {e}") from e
    if parsed.scheme not in _DEFAULT_PORTS:
        raise OutboundBlocked(
            f"URL scheme {parsed.scheme!r} is not allowed: use an http:// or https:// URL"
        )
    if parsed.userinfo:
        raise OutboundBlocked(
            f"{_where(parsed)}: URLs with credentials (user:password@) are not allowed; "
            "send credentials another way"
        )
    if not parsed.raw_host:
        raise OutboundBlocked(f"URL {parsed.scheme}:// has no host")
    host = parsed.raw_host.decode("ascii")
    if not _HOST_NAME.match(host) and not is_ip_address(host):
        raise OutboundBlocked(f"not a valid URL: {host!r} is not a host name or IP address")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise OutboundBlocked(f"not a valid URL: port {parsed.port} is not between 1 and 65535")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    if not policy.allow_private and not policy.host_allowed(host):
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            raise _refuse_address(_where(parsed), ipaddress.ip_address("127.0.0.1"), "loopback")
        if is_ip_address(host):
            ip = ipaddress.ip_address(host)
            reason = blocked_reason(ip)
            if reason and not policy.address_allowed(ip):
                raise _refuse_address(_where(parsed), ip, reason)
    return parsed, host, port


def check_url(url: str | httpx.URL, policy: OutboundPolicy) -> OutboundTarget:
    """Check ``url`` against ``policy`` and resolve its host.

    Raises :class:`OutboundBlocked` saying why a URL is refused, and
    :class:`httpx.ConnectError` when the host name does not resolve."""
    parsed, host, port = check_url_syntax(url, policy)
    try:
        addresses = [ipaddress.ip_address(a) for a in policy.resolver(host, port)]
    except OSError as e:
        raise httpx.ConnectError(f"cannot resolve host {host!r}: {e}") from e
    except ValueError as e:
        raise httpx.ConnectError(f"resolver returned a bad address for {host!r}: {e}") from e
    if not addresses:
        raise httpx.ConnectError(f"host {host!r} resolved to no address")
    if not policy.allow_private and not policy.host_allowed(host):
        for ip in addresses:
            reason = blocked_reason(ip)
            if reason and not policy.address_allowed(ip):
                raise _refuse_address(_where(parsed), ip, reason)
    return OutboundTarget(parsed, host, port, tuple(str(a) for a in addresses))


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to the addresses checked for this thread's current request, never re-resolving."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._local = threading.local()

    @contextlib.contextmanager
    def pin(self, target: OutboundTarget) -> Iterator[None]:
        previous = getattr(self._local, "target", None)
        self._local.target = target
        try:
            yield
        finally:
            self._local.target = previous

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        target: OutboundTarget | None = getattr(self._local, "target", None)
        if target is None or (target.host, target.port) != (host, port):
            # Not reached through GuardedClient.request: check here instead.
            scheme = "https" if port == 443 else "http"
            bracketed = f"[{host}]" if ":" in host else host
            target = check_url(f"{scheme}://{bracketed}:{port}/", self._policy)
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in target.addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise error or httpcore.ConnectError(f"no address to connect to for {host}")


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool that uses :class:`_PinnedBackend`."""

    def __init__(self, backend: _PinnedBackend, verify: Any, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        if not hasattr(self, "_pool"):  # pragma: no cover - guards an httpx internals change
            raise RuntimeError("unsupported httpx version: HTTPTransport has no _pool")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed to connect, to wait for each read, and for the whole exchange."""

    connect: float = 5.0
    read: float = 10.0
    total: float = 30.0


@dataclass(frozen=True)
class OutboundResponse:
    """A fully read (possibly truncated) response."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    """The URL that answered (after redirects)."""
    truncated: bool = False
    """True when the body was cut at the size cap."""
    redirects: int = 0
    elapsed: float = 0.0
    """Seconds from the first request to the end of the body."""

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.content.decode("utf-8", "replace")


class GuardedClient:
    """An HTTP client that only talks to destinations :func:`check_url` allows.

    Thread-safe: one instance may serve many threads (connections are pooled)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        timeouts: Timeouts | None = None,
        max_body_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        user_agent: str = "nunchi",
        verify: Any = True,
    ) -> None:
        if max_body_bytes < 0 or max_redirects < 0:
            raise InvalidInput("max_body_bytes and max_redirects must not be negative")
        self.policy = policy
        self.timeouts = timeouts or Timeouts()
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self._backend = _PinnedBackend(policy)
        transport = _PinnedTransport(self._backend, verify, httpx.Limits(max_connections=50))
        self._client = httpx.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            headers={"user-agent": user_agent, "accept-encoding": "identity"},
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GuardedClient:
        """A client with the policy configured in ``settings``."""
        return cls(OutboundPolicy.from_settings(settings), **kwargs)

    def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
        max_body_bytes: int | None = None,
        truncate: bool = False,
        timeout: float | None = None,
    ) -> OutboundResponse:
        """Send a request and read the whole response.

        ``timeout`` overrides the total time budget. A body larger than ``max_body_bytes``
        raises :class:`OutboundBlocked`, or is cut (``truncated=True``) when ``truncate``.
        Network failures and timeouts raise :class:`httpx.TransportError` subclasses."""
        total = self.timeouts.total if timeout is None else timeout
        cap = self.max_body_bytes if max_body_bytes is None else max_body_bytes
        started = time.monotonic()
        deadline = started + total
        current: str | httpx.URL = url
        sent_headers = httpx.Headers(headers or {})
        body = content
        for hop in range(self.max_redirects + 1):
            target = check_url(current, self.policy)
            response = self._send(method, target, sent_headers, body, deadline)
            try:
                location = response.headers.get("location")
                if follow_redirects and response.status_code in _REDIRECTS and location:
                    try:
                        nxt = target.url.join(location)
                    except httpx.InvalidURL as e:
                        raise OutboundBlocked(f"redirect to an invalid URL: {e}") from e
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, body = ("GET" if method != "HEAD" else "HEAD"), None
                        for name in ("content-type", "content-length", "transfer-encoding"):
                            sent_headers.pop(name, None)
                    if (nxt.scheme, nxt.raw_host, nxt.port) != (
                        target.url.scheme,
                        target.url.raw_host,
                        target.url.port,
                    ):
                        for name in ("authorization", "cookie", "proxy-authorization"):
                            sent_headers.pop(name, None)
                    current = nxt
                    continue
                data, truncated = _read_capped(response, cap, truncate, deadline)
            finally:
                response.close()
            return OutboundResponse(
                status_code=response.status_code,
                headers=response.headers,
                content=data,
                url=str(target.url),
                truncated=truncated,
                redirects=hop,
                elapsed=time.monotonic() - started,
            )
        raise httpx.TooManyRedirects(f"more than {self.max_redirects} redirects")

    def get(self, url: str | httpx.URL, **kwargs: Any) -> OutboundResponse:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str | httpx.URL, **kwargs: Any) -> OutboundResponse:
        """``request("POST", url, ...)``."""
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> GuardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(
        self,
        method: str,
        target: OutboundTarget,
        headers: httpx.Headers,
        content: bytes | None,
        deadline: float,
    ) -> httpx.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.ConnectTimeout("total timeout exceeded before the request was sent")
        t = self.timeouts
        timeout = httpx.Timeout(
            connect=min(t.connect, remaining),
            read=min(t.read, remaining),
            write=min(t.read, remaining),
            pool=min(t.connect, remaining),
        )
        request = self._client.build_request(
            method, target.url, headers=headers, content=content, timeout=timeout
        )
        with self._backend.pin(target):
            return self._client.send(request, stream=True)


def _read_capped(
    response: httpx.Response, cap: int, truncate: bool, deadline: float
) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > cap:
        raise OutboundBlocked(f"response body of {declared} bytes exceeds the {cap}-byte limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("total timeout exceeded while reading the response")
        if size + len(chunk) > cap:
            if not truncate:
                raise OutboundBlocked(f"response body exceeds the {cap}-byte limit")
            chunks.append(chunk[: cap - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False
