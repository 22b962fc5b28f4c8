"""The committed backbone: loading, embeddings (shape, unit rows, determinism), ImageNet labels."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from nunchi.analyzers.vision.backbone import DEFAULT_VARIANT, MODELS_DIR, Backbone
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput


def _photos(root: Path, cls: str, n: int) -> list[Path]:
    return sorted((root / cls).glob("*.jpg"))[:n]


def test_committed_model_and_its_licence_are_there() -> None:
    assert (MODELS_DIR / f"{DEFAULT_VARIANT}.onnx").is_file()
    assert (MODELS_DIR / f"LICENSE-{DEFAULT_VARIANT}.txt").is_file()
    labels = (MODELS_DIR / "imagenet-labels.txt").read_text(encoding="utf-8").splitlines()
    assert len(labels) == 1000 == len(set(labels))
    assert labels[985] == "daisy"


def test_load_describes_the_model(backbone: Backbone) -> None:
    assert backbone.variant == DEFAULT_VARIANT == "lite0"
    assert backbone.input_size == 224
    assert backbone.feature_dim == 1280
    assert len(backbone.labels) == 1000


def test_load_is_one_instance_across_threads() -> None:
    got: list[Backbone] = []
    threads = [threading.Thread(target=lambda: got.append(Backbone.load())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 4 and all(b is got[0] for b in got)
    assert Backbone.load(DEFAULT_VARIANT) is got[0]


def test_unknown_variant_or_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown backbone variant"):
        Backbone.load("lite9")
    with pytest.raises(InvalidInput, match="export_backbone"):
        Backbone(tmp_path / "lite0.onnx")


def test_embed_shape_unit_length_and_determinism(backbone: Backbone, flowers: Path) -> None:
    photos = _photos(flowers, "daisy", 2) + _photos(flowers, "roses", 1)
    first = backbone.embed(photos)
    assert first.shape == (3, 1280) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(first, backbone.embed(photos))
    one_by_one = backbone.embed(photos, batch_size=1)
    np.testing.assert_allclose(one_by_one, first, atol=1e-5)


def test_raw_features_are_the_unnormalised_embedding(backbone: Backbone, flowers: Path) -> None:
    photos = _photos(flowers, "tulips", 2)
    raw = backbone.embed(photos, normalize=False)
    assert raw.min() >= 0.0 and raw.max() <= 6.0  # ReLU6 activations, averaged
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(l2_normalize(raw), backbone.embed(photos), atol=1e-6)


def test_same_class_photos_are_closer_than_other_class(backbone: Backbone, flowers: Path) -> None:
    sun = backbone.embed(_photos(flowers, "sunflowers", 4))
    rose = backbone.embed(_photos(flowers, "roses", 4))
    within = (sun @ sun.T)[np.triu_indices(4, 1)].mean()
    across = (sun @ rose.T).mean()
    assert within > across + 0.1


def test_imagenet_labels_daisies(backbone: Backbone, flowers: Path) -> None:
    tops = backbone.imagenet(_photos(flowers, "daisy", 6), top_k=3)
    assert all(len(t) == 3 for t in tops)
    assert all(t[0][1] >= t[1][1] >= t[2][1] for t in tops)
    assert sum(t[0][0] == "daisy" for t in tops) >= 5


def test_run_gives_features_and_logits_and_handles_empty(backbone: Backbone, flowers: Path) -> None:
    out = backbone.run(_photos(flowers, "dandelion", 3), batch_size=2)
    assert out.features.shape == (3, 1280) and out.logits.shape == (3, 1000)
    empty = backbone.run([])
    assert empty.features.shape == (0, 1280) and empty.logits.shape == (0, 1000)


def test_bad_batch_shape_and_top_k_are_invalid_input(backbone: Backbone) -> None:
    with pytest.raises(InvalidInput, match="preprocess"):
        backbone.run_array(np.zeros((1, 3, 100, 100), np.float32))
    with pytest.raises(InvalidInput, match="top_k"):
        backbone.top_labels(np.zeros((1, 1000), np.float32), top_k=0)
    with pytest.raises(InvalidInput, match="batch_size"):
        backbone.run([], batch_size=0)


def test_concurrent_embeds_agree(backbone: Backbone, flowers: Path) -> None:
    photos = _photos(flowers, "sunflowers", 3)
    expected = backbone.embed(photos)
    results: list[np.ndarray] = []
    lock = threading.Lock()

    def work() -> None:
        out = backbone.embed(photos)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 3
    for out in results:
        np.testing.assert_array_equal(out, expected)
