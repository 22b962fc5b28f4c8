"""Embedding recipes, the shrinkage-LDA head and the one-file export of both (no shared data)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from nunchi.analyzers.vision.lda import fit_lda, lda_affine
from nunchi.analyzers.vision.onnx_views import write_recipe_classifier
from nunchi.analyzers.vision.preprocess import load_rgb, to_array
from nunchi.analyzers.vision.recipes import DEFAULT_RECIPE, RECIPES, View, recipe
from nunchi.apps.vision.schemas import ProjectCreate
from nunchi.errors import InvalidInput


def _photo(seed: int, size: tuple[int, int] = (300, 240)) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (3,), dtype=np.uint8)
    pixels = np.clip(rng.normal(base, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    pixels[:, : size[0] // 3] = 255 - base  # something that is not symmetric left-right
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_view_boxes_are_squares_of_the_shorter_side_where_asked() -> None:
    assert View(0.75, 0.0, 0.0).box(400, 200) == (0, 0, 150, 150)
    assert View(0.75, 1.0, 1.0).box(400, 200) == (250, 50, 400, 200)
    assert View(1.0, 0.5, 0.5).box(400, 200) == (100, 0, 300, 200)


def test_the_fast_recipe_sees_what_the_backbone_preprocessing_sees() -> None:
    data = _photo(1)
    (view,) = RECIPES["fast"].arrays(data, 224)
    np.testing.assert_array_equal(view, to_array(load_rgb(data), 224))


def test_mirrored_views_are_mirror_images() -> None:
    views = RECIPES["accurate"].arrays(_photo(2), 224)
    assert views.shape == (8, 3, 224, 224)
    np.testing.assert_array_equal(views[4], views[0][:, :, ::-1])
    assert not np.array_equal(views[0], views[1])  # different corners


def test_combine_powers_normalises_and_averages_per_photo() -> None:
    r = RECIPES["accurate"]
    feats = np.abs(np.random.default_rng(0).normal(size=(16, 6))).astype(np.float32)
    out = r.combine(feats)
    assert out.shape == (2, 6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    root = np.sqrt(feats[:8])
    expected = (root / np.linalg.norm(root, axis=1, keepdims=True)).mean(0)
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), rtol=1e-5)
    with pytest.raises(InvalidInput, match="8 views"):
        r.combine(feats[:5])


def test_new_projects_take_the_default_recipe() -> None:
    assert ProjectCreate(name="p").recipe == DEFAULT_RECIPE  # the schema repeats the name


def test_unknown_recipes_are_named() -> None:
    with pytest.raises(InvalidInput, match="accurate or fast"):
        recipe("slow")


def test_lda_woodbury_equals_the_direct_inverse() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 30))
    y = np.array([0, 1, 2] * 4)
    w, b = lda_affine(x, y, 3, 0.4)
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    resid = x - means[y]
    cov = resid.T @ resid / len(x)
    shrunk = 0.6 * cov + 0.4 * np.trace(cov) / 30 * np.eye(30)
    direct = np.linalg.solve(shrunk, means.T)
    np.testing.assert_allclose(w, direct, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(
        b, -0.5 * np.einsum("kd,dk->k", means, direct) + np.log(1 / 3), rtol=1e-8
    )
    many = np.vstack([x] * 3)  # more rows than dimensions: the direct branch
    w2, _ = lda_affine(many, np.tile(y, 3), 3, 0.4)
    assert w2.shape == (30, 3) and np.isfinite(w2).all()


def test_lda_head_separates_and_calibrates() -> None:
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(3, 40))
    tags = ["a", "b", "c"] * 12
    x = np.stack([centres["abc".index(t)] + 0.6 * rng.normal(size=40) for t in tags])
    head = fit_lda(x, tags, seed=1)
    assert head.tags == ("a", "b", "c") and head.calibrated
    fresh = np.stack([centres[i] + 0.6 * rng.normal(size=40) for i in (0, 1, 2)])
    assert [p.tag for p in head.predict(fresh)] == ["a", "b", "c"]
    assert 0.0 < head.temperature < 1e6
    with pytest.raises(InvalidInput, match="two different tags"):
        fit_lda(x[:3], ["a"] * 3)
    with pytest.raises(InvalidInput, match="shrinkage"):
        fit_lda(x, tags, shrinkage=0.0)


@pytest.mark.parametrize("name", ["fast", "accurate", "precise"])
def test_exported_recipe_model_gives_the_head_s_probabilities(name: str, tmp_path: Path) -> None:
    r = RECIPES[name]
    photos = [_photo(i) for i in range(6)]
    emb = r.embed(photos, batch_size=2)
    head = fit_lda(emb, ["x", "y", "z"] * 2, calibrate=False)
    out = write_recipe_classifier(head, r, tmp_path / "m.onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["nunchi.recipe"] == name and len(json.loads(meta["nunchi.views"])) == len(r.views)
    inputs = {b["input"]: b["size"] for b in json.loads(meta["nunchi.backbones"])}
    feeds = {name: np.stack([r.arrays(p, side) for p in photos]) for name, side in inputs.items()}
    assert sorted(feeds) == (["views", "views_360"] if name == "precise" else ["views"])
    (probs,) = session.run(["probabilities"], feeds)
    np.testing.assert_allclose(probs, head.probabilities(emb), atol=1e-5)
