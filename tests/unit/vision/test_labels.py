"""Reading the ImageNet class names out of a torchvision wheel (no torch, no torchvision)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from nunchi.training.vision.labels import labels_from_wheel, main


def _wheel(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "torchvision-0.0-py3-none-any.whl"
    source = f"_OTHER = 1\n_IMAGENET_CATEGORIES = {names!r}\n_VOC = ['x']\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("torchvision/models/_meta.py", source)
    return path


def test_reads_the_list_in_order_and_writes_one_a_line(tmp_path: Path) -> None:
    names = [f"class {i}" for i in range(1000)]
    wheel = _wheel(tmp_path, names)
    assert labels_from_wheel(wheel) == names
    out = tmp_path / "labels.txt"
    main([str(wheel), str(out)])
    assert out.read_text(encoding="utf-8").splitlines() == names


def test_rejects_a_list_that_is_not_1000_distinct_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1000 distinct"):
        labels_from_wheel(_wheel(tmp_path, ["a"] * 1000))
