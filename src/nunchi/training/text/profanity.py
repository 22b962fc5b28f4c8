"""Train and evaluate the profanity detector (training needs scikit-learn; scoring does not).

    python -m nunchi.training.text.profanity --data ../shared/data/curse/train.txt \
        --out src/nunchi/analyzers/text/models/profanity.npz --ship

`train` splits the rows (stratified, ``val_fraction`` held out), adds one obfuscated copy of
every training row (so recall holds on 시1발 / ㅅㅂ / tlqkf style input), picks the decision
threshold by 5-fold cross-validation on the training part, fits a hashed char/word n-gram
logistic regression and a Naive-Bayes-scaled one on the whole training part, writes the
artifact and returns the metrics on the held-out part (plain and obfuscated). `ship` (``--ship``)
does that once to measure the recipe, then trains the shipped model on all rows.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text.lexicon import LEXICON_DIR, STRONG_CATEGORIES, Lexicon
from nunchi.analyzers.text.normalize import decompose, hangul_to_keyboard
from nunchi.analyzers.text.profanity import (
    FeatureConfig,
    ModelWeights,
    ProfanityDetector,
    count_arrays,
    featurize_arrays,
    prepare,
)
from nunchi.errors import InvalidInput
from nunchi.training.text.metrics import binary_metrics

__all__ = [
    "cross_validate",
    "evaluate",
    "load_rows",
    "main",
    "obfuscate",
    "ship",
    "split_rows",
    "train",
    "with_extra",
]

Rows = list[tuple[str, int]]


def load_rows(path: Path) -> Rows:
    """Read ``text|label`` lines (split on the LAST ``|``; label 1 = profane, 0 = clean)."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InvalidInput(f"training data not found: {p}") from e
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{p} is not UTF-8 text: {e}") from e
    rows: Rows = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("|")
        if not sep or label.strip() not in ("0", "1"):
            raise InvalidInput(f"{p}:{n}: expected 'text|0' or 'text|1', got {line[:60]!r}")
        rows.append((text, int(label)))
    if not rows:
        raise InvalidInput(f"{p} holds no 'text|label' rows")
    return rows


def with_extra(train_rows: Rows, val_rows: Rows, extra: Rows) -> tuple[Rows, Rows]:
    """Add ``extra`` rows (moderators' labels) to the training part: a text they label
    replaces the same text's rows in both parts (the moderator's verdict wins, and a disputed
    row is not used to measure)."""
    if not extra:
        return train_rows, val_rows
    labelled = {text for text, _ in extra}
    kept = [r for r in train_rows if r[0] not in labelled]
    return kept + list(extra), [r for r in val_rows if r[0] not in labelled]


def split_rows(rows: Rows, val_fraction: float, seed: int) -> tuple[Rows, Rows]:
    """Stratified split into (train, validation); the same seed gives the same split."""
    if not 0.0 <= val_fraction < 1.0:
        raise InvalidInput(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = random.Random(seed)
    held: set[int] = set()
    for label in (0, 1):
        idx = [i for i, r in enumerate(rows) if r[1] == label]
        rng.shuffle(idx)
        held.update(idx[:round(len(idx) * val_fraction)])
    return ([r for i, r in enumerate(rows) if i not in held],
            [r for i, r in enumerate(rows) if i in held])


# --- obfuscation: the evasions normalize() undoes ------------------------------------------
_NOISE = "1!@.*~_-^#$%0"
_ABBREV = {"시발": "ㅅㅂ", "씨발": "ㅆㅂ", "병신": "ㅂㅅ", "지랄": "ㅈㄹ", "존나": "ㅈㄴ",
           "새끼": "ㅅㄲ", "개새끼": "ㄱㅅㄲ", "미친": "ㅁㅊ", "꺼져": "ㄲㅈ", "닥쳐": "ㄷㅊ"}
_LOOK = {"ㅣ": ("l", "1", "I", "|"), "ㅇ": ("o", "0"), "ㄱ": ("7",), "ㅐ": ("H",)}


def _noise(w: str, rng: random.Random) -> str:
    return rng.choice(_NOISE).join(w) if len(w) > 1 else w + rng.choice(_NOISE)


def _spaces(w: str, rng: random.Random) -> str:
    return " ".join(w)


def _jamo(w: str, rng: random.Random) -> str:
    return decompose(w)


def _half_jamo(w: str, rng: random.Random) -> str:
    return decompose(w[0]) + w[1:]


def _keyboard(w: str, rng: random.Random) -> str:
    return hangul_to_keyboard(w)


def _abbrev(w: str, rng: random.Random) -> str:
    return _ABBREV.get(w) or _noise(w, rng)


def _lookalike(w: str, rng: random.Random) -> str:
    jamo = decompose(w[0])
    swaps = [k for k, c in enumerate(jamo) if c in _LOOK]
    if not swaps:
        return _noise(w, rng)
    k = rng.choice(swaps)
    return jamo[:k] + rng.choice(_LOOK[jamo[k]]) + jamo[k + 1:] + w[1:]


_VOWEL_ORDER = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"


def _stretch(w: str, rng: random.Random) -> str:
    """Vowel elongation of an open first syllable (시발 -> 시이이발), else a repeated last one."""
    first = decompose(w[0])
    if len(first) == 2 and first[1] in _VOWEL_ORDER:
        echo = chr(0xAC00 + (11 * 21 + _VOWEL_ORDER.index(first[1])) * 28)  # ㅇ + vowel
        return w[0] + echo * rng.randint(1, 3) + w[1:]
    return w + w[-1] * rng.randint(2, 4)  # 병신 -> 병신신신


def _zero_width(w: str, rng: random.Random) -> str:
    return "\u200b".join(w)


_EVASIONS: list[Callable[[str, random.Random], str]] = [
    _noise, _spaces, _jamo, _half_jamo, _keyboard, _abbrev, _lookalike, _stretch, _zero_width]


def obfuscate(text: str, rng: random.Random) -> str:
    """Rewrite ``text`` the way people dodge a filter: each strong curse word (else each cue
    word, else one random Hangul word) gets one random evasion from
    normalize()'s list: 시1발, 시@발, 시 발, ㅅㅣㅂㅏㄹ, ㅆㅣ발, tlqkf, ㅅㅂ, ㅅl발, 시이이발,
    zero-width joiners. Text outside the chosen words is unchanged (spaced-out letters get a
    space either side)."""
    # Curse words are found in the raw text: evaders start from the plain spelling. Without
    # a strong word, the weaker cue words are the ones an evader would disguise.
    hits = [h for h in _lexicon().find(text) if _all_hangul(text[h.start:h.end])]
    targets = [(h.start, h.end) for h in hits if h.category in STRONG_CATEGORIES]
    if not targets:
        targets = [(h.start, h.end) for h in hits if h.category == "cue" and h.end - h.start > 1]
    if not targets:
        words = [(m.start(), m.end()) for m in _HANGUL_WORD.finditer(text)]
        if not words:
            return text
        targets = [rng.choice(words)]
    out = []
    pos = 0
    for s, e in sorted(targets):
        if s < pos:
            continue
        out.append(text[pos:s])
        evasion = rng.choice(_EVASIONS)
        piece = evasion(text[s:e], rng)
        if evasion is _spaces:  # spaced letters stand apart from the rest of the word
            piece = (" " if s > 0 and not text[s - 1].isspace() else "") + piece + (
                " " if e < len(text) and not text[e].isspace() else "")
        out.append(piece)
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _all_hangul(s: str) -> bool:
    return bool(s) and all("가" <= c <= "힣" for c in s)


_HANGUL_WORD = re.compile(r"[가-힣]{2,}")


@lru_cache(maxsize=1)
def _lexicon() -> Lexicon:
    return Lexicon.load()


# --- training -----------------------------------------------------------------------------
def _training_libs() -> tuple[Any, Any]:
    """scikit-learn's LogisticRegression and scipy's csr_matrix (training-only dependencies,
    imported by name so that scoring never needs them)."""
    try:
        linear_model = importlib.import_module("sklearn.linear_model")
        sparse = importlib.import_module("scipy.sparse")
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise InvalidInput("training the profanity model needs scikit-learn and scipy: "
                           "pip install 'nunchi[train]'") from e
    return linear_model.LogisticRegression, sparse.csr_matrix


def _counts(rows: Sequence[tuple[str, int]], lexicon: Lexicon,
            cfg: FeatureConfig) -> list[dict[int, float]]:
    preps = [prepare(text, lexicon) for text, _ in rows]
    row, idx, tf = featurize_arrays([p.text for p in preps], [p.hits for p in preps], cfg)
    out: list[dict[int, float]] = [{} for _ in preps]
    for r, k, v in zip(row.tolist(), idx.tolist(), tf.tolist(), strict=True):
        out[r][k] = v
    return out


def _fit(counts: list[dict[int, float]], y: npt.NDArray[np.int64], cfg: FeatureConfig,
         c_lr: float, c_nb: float, mix: float, threshold: float) -> ModelWeights:
    """Fit both linear models on feature counts."""
    logistic, csr_matrix = _training_libs()
    rows, idx, tf = count_arrays(counts)
    n, b = len(counts), cfg.buckets
    df = np.bincount(idx, minlength=b).astype(np.float64)
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0) * (df > 0)
    val = (1.0 + np.log(tf)) * idf[idx]
    norm = np.sqrt(np.bincount(rows, val * val, minlength=n))
    norm[norm == 0] = 1.0
    x_tfidf = csr_matrix((val / norm[rows], (rows, idx)), shape=(n, b))
    lr = logistic(C=c_lr, max_iter=5000, class_weight="balanced").fit(x_tfidf, y)
    x_bin = csr_matrix((np.ones_like(val), (rows, idx)), shape=(n, b))
    pos = np.asarray(x_bin[y == 1].sum(0)).ravel() + 1.0
    neg = np.asarray(x_bin[y == 0].sum(0)).ravel() + 1.0
    ratio = np.log((pos / pos.sum()) / (neg / neg.sum())) * (df > 0)
    nb = logistic(C=c_nb, max_iter=5000, class_weight="balanced").fit(
        csr_matrix(x_bin.multiply(ratio)), y)
    return ModelWeights(
        config=cfg, idf=idf.astype(np.float32),
        w_lr=lr.coef_[0].astype(np.float32), b_lr=float(lr.intercept_[0]),
        w_nb=(nb.coef_[0] * ratio).astype(np.float32), b_nb=float(nb.intercept_[0]),
        mix=mix, threshold=threshold)


def benign_rows() -> Rows:
    """Everyday chat lines (``lexicon/benign_chat.txt``) as extra negatives for every fit."""
    path = LEXICON_DIR / "benign_chat.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(line.strip(), 0) for line in lines if line.strip() and not line.startswith("#")]


def _augment(rows: Rows, seed: int, copies: int) -> Rows:
    rng = random.Random(seed + 7919)
    out = list(rows)
    for _ in range(copies):
        out.extend((obfuscate(t, rng), y) for t, y in rows)
    return out


def cross_validate(rows: Rows, *, k: int = 5, seed: int = 0, augment: int = 1,
                   cfg: FeatureConfig | None = None, c_lr: float = 10.0, c_nb: float = 1.0,
                   mix: float = 0.5, lexicon: Lexicon | None = None) -> dict[str, Any]:
    """k-fold cross-validation: out-of-fold probabilities and F1 per fold at threshold 0.5.

    Returns ``{"oof": probabilities (array), "strong": strong-word flags, "f1_folds": [...]}``.
    """
    cfg = cfg or FeatureConfig()
    lexicon = lexicon or Lexicon.load()
    y = np.array([r[1] for r in rows], dtype=np.int64)
    rng = random.Random(seed)
    folds = np.zeros(len(rows), dtype=np.int64)
    for label in (0, 1):
        idx = [i for i in range(len(rows)) if y[i] == label]
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[i] = j % k
    plain = _counts(rows, lexicon, cfg)
    strong = np.array([any(h.category in STRONG_CATEGORIES
                           for h in prepare(t, lexicon).hits) for t, _ in rows])
    aug_rows = _augment(rows, seed, augment)
    aug_counts = plain + _counts(aug_rows[len(rows):], lexicon, cfg)
    origin = np.tile(np.arange(len(rows)), augment + 1)
    extra = benign_rows()
    extra_counts = _counts(extra, lexicon, cfg)
    extra_y = [y for _, y in extra]
    oof = np.zeros(len(rows))
    f1s = []
    for f in range(k):
        tr = np.flatnonzero(folds[origin] != f)
        w = _fit([aug_counts[i] for i in tr] + extra_counts,
                 np.array([aug_rows[i][1] for i in tr] + extra_y), cfg, c_lr, c_nb, mix, 0.5)
        te = np.flatnonzero(folds == f)
        oof[te] = w.probabilities([plain[i] for i in te])
        f1s.append(binary_metrics(y[te], (oof[te] >= 0.5) | strong[te])["f1"])
    return {"oof": oof, "strong": strong, "f1_folds": f1s}


def _best_threshold(y: npt.NDArray[np.int64], prob: npt.NDArray[np.float64],
                    strong: npt.NDArray[np.bool_], slack: float = 0.005) -> float:
    """The highest threshold whose out-of-fold F1 is within ``slack`` of the best one
    (the F1 curve is flat near its top; the higher threshold flags fewer innocent texts)."""
    grid = np.round(np.arange(0.2, 0.81, 0.01), 2)
    scores = np.array([binary_metrics(y, (prob >= t) | strong)["f1"] for t in grid])
    return float(grid[np.flatnonzero(scores >= scores.max() - slack)].max())


def evaluate(detector: ProfanityDetector, rows: Sequence[tuple[str, int]]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of ``detector`` on ``rows``, plus ``messages_per_s``
    (single-threaded `score_batch` throughput, normalisation included)."""
    if not rows:
        raise InvalidInput("evaluate() needs at least one (text, label) row")
    texts = [t for t, _ in rows]
    y = np.array([label for _, label in rows], dtype=np.int64)
    start = time.perf_counter()
    results = []
    for i in range(0, len(texts), 512):
        results.extend(detector.score_batch(texts[i:i + 512]))
    elapsed = time.perf_counter() - start
    out = binary_metrics(y, np.array([r.profane for r in results]))
    out["messages_per_s"] = len(texts) / elapsed if elapsed > 0 else float("inf")
    return out


def train(data: Path, out: Path, *, seed: int = 0, val_fraction: float = 0.2,
          augment: int = 1, c_lr: float = 10.0, c_nb: float = 1.0,
          mix: float = 0.5, extra: Sequence[Path] = ()) -> dict[str, float]:
    """Train on ``data``, write the model to ``out`` and return validation metrics.

    Metrics (on the held-out ``val_fraction``): precision, recall, f1, accuracy,
    messages_per_s, recall_obfuscated / f1_obfuscated (same rows run through `obfuscate`),
    threshold and cv_f1_mean / cv_f1_sd (5-fold CV on the training part). With
    ``val_fraction=0`` the model sees every row and only the CV figures are reported.
    ``extra`` files (``text|label``, e.g. ``nunchi chat export --labels``) are training rows
    only (see :func:`with_extra`).
    """
    rows = load_rows(data)
    extra_rows = [r for path in extra for r in load_rows(path)]
    train_rows, val_rows = with_extra(*split_rows(rows, val_fraction, seed), extra_rows)
    lexicon = Lexicon.load()
    cfg = FeatureConfig()
    cv = cross_validate(train_rows, seed=seed, augment=augment, cfg=cfg, c_lr=c_lr,
                        c_nb=c_nb, mix=mix, lexicon=lexicon)
    y_train = np.array([r[1] for r in train_rows], dtype=np.int64)
    threshold = _best_threshold(y_train, cv["oof"], cv["strong"])
    aug = _augment(train_rows, seed, augment) + benign_rows()
    weights = _fit(_counts(aug, lexicon, cfg), np.array([r[1] for r in aug]), cfg,
                   c_lr, c_nb, mix, threshold)
    metrics: dict[str, float] = {
        "threshold": threshold, "train_rows": float(len(train_rows)),
        "extra_rows": float(len(extra_rows)),
        "cv_f1_mean": float(np.mean(cv["f1_folds"])), "cv_f1_sd": float(np.std(cv["f1_folds"])),
    }
    info: dict[str, object] = {"data": Path(data).name, "seed": seed,
                               "val_fraction": val_fraction, "augment": augment}
    detector = ProfanityDetector(lexicon, weights, metadata=info)
    if val_rows:
        metrics.update(evaluate(detector, val_rows))
        rng = random.Random(seed + 1)
        obf = [(obfuscate(t, rng), label) for t, label in val_rows]
        o = evaluate(detector, obf)
        metrics.update(recall_obfuscated=o["recall"], f1_obfuscated=o["f1"],
                       precision_obfuscated=o["precision"])
    info["metrics"] = metrics
    detector.save(Path(out))
    return metrics


def ship(data: Path, out: Path, *, seed: int = 0, val_fraction: float = 0.2,
         extra: Sequence[Path] = ()) -> dict[str, Any]:
    """Train the product model: the recipe is first trained on ``1 - val_fraction`` of the rows
    (to a temporary file) and measured on the held-out rest, then trained again on ALL rows and
    written to ``out``. The held-out figures of the first run go into the model's metadata
    (``recipe_holdout``); the shipped model has seen every row, so only those figures and the
    cross-validation are honest estimates for it.

    Returns ``{"recipe_holdout": metrics of the partial run, "all_rows": metrics of the final}``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    probe = out.with_name(out.stem + ".recipe-check.npz")
    try:
        held = train(data, probe, seed=seed, val_fraction=val_fraction, extra=extra)
    finally:
        probe.unlink(missing_ok=True)
    full = train(data, out, seed=seed, val_fraction=0.0, extra=extra)
    detector = ProfanityDetector.load(out)
    detector.metadata["recipe_holdout"] = {"val_fraction": val_fraction, **held}
    detector.save(out)
    return {"recipe_holdout": held, "all_rows": full}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: train, print the metrics as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/curse/train.txt"))
    ap.add_argument("--out", type=Path, default=Path("profanity.npz"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--ship", action="store_true",
                    help="measure the recipe on the held-out split, then train on all rows")
    args = ap.parse_args(argv)
    if args.ship:
        result: dict[str, Any] = ship(args.data, args.out, seed=args.seed,
                                      val_fraction=args.val_fraction)
    else:
        result = train(args.data, args.out, seed=args.seed, val_fraction=args.val_fraction)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
