"""GuardedClient against real loopback servers: refusals, redirects, pinning, timeouts, caps."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nunchi.errors import OutboundBlocked
from nunchi.outbound import GuardedClient, OutboundPolicy, Timeouts
from tests.fixtures.services import require_service
from tests.integration.webhooks.receiver import Receiver, Reply, running_receiver

pytestmark = pytest.mark.timeout(30)

FAKE_HOST = "hooks.nunchi.test"
"""A name only our resolver knows (it maps to 127.0.0.1): the system resolver cannot."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def fake_resolver(host: str, port: int) -> list[str]:
    """Resolves FAKE_HOST to 127.0.0.1 and IP literals to themselves; nothing else."""
    if host == FAKE_HOST:
        return ["127.0.0.1"]
    if host[0].isdigit():
        return [host]
    raise OSError(f"unknown test host {host}")


def loopback_policy(allow_hosts: tuple[str, ...] = ("127.0.0.1/32",)) -> OutboundPolicy:
    """Allows ``allow_hosts`` (127.0.0.1 by default) and resolves FAKE_HOST to 127.0.0.1."""
    return OutboundPolicy(allow_hosts=allow_hosts, resolver=fake_resolver)


def test_loopback_is_refused_by_default_and_nothing_is_sent(receiver: Receiver) -> None:
    with GuardedClient(OutboundPolicy()) as client, pytest.raises(OutboundBlocked, match="loop"):
        client.post(receiver.url(), content=b"x")
    assert receiver.count() == 0


def test_allow_hosts_lets_a_loopback_receiver_through(receiver: Receiver) -> None:
    with GuardedClient(OutboundPolicy(allow_hosts=["127.0.0.1/32"])) as client:
        response = client.post(receiver.url("/in?x=1"), content=b"hello", headers={"a": "b"})
    assert response.status_code == 200 and response.content == b"ok" and response.is_success
    [got] = receiver.requests
    assert (got.method, got.path, got.body, got.headers["a"]) == ("POST", "/in?x=1", b"hello", "b")
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    receiver: Receiver,
) -> None:
    # The system resolver cannot resolve FAKE_HOST: the request only works because the
    # connection is pinned to the address our check resolved.
    with GuardedClient(loopback_policy((FAKE_HOST,))) as client:
        response = client.get(receiver.url(host=FAKE_HOST))
    assert response.status_code == 200
    assert receiver.requests[0].headers["host"] == f"{FAKE_HOST}:{receiver.port}"


def test_dns_rebinding_after_the_check_cannot_move_the_connection(receiver: Receiver) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    policy = OutboundPolicy(allow_hosts=["127.0.0.1/32"], resolver=rebinding)
    with GuardedClient(policy) as client:
        assert client.get(receiver.url(host=FAKE_HOST)).status_code == 200
        with pytest.raises(OutboundBlocked, match=r"10\.0\.0\.1"):
            client.get(receiver.url(host=FAKE_HOST))
    assert receiver.count() == 1


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused() -> None:
    with running_receiver() as internal:
        # The outside host is allowed by name; 127.0.0.1 itself is not allowed.
        hop = Reply(302, b"", {"location": internal.url("/admin")})
        with running_receiver([hop]) as outside:
            with (
                GuardedClient(loopback_policy((FAKE_HOST,))) as client,
                pytest.raises(OutboundBlocked, match="loopback"),
            ):
                client.get(outside.url(host=FAKE_HOST))
            assert outside.count() == 1
        assert internal.count() == 0


def test_redirects_are_followed_and_rechecked_within_the_allowed_set() -> None:
    with running_receiver() as final:
        hops = [Reply(303, b"", {"location": final.url("/done")})]
        with running_receiver(hops) as first, GuardedClient(loopback_policy()) as client:
            response = client.post(
                first.url("/start"), content=b"body", headers={"authorization": "Bearer t"}
            )
            assert response.status_code == 200 and response.redirects == 1
            assert response.url == final.url("/done")
            [got] = final.requests
            # 303 turns POST into GET without a body; credentials do not cross origins.
            assert (got.method, got.body) == ("GET", b"")
            assert "authorization" not in got.headers
            not_followed = client.post(first.url("/start"), follow_redirects=False)
            assert not_followed.status_code == 200  # the script ran out: default reply


def test_more_than_five_redirects_are_refused() -> None:
    with running_receiver() as loop:
        loop.default = Reply(307, b"", {"location": loop.url("/again")})
        with GuardedClient(loopback_policy()) as client, pytest.raises(httpx.TooManyRedirects):
            client.get(loop.url())
        assert loop.count() == 6


def test_response_bodies_are_capped() -> None:
    big = Reply(200, b"x" * 5000)
    with running_receiver(default=big) as r, GuardedClient(loopback_policy()) as client:
        with pytest.raises(OutboundBlocked, match="exceeds the 1000-byte limit"):
            client.get(r.url(), max_body_bytes=1000)
        cut = client.get(r.url(), max_body_bytes=1000, truncate=True)
        assert cut.truncated and cut.content == b"x" * 1000
        whole = client.get(r.url(), max_body_bytes=5000)
        assert not whole.truncated and len(whole.content) == 5000


def test_a_slow_receiver_hits_the_read_timeout() -> None:
    release = threading.Event()
    with running_receiver([Reply(hold=release)]) as r:
        client = GuardedClient(loopback_policy(), timeouts=Timeouts(connect=1, read=0.2, total=5))
        try:
            with pytest.raises(httpx.ReadTimeout):
                client.get(r.url())
        finally:
            release.set()
            client.close()


def test_the_total_timeout_bounds_the_read_timeout() -> None:
    release = threading.Event()
    with running_receiver([Reply(hold=release)]) as r:
        client = GuardedClient(loopback_policy(), timeouts=Timeouts(connect=1, read=30, total=5))
        try:
            with pytest.raises(httpx.TimeoutException):
                client.get(r.url(), timeout=0.3)
        finally:
            release.set()
            client.close()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with GuardedClient(loopback_policy()) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/")


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for FAKE_HOST and its key."""
    openssl = shutil.which("openssl")
    require_service("openssl", openssl is not None, "install the openssl command line tool")
    assert openssl is not None
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", f"/CN={FAKE_HOST}", "-addext", f"subjectAltName=DNS:{FAKE_HOST}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def test_https_is_pinned_but_verified_against_the_url_host(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    with running_receiver(tls=server_tls) as r:
        client = GuardedClient(loopback_policy((FAKE_HOST, "127.0.0.1/32")), verify=trust)
        with client:
            # Connected to the pinned 127.0.0.1, yet SNI and the certificate check use the
            # URL's host name (which the system resolver does not even know).
            assert client.get(r.url(host=FAKE_HOST)).status_code == 200
            # The same server by IP: the certificate does not name it, so TLS refuses.
            with pytest.raises(httpx.ConnectError):
                client.get(r.url())
        assert r.count() == 1
