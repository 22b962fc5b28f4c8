"""Reproduce the sentiment models: ``train(data_dir, out, variant=...)``, ``evaluate(model, rows)``.

Training needs scikit-learn (both variants) and torch on the CPU (``accurate``); neither is
needed to score. Data: NSMC ``train.tsv`` + ``extra.tsv``; the fixed held-out split of
:func:`~nunchi.analyzers.text.sentiment_data.split_nsmc` is never trained on.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.sentiment import (
    FORMAT_VERSION,
    LinearSentiment,
    SentimentClassifier,
    check_variant,
)
from nunchi.analyzers.text.sentiment_cnn import CharCnn
from nunchi.analyzers.text.sentiment_cnn_train import CnnSettings, train_cnn
from nunchi.analyzers.text.sentiment_data import (
    LabelledRow,
    SentimentSplit,
    read_labelled,
    split_nsmc,
    write_labelled,
)
from nunchi.analyzers.text.sentiment_features import HashedNgrams
from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "LINEAR_SETTINGS",
    "Progress",
    "balanced_rows",
    "evaluate",
    "load_rows",
    "train",
    "train_linear",
    "write_heldout",
]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(step_name, done, total)`` while training."""

# (features, C) of the linear part of each variant.
LINEAR_SETTINGS: dict[str, tuple[HashedNgrams, float]] = {
    "fast": (HashedNgrams(log2_buckets=22, char_ngrams=(1, 5), word_ngrams=(1, 2)), 1.0),
    "accurate": (HashedNgrams(log2_buckets=23, char_ngrams=(1, 5), word_ngrams=(1, 2)), 1.0),
}
VAL_FRACTION = 0.05


def load_rows(path: Path, fmt: str = "tsv") -> list[LabelledRow]:
    """Read a labelled file (``tsv``: NSMC or ``text<TAB>label``; ``pipe``: ``text|label``)."""
    return read_labelled(path, fmt)


def write_heldout(data_dir: Path, path: Path, *, seed: int = 0) -> int:
    """Write the held-out test split of ``data_dir`` to ``path``; returns the row count."""
    return write_labelled(_split(data_dir, seed).test, path)


def _split(data_dir: Path, seed: int) -> SentimentSplit:
    if not (data_dir / "train.tsv").is_file():
        raise NotFound(f"{data_dir}/train.tsv not found: point --data at the NSMC folder")
    return split_nsmc(data_dir, seed=seed, val_fraction=VAL_FRACTION)


def balanced_rows(rows: Sequence[LabelledRow], seed: int) -> list[LabelledRow]:
    """All rows of the smaller class plus as many of the larger, drawn at random (order kept).

    The NB-weighted linear model leans towards the majority class in a way class weights and
    calibration only partly undo; on NSMC a balanced subset scores as well as all rows
    (see docs/models.md) and trains in a third of the time.
    """
    labels = np.fromiter((label for _, label in rows), dtype=np.int64, count=len(rows))
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    small, large = (pos, neg) if pos.size < neg.size else (neg, pos)
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([small, rng.choice(large, size=small.size, replace=False)]))
    return [rows[i] for i in keep]


def _sklearn() -> tuple[Any, Any]:
    """``(scipy.sparse, LogisticRegression)``: training-only packages, imported on demand."""
    try:
        sparse = importlib.import_module("scipy.sparse")
        linear_model = importlib.import_module("sklearn.linear_model")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInput(
            "training needs scikit-learn and scipy: pip install scikit-learn scipy"
        ) from exc
    return sparse, linear_model.LogisticRegression


def _matrix(features: HashedNgrams, texts: Sequence[str], progress: Progress | None) -> Any:
    sparse, _ = _sklearn()
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    step = 20_000
    for i in range(0, len(texts), step):
        r, b = features.pairs(texts[i : i + step])
        rows.append(r + i)
        cols.append(b)
        if progress is not None:
            progress("features", min(i + step, len(texts)), len(texts))
    r_all, c_all = np.concatenate(rows), np.concatenate(cols)
    ones = np.ones(r_all.size, dtype=np.float32)
    matrix = sparse.csr_matrix((ones, (r_all, c_all)), shape=(len(texts), features.n_buckets))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # binary: a feature is present or not
    return matrix


def train_linear(
    texts: Sequence[str],
    labels: Sequence[int],
    features: HashedNgrams,
    *,
    c: float = 1.0,
    progress: Progress | None = None,
) -> LinearSentiment:
    """NB-weighted logistic regression (Wang & Manning's NB features, class-balanced LR).

    Each binary feature is scaled by its naive-Bayes log-count ratio; the LR weight times that
    ratio is the single weight stored per bucket, so scoring is one sum per text.
    """
    sparse, logistic_regression = _sklearn()
    x = _matrix(features, texts, progress)
    y = np.asarray(labels, dtype=np.int64)
    if np.unique(y).size != 2:
        raise InvalidInput("training data needs both labels (0 and 1)")
    p = 1.0 + np.asarray(x[y == 1].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(x[y == 0].sum(axis=0)).ravel()
    ratio = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
    x = x @ sparse.diags(ratio)
    if progress is not None:
        progress("logistic regression", 0, 1)
    clf = logistic_regression(C=c, solver="liblinear", class_weight="balanced", max_iter=300)
    clf.fit(x, y)
    if progress is not None:
        progress("logistic regression", 1, 1)
    weights = (clf.coef_.ravel() * ratio).astype(np.float32)
    return LinearSentiment(features=features, weights=weights, bias=float(clf.intercept_[0]))


def _calibrate(linear: LinearSentiment, texts: Sequence[str], labels: NDArray[np.int64]
               ) -> list[float]:
    """Platt-scale the linear model on balanced validation rows, in place; returns ``[a, b]``.

    Training data is about 79% positive and class weights alone leave the model leaning
    positive; ``a * logit + b`` fit on held-out balanced reviews moves the threshold back.
    """
    _, logistic_regression = _sklearn()
    z = linear.logits(texts).reshape(-1, 1)
    clf = logistic_regression(C=1e4)
    clf.fit(z, np.asarray(labels, dtype=np.int64))
    a, b = float(clf.coef_[0, 0]), float(clf.intercept_[0])
    linear.weights = (linear.weights * a).astype(np.float32)
    linear.bias = a * linear.bias + b
    return [a, b]


def _fit_stack(lin: NDArray[np.float64], cnn: NDArray[np.float64], y: NDArray[np.int64]
               ) -> list[float]:
    _, logistic_regression = _sklearn()
    clf = logistic_regression(C=1.0, class_weight="balanced")
    clf.fit(np.column_stack([lin, cnn]), y)
    return [float(clf.coef_[0, 0]), float(clf.coef_[0, 1]), float(clf.intercept_[0])]


def evaluate(model: SentimentClassifier, rows: Sequence[LabelledRow], *,
             batch_size: int = 2048) -> dict[str, Any]:
    """Accuracy, precision, recall and F1 (positive class) and messages/s on ``rows``.

    Messages/s is the single-threaded throughput of ``predict_proba`` in batches of
    ``batch_size`` over these texts (longer texts score slower than chat messages).
    """
    if not rows:
        raise InvalidInput("no rows to evaluate")
    texts = [text for text, _ in rows]
    y = np.fromiter((label for _, label in rows), dtype=np.int64, count=len(rows))
    started = time.perf_counter()
    probs = np.concatenate([
        model.predict_proba(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)
    ])
    seconds = time.perf_counter() - started
    pred = (probs >= 0.5).astype(np.int64)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "model": model.name,
        "rows": len(rows),
        "accuracy": round(float((pred == y).mean()), 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "messages_per_s": round(len(rows) / max(seconds, 1e-9)),
    }


def _save(out: Path, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> Path:
    file = out / f"sentiment-{meta['variant']}.npz" if out.suffix != ".npz" else out
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp.npz")
    payload: dict[str, Any] = {"meta": np.array(json.dumps(meta, ensure_ascii=False)), **arrays}
    np.savez_compressed(tmp, **payload)
    tmp.replace(file)
    return file


def train(
    data_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    variant: str = "fast",
    progress: Progress | None = None,
    cnn_settings: CnnSettings | None = None,
    linear_settings: tuple[HashedNgrams, float] | None = None,
    max_train_rows: int | None = None,
) -> dict[str, Any]:
    """Train ``variant`` on the NSMC data in ``data_dir``, write it to ``out``, return its card.

    ``out`` is a ``.npz`` file or a folder (then ``sentiment-<variant>.npz`` inside). The card
    holds the data sizes, the settings and accuracy/precision/recall/F1 on the validation and
    held-out test splits. ``cnn_settings`` / ``linear_settings`` (features, C) replace the
    variant's defaults and ``max_train_rows`` trains on a prefix: both for quick checks only.
    """
    name = check_variant(variant)
    started = time.monotonic()
    split = _split(data_dir, seed)
    train_rows = split.train[:max_train_rows] if max_train_rows else split.train
    texts = [text for text, _ in train_rows]
    labels = [label for _, label in train_rows]
    features, c = linear_settings or LINEAR_SETTINGS[name]
    linear_rows = balanced_rows(train_rows, seed)
    linear = train_linear([t for t, _ in linear_rows], [y for _, y in linear_rows], features,
                          c=c, progress=progress)
    arrays: dict[str, NDArray[Any]] = {
        "linear_weights": linear.weights.astype(np.float16),
        "linear_bias": np.array([linear.bias], dtype=np.float32),
    }
    meta: dict[str, Any] = {
        "kind": "sentiment",
        "format": FORMAT_VERSION,
        "variant": name,
        "linear_features": features.to_dict(),
        "linear_binary": True,
    }
    val_texts = [text for text, _ in split.val]
    val_y = np.array([label for _, label in split.val], dtype=np.int64)
    cnn: CharCnn | None = None
    stack: list[float] | None = None
    if name == "fast":
        meta["calibration"] = _calibrate(linear, val_texts, val_y)
        arrays["linear_weights"] = linear.weights.astype(np.float16)
        arrays["linear_bias"] = np.array([linear.bias], dtype=np.float32)
    else:
        cfg = cnn_settings or CnnSettings()
        arrays.update(train_cnn(texts, labels, seed=seed, settings=cfg, progress=progress))
        cnn = CharCnn.from_arrays(arrays, "cnn_")
        stack = _fit_stack(linear.logits(val_texts), cnn.logits(val_texts), val_y)
        meta["stack"] = stack
        meta["cnn_settings"] = {**cfg.__dict__, "kernels": list(cfg.kernels)}
    # Score with the stored (float16) weights, exactly as a loaded model will.
    linear.weights = arrays["linear_weights"].astype(np.float32)
    model = SentimentClassifier(name, linear, cnn, stack)
    info: dict[str, Any] = {
        "variant": name,
        "seed": seed,
        "data": str(data_dir),
        "train_rows": len(train_rows),
        "train_positive": int(sum(labels)),
        "linear_train_rows": len(linear_rows),
        "val_rows": len(split.val),
        "test_rows": len(split.test),
        "val": evaluate(model, split.val),
        "test": evaluate(model, split.test),
        "train_seconds": round(time.monotonic() - started, 1),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    meta["info"] = info
    info["path"] = str(_save(out, arrays, meta))
    return info
