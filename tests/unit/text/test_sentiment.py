"""Sentiment classifier: the shipped models, the numpy scorers, training and evaluation."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from nunchi.analyzers.text.sentiment import (
    SentimentClassifier,
    SentimentResult,
    default_model_path,
)
from nunchi.analyzers.text.sentiment_features import HashedNgrams
from nunchi.errors import InvalidInput, NotFound
from nunchi.training.text.data import read_labelled, split_nsmc
from nunchi.training.text.sentiment import (
    balanced_bags,
    default_bags,
    evaluate,
    train,
)
from nunchi.training.text.sentiment_cnn import CnnSettings
from tests.fixtures.services import require_service

NSMC = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nsmc"
HAS_TRAINING = all(importlib.util.find_spec(m) for m in ("sklearn", "scipy"))
HAS_TORCH = importlib.util.find_spec("torch") is not None

POSITIVE = ["재밌어요", "최고", "감동", "꿀잼", "좋아요", "추천합니다"]
NEGATIVE = ["최악", "지루", "노잼", "별로", "실망", "시간낭비"]
FILLER = ["영화", "배우", "스토리", "연출", "오늘", "주말에", "친구랑", "봤는데", "진짜", "정말"]


def _synthetic(n: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        word = rng.choice(POSITIVE if label else NEGATIVE)
        words = [rng.choice(FILLER), word, rng.choice(FILLER), str(rng.randint(0, 99999))]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def _write_nsmc(folder: Path, rows: list[tuple[str, int]], name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id\tdocument\tlabel"] + [f"{i}\t{t}\t{y}" for i, (t, y) in enumerate(rows)]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def fast() -> SentimentClassifier:
    return SentimentClassifier.load(variant="fast")


def test_shipped_fast_model_gets_obvious_cases(fast: SentimentClassifier) -> None:
    assert fast.score("정말 재밌어요").label == "positive"
    assert fast.score("최악의 영화").label == "negative"
    assert fast.score("시간 아깝다 돈 버렸네").label == "negative"
    assert fast.score("배우들 연기가 너무 좋았고 감동적이었다").label == "positive"
    result = fast.score("최고의 영화")
    assert isinstance(result, SentimentResult)
    assert 0.5 < result.score <= 1.0
    assert result.to_dict() == {"label": "positive", "score": round(result.score, 4)}


def test_accurate_variant_loads_when_built_or_says_how_to_build_it() -> None:
    if not default_model_path("accurate").is_file():  # not shipped: see docs/models.md
        with pytest.raises(NotFound, match="train-sentiment --variant accurate"):
            SentimentClassifier.load(variant="accurate")
        return
    model = SentimentClassifier.load(variant="accurate")
    assert model.cnn is not None
    labels = [r.label for r in model.score_batch(["정말 재밌어요", "최악의 영화", "꿀잼", "노잼"])]
    assert labels == ["positive", "negative", "positive", "negative"]


def test_batch_scores_match_single_scores_and_do_not_depend_on_neighbours(
    fast: SentimentClassifier,
) -> None:
    texts = ["정말 재밌어요", "", "최악의 영화 ㅋㅋㅋㅋㅋㅋ", "BTS 노래 최고!!", "   ", "굿",
             "줄\n바꿈\t탭", "깨진 이모지 \ud83d 끝"]
    batch = fast.predict_proba(texts)
    assert batch.shape == (len(texts),)
    assert batch.dtype == np.float64
    singles = np.array([fast.score(t).score for t in texts])
    np.testing.assert_allclose(batch, singles, rtol=1e-9)
    reversed_batch = fast.predict_proba(texts[::-1])[::-1]
    np.testing.assert_allclose(batch, reversed_batch, rtol=1e-9)
    assert [r.score for r in fast.score_batch(texts, batch_size=2)] == pytest.approx(singles)
    assert fast.predict_proba([]).shape == (0,)


def test_repeated_characters_are_folded(fast: SentimentClassifier) -> None:
    short, long = fast.score("재밌다ㅋㅋㅋ"), fast.score("재밌다ㅋㅋㅋㅋㅋㅋㅋㅋ")
    assert short.score == pytest.approx(long.score)


def test_bad_input_and_missing_models_say_what_to_fix(tmp_path: Path,
                                                      fast: SentimentClassifier) -> None:
    with pytest.raises(InvalidInput, match="variant"):
        SentimentClassifier.load(variant="huge")
    with pytest.raises(NotFound, match="train-sentiment"):
        SentimentClassifier.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    np.savez(junk, meta=np.array('{"kind": "other"}'))
    with pytest.raises(InvalidInput, match="not a nunchi sentiment model"):
        SentimentClassifier.load(junk)
    with pytest.raises(InvalidInput, match="one string"):
        fast.predict_proba("정말 재밌어요")
    with pytest.raises(InvalidInput, match="expected str"):
        fast.predict_proba(["좋아", 3])  # type: ignore[list-item]


def test_hashed_features_of_a_text_do_not_depend_on_its_batch() -> None:
    features = HashedNgrams(log2_buckets=16)
    rows, buckets = features.pairs(["좋은 영화", "", "나쁜 영화"])
    alone_rows, alone = features.pairs(["나쁜 영화"])
    assert set(alone_rows.tolist()) == {0}
    assert sorted(alone.tolist()) == sorted(buckets[rows == 2].tolist())
    assert (rows == 1).sum() == 0  # the empty text has no features
    assert buckets.max() < features.n_buckets
    with pytest.raises(InvalidInput, match="word_ngrams"):
        HashedNgrams(word_ngrams=(1, 3))
    with pytest.raises(InvalidInput, match="log2_buckets"):
        HashedNgrams(log2_buckets=40)


@pytest.mark.skipif(not (NSMC / "train.tsv").is_file(), reason="NSMC data not found")
def test_fast_model_accuracy_on_heldout_sample(fast: SentimentClassifier) -> None:
    split = split_nsmc(NSMC, include_extra=False)
    sample = split.test[:1500]
    assert len(sample) == 1500
    figures = evaluate(fast, sample)
    assert figures["accuracy"] >= 0.83, figures
    assert figures["f1"] >= 0.8, figures


@pytest.mark.skipif(not (NSMC / "train.tsv").is_file(), reason="NSMC data not found")
def test_heldout_split_is_fixed_and_never_overlaps_training() -> None:
    split = split_nsmc(NSMC, include_extra=False, val_fraction=0.05)
    again = split_nsmc(NSMC, include_extra=False)
    assert split.test == again.test
    test_texts = {" ".join(t.lower().split()) for t, _ in split.test}
    assert len(test_texts) == len(split.test)
    assert not test_texts & {" ".join(t.lower().split()) for t, _ in split.train}
    assert not test_texts & {" ".join(t.lower().split()) for t, _ in split.val}
    positives = sum(label for _, label in split.test) / len(split.test)
    assert 0.45 < positives < 0.55


def test_read_labelled_formats_and_errors(tmp_path: Path) -> None:
    tsv = tmp_path / "a.tsv"
    tsv.write_text("document\tlabel\n좋아\t1\n\n싫어\t0\n", encoding="utf-8")
    assert read_labelled(tsv) == [("좋아", 1), ("싫어", 0)]
    pipe = tmp_path / "a.txt"
    pipe.write_text("a|b 좋아|1\n싫어|0\n", encoding="utf-8")
    assert read_labelled(pipe, "pipe") == [("a|b 좋아", 1), ("싫어", 0)]
    bad = tmp_path / "bad.tsv"
    bad.write_text("좋아\t1\n싫어\t5\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad.tsv:2: label must be 0 or 1"):
        read_labelled(bad)
    with pytest.raises(NotFound):
        read_labelled(tmp_path / "nope.tsv")


def test_balanced_bags_use_every_row_and_deal_the_majority_out() -> None:
    labels = np.array([1] * 390 + [0] * 100)  # 3.9 : 1, as in the NSMC training part
    assert default_bags(labels) == 4
    bags = balanced_bags(labels, seed=0)
    assert len(bags) == 4
    for rows in bags:
        assert labels[rows].sum() == 100 and (labels[rows] == 0).sum() == 100
        assert np.array_equal(rows, np.unique(rows))
    assert np.array_equal(np.unique(np.concatenate(bags)), np.arange(labels.size))
    majority = [set(rows[labels[rows] == 1].tolist()) for rows in bags]
    # disjoint parts of 97-98 rows each, topped up to 100 from the rest
    assert all(len(a & b) <= 3 + 3 for i, a in enumerate(majority) for b in majority[i + 1:])
    assert [r.tolist() for r in balanced_bags(labels, seed=0)] == [r.tolist() for r in bags]


def test_balanced_bags_edge_cases() -> None:
    even = np.array([0, 1] * 50)
    assert default_bags(even) == 1
    (only,) = balanced_bags(even, seed=3)
    assert np.array_equal(only, np.arange(100))
    negatives = np.array([1] * 5 + [0] * 500)  # a negative majority works the same way
    assert default_bags(negatives) == 8  # 100 : 1, capped
    for rows in balanced_bags(negatives, seed=0):
        assert negatives[rows].sum() == 5 and (negatives[rows] == 0).sum() == 5
    assert len(balanced_bags(negatives, seed=0, bags=2)) == 2
    with pytest.raises(InvalidInput, match="both labels"):
        balanced_bags(np.ones(10, dtype=np.int64), seed=0)
    with pytest.raises(InvalidInput, match="both labels"):  # also with the count given
        balanced_bags(np.ones(10, dtype=np.int64), seed=0, bags=2)
    with pytest.raises(InvalidInput, match="at least 1"):
        balanced_bags(even, seed=0, bags=0)


def test_train_fast_writes_a_model_that_loads_and_learns(tmp_path: Path) -> None:
    require_service("scikit-learn/scipy", HAS_TRAINING, "pip install -e '.[train]'")
    data = tmp_path / "nsmc"
    _write_nsmc(data, _synthetic(600, seed=1), "train.tsv")
    _write_nsmc(data, _synthetic(200, seed=2), "extra.tsv")
    card = train(data, tmp_path / "out", variant="fast")
    path = Path(card["path"])
    assert path == tmp_path / "out" / "sentiment-fast.npz"
    assert card["test"]["accuracy"] >= 0.95, card
    model = SentimentClassifier.load(path)
    assert model.info["test"] == card["test"]
    assert model.score("주말에 꿀잼 영화").label == "positive"
    assert model.score("영화 노잼 시간낭비").label == "negative"
    again = evaluate(model, _synthetic(200, seed=3))
    assert again["accuracy"] >= 0.95
    assert set(again) >= {"accuracy", "precision", "recall", "f1", "messages_per_s"}


def test_train_accurate_numpy_cnn_scores_what_torch_learned(tmp_path: Path) -> None:
    require_service("torch, scikit-learn", HAS_TRAINING and HAS_TORCH, "pip install -e '.[train]'")
    data = tmp_path / "nsmc"
    _write_nsmc(data, _synthetic(800, seed=4), "train.tsv")
    settings = CnnSettings(embed_dim=16, filters=16, kernels=(2, 3), epochs=2, batch_size=32,
                           lr=1e-2)
    card = train(data, tmp_path / "acc.npz", variant="accurate", cnn_settings=settings,
                 linear_settings=(HashedNgrams(log2_buckets=16), 1.0))
    model = SentimentClassifier.load(tmp_path / "acc.npz")
    assert model.variant == "accurate"
    assert model.cnn is not None
    rows = _synthetic(300, seed=5)
    cnn_logits = model.cnn.logits([t for t, _ in rows])
    cnn_accuracy = ((cnn_logits > 0) == np.array([y for _, y in rows])).mean()
    assert cnn_accuracy >= 0.9, cnn_accuracy
    assert card["test"]["accuracy"] >= 0.95, card
