"""nunchi.web.uploads on a small FastAPI app with nunchi's error envelope: limits stop the read
early, formats come from the bytes, and a refusal stores nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request, UploadFile
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from nunchi.errors import PayloadTooLarge
from nunchi.web.errors import install_error_handlers
from nunchi.web.uploads import read_body, read_upload, upload_image, upload_table
from tests.unit.inputs.craft import encoded, solid

pytestmark = pytest.mark.timeout(60)

PNG = encoded(solid("RGB", (30, 20), (0, 128, 0)), "PNG")
LIMIT = 50_000


@pytest.fixture
def stored() -> list[str]:
    """What the routes stored; they store only after the reader returned."""
    return []


@pytest.fixture
def client(stored: list[str]) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/photos")
    async def photos(file: UploadFile) -> dict[str, object]:
        image = await upload_image(file, max_bytes=LIMIT, max_pixels=1_000_000)
        stored.append(image.sha256)
        return {"format": image.format, "width": image.width, "height": image.height}

    @app.post("/tables")
    async def tables(file: UploadFile) -> dict[str, object]:
        table = await upload_table(file, max_bytes=LIMIT, max_rows=100)
        stored.append(table.format)
        return {"columns": list(table.columns), "encoding": table.encoding}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        data = await read_body(request, max_bytes=LIMIT)
        stored.append("raw")
        return {"bytes": len(data)}

    with TestClient(app) as c:
        yield c


def test_a_png_sent_as_a_gif_is_read_as_png(client: TestClient, stored: list[str]) -> None:
    response = client.post("/photos", files={"file": ("photo.gif", PNG, "image/gif")})
    assert response.status_code == 200
    assert response.json() == {"format": "PNG", "width": 30, "height": 20}
    assert len(stored) == 1


def test_refusals_use_the_envelope_and_store_nothing(client: TestClient, stored: list[str]) -> None:
    cases = [
        (("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * LIMIT, "image/png"), 413,
         "payload_too_large", "larger than the limit of 50000 bytes"),
        (("cat.jpg", b"GIF8 not really" * 10, "image/jpeg"), 415, "unsupported_media_type",
         "accepted formats"),
        (("half.png", PNG[: len(PNG) // 2], "image/png"), 422, "invalid_input", "truncated"),
        (("huge.png", encoded(solid("L", (2000, 1000), 0), "PNG"), "image/png"), 413,
         "payload_too_large", "the limit is 1,000,000 pixels"),
    ]  # fmt: skip
    for upload, status, code, words in cases:
        response = client.post("/photos", files={"file": upload})
        assert response.status_code == status, upload[0]
        error = response.json()["error"]
        assert error["code"] == code and words in error["message"], error
    assert stored == []


def test_a_cp949_table_upload(client: TestClient, stored: list[str]) -> None:
    data = "지역,인구\n서울,9400000\n".encode("cp949")
    response = client.post("/tables", files={"file": ("인구.csv", data, "text/csv")})
    assert response.status_code == 200
    assert response.json() == {"columns": ["지역", "인구"], "encoding": "cp949"}
    old_xls = ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "application/x")
    response = client.post("/tables", files={"file": old_xls})
    assert response.status_code == 415 and "xlsx" in response.json()["error"]["message"]
    assert stored == ["csv"]


def test_raw_bodies_are_refused_by_declared_or_streamed_length(
    client: TestClient, stored: list[str]
) -> None:
    assert client.post("/raw", content=b"x" * 100).json() == {"bytes": 100}
    declared = client.post("/raw", content=b"x" * (LIMIT + 1))
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for _ in range(10):
            yield b"y" * 10_000

    streamed = client.post("/raw", content=chunks())
    assert streamed.status_code == 413
    assert stored == ["raw"]


class CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.handed_out = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.handed_out += len(chunk)
        return chunk


@pytest.mark.anyio
async def test_read_upload_stops_one_chunk_past_the_limit() -> None:
    source = CountingFile(b"z" * 1_000_000)
    upload = UploadFile(source, filename="a.bin", headers=Headers({}))  # size unknown
    with pytest.raises(PayloadTooLarge, match=r"'a\.bin' is larger than the limit"):
        await read_upload(upload, max_bytes=100_000, chunk_bytes=10_000)
    assert 100_000 < source.handed_out <= 110_000


@pytest.mark.anyio
async def test_read_upload_refuses_a_known_size_without_reading() -> None:
    source = CountingFile(b"z" * 1000)
    upload = UploadFile(source, size=1000, filename="a.bin")
    with pytest.raises(PayloadTooLarge):
        await read_upload(upload, max_bytes=999)
    assert source.handed_out == 0
    assert await read_upload(UploadFile(CountingFile(b"ok"), size=2), max_bytes=2) == b"ok"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
