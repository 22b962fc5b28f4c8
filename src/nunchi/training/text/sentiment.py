"""Reproduce the sentiment models: ``train(data_dir, out, variant=...)``, ``evaluate(model, rows)``.

Training needs scikit-learn (both variants) and torch on the CPU (``accurate``); neither is
needed to score. Data: NSMC ``train.tsv`` + ``extra.tsv``; the fixed held-out split of
:func:`~nunchi.training.text.data.split_nsmc` is never trained on.
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
from nunchi.analyzers.text.sentiment_features import HashedNgrams
from nunchi.errors import InvalidInput, NotFound
from nunchi.training.text.data import (
    LabelledRow,
    SentimentSplit,
    read_labelled,
    split_nsmc,
    write_labelled,
)
from nunchi.training.text.metrics import binary_metrics
from nunchi.training.text.sentiment_cnn import CnnSettings, train_cnn

__all__ = [
    "LINEAR_SETTINGS",
    "Progress",
    "balanced_bags",
    "default_bags",
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
    "fast": (HashedNgrams(log2_buckets=22, char_ngrams=(1, 5), word_ngrams=(1, 2)), 0.25),
    "accurate": (HashedNgrams(log2_buckets=23, char_ngrams=(1, 5), word_ngrams=(1, 2)), 0.25),
}
VAL_FRACTION = 0.05
MAX_BAGS = 8


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


def default_bags(labels: Sequence[int] | NDArray[np.int64]) -> int:
    """How many bags :func:`balanced_bags` deals by default: the class ratio, rounded,
    between 1 and ``MAX_BAGS``."""
    small, large = _class_sizes(np.asarray(labels, dtype=np.int64))
    return min(MAX_BAGS, max(1, round(large / small)))


def _class_sizes(y: NDArray[np.int64]) -> tuple[int, int]:
    """(smaller, larger) class size; InvalidInput unless both labels are present."""
    ones = int(y.sum())
    small, large = sorted((ones, y.size - ones))
    if small == 0:
        raise InvalidInput("training data needs both labels (0 and 1)")
    return small, large


def balanced_bags(labels: Sequence[int] | NDArray[np.int64], seed: int, *,
                  bags: int | None = None) -> list[NDArray[np.int64]]:
    """Row indices (sorted) of class-balanced bags that together use every row.

    Each bag holds every row of the smaller class and as many of the larger one; the larger
    class is dealt out in disjoint parts, one per bag, each topped up at random when it is
    short. ``bags`` defaults to the class ratio, rounded (NSMC training: 337,802 / 87,086 ->
    4), so each larger-class row is in about one bag; balanced data gives one bag.

    Why bags: the NB-weighted linear model leans towards the majority class in a way class
    weights and calibration only partly undo, so it is fit on balanced rows; one balanced
    subset throws three quarters of the positive reviews away, while the mean of the bags'
    models uses them (docs/models.md: validation 0.8810 against 0.8692-0.8746 for single
    bags; one model of the same size).
    """
    y = np.asarray(labels, dtype=np.int64)
    _class_sizes(y)  # both labels, whatever the number of bags
    count = bags if bags is not None else default_bags(y)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    small, large = (pos, neg) if pos.size < neg.size else (neg, pos)
    if count < 1:
        raise InvalidInput(f"bags must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    out: list[NDArray[np.int64]] = []
    for part in np.array_split(rng.permutation(large), count):
        if part.size >= small.size:
            chosen = part[: small.size]
        else:
            rest = np.setdiff1d(large, part, assume_unique=True)
            chosen = np.concatenate([part, rng.choice(rest, small.size - part.size,
                                                      replace=False)])
        out.append(np.sort(np.concatenate([small, chosen])))
    return out


def _sklearn() -> tuple[Any, Any]:
    """``(scipy.sparse, LogisticRegression)``: training-only packages, imported on demand."""
    try:
        sparse = importlib.import_module("scipy.sparse")
        linear_model = importlib.import_module("sklearn.linear_model")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInput(
            "training needs scikit-learn and scipy: pip install 'nunchi[train]'"
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
    seed: int = 0,
    bags: int | None = None,
    progress: Progress | None = None,
) -> LinearSentiment:
    """NB-weighted logistic regression (Wang & Manning's NB features, class-balanced LR),
    fit on each of :func:`balanced_bags` and averaged.

    Each binary feature is scaled by its naive-Bayes log-count ratio; the LR weight times that
    ratio is the single weight stored per bucket, so scoring is one sum per text. The mean of
    the bags' weights and biases is the mean of their logits: one model of the same size.
    """
    sparse, logistic_regression = _sklearn()
    y = np.asarray(labels, dtype=np.int64)
    parts = balanced_bags(y, seed, bags=bags)
    x_all = _matrix(features, texts, progress)
    weights = np.zeros(features.n_buckets, dtype=np.float64)
    bias = 0.0
    for done, rows in enumerate(parts):
        if progress is not None:
            progress("logistic regression", done, len(parts))
        x, y_bag = x_all[rows], y[rows]
        p = 1.0 + np.asarray(x[y_bag == 1].sum(axis=0)).ravel()
        q = 1.0 + np.asarray(x[y_bag == 0].sum(axis=0)).ravel()
        ratio = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        clf = logistic_regression(C=c, solver="liblinear", class_weight="balanced",
                                  max_iter=300)
        clf.fit(x @ sparse.diags(ratio), y_bag)
        weights += clf.coef_.ravel() * ratio
        bias += float(clf.intercept_[0])
    if progress is not None:
        progress("logistic regression", len(parts), len(parts))
    return LinearSentiment(features=features, weights=(weights / len(parts)).astype(np.float32),
                           bias=bias / len(parts))


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
    figures = binary_metrics(y, probs >= 0.5, digits=4)
    return {
        "model": model.name,
        "rows": len(rows),
        **{k: figures[k] for k in ("accuracy", "precision", "recall", "f1")},
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
    bags = default_bags(labels)
    linear = train_linear(texts, labels, features, c=c, seed=seed, bags=bags, progress=progress)
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
        "linear_bags": bags,
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
