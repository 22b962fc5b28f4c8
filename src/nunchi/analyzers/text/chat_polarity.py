"""Live-chat polarity: positive / neutral / negative for short chat messages.

The review-trained sentiment model (:class:`SentimentClassifier`) reads much live chat as
neutral or negative: laughter, emoji, greetings, slang and donations are rare in movie reviews.
:class:`ChatPolarity` keeps that model untouched and adds a small layer on top: the review
model's logit plus a few chat features (laughter ㅋ/ㅎ, crying ㅠ/ㅜ, an emoji and slang lexicon,
intensifiers, greetings, questions, length), combined by a 3-class logistic model fit on the
project's labelled chat set and NSMC validation reviews. A logistic *gate* (how chat-like the
message looks, from the same chat features) mixes that layer with the review model's own answer,
``g * layer + (1 - g) * [1 - p, 0, p]``, so review-like text keeps the review model's polarity
(:func:`mix_probabilities`). Built by ``python -m nunchi.training.text.chat_sentiment``; figures in
docs/chat-sentiment-data.md. Run time is numpy and the standard library; the artifact
(``models/chat-polarity.json``) carries its weights and the lexicon it was trained with.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.sentiment import MODELS_DIR, SentimentClassifier
from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "CHAT_LABELS",
    "DEFAULT_ARTIFACT",
    "FEATURE_NAMES",
    "LEXICON_CATEGORIES",
    "LEXICON_PATH",
    "ChatFeatures",
    "ChatPolarity",
    "ChatPolarityResult",
    "mix_probabilities",
    "read_lexicon",
    "sentiment_fingerprint",
]

CHAT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
DEFAULT_ARTIFACT = MODELS_DIR / "chat-polarity.json"
LEXICON_PATH = Path(__file__).resolve().parent / "lexicon" / "chat_polarity.txt"
LEXICON_CATEGORIES: tuple[str, ...] = (
    "positive", "negative", "pos_emoji", "neg_emoji", "greeting", "question",
)
FEATURE_NAMES: tuple[str, ...] = (
    "review_logit", "review_abs_logit",
    "positive", "negative", "pos_emoji", "neg_emoji", "greeting", "question",
    "question_mark", "laugh", "cry", "awe", "exclaim", "ellipsis", "intensifier",
    "length", "latin_only",
)
FORMAT_VERSION = 1
_LOGIT_CLIP = 8.0
_NEGATORS = ("안 ", "못 ")
_INTENSIFIER_WORDS = frozenset(
    ("진짜", "너무", "완전", "존나", "ㅈㄴ", "개", "ㄹㅇ", "레알", "넘", "엄청", "정말", "겁나")
)
_INTENSIFIER_PREFIX = re.compile(r"^(?:개|존|졸|핵)[가-힣]")
_REPEATS = re.compile(r"(.)\1{2,}", re.DOTALL)
_HANGUL = re.compile(r"[가-힣ㄱ-ㅎㅏ-ㅣ]")
_LATIN = re.compile(r"[a-z]")


def read_lexicon(path: Path = LEXICON_PATH) -> dict[str, list[str]]:
    """``{category: [terms]}`` from a ``TERM<TAB>CATEGORY`` file (``#`` lines are comments)."""
    if not path.is_file():
        raise NotFound(f"chat lexicon {path} does not exist")
    out: dict[str, list[str]] = {name: [] for name in LEXICON_CATEGORIES}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        term, _, category = line.partition("\t")
        if category not in out or not term.strip():
            raise InvalidInput(
                f"{path}:{n}: expected TERM<TAB>CATEGORY with a category in "
                f"{', '.join(LEXICON_CATEGORIES)}, got {line!r}"
            )
        out[category].append(term)
    return out


def _normalize(text: str) -> str:
    """Lower case, whitespace folded to one space, runs of one character cut to two."""
    return _REPEATS.sub(r"\1\1", " ".join(text.lower().split()))


def _pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """One alternation, longest term first; Latin-only terms must be whole words."""
    parts = []
    for term in sorted(set(terms), key=lambda t: (-len(t), t)):
        escaped = re.escape(term)
        if term.isascii() and term.replace(" ", "").isalpha():
            escaped = rf"(?<![a-z]){escaped}(?![a-z])"
        parts.append(escaped)
    return re.compile("|".join(parts)) if parts else None


@dataclass
class ChatFeatures:
    """The chat feature vector of a text, minus the review logit (see :data:`FEATURE_NAMES`)."""

    lexicon: Mapping[str, Sequence[str]]

    def __post_init__(self) -> None:
        """Compile one pattern per lexicon category."""
        unknown = set(self.lexicon) - set(LEXICON_CATEGORIES)
        if unknown:
            raise InvalidInput(f"unknown chat lexicon categories: {sorted(unknown)}")
        self._patterns = {name: _pattern(self.lexicon.get(name, ())) for name in LEXICON_CATEGORIES}

    def _hits(self, category: str, text: str) -> tuple[int, int]:
        """(plain matches, matches right after a negator) of one category."""
        pattern = self._patterns[category]
        if pattern is None:
            return 0, 0
        if not any(negator in text for negator in _NEGATORS):
            return len(pattern.findall(text)), 0
        plain = negated = 0
        for match in pattern.finditer(text):
            if text[max(0, match.start() - 2) : match.start()] in _NEGATORS:
                negated += 1
            else:
                plain += 1
        return plain, negated

    def row(self, raw: str) -> list[float]:
        """The features of one message (without the two review-logit columns)."""
        text = _normalize(raw)
        pos, pos_negated = self._hits("positive", text)
        neg, neg_negated = self._hits("negative", text)
        counts = {
            "positive": pos + neg_negated,
            "negative": neg + pos_negated,
            "pos_emoji": self._hits("pos_emoji", text)[0],
            "neg_emoji": self._hits("neg_emoji", text)[0],
            "greeting": self._hits("greeting", text)[0],
            "question": self._hits("question", text)[0],
        }
        words = text.split()
        intensifiers = sum(
            1 for w in words if w in _INTENSIFIER_WORDS or _INTENSIFIER_PREFIX.match(w)
        )
        values = [math.log1p(counts[name]) for name in LEXICON_CATEGORIES]
        values += [
            1.0 if "?" in text else 0.0,
            math.log1p(raw.count("ㅋ") + raw.count("ㅎ")),
            math.log1p(raw.count("ㅠ") + raw.count("ㅜ")),
            1.0 if "ㄷㄷ" in text else 0.0,
            math.log1p(raw.count("!")),
            1.0 if ".." in text or "…" in text else 0.0,
            math.log1p(intensifiers),
            math.log1p(len(text)),
            1.0 if _LATIN.search(text) and not _HANGUL.search(text) else 0.0,
        ]
        return values

    def matrix(self, texts: Sequence[str],
               review_logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """``len(texts) x len(FEATURE_NAMES)`` features, the review logits first."""
        z = np.clip(np.asarray(review_logits, dtype=np.float64), -_LOGIT_CLIP, _LOGIT_CLIP)
        seen: dict[str, list[float]] = {}  # chat repeats itself (ㅋㅋㅋ, 나이스): one row each
        rows = [seen[t] if t in seen else seen.setdefault(t, self.row(t)) for t in texts]
        rest = np.array(rows, dtype=np.float64).reshape(len(texts), -1)
        return np.column_stack([z, np.abs(z), rest])


def sentiment_fingerprint(model: SentimentClassifier) -> str:
    """What identifies the review model a chat layer was fit on (variant and training time)."""
    return f"{model.variant}@{model.info.get('trained_at', 'unknown')}"


def mix_probabilities(x: NDArray[np.float64], weights: NDArray[np.float64],
                      bias: NDArray[np.float64], gate_weights: NDArray[np.float64] | None = None,
                      gate_bias: float = 0.0) -> NDArray[np.float64]:
    """3-class probabilities from a feature matrix (:meth:`ChatFeatures.matrix`).

    The layer is ``softmax(x @ weights.T + bias)``; with a gate, ``g = sigmoid(x @ gate_weights
    + gate_bias)`` mixes it with the review model's answer ``[1 - p, 0, p]``, ``p`` the sigmoid
    of the (clipped) review logit in column 0.
    """
    scores = x @ weights.T + bias
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    layer = exp / exp.sum(axis=1, keepdims=True)
    if gate_weights is None:
        return np.asarray(layer, dtype=np.float64)
    gate = 1.0 / (1.0 + np.exp(-np.clip(x @ gate_weights + gate_bias, -40.0, 40.0)))
    p = 1.0 / (1.0 + np.exp(-x[:, 0]))
    review = np.column_stack([1.0 - p, np.zeros_like(p), p])
    return np.asarray(gate[:, None] * layer + (1.0 - gate[:, None]) * review, dtype=np.float64)


@dataclass(frozen=True)
class ChatPolarityResult:
    """One message: ``label`` (negative/neutral/positive), ``score`` and the 3 probabilities.

    ``score`` = P(positive) + P(neutral) / 2, so 0.5 is neutral ground and the side of 0.5 is
    the more likely polarity.
    """

    label: str
    score: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """``{"label", "score", "probabilities"}`` rounded to 4 places."""
        return {"label": self.label, "score": round(self.score, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


class ChatPolarity:
    """The chat layer over a review sentiment model. Thread-safe for scoring."""

    def __init__(self, sentiment: SentimentClassifier, features: ChatFeatures,
                 weights: NDArray[np.float64], bias: NDArray[np.float64],
                 gate: tuple[NDArray[np.float64], float] | None = None,
                 info: Mapping[str, Any] | None = None) -> None:
        """Build from parts (``gate`` = weights over the features and a bias); see :meth:`load`."""
        d = len(FEATURE_NAMES)
        if weights.shape != (len(CHAT_LABELS), d) or bias.shape != (3,):
            raise InvalidInput(
                f"chat polarity weights must be 3 x {d} with 3 biases, "
                f"got {weights.shape} and {bias.shape}"
            )
        if gate is not None and gate[0].shape != (d,):
            raise InvalidInput(f"chat polarity gate weights must be {d} values")
        self.sentiment = sentiment
        self.features = features
        self.weights = weights
        self.bias = bias
        self.gate = gate
        self.info: dict[str, Any] = dict(info or {})

    @classmethod
    def load(cls, path: Path | str | None = None, sentiment: SentimentClassifier | None = None,
             *, strict: bool = True) -> ChatPolarity:
        """Load an artifact (``None``: the shipped one) over ``sentiment`` (``None``: shipped).

        With ``strict`` the artifact must have been fit on that very review model (its
        variant and training time); otherwise ``InvalidInput`` says to retrain the layer.
        """
        file = Path(path) if path is not None else DEFAULT_ARTIFACT
        if not file.is_file():
            raise NotFound(
                f"chat polarity artifact {file} does not exist; build it with "
                "`python -m nunchi.training.text.chat_sentiment`"
            )
        try:
            meta = json.loads(file.read_text(encoding="utf-8"))
            weights = np.asarray(meta["weights"], dtype=np.float64)
            bias = np.asarray(meta["bias"], dtype=np.float64)
            names, lexicon = tuple(meta["features"]), meta["lexicon"]
            raw_gate = meta.get("gate")
            gate = None if raw_gate is None else (
                np.asarray(raw_gate["weights"], dtype=np.float64), float(raw_gate["bias"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{file} is not a readable chat polarity artifact: {exc}") from exc
        if meta.get("kind") != "chat_polarity" or meta.get("format") != FORMAT_VERSION:
            raise InvalidInput(f"{file} is not a nunchi chat polarity artifact (format 1)")
        if names != FEATURE_NAMES:
            raise InvalidInput(f"{file} was built for other features; retrain the chat layer")
        model = sentiment if sentiment is not None else SentimentClassifier.load()
        built_on = meta.get("sentiment_model")
        if strict and built_on != sentiment_fingerprint(model):
            raise InvalidInput(
                f"{file} was fit on sentiment model {built_on}, not "
                f"{sentiment_fingerprint(model)}: retrain it with "
                "`python -m nunchi.training.text.chat_sentiment`"
            )
        return cls(model, ChatFeatures(lexicon), weights, bias, gate, meta.get("info", {}))

    def feature_matrix(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """The layer's input for ``texts`` (review logits and chat features)."""
        return self.features.matrix(texts, self.sentiment.logits(texts))

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """``len(texts) x 3`` probabilities in :data:`CHAT_LABELS` order."""
        if isinstance(texts, str):
            raise InvalidInput("expected a list of texts, got one string: use score()")
        if len(texts) == 0:
            return np.zeros((0, 3), dtype=np.float64)
        x = self.feature_matrix(texts)
        if self.gate is None:
            return mix_probabilities(x, self.weights, self.bias)
        return mix_probabilities(x, self.weights, self.bias, self.gate[0], self.gate[1])

    @staticmethod
    def polarity(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
        """``P(positive) + P(neutral) / 2`` per row: 0.5 is neutral ground."""
        return np.asarray(probabilities[:, 2] + 0.5 * probabilities[:, 1], dtype=np.float64)

    def score_batch(self, texts: Sequence[str]) -> list[ChatPolarityResult]:
        """One :class:`ChatPolarityResult` per text, in order."""
        probs = self.predict_proba(texts)
        scores = self.polarity(probs)
        return [
            ChatPolarityResult(
                label=CHAT_LABELS[int(np.argmax(row))],
                score=float(score),
                probabilities={name: float(v) for name, v in zip(CHAT_LABELS, row, strict=True)},
            )
            for row, score in zip(probs, scores, strict=True)
        ]

    def score(self, text: str) -> ChatPolarityResult:
        """Score one message."""
        return self.score_batch([text])[0]
