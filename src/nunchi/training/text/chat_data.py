"""The project's labelled Korean live-chat sentiment set: reading it and its fixed split.

``data/chat_sentiment.tsv`` holds ``text<TAB>label<TAB>split<TAB>genre`` rows written by the
project (docs/chat-sentiment-data.md): labels ``positive`` / ``neutral`` / ``negative``, split
``dev`` (fitting and every choice) or ``test`` (looked at once per method). The split column is
:func:`assign_splits` of the labels in file order (seed 0, a third of each label in test);
``python -m nunchi.training.text.chat_data --resplit`` rewrites it after rows are added.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nunchi.errors import InvalidInput, NotFound

__all__ = [
    "DEFAULT_PATH",
    "FRESH_PATH",
    "GENRES",
    "LABELS",
    "SPLITS",
    "ChatRow",
    "assign_splits",
    "label_index",
    "read_chat_rows",
    "write_chat_rows",
]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "chat_sentiment.tsv"
FRESH_PATH = Path(__file__).resolve().parent / "data" / "chat_sentiment_fresh.tsv"
"""120 lines written after the chat layer was frozen: a second test, all ``test``."""
LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SPLITS: tuple[str, ...] = ("dev", "test")
GENRES: tuple[str, ...] = ("game", "food", "music", "shop", "sports", "talk", "general")
HEADER = "text\tlabel\tsplit\tgenre"
TEST_FRACTION = 1 / 3


@dataclass(frozen=True)
class ChatRow:
    """One labelled chat line."""

    text: str
    label: str
    split: str
    genre: str


def label_index(labels: Sequence[str]) -> np.ndarray:
    """Labels as integers in :data:`LABELS` order (0 negative, 1 neutral, 2 positive)."""
    lookup = {name: i for i, name in enumerate(LABELS)}
    try:
        return np.array([lookup[label] for label in labels], dtype=np.int64)
    except KeyError as exc:
        choices = ", ".join(LABELS)
        raise InvalidInput(f"unknown label {exc.args[0]!r}: use one of {choices}") from exc


def _check(value: str, allowed: tuple[str, ...], what: str, where: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{where}: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def read_chat_rows(path: Path = DEFAULT_PATH, split: str | None = None) -> list[ChatRow]:
    """Rows of a chat sentiment file, all of them or those of ``split`` (``dev``/``test``)."""
    if split is not None:
        _check(split, SPLITS, "split", "read_chat_rows")
    if not path.is_file():
        raise NotFound(f"chat sentiment file {path} does not exist")
    rows: list[ChatRow] = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line_no == 1 and line == HEADER:
                continue
            if not line.strip():
                continue
            parts = line.split("\t")
            where = f"{path}:{line_no}"
            if len(parts) != 4:
                raise InvalidInput(f"{where}: expected 4 tab-separated fields ({HEADER!r})")
            text, label, part, genre = parts
            if not text.strip():
                raise InvalidInput(f"{where}: empty text")
            rows.append(ChatRow(
                text=text,
                label=_check(label, LABELS, "label", where),
                split=_check(part, SPLITS, "split", where),
                genre=_check(genre, GENRES, "genre", where),
            ))
    if not rows:
        raise InvalidInput(f"{path} holds no rows")
    return [row for row in rows if split is None or row.split == split]


def assign_splits(labels: Sequence[str], seed: int = 0) -> list[str]:
    """``dev``/``test`` per row: for each label, a seeded third of its rows go to ``test``."""
    y = label_index(labels)
    rng = np.random.default_rng(seed)
    out = ["dev"] * len(labels)
    for value in range(len(LABELS)):
        idx = np.flatnonzero(y == value)
        rng.shuffle(idx)
        for i in idx[: round(idx.size * TEST_FRACTION)].tolist():
            out[i] = "test"
    return out


def write_chat_rows(rows: Sequence[ChatRow], path: Path) -> None:
    """Write rows with the header; tabs and newlines inside a text are refused."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "\n")
        for row in rows:
            if "\t" in row.text or "\n" in row.text:
                raise InvalidInput(f"text {row.text!r} holds a tab or newline")
            handle.write(f"{row.text}\t{row.label}\t{row.split}\t{row.genre}\n")


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Check or re-split the chat sentiment set.")
    parser.add_argument("--file", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--resplit", action="store_true", help="rewrite the split column")
    args = parser.parse_args(argv)
    rows = read_chat_rows(args.file)
    if args.resplit:
        splits = assign_splits([row.label for row in rows])
        rows = [ChatRow(r.text, r.label, s, r.genre) for r, s in zip(rows, splits, strict=True)]
        write_chat_rows(rows, args.file)
    for part in SPLITS:
        counts = {label: sum(r.label == label and r.split == part for r in rows)
                  for label in LABELS}
        print(part, counts)


if __name__ == "__main__":
    _main()
