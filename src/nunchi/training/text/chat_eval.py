"""Measure a sentiment scorer on the labelled live-chat set; prints one JSON line.

``python -m nunchi.training.text.chat_eval`` scores the shipped review-trained model
(``SentimentClassifier``, P(positive)): a neutral band ``|p - 0.5| < t`` is chosen on the dev
split only (best macro-F1), then the test split is scored with it. ``--scorer chat`` measures
the chat polarity layer (``ChatPolarity``, its own 3-class answer; no band to choose).
``--test-file FILE`` scores every row of another file instead of the test split (e.g.
``data/chat_sentiment_fresh.tsv``); the band is still chosen on the dev split of ``--data``.
Binary accuracy counts the positive and negative lines only (p >= 0.5 = positive).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.chat_polarity import ChatPolarity
from nunchi.analyzers.text.sentiment import SentimentClassifier
from nunchi.training.text.chat_data import (
    DEFAULT_PATH,
    GENRES,
    ChatRow,
    label_index,
    read_chat_rows,
)
from nunchi.training.text.chat_metrics import NEU, band_labels, best_band, classification_figures

__all__ = ["Predictions", "binary_accuracy", "evaluate", "predict_chat", "predict_review"]

Predictions = tuple[NDArray[np.int64], NDArray[np.float64]]
"""3-class labels and P(positive) (for the binary figure) per row."""


def binary_accuracy(y: NDArray[np.int64], p_positive: NDArray[np.float64]) -> dict[str, float]:
    """Accuracy of ``p >= 0.5`` on the rows whose label is not neutral."""
    polar = y != NEU
    right = (p_positive[polar] >= 0.5) == (y[polar] == 2)
    accuracy = round(float(right.mean()), 4) if polar.any() else 0.0
    return {"n": int(polar.sum()), "accuracy": accuracy}


def predict_review(model: SentimentClassifier, texts: Sequence[str], band: float) -> Predictions:
    """The review model's P(positive), cut into 3 classes by ``band``."""
    p = model.predict_proba(list(texts))
    return band_labels(p, band), p


def predict_chat(model: ChatPolarity, texts: Sequence[str]) -> Predictions:
    """The chat layer's argmax class and its polarity score."""
    probs = model.predict_proba(list(texts))
    return np.argmax(probs, axis=1).astype(np.int64), model.polarity(probs)


def _by_genre(rows: Sequence[ChatRow], y: NDArray[np.int64],
              pred: NDArray[np.int64]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for genre in GENRES:
        mask = np.array([row.genre == genre for row in rows])
        if mask.any():
            right = float(np.mean(y[mask] == pred[mask]))
            out[genre] = {"n": int(mask.sum()), "accuracy": round(right, 4)}
    return out


def evaluate(scorer: str = "review", *, data: Path = DEFAULT_PATH, test_file: Path | None = None,
             model: Path | None = None, artifact: Path | None = None) -> dict[str, Any]:
    """The figures of one scorer on the chat set (dev for choices, test for the figures)."""
    dev = read_chat_rows(data, "dev")
    test = read_chat_rows(data, "test") if test_file is None else read_chat_rows(test_file)
    y_dev, y_test = label_index([r.label for r in dev]), label_index([r.label for r in test])
    review = SentimentClassifier.load(model)
    card: dict[str, Any] = {"bench": "chat_sentiment_eval", "scorer": scorer, "data": str(data),
                            "test_file": str(test_file) if test_file else None}
    if scorer == "review":
        band = best_band(y_dev, review.predict_proba([r.text for r in dev]))
        pred_dev, _ = predict_review(review, [r.text for r in dev], band)
        pred_test, p_test = predict_review(review, [r.text for r in test], band)
        card["band"] = band
        docs_band, _ = predict_review(review, [r.text for r in test], 0.0)
        low, high = 0.3, 0.75  # the "treat as unsure" range of docs/models.md
        docs_band[(p_test > low) & (p_test < high)] = NEU
        card["test_docs_band_0.3_0.75"] = classification_figures(y_test, docs_band)["accuracy"]
    elif scorer == "chat":
        chat = ChatPolarity.load(artifact, sentiment=review)
        pred_dev, _ = predict_chat(chat, [r.text for r in dev])
        pred_test, p_test = predict_chat(chat, [r.text for r in test])
    else:
        raise SystemExit(f"unknown scorer {scorer!r}: use review or chat")
    card["dev"] = {"accuracy": classification_figures(y_dev, pred_dev)["accuracy"],
                   "macro_f1": classification_figures(y_dev, pred_dev)["macro_f1"]}
    card["test"] = classification_figures(y_test, pred_test)
    card["test_binary"] = binary_accuracy(y_test, p_test)
    card["test_by_genre"] = _by_genre(test, y_test, pred_test)
    return card


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--scorer review|chat``, ``--data``, ``--model``, ``--artifact``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scorer", choices=("review", "chat"), default="review")
    parser.add_argument("--data", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--test-file", type=Path, default=None, help="score all rows of FILE")
    parser.add_argument("--model", type=Path, default=None, help="sentiment .npz (shipped)")
    parser.add_argument("--artifact", type=Path, default=None, help="chat polarity .json")
    args = parser.parse_args(argv)
    card = evaluate(args.scorer, data=args.data, test_file=args.test_file, model=args.model,
                    artifact=args.artifact)
    print(json.dumps(card, ensure_ascii=False))


if __name__ == "__main__":
    main()
