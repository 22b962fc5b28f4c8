"""The issue's few-shot check on the flowers photos: trained from 10 photos per class, the
vision app's default (the ``precise`` recipe and the shrinkage-LDA head) answers >= 85% of
the other photos right, mean over the protocol's seeds 0-9 and over the fresh seeds 10-49
(docs/vision-app.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nunchi.analyzers.vision.lda import fit_lda
from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE, RECIPES
from nunchi.analyzers.vision.trainer import TrainSettings, few_shot
from nunchi.training.vision.fewshot import load_dataset, split

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def embedded(flowers: Path) -> tuple[np.ndarray, list[str]]:
    files, tags = load_dataset(flowers)
    return RECIPES[DEFAULT_RECIPE].embed(files), tags


def test_ten_shot_accuracy_reaches_85_percent(embedded: tuple[np.ndarray, list[str]]) -> None:
    # Measured (precise): mean 0.855, min 0.785 (seeds 0-9); 0.8522, min 0.80 (seeds 10-49);
    # 0.8500 over seeds 50-249. The accurate recipe: 0.8515 / 0.8347 / 0.8342.
    vectors, tags = embedded
    report = few_shot(vectors, tags, TrainSettings(), shots=10, seeds=50)
    per_seed = report["accuracy_per_seed"]
    assert np.mean(per_seed[:10]) >= 0.85, per_seed[:10]
    assert min(per_seed[:10]) >= 0.78, per_seed[:10]
    assert np.mean(per_seed[10:]) >= 0.85, per_seed[10:]


def test_few_shot_splits_are_the_studies_splits(embedded: tuple[np.ndarray, list[str]]) -> None:
    # few_shot must draw the same training photos as training/vision/fewshot.split.
    vectors, tags = embedded
    train, test = split(tags, 10, 3)
    head = fit_lda(vectors[train], [tags[i] for i in train])
    acc = float(
        np.mean(
            [p.top[0][0] == tags[i] for p, i in zip(head.predict(vectors[test]), test, strict=True)]
        )
    )
    report = few_shot(vectors, tags, TrainSettings(), shots=10, seeds=4)
    assert report["accuracy_per_seed"][3] == pytest.approx(acc, abs=1e-4)
