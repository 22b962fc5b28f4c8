"""The demo plant classifier shipped with the vision app (project ``plants-demo``).

Embeds the flower photos (``<class>/*.jpg``: daisy, dandelion, roses, sunflowers, tulips;
CC-BY 2.0) with the ``precise`` recipe, trains as an iteration does
(:func:`nunchi.analyzers.vision.trainer.train_classifier`: 20% of each class held out with
seed 0 and measured, then the head refitted on every photo), and writes into ``--out``:

- ``plants-demo.npz``: the head (no pickles; ~50 KB);
- ``plants-demo.json``: its card (settings, held-out figures, data, licence, this command);
- ``NOTICE-flowers.md``: the photographers of every photo used, as CC-BY 2.0 asks.

::

    python -m nunchi.training.vision.demo_plants --data ../shared/data/images/flowers \\
        --out src/nunchi/apps/vision/data

No torch needed. Prints the card as one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nunchi.analyzers.vision.recipes import RECIPES
from nunchi.analyzers.vision.trainer import TrainSettings, train_classifier
from nunchi.training.vision.fewshot import load_dataset

__all__ = ["DEMO_PROJECT", "build", "main", "notice"]

DEMO_PROJECT = "plants-demo"
RECIPE = "precise"
_DESCRIPTION = {
    "ko": "꽃 사진 5종(데이지, 민들레, 장미, 해바라기, 튤립)을 알아보는 예시 분류기입니다. "
    "사진: TensorFlow flower_photos 일부, CC-BY 2.0 (촬영자는 NOTICE-flowers.md).",
    "en": "A demo classifier of five flowers (daisy, dandelion, roses, sunflowers, tulips). "
    "Photos: part of TensorFlow flower_photos, CC-BY 2.0 (photographers in NOTICE-flowers.md).",
}


def notice(data: Path, files: list[Path]) -> str:
    """The credits of ``files``: the licence's attribution lines for exactly those photos."""
    used = {f.relative_to(data).as_posix() for f in files}
    lines = (data / "LICENSE.txt").read_text("utf-8").splitlines()
    credits = [line for line in lines if line.split(" ", 1)[0] in used]
    missing = used - {line.split(" ", 1)[0] for line in credits}
    if missing:
        raise SystemExit(f"no attribution line for {len(missing)} photos, e.g. {min(missing)}")
    return "\n".join(
        [
            "# Photos behind the demo plant classifier (`plants-demo`)",
            "",
            "The head `plants-demo.npz` was trained by `nunchi.training.vision.demo_plants` on",
            f"the {len(files)} photos listed below: a subset of the TensorFlow `flower_photos`",
            "set (resized copies, 227x227). No photo is shipped; only the trained weights are.",
            "",
            "All of them are licensed under the Creative Commons Attribution 2.0 licence,",
            "https://creativecommons.org/licenses/by/2.0/ . Thanks to the photographers:",
            "the attribution lines are copied verbatim from the set's LICENSE.txt.",
            "",
            "```",
            *sorted(credits),
            "```",
            "",
        ]
    )


def build(data: Path, out: Path, settings: TrainSettings | None = None) -> dict[str, Any]:
    """Train the demo head on ``data`` and write the head, its card and the credits."""
    files, tags = load_dataset(data)
    made = RECIPES[RECIPE]
    variants = "+".join(run.variant for run in made.runs)
    vectors = made.embed(files)
    chosen = settings or TrainSettings()
    trained = train_classifier(vectors, tags, chosen, backbone=f"{variants}/{RECIPE}")
    out.mkdir(parents=True, exist_ok=True)
    trained.head.save(out / f"{DEMO_PROJECT}.npz")
    (out / "NOTICE-flowers.md").write_text(notice(data, files), "utf-8")
    card: dict[str, Any] = {
        "project": DEMO_PROJECT,
        "description": _DESCRIPTION,
        "backbone": variants,
        "backbones": made.describe(),
        "recipe": RECIPE,
        "settings": chosen.to_dict(),
        "tags": list(trained.head.tags),
        "temperature": trained.head.temperature,
        "metrics": trained.metrics,
        "figures": (
            f"trained on {trained.metrics['train_images']} photos, measured on the other "
            f"{trained.metrics['heldout_images']} (20% of each class, seed 0); the shipped "
            "head was then refitted on all of them"
        ),
        "data": "TensorFlow flower_photos subset, 5 classes x 50 photos, 227x227",
        "licence": "photos CC-BY 2.0 (credits: NOTICE-flowers.md); backbone Apache-2.0",
        "command": "python -m nunchi.training.vision.demo_plants --data "
        "../shared/data/images/flowers --out src/nunchi/apps/vision/data",
    }
    (out / f"{DEMO_PROJECT}.json").write_text(
        json.dumps(card, ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    return card


def main(argv: list[str] | None = None) -> None:
    """Build the demo classifier and print its card."""
    ap = argparse.ArgumentParser(description="Train the shipped demo plant classifier.")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/images/flowers"))
    ap.add_argument("--out", type=Path, default=Path("src/nunchi/apps/vision/data"))
    args = ap.parse_args(argv)
    print(json.dumps(build(args.data, args.out), ensure_ascii=False))


if __name__ == "__main__":
    main()
