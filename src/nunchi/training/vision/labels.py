"""The 1000 ImageNet class names, taken from the list that ships inside torchvision's wheel.

torchvision (BSD-3-Clause) keeps them as ``_IMAGENET_CATEGORIES`` in
``torchvision/models/_meta.py``, in the standard class-index order. The list is read from the
wheel file as text (no import of torchvision) and written one name a line::

    pip download --no-deps -d /tmp/tv torchvision
    python -m nunchi.training.vision.labels /tmp/tv/torchvision-*.whl OUT.txt
"""

from __future__ import annotations

import argparse
import ast
import zipfile
from pathlib import Path

__all__ = ["labels_from_wheel", "main"]

_MEMBER = "torchvision/models/_meta.py"
_NAME = "_IMAGENET_CATEGORIES"


def labels_from_wheel(wheel: Path) -> list[str]:
    """The ImageNet class names in index order, read from a torchvision wheel."""
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read(_MEMBER).decode("utf-8")
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == _NAME
        ):
            labels = ast.literal_eval(node.value)
            break
    else:
        raise ValueError(f"{_NAME} not found in {wheel}:{_MEMBER}")
    if not isinstance(labels, list) or len(labels) != 1000 or len(set(labels)) != 1000:
        raise ValueError(f"{_NAME} in {wheel} is not 1000 distinct names")
    return [str(label) for label in labels]


def main(argv: list[str] | None = None) -> None:
    """Write the labels of a torchvision wheel to a text file, one a line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    labels = labels_from_wheel(args.wheel)
    args.out.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    print(f"{len(labels)} labels -> {args.out}")


if __name__ == "__main__":
    main()
