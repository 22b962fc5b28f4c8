"""Labelled sentiment data: reading NSMC-style files and the fixed, de-duplicated held-out split.

The held-out split is a pure function of ``train.tsv`` and the seed, so training, the tests and
``nunchi models eval`` all see the same unseen reviews without a copy of them in the repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nunchi.analyzers.text.sentiment_features import normalize_for_sentiment
from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "HELDOUT_FRACTION",
    "LabelledRow",
    "SentimentSplit",
    "read_labelled",
    "split_nsmc",
    "write_labelled",
]

LabelledRow = tuple[str, int]
HELDOUT_FRACTION = 0.05


def _label(raw: str, path: Path, line_no: int) -> int:
    value = raw.strip()
    if value not in ("0", "1"):
        raise InvalidInput(
            f"{path}:{line_no}: label must be 0 or 1, got {value!r}; "
            "expected `id<TAB>text<TAB>label`, `text<TAB>label` "
            "or, with --format pipe, `text|label`"
        )
    return int(value)


def read_labelled(path: Path, fmt: str = "tsv") -> list[LabelledRow]:
    """Read ``(text, label)`` rows from a labelled file.

    ``fmt="tsv"``: NSMC's ``id<TAB>document<TAB>label`` or ``text<TAB>label``; a first line whose
    label is not 0/1 is taken as a header. ``fmt="pipe"``: ``text|label``, split on the last ``|``.
    Blank lines are skipped. Raises ``NotFound`` for a missing file and ``InvalidInput`` for a bad
    line (with its number).
    """
    if fmt not in ("tsv", "pipe"):
        raise InvalidInput(f"unknown format {fmt!r}: use 'tsv' or 'pipe'")
    if not path.is_file():
        raise NotFound(f"labelled file {path} does not exist")
    rows: list[LabelledRow] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if fmt == "pipe":
                text, sep, raw = line.rpartition("|")
                if not sep:
                    raise InvalidInput(f"{path}:{line_no}: no '|' found; expected `text|label`")
            else:
                parts = line.split("\t")
                if len(parts) not in (2, 3):
                    raise InvalidInput(
                        f"{path}:{line_no}: expected 2 or 3 tab-separated fields, got {len(parts)}"
                    )
                text, raw = parts[-2], parts[-1]
            if line_no == 1 and raw.strip() not in ("0", "1"):
                continue  # header row
            rows.append((text, _label(raw, path, line_no)))
    if not rows:
        raise InvalidInput(f"{path} holds no labelled rows")
    return rows


def write_labelled(rows: Iterable[LabelledRow], path: Path) -> int:
    """Write rows as ``text<TAB>label`` with a header; returns how many were written."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("document\tlabel\n")
        for text, label in rows:
            handle.write(f"{' '.join(text.split())}\t{label}\n")
            count += 1
    return count


@dataclass(frozen=True)
class SentimentSplit:
    """Rows for training, validation (may be empty) and the held-out test."""

    train: list[LabelledRow]
    val: list[LabelledRow]
    test: list[LabelledRow]


def _stratified_pick(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    picked: list[np.ndarray] = []
    for value in (0, 1):
        idx = np.flatnonzero(labels == value)
        rng.shuffle(idx)
        picked.append(idx[: round(idx.size * fraction)])
    return np.sort(np.concatenate(picked))


def _dedupe(rows: list[LabelledRow], taken: set[str]) -> list[LabelledRow]:
    out: list[LabelledRow] = []
    for text, label in rows:
        key = normalize_for_sentiment(text)
        if key and key not in taken:
            taken.add(key)
            out.append((text, label))
    return out


def split_nsmc(
    data_dir: Path,
    *,
    seed: int = 0,
    test_fraction: float = HELDOUT_FRACTION,
    val_fraction: float = 0.0,
    include_extra: bool = True,
) -> SentimentSplit:
    """The fixed split of NSMC data in ``data_dir`` (``train.tsv`` and, if present, ``extra.tsv``).

    ``test_fraction`` of ``train.tsv`` (stratified by label, drawn with ``seed``) is held out, then
    ``val_fraction`` more for validation. Texts are compared after normalisation: each held-out
    text appears once, and every copy of it is removed from the other parts, so no review is both
    trained on and tested on. Training gets the rest of ``train.tsv`` plus ``extra.tsv``.
    """
    if not 0.0 < test_fraction < 0.5 or not 0.0 <= val_fraction < 0.5:
        raise InvalidInput("test_fraction must be in (0, 0.5) and val_fraction in [0, 0.5)")
    base = read_labelled(data_dir / "train.tsv")
    extra_path = data_dir / "extra.tsv"
    extra = read_labelled(extra_path) if include_extra and extra_path.is_file() else []
    rng = np.random.default_rng(seed)
    labels = np.fromiter((label for _, label in base), dtype=np.int64, count=len(base))
    test_idx = _stratified_pick(labels, test_fraction, rng)
    in_test = np.zeros(len(base), dtype=bool)
    in_test[test_idx] = True
    rest_idx = np.flatnonzero(~in_test)
    val_pick = (
        _stratified_pick(labels[rest_idx], val_fraction, rng)
        if val_fraction
        else np.zeros(0, dtype=np.int64)
    )
    in_val = np.zeros(len(base), dtype=bool)
    in_val[rest_idx[val_pick]] = True

    taken: set[str] = set()
    test = _dedupe([base[i] for i in np.flatnonzero(in_test)], taken)
    val = _dedupe([base[i] for i in np.flatnonzero(in_val)], taken)
    pool = [base[i] for i in np.flatnonzero(~in_test & ~in_val)] + extra
    train = [row for row in pool if normalize_for_sentiment(row[0]) not in taken]
    return SentimentSplit(train=train, val=val, test=test)
