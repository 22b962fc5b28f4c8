"""A trainable classifier on backbone embeddings: fit at run time, calibrated, able to abstain.

Pure numpy, so a user's own tags ("my plants", "dishes on our menu") train in the request or
job that asks, in well under a second for hundreds of images. The model is multinomial logistic
regression on L2-normalised features (the head normalises its input itself, so raw or
normalised backbone features both work), its probabilities are temperature-scaled on
cross-validated logits, and :meth:`ClassifierHead.predict` answers ``None`` ("unknown") when the
best probability is below the head's threshold.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.vision.calibration import fit_temperature, stratified_folds
from nunchi.analyzers.vision.logistic import fit_logistic, log_softmax
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput

__all__ = [
    "DEFAULT_L2",
    "DEFAULT_THRESHOLD",
    "ClassifierHead",
    "Prediction",
]

DEFAULT_L2 = 1e-4
"""L2 penalty on the weights (mean cross-entropy objective), chosen on the flowers study."""
DEFAULT_THRESHOLD = 0.5
"""Below this calibrated probability the head abstains (see docs/vision-backbone.md)."""
_FORMAT = 1
F32 = NDArray[np.float32]


class Prediction(NamedTuple):
    """One image's answer: the tag (``None`` = unknown), its probability, the best ``top_k``."""

    tag: str | None
    probability: float
    top: list[tuple[str, float]]


def _check_features(features: NDArray[np.floating], dim: int | None = None) -> F32:
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2:
        raise InvalidInput(f"features must be a 2-D array (n, d), got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise InvalidInput(
            f"features have {x.shape[1]} dimensions, the head was trained on {dim}: "
            "use the same backbone variant"
        )
    if not np.isfinite(x).all():
        raise InvalidInput("features contain NaN or infinity")
    return x


@dataclass(frozen=True, eq=False)
class ClassifierHead:
    """Weights ``(d, k)`` and bias ``(k,)`` over unit-length features, one column per tag."""

    tags: tuple[str, ...]
    weights: F32
    bias: F32
    temperature: float = 1.0
    threshold: float = DEFAULT_THRESHOLD
    l2: float = DEFAULT_L2
    calibrated: bool = False
    backbone: str = ""

    @property
    def feature_dim(self) -> int:
        """The embedding length the head expects."""
        return int(self.weights.shape[0])

    @classmethod
    def fit(
        cls,
        features: NDArray[np.floating],
        tags: Sequence[str],
        *,
        l2: float = DEFAULT_L2,
        threshold: float = DEFAULT_THRESHOLD,
        calibrate: bool = True,
        folds: int = 5,
        seed: int = 0,
        backbone: str = "",
    ) -> ClassifierHead:
        """Train on ``features`` (n, d) with one tag per row; deterministic for a given ``seed``.

        With ``calibrate`` the temperature is fitted on out-of-fold logits of a stratified
        ``folds``-fold split (fewer folds when a tag has fewer examples; none below two each).
        """
        x = l2_normalize(_check_features(features))
        if len(tags) != len(x):
            raise InvalidInput(f"{len(tags)} tags for {len(x)} feature rows: give one tag a row")
        names = tuple(sorted(set(tags)))
        if len(names) < 2:
            raise InvalidInput("a classifier needs examples of at least two different tags")
        if not all(isinstance(t, str) and t for t in names):
            raise InvalidInput("tags must be non-empty strings")
        if l2 <= 0 or not math.isfinite(l2):
            raise InvalidInput("l2 must be a positive number")
        _check_threshold(threshold)
        index = {t: i for i, t in enumerate(names)}
        y = np.array([index[t] for t in tags], dtype=np.int64)
        main = fit_logistic(x, y, len(names), l2=l2)
        temperature, calibrated = 1.0, False
        n_folds = min(folds, int(np.bincount(y).min()))
        if calibrate and n_folds >= 2:
            fold = stratified_folds(y, n_folds, seed)
            oof = np.empty((len(x), len(names)), dtype=np.float64)
            for f in range(n_folds):
                train, held = fold != f, fold == f
                part = fit_logistic(x[train], y[train], len(names), l2=l2, start=main)
                oof[held] = x[held] @ part.weights + part.bias
            temperature, calibrated = fit_temperature(oof, y), True
        return cls(
            tags=names,
            weights=main.weights.astype(np.float32),
            bias=main.bias.astype(np.float32),
            temperature=temperature,
            threshold=threshold,
            l2=l2,
            calibrated=calibrated,
            backbone=backbone,
        )

    def logits(self, features: NDArray[np.floating]) -> F32:
        """Uncalibrated scores ``(n, k)`` (before the temperature)."""
        x = l2_normalize(_check_features(features, self.feature_dim))
        out: F32 = (x @ self.weights + self.bias).astype(np.float32)
        return out

    def probabilities(self, features: NDArray[np.floating]) -> F32:
        """Calibrated probabilities ``(n, k)``, columns in :attr:`tags` order."""
        logp = log_softmax(self.logits(features).astype(np.float64) / self.temperature)
        out: F32 = np.exp(logp).astype(np.float32)
        return out

    def predict(
        self, features: NDArray[np.floating], top_k: int = 3, *, threshold: float | None = None
    ) -> list[Prediction]:
        """For each row: the tag, or ``None`` below ``threshold`` (default: the head's own)."""
        limit = self.threshold if threshold is None else _check_threshold(threshold)
        if top_k < 1:
            raise InvalidInput("top_k must be at least 1")
        probs = self.probabilities(features)
        order = np.argsort(-probs, axis=1, kind="stable")[:, : min(top_k, len(self.tags))]
        out: list[Prediction] = []
        for row, idx in zip(probs, order, strict=True):
            top = [(self.tags[j], float(row[j])) for j in idx]
            best, p = top[0]
            out.append(Prediction(best if p >= limit else None, p, top))
        return out

    def with_threshold(self, threshold: float) -> ClassifierHead:
        """The same head with another abstain threshold."""
        return replace(self, threshold=_check_threshold(threshold))

    def affine(self) -> tuple[F32, F32]:
        """``(W, b)``, temperature folded in: ``softmax(unit(x) @ W + b)`` is the probabilities."""
        w: F32 = (self.weights / np.float32(self.temperature)).astype(np.float32)
        b: F32 = (self.bias / np.float32(self.temperature)).astype(np.float32)
        return w, b

    def save(self, target: Path | BinaryIO) -> None:
        """Write the head as a small ``.npz`` file (no pickles)."""
        np.savez(
            target,
            format=np.int64(_FORMAT),
            tags=np.array(self.tags, dtype=np.str_),
            weights=self.weights,
            bias=self.bias,
            temperature=np.float64(self.temperature),
            threshold=np.float64(self.threshold),
            l2=np.float64(self.l2),
            calibrated=np.bool_(self.calibrated),
            backbone=np.str_(self.backbone),
        )

    def to_bytes(self) -> bytes:
        """The ``.npz`` file's bytes (for a blob store or a database column)."""
        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    @classmethod
    def load(cls, source: Path | BinaryIO) -> ClassifierHead:
        """Read a head written by :meth:`save`."""
        try:
            with np.load(source, allow_pickle=False) as z:
                if int(z["format"]) != _FORMAT:
                    raise InvalidInput(f"classifier file format {int(z['format'])}, want {_FORMAT}")
                head = cls(
                    tags=tuple(str(t) for t in z["tags"]),
                    weights=z["weights"].astype(np.float32),
                    bias=z["bias"].astype(np.float32),
                    temperature=float(z["temperature"]),
                    threshold=float(z["threshold"]),
                    l2=float(z["l2"]),
                    calibrated=bool(z["calibrated"]),
                    backbone=str(z["backbone"]),
                )
        except (OSError, KeyError, ValueError) as e:
            raise InvalidInput(f"not a classifier head file: {e}") from e
        k = len(head.tags)
        if head.weights.ndim != 2 or head.weights.shape[1] != k or head.bias.shape != (k,):
            raise InvalidInput("classifier head file is inconsistent (weights, bias and tags)")
        return head

    @classmethod
    def from_bytes(cls, data: bytes) -> ClassifierHead:
        """Read a head from :meth:`to_bytes` output."""
        return cls.load(io.BytesIO(data))


def _check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput("threshold must be between 0 and 1")
    return float(threshold)
