"""A shrinkage linear-discriminant head: class means and one shared, shrunk covariance (pure).

With ten photos a tag and 1280 dimensions, a Gaussian model with a shared covariance pulled
towards a multiple of the identity (``(1 - s) * S + s * mean(diag(S)) * I``) separates the
flowers better than logistic regression (docs/vision-app.md). The result is linear in the
embedding, so it is stored as a :class:`~nunchi.analyzers.vision.head.ClassifierHead` (weights,
bias, temperature, threshold) and exports to ONNX like any head. Calibration is the head's
own: a temperature fitted on out-of-fold logits. With fewer rows than dimensions the inverse
is taken through the Woodbury identity (an ``n x n`` solve instead of ``d x d``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.calibration import fit_temperature, stratified_folds
from nunchi.analyzers.vision.head import DEFAULT_THRESHOLD, ClassifierHead
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput

__all__ = ["DEFAULT_SHRINKAGE", "fit_lda", "lda_affine"]

DEFAULT_SHRINKAGE = 0.5
"""Weight of the identity in the covariance, chosen on the flowers (0.3-0.9 within a point)."""

F64 = NDArray[np.float64]


def lda_affine(
    x: NDArray[np.floating], y: NDArray[np.integer], n_classes: int, shrinkage: float
) -> tuple[F64, F64]:
    """``(W (d, k), b (k,))`` of the discriminant ``x @ W + b`` for rows ``x`` with class
    indices ``y`` (every class present), equal covariance shrunk by ``shrinkage``."""
    x64 = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    n, d = x64.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        raise InvalidInput("every tag needs at least one example")
    means = np.zeros((n_classes, d))
    np.add.at(means, y, x64)
    means /= counts[:, None]
    resid = x64 - means[y]
    scale = float(np.einsum("ij,ij->", resid, resid)) / (n * d)  # mean(diag(S))
    a = shrinkage * scale
    if a <= 0:
        a = 1e-6  # every row equals its class mean: the means alone decide
    m = means.T  # (d, k)
    if shrinkage >= 1.0:
        inv_m = m / a
    elif n < d:
        u = resid.T * np.sqrt((1.0 - shrinkage) / n)  # (d, n): S_shrunk = a I + U U^T
        small = a * np.eye(n) + u.T @ u
        inv_m = (m - u @ np.linalg.solve(small, u.T @ m)) / a
    else:
        cov = (1.0 - shrinkage) * (resid.T @ resid) / n + a * np.eye(d)
        inv_m = np.linalg.solve(cov, m)
    bias = -0.5 * np.einsum("dk,dk->k", m, inv_m) + np.log(counts / n)
    return inv_m, bias


def fit_lda(
    features: NDArray[np.floating],
    tags: Sequence[str],
    *,
    shrinkage: float = DEFAULT_SHRINKAGE,
    threshold: float = DEFAULT_THRESHOLD,
    calibrate: bool = True,
    folds: int = 5,
    seed: int = 0,
    backbone: str = "",
) -> ClassifierHead:
    """A calibrated :class:`ClassifierHead` from ``features`` (n, d) with one tag a row.

    The features are scaled to unit length first (as the head does when it predicts). The
    temperature is fitted on out-of-fold logits of a stratified split (``folds`` or fewer
    when a tag has fewer examples; none when a tag has only one)."""
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or not len(x):
        raise InvalidInput(f"features must be a non-empty (n, d) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidInput("features contain NaN or infinity")
    if len(tags) != len(x):
        raise InvalidInput(f"{len(tags)} tags for {len(x)} feature rows: give one tag a row")
    if not 0.0 < shrinkage <= 1.0:
        raise InvalidInput("shrinkage must be above 0 and at most 1")
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput("threshold must be between 0 and 1")
    names = tuple(sorted(set(tags)))
    if len(names) < 2:
        raise InvalidInput("a classifier needs examples of at least two different tags")
    if not all(isinstance(t, str) and t for t in names):
        raise InvalidInput("tags must be non-empty strings")
    unit = l2_normalize(x).astype(np.float64)
    index = {t: i for i, t in enumerate(names)}
    y = np.array([index[t] for t in tags], dtype=np.int64)
    weights, bias = lda_affine(unit, y, len(names), shrinkage)
    temperature, calibrated = 1.0, False
    n_folds = min(folds, int(np.bincount(y).min()))
    if calibrate and n_folds >= 2:
        fold = stratified_folds(y, n_folds, seed)
        oof = np.empty((len(unit), len(names)))
        for f in range(n_folds):
            train, held = fold != f, fold == f
            w, b = lda_affine(unit[train], y[train], len(names), shrinkage)
            oof[held] = unit[held] @ w + b
        temperature, calibrated = fit_temperature(oof, y), True
    return ClassifierHead(
        tags=names,
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        temperature=temperature,
        threshold=threshold,
        calibrated=calibrated,
        backbone=backbone,
    )
