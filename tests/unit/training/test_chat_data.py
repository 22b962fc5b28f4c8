"""The labelled chat sentiment set, its split, the 3-class figures and the eval command."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nunchi.errors import InvalidInput
from nunchi.training.text.chat_data import (
    DEFAULT_PATH,
    FRESH_PATH,
    GENRES,
    LABELS,
    ChatRow,
    assign_splits,
    read_chat_rows,
    write_chat_rows,
)
from nunchi.training.text.chat_eval import main as eval_main
from nunchi.training.text.chat_metrics import (
    band_labels,
    best_band,
    bootstrap_difference,
    classification_figures,
    confusion,
    macro_f1,
    mcnemar,
)


def _key(text: str) -> str:
    return re.sub(r"(.)\1+", r"\1\1", " ".join(text.lower().split()))


def test_the_set_is_balanced_and_covers_every_genre() -> None:
    rows = read_chat_rows()
    assert 600 <= len(rows) <= 750
    counts = Counter(r.label for r in rows)
    assert set(counts) == set(LABELS)
    assert min(counts.values()) / len(rows) >= 0.28
    genres = Counter(r.genre for r in rows)
    assert set(genres) == set(GENRES) and min(genres.values()) >= 50


def test_no_line_is_there_twice_and_the_fresh_lines_are_new() -> None:
    main = [_key(r.text) for r in read_chat_rows()]
    fresh = [_key(r.text) for r in read_chat_rows(FRESH_PATH)]
    assert len(set(main)) == len(main)
    assert len(set(fresh)) == len(fresh) == 120
    assert not set(main) & set(fresh)


def test_the_split_column_is_the_documented_seeded_split() -> None:
    rows = read_chat_rows()
    assert [r.split for r in rows] == assign_splits([r.label for r in rows], seed=0)
    for label in LABELS:
        part = [r for r in rows if r.label == label]
        share = sum(r.split == "test" for r in part) / len(part)
        assert share == pytest.approx(1 / 3, abs=0.01)
    assert assign_splits([r.label for r in rows], seed=1) != [r.split for r in rows]


def test_reading_refuses_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "chat.tsv"
    path.write_text("text\tlabel\tsplit\tgenre\n좋아요\tglad\tdev\ttalk\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"chat\.tsv:2: label 'glad'"):
        read_chat_rows(path)
    with pytest.raises(InvalidInput, match="tab"):
        write_chat_rows([ChatRow("a\tb", "neutral", "dev", "talk")], tmp_path / "out.tsv")
    write_chat_rows([ChatRow("ㅋㅋ", "positive", "test", "game")], path)
    assert read_chat_rows(path, "test") == [ChatRow("ㅋㅋ", "positive", "test", "game")]
    assert read_chat_rows(path, "dev") == []


def test_figures_on_a_known_confusion() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    assert confusion(y, pred).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # F1: negative 0.5, neutral 0.8, positive 0.667
    assert macro_f1(y, pred) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    card = classification_figures(y, pred)
    assert card["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert card["per_class"]["neutral"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8}


def test_band_and_its_choice() -> None:
    p = np.array([0.05, 0.45, 0.55, 0.95])
    assert band_labels(p, 0.0).tolist() == [0, 0, 2, 2]
    assert band_labels(p, 0.1).tolist() == [0, 1, 1, 2]
    assert best_band(np.array([0, 1, 1, 2]), p) == pytest.approx(0.06)


def test_mcnemar_is_exact_and_the_bootstrap_brackets_the_gain() -> None:
    a = np.array([True] * 10 + [False] * 6)
    b = np.array([True] * 16)
    assert mcnemar(a, b) == {"only_a": 0, "only_b": 6, "p": 0.0312}
    assert mcnemar(a, a)["p"] == 1.0
    y = np.zeros(40, dtype=np.int64)
    before, after = np.where(np.arange(40) < 20, 0, 1), np.zeros(40, dtype=np.int64)
    low, high = bootstrap_difference(y, before, after, resamples=300)["accuracy"]
    assert low > 0.3 and high <= 0.7  # observed gain: 0.5


def test_eval_prints_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    eval_main(["--data", str(DEFAULT_PATH)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    card = json.loads(lines[0])
    assert card["scorer"] == "review" and 0 <= card["band"] < 0.5
    assert card["test"]["n"] == 230
    assert sum(map(sum, card["test"]["confusion"]["matrix"])) == 230
    assert 0 < card["test_binary"]["accuracy"] <= 1
