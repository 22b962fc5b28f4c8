"""Uploads in the web layer: read an ``UploadFile`` or a raw request body up to a limit, then hand
the bytes to the readers of :mod:`nunchi.inputs` on a worker thread.

Reading stops as soon as the limit is passed (413 ``payload_too_large``): at most the limit
plus one chunk is ever held. Starlette has already spooled a multipart file (to memory, then to
a temporary file) before the route runs, so the app-wide ``NUNCHI_MAX_BODY_BYTES`` limit is what
bounds the network read; these limits bound what is taken into memory and decoded.

Contract: nothing here stores anything. A route stores the upload (blob, rows, job) only after
these functions returned, so a refusal (413, 415, 422) leaves nothing half-stored.
"""

from __future__ import annotations

import io

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from nunchi.errors import PayloadTooLarge
from nunchi.inputs.images import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS, SafeImage, load_image
from nunchi.inputs.tables import DEFAULT_MAX_ROWS, DEFAULT_MAX_TABLE_BYTES, Table, read_table

__all__ = ["CHUNK_BYTES", "read_body", "read_upload", "upload_image", "upload_table"]

CHUNK_BYTES = 64 * 1024


def _too_large(what: str, limit: int) -> PayloadTooLarge:
    shown = f"{limit / 1048576:.1f} MiB" if limit >= 1048576 else f"{limit} bytes"
    return PayloadTooLarge(f"{what} is larger than the limit of {shown}; send a smaller file")


def _called(upload: UploadFile) -> str:
    return f"the upload {upload.filename!r}" if upload.filename else "the upload"


async def read_upload(
    upload: UploadFile, *, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
) -> bytes:
    """The whole content of ``upload``, or PayloadTooLarge once more than ``max_bytes``
    arrive (or its known size says so, before reading)."""
    what = _called(upload)
    if upload.size is not None and upload.size > max_bytes:
        raise _too_large(what, max_bytes)
    await upload.seek(0)
    out = io.BytesIO()
    while chunk := await upload.read(chunk_bytes):
        out.write(chunk)
        if out.tell() > max_bytes:
            raise _too_large(what, max_bytes)
    return out.getvalue()


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The raw body of ``request`` (e.g. ``Content-Type: image/jpeg``), or PayloadTooLarge as
    soon as ``Content-Length`` or the streamed bytes pass ``max_bytes``."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large("the request body", max_bytes)
    out = io.BytesIO()
    async for chunk in request.stream():
        out.write(chunk)
        if out.tell() > max_bytes:
            raise _too_large("the request body", max_bytes)
    return out.getvalue()


async def upload_image(
    upload: UploadFile,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> SafeImage:
    """``upload`` read and decoded by :func:`~nunchi.inputs.images.load_image` (decoding runs
    on a worker thread, not on the event loop)."""
    data = await read_upload(upload, max_bytes=max_bytes)
    return await run_in_threadpool(
        load_image, data, max_bytes=max_bytes, max_pixels=max_pixels, name=upload.filename
    )


async def upload_table(
    upload: UploadFile,
    *,
    max_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> Table:
    """``upload`` read and parsed by :func:`~nunchi.inputs.tables.read_table` on a worker
    thread."""
    data = await read_upload(upload, max_bytes=max_bytes)
    return await run_in_threadpool(
        read_table,
        data,
        name=upload.filename,
        max_rows=max_rows,
        max_bytes=max_bytes,
        encoding=encoding,
        sheet=sheet,
    )
