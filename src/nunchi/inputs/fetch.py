"""Images fetched from user-supplied URLs, only through the SSRF-guarded client.

:func:`fetch_image` fetches one URL and returns a :class:`~nunchi.inputs.images.SafeImage` or
raises; :func:`fetch_many` fetches a list on a few threads under one overall deadline and yields
one :class:`FetchOutcome` per URL (an image, or a short ``reason`` and a message), so a URL
import reports each failure and goes on.

Every hop (the URL and each redirect) is checked by
:class:`~nunchi.outbound.GuardedClient`; the URL is also checked here first, so a refusal
of a later hop can be told apart as ``redirect_blocked``. The body is capped at ``max_bytes``
while it is read, and its format is sniffed from the bytes (the response's content type is
ignored).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx

from nunchi.errors import (
    FetchFailed,
    InvalidInput,
    NunchiError,
    OutboundBlocked,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from nunchi.inputs.images import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_PIXELS,
    SafeImage,
    load_image,
)
from nunchi.outbound import GuardedClient, check_url
from nunchi.urls import redact_url

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DEADLINE",
    "DEFAULT_FETCH_TIMEOUT",
    "REASONS",
    "FetchOutcome",
    "fetch_image",
    "fetch_many",
]

log = logging.getLogger("nunchi.inputs")

DEFAULT_FETCH_TIMEOUT = 20.0
"""Seconds for one URL, redirects and body included."""
DEFAULT_CONCURRENCY = 4
DEFAULT_DEADLINE = 300.0
"""Seconds for a whole :func:`fetch_many` batch."""

REASONS = (
    "blocked",  # the URL itself is refused (private address, bad scheme, malformed)
    "redirect_blocked",  # a redirect led to a refused address
    "http_status",  # the server answered with a status other than 2xx
    "timeout",
    "network",  # DNS failure, connection refused or reset, too many redirects
    "too_large",  # over the byte or pixel limit
    "not_image",  # the body is not an accepted image format
    "damaged",  # an image format, but truncated or corrupt
    "deadline",  # not fetched: the batch's overall deadline passed first
    "internal",  # an unexpected error (logged)
)
"""The values of :attr:`FetchOutcome.reason`."""

_ACCEPT = "image/jpeg,image/png,image/webp,image/gif,image/bmp;q=0.9,*/*;q=0.1"
_STATUS_HINTS = {
    401: "it needs a login; use a public link",
    403: "the server refuses to give it; use a public link",
    404: "nothing is there; check the link",
    410: "it was removed; check the link",
    429: "the server is rate-limiting us; try again later",
}


@dataclass(frozen=True)
class FetchOutcome:
    """What became of one URL of a batch: ``image`` when it worked, else ``reason`` (one of
    :data:`REASONS`) and ``message``. ``index`` is the URL's position in the input."""

    index: int
    url: str
    image: SafeImage | None = None
    reason: str | None = None
    message: str | None = None
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        """Whether an image was fetched."""
        return self.image is not None


class _Failed(Exception):
    def __init__(self, reason: str, error: NunchiError, http_status: int | None = None) -> None:
        super().__init__(str(error))
        self.reason = reason
        self.error = error
        self.http_status = http_status


def _shown(url: str) -> str:
    text = redact_url(url)
    return text if len(text) <= 120 else f"{text[:100]}…{text[-15:]}"


def _get(client: GuardedClient, url: str, where: str, max_bytes: int, timeout: float) -> bytes:
    try:
        check_url(url, client.policy)
    except OutboundBlocked as e:
        raise _Failed("blocked", e) from e
    except httpx.TransportError as e:  # the host name does not resolve
        raise _Failed(
            "network", FetchFailed(f"{where}: {e}; check the host name", "network")
        ) from e
    try:
        response = client.get(
            url,
            headers={"accept": _ACCEPT},
            max_body_bytes=max_bytes,
            truncate=True,  # a cut body is "too large"; any OutboundBlocked is then a hop
            timeout=timeout,
        )
    except OutboundBlocked as e:
        raise _Failed(
            "redirect_blocked", OutboundBlocked(f"{where} redirects elsewhere: {e}")
        ) from e
    except httpx.TimeoutException as e:
        message = f"{where} did not answer within {timeout:g} s; try again later or another link"
        raise _Failed("timeout", FetchFailed(message, "timeout")) from e
    except httpx.TooManyRedirects as e:
        raise _Failed("network", FetchFailed(f"{where}: {e}; use the final link", "network")) from e
    except httpx.TransportError as e:
        message = f"{where} could not be reached ({type(e).__name__}: {e})"
        raise _Failed("network", FetchFailed(message, "network")) from e
    if not response.is_success:
        hint = _STATUS_HINTS.get(response.status_code, "use a link that opens the image itself")
        message = f"{where} answered HTTP {response.status_code}: {hint}"
        raise _Failed(
            "http_status", FetchFailed(message, "http_status"), http_status=response.status_code
        )
    if response.truncated:
        limit = f"{max_bytes / 1048576:.1f} MiB" if max_bytes >= 1048576 else f"{max_bytes} bytes"
        message = f"{where} is larger than the limit of {limit}; use a smaller image"
        raise _Failed("too_large", PayloadTooLarge(message))
    return response.content


def _attempt(
    client: GuardedClient, url: str, max_bytes: int, max_pixels: int, timeout: float
) -> SafeImage:
    where = _shown(url)
    data = _get(client, url, where, max_bytes, timeout)
    try:
        return load_image(data, max_bytes=max_bytes, max_pixels=max_pixels, name=where)
    except PayloadTooLarge as e:
        raise _Failed("too_large", e) from e
    except UnsupportedMediaType as e:
        raise _Failed("not_image", e) from e
    except InvalidInput as e:
        raise _Failed("damaged", e) from e


def fetch_image(
    client: GuardedClient,
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
) -> SafeImage:
    """The image at ``url``. Raises OutboundBlocked (422: refused address, here or after a
    redirect), FetchFailed (422, with ``reason``: HTTP status, timeout, network),
    PayloadTooLarge (413), UnsupportedMediaType (415: not an image) or InvalidInput (422:
    damaged image)."""
    try:
        return _attempt(client, url, max_bytes, max_pixels, timeout)
    except _Failed as failure:
        raise failure.error from failure.__cause__


def fetch_many(
    client: GuardedClient,
    urls: Iterable[str],
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    timeout: float = DEFAULT_FETCH_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    deadline: float = DEFAULT_DEADLINE,
) -> Iterator[FetchOutcome]:
    """One :class:`FetchOutcome` per URL, yielded as each finishes (not in input order; use
    ``index``). At most ``concurrency`` fetches run at once and no more finished images than
    that wait for the consumer; ``deadline`` seconds after this call no new fetch starts
    (the rest come back as ``"deadline"``) and running ones are cut short."""
    if concurrency < 1:
        raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
    if deadline <= 0 or timeout <= 0:
        raise InvalidInput("timeout and deadline must be positive numbers of seconds")
    return _run_batch(client, urls, max_bytes, max_pixels, timeout, concurrency, deadline)


def _run_batch(
    client: GuardedClient,
    urls: Iterable[str],
    max_bytes: int,
    max_pixels: int,
    timeout: float,
    concurrency: int,
    deadline: float,
) -> Iterator[FetchOutcome]:
    ends_at = time.monotonic() + deadline
    stop = threading.Event()

    def one(index: int, url: str) -> FetchOutcome:
        remaining = ends_at - time.monotonic()
        if remaining <= 0 or stop.is_set():
            return FetchOutcome(
                index, url, reason="deadline",
                message=f"not fetched: the import's time limit of {deadline:g} s was reached",
            )  # fmt: skip
        try:
            image = _attempt(client, url, max_bytes, max_pixels, min(timeout, remaining))
        except _Failed as f:
            return FetchOutcome(index, url, reason=f.reason, message=str(f.error),
                                http_status=f.http_status)  # fmt: skip
        except Exception:  # a bug must not end the batch: report this URL and go on
            log.exception("fetching URL %d of a batch failed unexpectedly", index)
            message = f"{_shown(url)} could not be fetched (an internal error)"
            return FetchOutcome(index, url, reason="internal", message=message)
        return FetchOutcome(index, url, image=image)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="nunchi-fetch")
    pending: set[Future[FetchOutcome]] = set()
    todo = enumerate(urls)
    try:
        while True:
            while len(pending) < concurrency:
                item = next(todo, None)
                if item is None:
                    break
                pending.add(pool.submit(one, *item))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        stop.set()  # a consumer that stops early leaves nothing running on its behalf
        pool.shutdown(wait=True, cancel_futures=True)
