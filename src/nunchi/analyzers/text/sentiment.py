"""Korean sentiment: ``SentimentClassifier.score(text)`` -> positive / negative with P(positive).

Two variants (see docs/models.md for data, method and figures):

- ``fast`` (shipped in ``models/``, used everywhere): hashed character 1-5-grams and word
  1-2-grams, NB-weighted logistic regression. Pure numpy, well over 20,000 short messages per
  second on one core.
- ``accurate``: a larger linear model plus a character CNN, their logits stacked by weights fit
  on validation data. Not shipped: it did not measurably beat ``fast`` on held-out reviews
  (88.75% vs 88.55%); ``nunchi models train-sentiment --variant accurate`` builds it, and
  ``load(variant="accurate")`` then uses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.sentiment_cnn import CharCnn
from nunchi.analyzers.text.sentiment_features import HashedNgrams
from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "MODELS_DIR",
    "VARIANTS",
    "LinearSentiment",
    "SentimentClassifier",
    "SentimentResult",
    "Variant",
    "check_variant",
    "default_model_path",
]

Variant = Literal["fast", "accurate"]
VARIANTS: tuple[Variant, ...] = ("fast", "accurate")
MODELS_DIR = Path(__file__).resolve().parent / "models"
FORMAT_VERSION = 1


def default_model_path(variant: str = "fast") -> Path:
    """Where the shipped model of ``variant`` lives inside the package."""
    return MODELS_DIR / f"sentiment-{check_variant(variant)}.npz"


def check_variant(variant: str) -> Variant:
    """``variant`` as a :data:`Variant`; ``InvalidInput`` naming the choices if it is not one."""
    for known in VARIANTS:
        if variant == known:
            return known
    choices = ", ".join(VARIANTS)
    raise InvalidInput(f"unknown sentiment variant {variant!r}: use one of {choices}")


@dataclass(frozen=True)
class SentimentResult:
    """One text's sentiment: ``label`` ``"positive"``/``"negative"``, ``score`` P(positive)."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """``{"label": ..., "score": ...}`` with the score rounded to 4 places."""
        return {"label": self.label, "score": round(self.score, 4)}


@dataclass
class LinearSentiment:
    """Hashed n-gram linear model: logit = bias + sum of the weights of a text's features."""

    features: HashedNgrams
    weights: NDArray[np.float32]
    bias: float
    binary: bool = True

    def logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """One logit (log-odds of positive) per text."""
        n = len(texts)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        rows, buckets = self.features.pairs(texts)
        if self.binary:
            keys = np.unique(rows * self.features.n_buckets + buckets)
            rows, buckets = keys >> self.features.log2_buckets, keys & (self.features.n_buckets - 1)
        sums = np.bincount(rows, weights=self.weights[buckets], minlength=n)
        return np.asarray(sums + self.bias, dtype=np.float64)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any],
                    prefix: str = "linear_") -> LinearSentiment:
        """Load from arrays saved by ``train_sentiment`` under ``prefix``."""
        return cls(
            features=HashedNgrams.from_dict(meta[f"{prefix}features"]),
            weights=np.asarray(arrays[f"{prefix}weights"], dtype=np.float32),
            bias=float(np.asarray(arrays[f"{prefix}bias"]).reshape(-1)[0]),
            binary=bool(meta.get(f"{prefix}binary", True)),
        )


class SentimentClassifier:
    """A loaded sentiment model. Thread-safe for scoring (it holds no mutable state)."""

    def __init__(
        self,
        variant: Variant,
        linear: LinearSentiment,
        cnn: CharCnn | None = None,
        stack: Sequence[float] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Build from parts; most callers want :meth:`load`."""
        if cnn is not None and (stack is None or len(stack) != 3):
            raise InvalidInput("a model with a CNN needs 3 stacking weights (linear, cnn, bias)")
        self.variant: Variant = variant
        self.linear = linear
        self.cnn = cnn
        self.stack = tuple(float(v) for v in stack) if stack is not None else None
        self.info: dict[str, Any] = dict(info or {})

    @classmethod
    def load(cls, path: Path | str | None = None, variant: str = "fast") -> SentimentClassifier:
        """Load a model file; ``path=None`` loads the shipped model of ``variant``.

        Raises ``NotFound`` when the file is missing and ``InvalidInput`` when it is not a
        sentiment model written by ``nunchi models train-sentiment``.
        """
        file = Path(path) if path is not None else default_model_path(variant)
        if not file.is_file():
            hint = "" if path is not None else f" --variant {variant}"
            raise NotFound(
                f"sentiment model {file} does not exist; train one with "
                f"`nunchi models train-sentiment{hint}` or pass an existing file"
            )
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidInput(f"{file} is not a readable sentiment model: {exc}") from exc
        if meta.get("kind") != "sentiment" or meta.get("format") != FORMAT_VERSION:
            raise InvalidInput(f"{file} is not a nunchi sentiment model (format {FORMAT_VERSION})")
        try:
            linear = LinearSentiment.from_arrays(arrays, meta)
            cnn = CharCnn.from_arrays(arrays, "cnn_") if "cnn_vocab" in arrays else None
        except (KeyError, ValueError, IndexError) as exc:
            raise InvalidInput(f"{file} is an incomplete sentiment model: {exc}") from exc
        return cls(
            variant=check_variant(str(meta.get("variant", "fast"))),
            linear=linear,
            cnn=cnn,
            stack=meta.get("stack"),
            info=meta.get("info", {}),
        )

    @property
    def name(self) -> str:
        """Short model name for reports, e.g. ``sentiment-fast``."""
        return f"sentiment-{self.variant}"

    def logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Log-odds of positive for each text."""
        _check_texts(texts)
        lin = self.linear.logits(texts)
        if self.cnn is None or self.stack is None:
            return lin
        a, b, c = self.stack
        return a * lin + b * self.cnn.logits(texts) + c

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """P(positive) for each text, as a float64 array of ``len(texts)``."""
        z = np.clip(self.logits(texts), -40.0, 40.0)
        return 1.0 / (1.0 + np.exp(-z))

    def score_batch(self, texts: Sequence[str], batch_size: int = 2048) -> list[SentimentResult]:
        """Score many texts; returns one :class:`SentimentResult` per text, in order."""
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        results: list[SentimentResult] = []
        for i in range(0, len(texts), batch_size):
            for p in self.predict_proba(texts[i : i + batch_size]).tolist():
                results.append(SentimentResult("positive" if p >= 0.5 else "negative", p))
        return results

    def score(self, text: str) -> SentimentResult:
        """Score one text."""
        return self.score_batch([text])[0]


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise InvalidInput("expected a list of texts, got one string: use score() for one text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInput(f"text #{i} is {type(text).__name__}, expected str")
