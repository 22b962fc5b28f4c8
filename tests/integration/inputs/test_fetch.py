"""fetch_image / fetch_many against real loopback HTTP servers through the GuardedClient:
refusals before and after redirects, HTTP errors, timeouts, caps, sniffing, batches."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from nunchi.errors import FetchFailed, OutboundBlocked, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.fetch import FetchOutcome, fetch_image, fetch_many
from nunchi.outbound import GuardedClient, OutboundPolicy
from tests.integration.inputs.server import Reply, ScriptedServer, serving
from tests.unit.inputs.craft import encoded, solid

pytestmark = pytest.mark.timeout(60)

PNG = encoded(solid("RGB", (24, 16), (10, 20, 200)), "PNG")
JPEG = encoded(solid("RGB", (16, 16), (200, 20, 10)), "JPEG")
MAX_BYTES = 20_000
INTERNAL = "images.internal.test"
"""A name only the test resolver knows; it resolves to 127.0.0.2."""


def resolver(host: str, port: int) -> list[str]:
    """localhost -> 127.0.0.1, INTERNAL -> 127.0.0.2, IP literals to themselves."""
    names = {"localhost": ["127.0.0.1"], INTERNAL: ["127.0.0.2"]}
    if host in names:
        return names[host]
    if host[0].isdigit():
        return [host]
    raise OSError(f"unknown test host {host}")


def client_for(*allow: str) -> GuardedClient:
    return GuardedClient(OutboundPolicy(allow_hosts=allow, resolver=resolver))


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    routes = {
        "/cat.png": Reply(body=PNG, headers={"Content-Type": "text/plain"}),  # lying type
        "/dog.jpg": Reply(body=JPEG, headers={"Content-Type": "image/jpeg"}),
        "/page": Reply(body=b"<!doctype html><html>login first</html>"),
        "/big.png": Reply(body=PNG[:8] + b"\x00" * (MAX_BYTES * 3)),
        "/gone": Reply(410, b"gone"),
        "/slow": Reply(body=PNG, hold=threading.Event()),
    }
    with serving(routes) as s:  # type: ignore[arg-type]
        yield s


@pytest.fixture
def target() -> Iterator[ScriptedServer]:
    """A second server on 127.0.0.2: the private target of the redirects."""
    try:
        with serving({"/cat.png": Reply(body=PNG)}, host="127.0.0.2") as s:
            yield s
    except OSError as e:  # pragma: no cover - only where 127.0.0.2 cannot be bound
        if e.errno == errno.EADDRNOTAVAIL:
            pytest.skip("127.0.0.2 is not a usable loopback address here")
        raise


def test_an_image_is_sniffed_from_the_bytes_not_the_content_type(server: ScriptedServer) -> None:
    with client_for("127.0.0.1/32") as client:
        image = fetch_image(client, server.url("/cat.png"), max_bytes=MAX_BYTES)
    assert (image.format, image.width, image.height) == ("PNG", 24, 16)
    assert server.count("/cat.png") == 1


def test_the_default_policy_refuses_loopback_without_sending(server: ScriptedServer) -> None:
    with GuardedClient(OutboundPolicy()) as client, pytest.raises(OutboundBlocked) as e:
        fetch_image(client, server.url("/cat.png"))
    assert "loopback" in str(e.value) and e.value.status == 422
    assert server.count() == 0


@pytest.mark.parametrize("hop", ["ip", "name"])
def test_a_redirect_to_a_private_address_is_refused_at_that_hop(
    server: ScriptedServer, target: ScriptedServer, hop: str
) -> None:
    # localhost is allowed by name; the redirect goes to 127.0.0.2 (as an IP, or as a name
    # that resolves to it), which is not: only the per-hop check can stop it.
    where = target.url("/cat.png", host=None if hop == "ip" else INTERNAL)
    server.routes["/hop"] = Reply(302, headers={"Location": where})
    url = server.url("/hop", host="localhost")
    with client_for("localhost") as client:
        [outcome] = list(fetch_many(client, [url]))
        with pytest.raises(OutboundBlocked, match=r"redirects elsewhere: refused .*127\.0\.0\.2"):
            fetch_image(client, url)
    assert outcome.reason == "redirect_blocked" and "127.0.0.2" in str(outcome.message)
    assert server.count("/hop") == 2 and target.count() == 0
    with client_for("localhost", "127.0.0.2/32") as allowed:  # the same chain, allowed
        assert fetch_image(allowed, url).format == "PNG"
    assert target.count() == 1


def test_http_errors_name_the_status_and_what_to_do(server: ScriptedServer) -> None:
    with client_for("127.0.0.1/32") as client:
        for path, status, words in (("/missing", 404, "check the link"), ("/gone", 410, "removed")):
            with pytest.raises(FetchFailed) as e:
                fetch_image(client, server.url(path))
            assert e.value.reason == "http_status"
            assert f"answered HTTP {status}" in str(e.value) and words in str(e.value)


def test_a_slow_server_times_out(server: ScriptedServer) -> None:
    started = time.monotonic()
    with client_for("127.0.0.1/32") as client, pytest.raises(FetchFailed) as e:
        fetch_image(client, server.url("/slow"), timeout=0.5)
    assert e.value.reason == "timeout" and "within 0.5 s" in str(e.value)
    assert time.monotonic() - started < 5


def test_an_oversize_body_is_cut_at_the_cap(server: ScriptedServer) -> None:
    with client_for("127.0.0.1/32") as client, pytest.raises(PayloadTooLarge) as e:
        fetch_image(client, server.url("/big.png"), max_bytes=MAX_BYTES)
    assert e.value.status == 413 and "20000 bytes" in str(e.value)


def test_a_page_instead_of_an_image_is_named(server: ScriptedServer) -> None:
    with client_for("127.0.0.1/32") as client, pytest.raises(UnsupportedMediaType) as e:
        fetch_image(client, server.url("/page"))
    assert "an HTML page, not an image" in str(e.value)


def test_a_batch_reports_each_failure_and_fetches_the_rest(server: ScriptedServer) -> None:
    urls = [
        server.url("/cat.png"),
        server.url("/missing"),
        "http://10.1.2.3/private.png",  # refused by the policy, never connected
        server.url("/page"),
        server.url("/dog.jpg"),
        server.url("/big.png"),
        "http://no-such-host.test/x.png",
        "ftp://example.com/x.png",
    ]
    with client_for("127.0.0.1/32") as client:
        outcomes = sorted(fetch_many(client, urls, max_bytes=MAX_BYTES), key=lambda o: o.index)
    assert [o.reason for o in outcomes] == [
        None, "http_status", "blocked", "not_image", None, "too_large", "network", "blocked",
    ]  # fmt: skip
    assert [o.url for o in outcomes] == urls
    assert outcomes[1].http_status == 404 and "HTTP 404" in str(outcomes[1].message)
    assert "private" in str(outcomes[2].message)
    assert [o.image.format for o in outcomes if o.image] == ["PNG", "JPEG"]


def test_a_batch_runs_at_most_concurrency_fetches_at_once(server: ScriptedServer) -> None:
    def pairwise(s: ScriptedServer) -> Reply:
        # Answer once a second request is in flight (or after 5 s): with a bound of 2 the
        # pairs meet at once; with a bound of 1 each waits out the 5 s and most_active is 1.
        with s.changed:
            s.changed.wait_for(lambda: s.active >= 2 or s.count("/pair") >= 6, timeout=5)
        return Reply(body=PNG)

    server.routes["/pair"] = pairwise
    started = time.monotonic()
    with client_for("127.0.0.1/32") as client:
        outcomes = list(fetch_many(client, [server.url("/pair")] * 6, concurrency=2))
    assert all(o.ok for o in outcomes) and len(outcomes) == 6
    assert server.most_active == 2
    assert time.monotonic() - started < 4


def test_the_overall_deadline_stops_the_batch(server: ScriptedServer) -> None:
    started = time.monotonic()
    urls = [server.url("/slow")] * 3
    with client_for("127.0.0.1/32") as client:
        outcomes: list[FetchOutcome] = list(
            fetch_many(client, urls, timeout=5, deadline=0.6, concurrency=1)
        )
    elapsed = time.monotonic() - started
    assert sorted(o.reason or "" for o in outcomes) == ["deadline", "deadline", "timeout"]
    assert elapsed < 3, elapsed
    assert "time limit of 0.6 s" in str(next(o for o in outcomes if o.reason == "deadline").message)


def test_loopback_127_0_0_2_is_bindable() -> None:
    # The redirect tests rely on it; this says plainly when the machine cannot.
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
