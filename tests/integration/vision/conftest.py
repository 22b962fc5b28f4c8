"""A real platform with the vision app (SQLite and PostgreSQL through ``db_url``, a memory
bus, blobs in tmp) and photos made in memory: each tag has its own colours and shapes, so a
classifier on the committed backbone tells them apart."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nunchi.apps import APPS
from nunchi.apps.vision.app import VISION_APP
from nunchi.apps.vision.service import VisionServices
from nunchi.assembly import Platform, open_platform
from nunchi.config import Settings

COLOURS = {"red": (200, 40, 30), "blue": (30, 60, 200), "green": (40, 170, 60)}


def photo(tag: str, seed: int, size: tuple[int, int] = (120, 96), fmt: str = "JPEG") -> bytes:
    """A photo of ``tag``: its colour as background with random shapes of the others."""
    rng = np.random.default_rng(seed * 31 + sum(map(ord, tag)))
    base = np.array(COLOURS[tag])
    pixels = np.clip(rng.normal(base, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = int(rng.integers(0, size[0] - 20)), int(rng.integers(0, size[1] - 20))
        shade = tuple(int(v) for v in rng.integers(0, 255, 3))
        if tag == "blue":
            draw.rectangle((x, y, x + 18, y + 8), fill=shade)
        else:
            draw.ellipse((x, y, x + 16, y + 16), fill=shade)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def photo_folder(root: Path, per_tag: int, tags: tuple[str, ...] = ("red", "blue")) -> Path:
    """``root/<tag>/<n>.jpg`` for each tag."""
    for tag in tags:
        (root / tag).mkdir(parents=True, exist_ok=True)
        for i in range(per_tag):
            (root / tag / f"{i}.jpg").write_bytes(photo(tag, i))
    return root


def vision_settings(tmp_path: Path, db_url: str | None = None, **extra: Any) -> Settings:
    """Settings of a test platform (data in ``tmp_path``)."""
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "bus_url": "memory://"}
    if db_url is not None:
        values["database_url"] = db_url
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def open_vision(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Platform]]:
    """Opens platforms (every app) on one fresh database; closed after the test."""
    opened: list[Platform] = []

    def make(**extra: Any) -> Platform:
        platform = open_platform(vision_settings(tmp_path, db_url, **extra), APPS)
        opened.append(platform)
        return platform

    yield make
    for platform in opened:
        platform.close()


@pytest.fixture
def platform(open_vision: Callable[..., Platform]) -> Platform:
    """A platform with the vision app on SQLite, then PostgreSQL."""
    return open_vision()


@pytest.fixture
def vision(platform: Platform) -> VisionServices:
    """The vision app's services of that platform."""
    return platform.services(VISION_APP)
