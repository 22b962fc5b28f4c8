"""The head on real features of the flowers photos, and backbone + head as one ONNX file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.evaluation import evaluate
from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.analyzers.vision.onnx_export import write_classifier
from nunchi.training.vision.fewshot import load_dataset, split


@pytest.fixture(scope="module")
def dataset(backbone: Backbone, flowers: Path) -> tuple[list[Path], list[str], np.ndarray]:
    files, tags = load_dataset(flowers)
    assert len(files) == 250 and len(set(tags)) == 5
    return files, tags, backbone.embed(files)


def _head(dataset: tuple[list[Path], list[str], np.ndarray], seed: int) -> ClassifierHead:
    _, tags, feats = dataset
    train, _ = split(tags, 10, seed)
    return ClassifierHead.fit(feats[train], [tags[i] for i in train], seed=seed)


def test_ten_shot_accuracy_on_held_out_photos(
    dataset: tuple[list[Path], list[str], np.ndarray],
) -> None:
    # Measured (docs/vision-backbone.md): seeds 0-4 give 0.845, 0.84, 0.79, 0.83, 0.845.
    _, tags, feats = dataset
    accs = []
    for seed in range(5):
        _, test = split(tags, 10, seed)
        ev = evaluate(_head(dataset, seed), feats[test], [tags[i] for i in test], threshold=0.0)
        accs.append(ev.accuracy)
        assert ev.log_loss < 0.8
        assert set(ev.per_tag) == set(tags)
    assert min(accs) >= 0.75, accs
    assert float(np.mean(accs)) >= 0.80, accs


def test_a_higher_threshold_trades_coverage_for_accuracy(
    dataset: tuple[list[Path], list[str], np.ndarray],
) -> None:
    # Train without tulips: tulip photos should be answered "unknown" more often as it rises.
    _, tags, feats = dataset
    train, test = split(tags, 10, 0)
    fit_rows = [i for i in train if tags[i] != "tulips"]
    unseen = [i for i, t in enumerate(tags) if t == "tulips"]
    rows = [i for i in test if tags[i] != "tulips"] + unseen
    head = ClassifierHead.fit(feats[fit_rows], [tags[i] for i in fit_rows])
    low = evaluate(head, feats[rows], [tags[i] for i in rows], threshold=0.5)
    high = evaluate(head, feats[rows], [tags[i] for i in rows], threshold=0.8)
    assert low.unknown_rejected is not None and high.unknown_rejected is not None
    assert high.unknown_rejected > low.unknown_rejected
    assert high.answered_accuracy > low.answered_accuracy
    assert high.coverage < low.coverage
    assert low.coverage > 0.8


def test_one_onnx_file_matches_the_head_on_backbone_features(
    backbone: Backbone, dataset: tuple[list[Path], list[str], np.ndarray], tmp_path: Path
) -> None:
    files = dataset[0]
    head = _head(dataset, 1)
    out = write_classifier(backbone.path, head, tmp_path / "flowers.onnx")
    assert out.stat().st_size < backbone.path.stat().st_size  # the ImageNet layer is pruned
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["image"]
    assert [o.name for o in sess.get_outputs()] == ["probabilities"]
    meta = sess.get_modelmeta().custom_metadata_map
    assert json.loads(meta["nunchi.tags"]) == list(head.tags)
    assert float(meta["nunchi.threshold"]) == head.threshold
    assert meta["nunchi.input_size"] == "224"
    picks = [files[i] for i in (0, 60, 120, 180, 240, 7)]
    batch = backbone.preprocess(picks)
    (probs,) = sess.run(["probabilities"], {"image": batch})
    expected = head.probabilities(backbone.run_array(batch).features)
    assert probs.shape == (6, 5)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_array_equal(probs.argmax(1), expected.argmax(1))
    (single,) = sess.run(["probabilities"], {"image": batch[:1]})
    np.testing.assert_allclose(single, expected[:1], atol=1e-5)
