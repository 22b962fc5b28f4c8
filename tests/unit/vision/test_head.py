"""The classifier head on synthetic features: fit, predict, abstain, calibration, save/load."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest

from nunchi.analyzers.vision.calibration import fit_temperature, nll, stratified_folds
from nunchi.analyzers.vision.evaluation import evaluate
from nunchi.analyzers.vision.head import DEFAULT_THRESHOLD, ClassifierHead, Prediction
from nunchi.analyzers.vision.logistic import fit_logistic
from nunchi.errors import InvalidInput


def _clusters(
    n_per: int, k: int = 3, d: int = 64, spread: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Gaussian blobs around k random non-negative centres (like pooled CNN features)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (k, d))
    x = np.concatenate([c + spread * rng.normal(size=(n_per, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return x.astype(np.float32), [f"tag{i}" for i in y], centres


def test_fit_separates_clusters_and_predicts_tags() -> None:
    x, tags, _ = _clusters(30)
    head = ClassifierHead.fit(x[::2], tags[::2])
    assert head.tags == ("tag0", "tag1", "tag2")
    assert head.feature_dim == 64
    preds = head.predict(x[1::2], top_k=2)
    assert all(isinstance(p, Prediction) and len(p.top) == 2 for p in preds)
    assert [p.tag for p in preds] == tags[1::2]
    assert all(p.probability == p.top[0][1] for p in preds)


def test_fit_is_deterministic_and_order_free_in_tags() -> None:
    x, tags, _ = _clusters(12)
    a = ClassifierHead.fit(x, tags)
    b = ClassifierHead.fit(x, tags)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.temperature == b.temperature
    perm = np.random.default_rng(5).permutation(len(tags))
    c = ClassifierHead.fit(x[perm], [tags[i] for i in perm], calibrate=False)
    d = ClassifierHead.fit(x, tags, calibrate=False)
    assert c.tags == d.tags
    np.testing.assert_allclose(c.probabilities(x), d.probabilities(x), atol=1e-4)


def test_optimiser_reaches_the_optimum() -> None:
    x, tags, _ = _clusters(20, spread=1.0)
    y = np.array([int(t[-1]) for t in tags])
    fit = fit_logistic(x, y, 3, l2=1e-2)
    assert fit.converged
    # the gradient of the penalised objective vanishes at the returned weights
    z = x.astype(np.float64) @ fit.weights + fit.bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    resid = (p - np.eye(3)[y]) / len(y)
    grad_w = x.T @ resid + 1e-2 * fit.weights
    assert np.abs(grad_w).max() < 1e-4 and np.abs(resid.sum(0)).max() < 1e-4


def test_abstains_between_clusters_and_answers_near_one() -> None:
    x, tags, centres = _clusters(20, k=2, spread=0.2)
    head = ClassifierHead.fit(x, tags)
    middle = ((centres[0] + centres[1]) / 2)[None, :].astype(np.float32)
    near = centres[1][None, :].astype(np.float32)
    (mid,) = head.predict(middle, threshold=0.9)
    (clear,) = head.predict(near, threshold=0.9)
    assert mid.tag is None and mid.probability < 0.9 and mid.top[0][0] in head.tags
    assert clear.tag == "tag1"
    everyone_unknown = head.with_threshold(1.0).predict(x)
    assert all(p.tag is None for p in everyone_unknown if p.probability < 1.0)
    assert head.threshold == DEFAULT_THRESHOLD


def test_calibration_fixes_an_under_confident_model() -> None:
    x, tags, _ = _clusters(40, spread=0.6, seed=3)
    test_x, test_tags, _ = _clusters(40, spread=0.6, seed=3)  # same centres, same draw order
    rng = np.random.default_rng(9)
    test_x = test_x + 0.6 * rng.normal(size=test_x.shape).astype(np.float32)
    raw = ClassifierHead.fit(x, tags, l2=1.0, calibrate=False)  # heavy penalty: timid
    cal = ClassifierHead.fit(x, tags, l2=1.0)
    assert not raw.calibrated and cal.calibrated
    assert cal.temperature < 0.5
    np.testing.assert_array_equal(raw.weights, cal.weights)
    raw_eval = evaluate(raw, test_x, test_tags, threshold=0.0)
    cal_eval = evaluate(cal, test_x, test_tags, threshold=0.0)
    assert cal_eval.log_loss < raw_eval.log_loss
    assert cal_eval.ece < raw_eval.ece
    assert cal_eval.accuracy == raw_eval.accuracy  # temperature never changes the ranking


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 4)) * 2.0
    p = np.exp(true_logits)
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    t = fit_temperature(true_logits * 3.0, y)  # logits 3x too confident
    assert abs(t - 3.0) < 0.3
    assert nll(true_logits * 3.0, y, t) < nll(true_logits * 3.0, y)


def test_stratified_folds_spread_every_class() -> None:
    y = np.array([0] * 10 + [1] * 5 + [2] * 3)
    fold = stratified_folds(y, 3, seed=1)
    for c in range(3):
        counts = np.bincount(fold[y == c], minlength=3)
        assert counts.max() - counts.min() <= 1


def test_one_example_per_tag_trains_uncalibrated() -> None:
    x, tags, _ = _clusters(1, k=4)
    head = ClassifierHead.fit(x, tags)
    assert not head.calibrated and head.temperature == 1.0
    assert [p.tag for p in head.predict(x, threshold=0.0)] == tags


def test_bad_training_input_is_invalid_input() -> None:
    x, tags, _ = _clusters(3)
    with pytest.raises(InvalidInput, match="at least two"):
        ClassifierHead.fit(x, ["same"] * len(x))
    with pytest.raises(InvalidInput, match="one tag a row"):
        ClassifierHead.fit(x, tags[:-1])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        ClassifierHead.fit(bad, tags)
    with pytest.raises(InvalidInput, match="2-D"):
        ClassifierHead.fit(x[0], tags[:1])
    with pytest.raises(InvalidInput, match="threshold"):
        ClassifierHead.fit(x, tags, threshold=1.5)
    head = ClassifierHead.fit(x, tags)
    with pytest.raises(InvalidInput, match="same backbone"):
        head.predict(np.zeros((1, 65), np.float32))
    with pytest.raises(InvalidInput, match="top_k"):
        head.predict(x, top_k=0)


def test_save_load_round_trip(tmp_path: Path) -> None:
    x, tags, _ = _clusters(10, k=4)
    head = ClassifierHead.fit(x, ["한식" if t == "tag0" else t for t in tags], backbone="lite0")
    path = tmp_path / "head.npz"
    head.save(path)
    assert path.stat().st_size < 64 * 4 * 4 + 4096
    again = ClassifierHead.load(path)
    from_bytes = ClassifierHead.from_bytes(head.to_bytes())
    for other in (again, from_bytes):
        assert other.tags == head.tags and "한식" in other.tags
        assert other.temperature == head.temperature and other.threshold == head.threshold
        assert other.backbone == "lite0" and other.calibrated == head.calibrated
        np.testing.assert_array_equal(other.probabilities(x), head.probabilities(x))


def test_load_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a classifier head"):
        ClassifierHead.from_bytes(b"nope")
    buf = io.BytesIO()
    np.savez(buf, weights=np.zeros((2, 2)))
    with pytest.raises(InvalidInput, match="not a classifier head"):
        ClassifierHead.from_bytes(buf.getvalue())


def test_evaluation_counts_precision_recall_and_unknowns() -> None:
    x, tags, centres = _clusters(20, k=3, spread=0.2)
    head = ClassifierHead.fit(x[:, :], tags)
    rows = np.stack([centres[0], centres[0], centres[1], centres[2]]).astype(np.float32)
    truth = ["tag0", "tag1", "tag1", "stranger"]  # one mistake, one unknown kind
    ev = evaluate(head, rows, truth, threshold=0.0)
    assert ev.labels == ("tag0", "tag1", "tag2", None)
    assert ev.confusion.tolist() == [
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 1, 0],
    ]
    assert ev.per_tag["tag0"].precision == 0.5 and ev.per_tag["tag0"].recall == 1.0
    assert ev.per_tag["tag1"].precision == 1.0 and ev.per_tag["tag1"].recall == 0.5
    assert ev.accuracy == 0.5 and ev.unknown_rejected == 0.0 and ev.coverage == 1.0
    strict = evaluate(head, rows, truth, threshold=1.0)
    assert strict.unknown_rejected == 1.0 and strict.coverage == 0.0
    assert strict.to_dict()["confusion"][3] == [0, 0, 0, 1]


def test_hundreds_of_images_fit_in_well_under_two_seconds() -> None:
    rng = np.random.default_rng(0)
    k, n_per, d = 10, 40, 1280
    centres = np.abs(rng.normal(size=(k, d)))
    x = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres]).astype(np.float32)
    tags = [f"t{i}" for i in np.repeat(np.arange(k), n_per)]
    t0 = time.perf_counter()
    head = ClassifierHead.fit(x, tags)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"fit took {elapsed:.2f} s"
    assert head.calibrated
