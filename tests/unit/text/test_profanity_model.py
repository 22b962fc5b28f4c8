"""The profanity recipe on held-out data, the packaged model, the obfuscator, the trainer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text.normalize import normalize
from nunchi.analyzers.text.profanity import ProfanityDetector
from nunchi.errors import InvalidInput
from nunchi.training.text.profanity import (
    evaluate,
    load_rows,
    obfuscate,
    ship,
    split_rows,
    train,
    with_extra,
)
from tests.fixtures.services import require_service

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "curse" / "train.txt"


@pytest.fixture(scope="module")
def detector() -> ProfanityDetector:
    return ProfanityDetector.load()


@pytest.fixture(scope="module")
def held_out() -> list[tuple[str, int]]:
    require_service("curse data", DATA.is_file(), f"expected {DATA} (shared/data/curse)")
    _, val = split_rows(load_rows(DATA), 0.2, 0)
    return val


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory,
           held_out: list[tuple[str, int]]) -> tuple[ProfanityDetector, dict[str, float]]:
    """The shipped recipe trained on 80% of the rows: the packaged model has seen every row,
    so only this model's figures on the other 20% say anything about unseen data."""
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("recipe") / "profanity.npz"
    metrics = train(DATA, out, seed=0, val_fraction=0.2)
    return ProfanityDetector.load(out), metrics


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_recipe_on_its_held_out_split(recipe: tuple[ProfanityDetector, dict[str, float]],
                                      held_out: list[tuple[str, int]]) -> None:
    detector, _ = recipe
    m = evaluate(detector, held_out)
    assert m["n"] == len(held_out) > 900
    assert m["f1"] >= 0.80, m  # measured 0.825 (P 0.918, R 0.749)
    assert m["precision"] >= 0.85, m


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_packaged_model_card_matches_the_recipe(
        detector: ProfanityDetector, recipe: tuple[ProfanityDetector, dict[str, float]]) -> None:
    """The packaged model is trained on all rows; the held-out figures it carries are those
    of the same recipe trained on 80%, which this test reproduces."""
    assert detector.metadata["val_fraction"] == 0.0
    card = detector.metadata["recipe_holdout"]
    assert isinstance(card, dict)
    assert card["val_fraction"] == 0.2
    assert abs(card["f1"] - recipe[1]["f1"]) < 0.01, (card, recipe[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_recall_barely_drops_on_obfuscated_text(
        recipe: tuple[ProfanityDetector, dict[str, float]],
        held_out: list[tuple[str, int]]) -> None:
    detector, _ = recipe
    positives = [(t, y) for t, y in held_out if y == 1]
    rng = random.Random(5)
    obfuscated = [(obfuscate(t, rng), y) for t, y in positives]
    assert sum(a != b for (a, _), (b, _) in zip(obfuscated, positives, strict=True)) > 250
    plain = evaluate(detector, positives)["recall"]
    hidden = evaluate(detector, obfuscated)["recall"]
    assert hidden >= plain - 0.03, (plain, hidden)


def test_packaged_model_throughput(detector: ProfanityDetector,
                                   held_out: list[tuple[str, int]]) -> None:
    # accuracy on these rows proves nothing (the packaged model was trained on them)
    m = evaluate(detector, held_out)
    assert m["messages_per_s"] > 100, m


CURSES = ["시발", "씨발", "병신", "지랄", "존나", "개새끼", "새끼", "좆같네", "씨팔", "염병"]
FILLER = ["오늘", "진짜", "너", "왜", "그래", "ㅋㅋ", "밥", "먹었어", "아니", "뭐라고"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CURSES), st.lists(st.sampled_from(FILLER), max_size=3),
       st.lists(st.sampled_from(FILLER), max_size=3), st.randoms(use_true_random=False))
def test_obfuscated_curse_words_are_still_caught(detector: ProfanityDetector, curse: str,
                                                 before: list[str], after: list[str],
                                                 rng: random.Random) -> None:
    text = " ".join([*before, curse, *after])
    hidden = obfuscate(text, rng)
    result = detector.score(hidden)
    assert result.profane, (hidden, normalize(hidden).text)
    assert result.spans
    # the filler words around the disguised curse keep their letters
    assert result.masked.split(" ")[0] == hidden.split(" ")[0] or not before


def test_obfuscate_leaves_clean_words_of_a_curse_message_alone() -> None:
    rng = random.Random(0)
    for _ in range(50):
        out = obfuscate("오늘 시발 날씨", rng)
        assert out.startswith("오늘") and out.endswith("날씨")
        assert out != "오늘 시발 날씨"


def test_load_rows_splits_on_the_last_bar(tmp_path: Path) -> None:
    f = tmp_path / "d.txt"
    f.write_text("a|b|1\n\nclean text|0\n", encoding="utf-8")
    assert load_rows(f) == [("a|b", 1), ("clean text", 0)]
    f.write_text("no label here\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"d\.txt:1"):
        load_rows(f)
    with pytest.raises(InvalidInput, match="not found"):
        load_rows(tmp_path / "missing.txt")


def test_split_is_stratified_and_repeatable() -> None:
    rows = [(f"t{i}", int(i % 3 == 0)) for i in range(300)]
    tr, va = split_rows(rows, 0.2, 1)
    assert len(va) == 60 and sum(y for _, y in va) == 20
    assert split_rows(rows, 0.2, 1) == (tr, va)
    assert not set(tr) & set(va)
    with pytest.raises(InvalidInput, match="val_fraction"):
        split_rows(rows, 1.5, 0)


def test_evaluate_rejects_empty_rows(detector: ProfanityDetector) -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        evaluate(detector, [])


def test_train_writes_a_model_that_loads(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    require_service("curse data", DATA.is_file(), f"expected {DATA} (shared/data/curse)")
    rows = load_rows(DATA)
    sample = tmp_path / "sample.txt"
    sample.write_text("".join(f"{t}|{y}\n" for t, y in rows[:400]), encoding="utf-8")
    out = tmp_path / "model.npz"
    metrics = train(sample, out, seed=3, val_fraction=0.25)
    for key in ("precision", "recall", "f1", "accuracy", "messages_per_s", "threshold",
                "recall_obfuscated", "cv_f1_mean"):
        assert key in metrics
    assert 0.0 <= metrics["f1"] <= 1.0
    trained = ProfanityDetector.load(out)
    assert trained.score("시발 뭐야").profane  # strong lexicon words hold in any model
    assert trained.metadata["seed"] == 3


def test_ship_trains_on_all_rows_and_keeps_the_recipe_figures(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    require_service("curse data", DATA.is_file(), f"expected {DATA} (shared/data/curse)")
    rows = load_rows(DATA)
    sample = tmp_path / "sample.txt"
    sample.write_text("".join(f"{t}|{y}\n" for t, y in rows[:400]), encoding="utf-8")
    out = tmp_path / "shipped.npz"
    result = ship(sample, out, seed=2, val_fraction=0.25)
    assert result["recipe_holdout"]["n"] == 100  # 25% of 400 rows measured
    assert "f1" not in result["all_rows"]  # nothing left to measure on
    shipped = ProfanityDetector.load(out)
    assert shipped.metadata["val_fraction"] == 0.0
    card = shipped.metadata["recipe_holdout"]
    assert isinstance(card, dict) and card["f1"] == result["recipe_holdout"]["f1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.txt", "shipped.npz"]


def test_moderator_labels_are_training_rows_that_win() -> None:
    train_rows = [("좋은 아침", 0), ("멍충이 꺼져", 0), ("시발", 1)]
    val_rows = [("멍충이 꺼져", 0), ("안녕", 0)]
    extra = [("멍충이 꺼져", 1), ("새로운 욕", 1)]
    trained, measured = with_extra(train_rows, val_rows, extra)
    assert sorted(trained) == [("멍충이 꺼져", 1), ("새로운 욕", 1), ("시발", 1), ("좋은 아침", 0)]
    assert measured == [("안녕", 0)]  # a disputed row is not used to measure
    assert with_extra(train_rows, val_rows, []) == (train_rows, val_rows)


def test_train_takes_the_chat_moderators_labels(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    require_service("curse data", DATA.is_file(), f"expected {DATA} (shared/data/curse)")
    rows = load_rows(DATA)
    sample = tmp_path / "sample.txt"
    sample.write_text("".join(f"{t}|{y}\n" for t, y in rows[:400]), encoding="utf-8")
    labels = tmp_path / "labels.txt"  # what `nunchi chat export --labels` writes
    labels.write_text("방송 노잼 꺼져라 멍청아|1\n오늘도 화이팅|0\n", encoding="utf-8")
    metrics = train(sample, tmp_path / "m.npz", seed=3, val_fraction=0.25, extra=[labels])
    assert metrics["extra_rows"] == 2 and metrics["train_rows"] == 300 + 2
    bad = tmp_path / "bad.txt"
    bad.write_text("no label here\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad\.txt:1"):
        train(sample, tmp_path / "m2.npz", extra=[bad])
