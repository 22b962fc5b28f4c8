"""Fit the chat polarity layer (``models/chat-polarity.json``) and measure it; one JSON line.

``python -m nunchi.training.text.chat_sentiment`` (scikit-learn, training only):

1. Inputs per message: the shipped review model's logit and the chat features of
   :class:`~nunchi.analyzers.text.chat_polarity.ChatFeatures` (lexicon
   ``lexicon/chat_polarity.txt``). The shipped sentiment model is only read.
2. Candidates (:func:`candidates`): the review logit alone (a 3-class recalibration), and
   3-class logistic regressions on all inputs fit on the chat dev split plus the NSMC
   validation reviews (positive / negative rows weighted so that, together, they weigh
   ``review_weight`` times the chat rows), without or with a gate: a logistic "is this chat?"
   model (chat dev lines against the reviews, chat features only) that mixes the layer with
   the review model's answer (:func:`~nunchi.analyzers.text.chat_polarity.mix_probabilities`).
3. Choice without the test splits: 5-fold cross-fitting over the chat dev split and the NSMC
   validation split together (fold k fits on the other chat folds and the other review
   folds); among candidates whose out-of-fold review accuracy is within ``REVIEW_TOLERANCE``
   (0.0005, about 3 of 6,994 reviews) of the shipped model's, the best out-of-fold chat
   macro-F1 wins. It is refit on all chat dev lines and all validation reviews and written.
4. Figures, once: chat test split and the 120 lines written after the layer was frozen
   (``chat_sentiment_fresh.tsv``): the review model with its dev-chosen neutral band against
   the layer: accuracy, macro-F1, confusion, exact McNemar, paired bootstrap intervals, binary
   accuracy on polar lines; and the NSMC review test split (7,431 reviews, the same rows as
   ``docs/models.md``; a review is positive when P(positive) > P(negative)).
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.chat_polarity import (
    CHAT_LABELS,
    DEFAULT_ARTIFACT,
    FEATURE_NAMES,
    FORMAT_VERSION,
    LEXICON_PATH,
    ChatFeatures,
    ChatPolarity,
    mix_probabilities,
    read_lexicon,
    sentiment_fingerprint,
)
from nunchi.analyzers.text.sentiment import SentimentClassifier
from nunchi.errors import InvalidInput
from nunchi.training.text.chat_data import (
    DEFAULT_PATH,
    FRESH_PATH,
    ChatRow,
    label_index,
    read_chat_rows,
)
from nunchi.training.text.chat_eval import binary_accuracy
from nunchi.training.text.chat_metrics import (
    NEG,
    POS,
    band_labels,
    best_band,
    bootstrap_difference,
    classification_figures,
    macro_f1,
    mcnemar,
)
from nunchi.training.text.data import split_nsmc

__all__ = ["Candidate", "candidates", "fit", "main", "run"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
REVIEW_TOLERANCE = 0.0005
FOLDS = 5
GATE_COLUMNS = tuple(range(2, len(FEATURE_NAMES)))  # the chat features, not the review logit


@dataclass(frozen=True)
class Candidate:
    """One recipe: inputs, weight of the reviews in the fit, ``C``, the gate's ``C`` (or none)."""

    name: str
    columns: tuple[int, ...]
    review_weight: float
    c: float
    gate_c: float | None = None


def candidates() -> list[Candidate]:
    """The recipes compared by cross-validation (chat dev split and NSMC validation)."""
    every = tuple(range(len(FEATURE_NAMES)))
    out = [Candidate(f"review_logit_only C={c:g}", (0, 1), 0.0, c) for c in (1.0, 10.0)]
    for gate_c in (None, 0.1, 1.0):
        for weight in (0.0, 1.0, 2.0, 4.0, 8.0):
            for c in (1.0, 10.0):
                gate = "none" if gate_c is None else f"C={gate_c:g}"
                name = f"chat_features+reviews x{weight:g} C={c:g} gate={gate}"
                out.append(Candidate(name, every, weight, c, gate_c))
    return out


@dataclass
class _Fitted:
    weights: Floats  # 3 x len(FEATURE_NAMES), raw feature scale
    bias: Floats
    gate: tuple[Floats, float] | None


def _standardised_fit(x: Floats, y: Ints, weight: Floats, c: float) -> tuple[Floats, Floats]:
    """Logistic regression on standardised columns; (coef, intercept) on the raw scale."""
    try:
        logistic_regression = importlib.import_module("sklearn.linear_model").LogisticRegression
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInput("training needs scikit-learn: pip install 'nunchi[train]'") from exc
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = logistic_regression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=weight)
    coef = np.asarray(model.coef_ / scale, dtype=np.float64)
    return coef, np.asarray(model.intercept_ - coef @ mean, dtype=np.float64)


def fit(cand: Candidate, x_chat: Floats, y_chat: Ints, x_rev: Floats, y_rev: Ints) -> _Fitted:
    """Fit one candidate (the layer, and the gate if it has one) on chat and review rows."""
    cols = list(cand.columns)
    x, y = x_chat[:, cols], y_chat
    weight = np.ones(y.size)
    per_review = y_chat.size / max(1, y_rev.size)
    if cand.review_weight > 0 and y_rev.size:
        x = np.vstack([x, x_rev[:, cols]])
        y = np.concatenate([y, y_rev])
        weight = np.concatenate([weight, np.full(y_rev.size, cand.review_weight * per_review)])
    coef, bias = _standardised_fit(x, y, weight, cand.c)
    full = np.zeros((len(CHAT_LABELS), len(FEATURE_NAMES)))
    full[:, cols] = coef
    gate = None
    if cand.gate_c is not None:
        gcols = list(GATE_COLUMNS)
        gx = np.vstack([x_chat[:, gcols], x_rev[:, gcols]])
        gy = np.concatenate([np.ones(y_chat.size, np.int64), np.zeros(y_rev.size, np.int64)])
        gw = np.concatenate([np.ones(y_chat.size), np.full(y_rev.size, per_review)])
        gcoef, gbias = _standardised_fit(gx, gy, gw, cand.gate_c)
        gate_weights = np.zeros(len(FEATURE_NAMES))
        gate_weights[gcols] = gcoef[0]
        gate = (gate_weights, float(gbias[0]))
    return _Fitted(full, bias, gate)


def _proba(fitted: _Fitted, x: Floats) -> Floats:
    if fitted.gate is None:
        return mix_probabilities(x, fitted.weights, fitted.bias)
    return mix_probabilities(x, fitted.weights, fitted.bias, fitted.gate[0], fitted.gate[1])


def _folds(y: Ints, seed: int) -> list[Ints]:
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(FOLDS)]
    for value in np.unique(y):
        idx = np.flatnonzero(y == value)
        rng.shuffle(idx)
        for i, row in enumerate(idx.tolist()):
            parts[i % FOLDS].append(row)
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def _review_right(proba: Floats, y: Ints) -> NDArray[np.bool_]:
    """Per review: is ``P(positive) > P(negative)`` the right side (y: 0 negative, 2 positive)?"""
    return np.asarray((proba[:, POS] > proba[:, NEG]) == (y == POS))


_Reviews = tuple[Floats, Ints, NDArray[np.bool_]]
"""Features, labels (0 negative / 2 positive), whether the shipped model is right."""


def _review_rows(model: SentimentClassifier, features: ChatFeatures,
                 data: Path) -> dict[str, _Reviews]:
    """The NSMC validation and test splits of docs/models.md, as layer inputs."""
    split = split_nsmc(data, seed=0, val_fraction=0.05, include_extra=False)
    out: dict[str, _Reviews] = {}
    for name, rows in (("val", split.val), ("test", split.test)):
        texts = [text for text, _ in rows]
        z = model.logits(texts)
        y = np.array([POS if label == 1 else NEG for _, label in rows], dtype=np.int64)
        out[name] = (features.matrix(texts, z), y, np.asarray((z >= 0) == (y == POS)))
    return out


def _select(x_dev: Floats, y_dev: Ints, val: _Reviews,
            seed: int) -> tuple[Candidate, list[dict[str, Any]], float]:
    """Out-of-fold chat macro-F1 and review accuracy per candidate; the best allowed one.

    Fold k fits on the other chat folds and the other validation folds, and predicts both
    held-out parts, so every chat dev line and every validation review is scored once.
    """
    x_val, y_val, base_right = val
    base_review = float(base_right.mean())
    chat_folds, review_folds = _folds(y_dev, seed), _folds(y_val, seed)
    table: list[dict[str, Any]] = []
    for cand in candidates():
        pred = np.zeros_like(y_dev)
        right = np.zeros(y_val.size, dtype=bool)
        for held_chat, held_rev in zip(chat_folds, review_folds, strict=True):
            fit_chat = np.setdiff1d(np.arange(y_dev.size), held_chat)
            fit_rev = np.setdiff1d(np.arange(y_val.size), held_rev)
            fitted = fit(cand, x_dev[fit_chat], y_dev[fit_chat], x_val[fit_rev], y_val[fit_rev])
            pred[held_chat] = np.argmax(_proba(fitted, x_dev[held_chat]), axis=1)
            right[held_rev] = _review_right(_proba(fitted, x_val[held_rev]), y_val[held_rev])
        review_acc = float(right.mean())
        table.append({"name": cand.name, "cv_macro_f1": round(macro_f1(y_dev, pred), 4),
                      "cv_accuracy": round(float(np.mean(pred == y_dev)), 4),
                      "review_val_oof_accuracy": round(review_acc, 4),
                      "review_val_mcnemar": mcnemar(base_right, right),
                      "allowed": review_acc >= base_review - REVIEW_TOLERANCE})
    allowed = [(row, cand) for row, cand in zip(table, candidates(), strict=True) if row["allowed"]]
    if not allowed:
        raise SystemExit("no candidate keeps review accuracy; nothing written")
    best = max(allowed, key=lambda pair: (pair[0]["cv_macro_f1"], -pair[1].c))[1]
    return best, table, base_review


def _compare(review: SentimentClassifier, features: ChatFeatures, fitted: _Fitted, band: float,
             rows: Sequence[ChatRow], seed: int) -> dict[str, Any]:
    """Before (review model, neutral band) and after (chat layer) on ``rows``, paired."""
    texts = [r.text for r in rows]
    y = label_index([r.label for r in rows])
    z = review.logits(texts)
    p_before = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    before = band_labels(p_before, band)
    proba = _proba(fitted, features.matrix(texts, z))
    after = np.argmax(proba, axis=1).astype(np.int64)
    p_after = ChatPolarity.polarity(proba)
    polar = y != 1
    return {
        "before_review_model_band": {"band": band, **classification_figures(y, before),
                                     "binary": binary_accuracy(y, p_before)},
        "after_chat_layer": {**classification_figures(y, after),
                             "binary": binary_accuracy(y, p_after)},
        "mcnemar_3class": mcnemar(before == y, after == y),
        "mcnemar_binary": mcnemar(((p_before >= 0.5) == (y == POS))[polar],
                                  ((p_after >= 0.5) == (y == POS))[polar]),
        "bootstrap_95_after_minus_before": bootstrap_difference(y, before, after, seed=seed),
    }


def run(*, chat_data: Path = DEFAULT_PATH, fresh: Path | None = FRESH_PATH,
        nsmc: Path = Path("../shared/data/nsmc"), out: Path | None = DEFAULT_ARTIFACT,
        seed: int = 0) -> dict[str, Any]:
    """Select, fit, write (unless ``out`` is None) and measure; returns the card."""
    review = SentimentClassifier.load()
    lexicon = read_lexicon(LEXICON_PATH)
    features = ChatFeatures(lexicon)
    dev, test = read_chat_rows(chat_data, "dev"), read_chat_rows(chat_data, "test")
    y_dev = label_index([r.label for r in dev])
    dev_texts = [r.text for r in dev]
    x_dev = features.matrix(dev_texts, review.logits(dev_texts))
    reviews = _review_rows(review, features, nsmc)
    best, table, base_review = _select(x_dev, y_dev, reviews["val"], seed)
    x_val, y_val, _ = reviews["val"]
    fitted = fit(best, x_dev, y_dev, x_val, y_val)

    band = best_band(y_dev, review.predict_proba(dev_texts))
    card: dict[str, Any] = {
        "bench": "chat_sentiment",
        "chosen": best.name,
        "selection": {"cv_folds": FOLDS, "review_val_baseline": round(base_review, 4),
                      "review_tolerance": REVIEW_TOLERANCE, "candidates": table},
        "train_rows": {"chat_dev": int(y_dev.size), "nsmc_val": int(y_val.size)},
        "chat_test": _compare(review, features, fitted, band, test, seed),
    }
    if fresh is not None and fresh.is_file():
        card["chat_fresh"] = _compare(review, features, fitted, band, read_chat_rows(fresh), seed)
    x_rt, y_rt, review_before = reviews["test"]
    review_after = _review_right(_proba(fitted, x_rt), y_rt)
    card.update({
        "review_test": {
            "rows": int(y_rt.size),
            "accuracy_before": round(float(review_before.mean()), 4),
            "accuracy_after": round(float(review_after.mean()), 4),
            "mcnemar": mcnemar(review_before, review_after),
            "share_called_neutral_after": round(
                float(np.mean(np.argmax(_proba(fitted, x_rt), axis=1) == 1)), 4),
        },
    })
    if out is not None:
        _write(out, fitted, lexicon, review, card)
        card["written"] = str(out)
    return card


def _write(out: Path, fitted: _Fitted, lexicon: dict[str, list[str]],
           review: SentimentClassifier, card: dict[str, Any]) -> None:
    info = {"chosen": card["chosen"], "train_rows": card["train_rows"],
            "chat_test_after": {k: card["chat_test"]["after_chat_layer"][k]
                                for k in ("accuracy", "macro_f1")},
            "review_test": card["review_test"]}
    gate = None if fitted.gate is None else {
        "weights": [round(float(v), 6) for v in fitted.gate[0]], "bias": round(fitted.gate[1], 6)}
    artifact = {
        "kind": "chat_polarity", "format": FORMAT_VERSION, "labels": list(CHAT_LABELS),
        "features": list(FEATURE_NAMES),
        "weights": [[round(float(v), 6) for v in row] for row in fitted.weights],
        "bias": [round(float(v), 6) for v in fitted.bias], "gate": gate,
        "sentiment_model": sentiment_fingerprint(review), "lexicon": lexicon, "info": info,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(artifact, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--chat-data --fresh --nsmc --out`` (``-``: write nothing) ``--seed``."""
    parser = argparse.ArgumentParser(description="Fit and measure the chat polarity layer.")
    parser.add_argument("--chat-data", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--fresh", type=Path, default=FRESH_PATH, help="second test file")
    parser.add_argument("--nsmc", type=Path, default=Path("../shared/data/nsmc"))
    parser.add_argument("--out", default=str(DEFAULT_ARTIFACT))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = None if args.out == "-" else Path(args.out)
    card = run(chat_data=args.chat_data, fresh=args.fresh, nsmc=args.nsmc, out=out,
               seed=args.seed)
    print(json.dumps(card, ensure_ascii=False))


if __name__ == "__main__":
    main()
