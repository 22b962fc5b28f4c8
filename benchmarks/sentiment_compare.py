"""Two sentiment model files side by side on the fixed NSMC splits: accuracy of each on the
validation and test splits, McNemar's test on their paired answers, and both models' scores
for a few chat lines. Prints one JSON line.

    python -m benchmarks.sentiment_compare OLD.npz NEW.npz [--data ../shared/data/nsmc]

McNemar: ``b`` reviews only A gets right, ``c`` only B; z = (c - b) / sqrt(b + c), two-sided
p from the normal approximation (fine for b + c in the hundreds, as here).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - the thread limits above must be set before numpy loads
import json  # noqa: E402
import math  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from nunchi.analyzers.text.sentiment import SentimentClassifier  # noqa: E402
from nunchi.training.text.data import LabelledRow, split_nsmc  # noqa: E402
from nunchi.training.text.sentiment import VAL_FRACTION  # noqa: E402

__all__ = ["PROBES", "compare", "mcnemar"]

PROBES = ("최악의 영화", "정말 재밌어요", "안녕하세요", "몇 시에 해요?", "ㅎㅇ", "ㅠㅠ",
          "평점 왜 이래", "재밌을 줄 알았는데", "노잼은 아닌데", "꿀잼")
"""Chat lines quoted in docs/models.md (examples and known weaknesses)."""


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> dict[str, Any]:
    """McNemar's test on two models' per-row correctness (boolean arrays)."""
    only_a = int((a_right & ~b_right).sum())
    only_b = int((~a_right & b_right).sum())
    z = (only_b - only_a) / math.sqrt(only_a + only_b) if only_a + only_b else 0.0
    return {"only_a": only_a, "only_b": only_b, "z": round(z, 2),
            "p": round(math.erfc(abs(z) / math.sqrt(2)), 4)}


def _right(model: SentimentClassifier, rows: Sequence[LabelledRow]) -> np.ndarray:
    y = np.array([label for _, label in rows])
    return np.asarray((model.predict_proba([text for text, _ in rows]) >= 0.5) == y)


def compare(a: Path, b: Path, data: Path) -> dict[str, Any]:
    """The JSON object the script prints."""
    split = split_nsmc(data, seed=0, val_fraction=VAL_FRACTION)
    models = SentimentClassifier.load(a), SentimentClassifier.load(b)
    out: dict[str, Any] = {"bench": "sentiment_compare", "a": str(a), "b": str(b)}
    for name, rows in (("val", split.val), ("test", split.test)):
        right_a, right_b = (_right(m, rows) for m in models)
        out[name] = {"rows": len(rows), "accuracy_a": round(float(right_a.mean()), 4),
                     "accuracy_b": round(float(right_b.mean()), 4),
                     "mcnemar": mcnemar(right_a, right_b)}
    out["probes"] = {
        text: [round(float(m.predict_proba([text])[0]), 4) for m in models] for text in PROBES
    }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="model file A (e.g. the previous model)")
    parser.add_argument("b", type=Path, help="model file B (e.g. the new model)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/nsmc"))
    args = parser.parse_args(argv)
    print(json.dumps(compare(args.a, args.b, args.data), ensure_ascii=False))


if __name__ == "__main__":
    main()
