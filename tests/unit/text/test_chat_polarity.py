"""Chat polarity layer: the shipped artifact, its features, the gated mix, errors, figures."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nunchi.analyzers.text.chat_polarity import (
    CHAT_LABELS,
    DEFAULT_ARTIFACT,
    FEATURE_NAMES,
    LEXICON_PATH,
    ChatFeatures,
    ChatPolarity,
    mix_probabilities,
    read_lexicon,
    sentiment_fingerprint,
)
from nunchi.analyzers.text.sentiment import SentimentClassifier
from nunchi.errors import InvalidInput, NotFound
from nunchi.training.text.chat_data import DEFAULT_PATH, FRESH_PATH, label_index, read_chat_rows
from tests.fixtures.services import require_service

NSMC = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nsmc"
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def review() -> SentimentClassifier:
    return SentimentClassifier.load()


@pytest.fixture(scope="module")
def chat(review: SentimentClassifier) -> ChatPolarity:
    return ChatPolarity.load(sentiment=review)


@pytest.fixture(scope="module")
def features() -> ChatFeatures:
    return ChatFeatures(read_lexicon())


def _accuracy(model: ChatPolarity, path: Path, split: str | None) -> tuple[float, float]:
    rows = read_chat_rows(path, split)
    y = label_index([r.label for r in rows])
    pred = np.argmax(model.predict_proba([r.text for r in rows]), axis=1)
    f1s = []
    for k in range(3):
        tp = np.sum((pred == k) & (y == k))
        precision, recall = tp / max(1, np.sum(pred == k)), tp / max(1, np.sum(y == k))
        f1s.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return float(np.mean(pred == y)), float(np.mean(f1s))


def test_shipped_artifact_was_fit_on_the_shipped_sentiment_model(chat: ChatPolarity,
                                                                  review: SentimentClassifier
                                                                  ) -> None:
    meta = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    assert meta["sentiment_model"] == sentiment_fingerprint(review)
    assert tuple(meta["features"]) == FEATURE_NAMES
    assert chat.gate is not None
    assert DEFAULT_ARTIFACT.stat().st_size < 64_000


def test_artifact_carries_the_committed_lexicon() -> None:
    """An edit of lexicon/chat_polarity.txt without retraining the layer fails here."""
    meta = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    assert meta["lexicon"] == read_lexicon(LEXICON_PATH)


def test_beats_the_review_model_on_the_chat_test_split(chat: ChatPolarity) -> None:
    # Measured (docs/chat-sentiment-data.md): layer 0.817 / 0.810, review model with its
    # dev-chosen band 0.596 / 0.604 on the 230 test lines; 0.742 / 0.738 on the 120 fresh lines.
    accuracy, macro = _accuracy(chat, DEFAULT_PATH, "test")
    assert accuracy >= 0.78 and macro >= 0.77
    fresh_accuracy, fresh_macro = _accuracy(chat, FRESH_PATH, None)
    assert fresh_accuracy >= 0.70 and fresh_macro >= 0.70


@pytest.mark.parametrize(("text", "label"), [
    ("안녕하세요~", "neutral"),
    ("몇 시까지 방송해요?", "neutral"),
    ("개웃기네 ㅋㅋㅋㅋ", "positive"),
    ("존잼 ㅋㅋ", "positive"),
    ("후원 감사합니다!!", "positive"),
    ("렉 너무 심해요", "negative"),
    ("노잼 ㅡㅡ", "negative"),
])
def test_everyday_chat(chat: ChatPolarity, text: str, label: str) -> None:
    assert chat.score(text).label == label


def test_results_are_probabilities_with_a_polarity_score(chat: ChatPolarity) -> None:
    results = chat.score_batch(["ㅋㅋㅋ", "안녕하세요", "최악의 방송"])
    for result in results:
        probs = result.probabilities
        assert list(probs) == list(CHAT_LABELS)
        assert sum(probs.values()) == pytest.approx(1.0)
        assert result.score == pytest.approx(probs["positive"] + probs["neutral"] / 2)
        assert result.label == max(probs, key=lambda k: probs[k])
        assert set(result.to_dict()) == {"label", "score", "probabilities"}
    assert chat.predict_proba([]).shape == (0, 3)


def test_mix_keeps_the_review_answer_when_the_gate_is_closed() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, len(FEATURE_NAMES)))
    weights, bias = rng.normal(size=(3, len(FEATURE_NAMES))), rng.normal(size=3)
    closed = mix_probabilities(x, weights, bias, np.zeros(len(FEATURE_NAMES)), -50.0)
    p = 1 / (1 + np.exp(-x[:, 0]))
    assert np.allclose(closed, np.column_stack([1 - p, np.zeros(5), p]), atol=1e-9)
    opened = mix_probabilities(x, weights, bias, np.zeros(len(FEATURE_NAMES)), 50.0)
    assert np.allclose(opened, mix_probabilities(x, weights, bias))
    assert np.allclose(opened.sum(axis=1), 1.0)


def test_review_like_text_keeps_the_review_models_side(chat: ChatPolarity,
                                                       review: SentimentClassifier) -> None:
    reviews = ["배우들 연기가 너무 어색하고 스토리도 뻔해서 중간에 나왔습니다",
               "잔잔하지만 여운이 오래 남는 영화였습니다 가족이랑 다시 보고 싶네요"]
    probs = chat.predict_proba(reviews)
    assert ((probs[:, 2] > probs[:, 0]) == (review.predict_proba(reviews) >= 0.5)).all()


def test_negated_terms_count_for_the_other_side(features: ChatFeatures) -> None:
    plain, negated = features.row("좋아"), features.row("안 좋아")
    pos, neg = COLUMN["positive"] - 2, COLUMN["negative"] - 2  # row() has no logit columns
    assert plain[pos] > 0 and plain[neg] == 0
    assert negated[pos] == 0 and negated[neg] > 0


def test_latin_terms_match_whole_words_only(features: ChatFeatures) -> None:
    pos, neg = COLUMN["positive"] - 2, COLUMN["negative"] - 2
    assert features.row("lol")[pos] > 0
    assert features.row("lollipop")[pos] == 0
    assert features.row("lol")[neg] == 0  # the negative "l" does not fire inside "lol"
    assert features.row("L ㅋㅋ")[neg] > 0


def test_laughter_crying_questions_and_greetings(features: ChatFeatures) -> None:
    col = {name: i - 2 for name, i in COLUMN.items()}
    laugh, quiet = features.row("ㅋㅋㅋㅋㅋㅋ"), features.row("그렇구나")
    assert laugh[col["laugh"]] > quiet[col["laugh"]] == 0
    assert features.row("ㅠㅠ")[col["cry"]] > 0
    assert features.row("몇 시에 해요?")[col["question"]] > 0
    assert features.row("몇 시에 해요?")[col["question_mark"]] == 1
    assert features.row("ㅎㅇㅎㅇ 안녕하세요")[col["greeting"]] > 0
    assert features.row("😂😂")[col["pos_emoji"]] > 0 and features.row("👎")[col["neg_emoji"]] > 0


def test_missing_and_foreign_artifacts(tmp_path: Path, review: SentimentClassifier) -> None:
    with pytest.raises(NotFound, match="chat_sentiment"):
        ChatPolarity.load(tmp_path / "none.json", sentiment=review)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a readable"):
        ChatPolarity.load(bad, sentiment=review)
    meta = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**meta, "kind": "sentiment"}), encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a nunchi chat polarity"):
        ChatPolarity.load(other, sentiment=review)


def test_a_layer_fit_on_another_sentiment_model_is_refused(tmp_path: Path,
                                                           review: SentimentClassifier) -> None:
    meta = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**meta, "sentiment_model": "fast@2020-01-01"}), encoding="utf-8")
    with pytest.raises(InvalidInput, match="retrain"):
        ChatPolarity.load(stale, sentiment=review)
    assert ChatPolarity.load(stale, sentiment=review, strict=False).score("ㅋㅋ").label


def test_bad_input(chat: ChatPolarity, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="one string"):
        chat.predict_proba("ㅋㅋ")  # type: ignore[arg-type]
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("좋아\tglad\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"lexicon\.txt:1"):
        read_lexicon(lexicon)
    with pytest.raises(InvalidInput, match="categories"):
        ChatFeatures({"mood": ["좋아"]})


def test_scoring_imports_no_training_packages() -> None:
    code = (
        "import sys; from nunchi.analyzers.text.chat_polarity import ChatPolarity; "
        "ChatPolarity.load().score_batch(['ㅋㅋ', '안녕하세요']); "
        "bad = [m for m in ('sklearn', 'scipy', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SKLEARN, reason="training needs scikit-learn")
def test_training_reproduces_the_shipped_artifact() -> None:
    require_service("NSMC data", (NSMC / "train.tsv").is_file(), f"expected {NSMC}")
    from nunchi.training.text.chat_sentiment import run

    card = run(nsmc=NSMC, out=None)
    meta = json.loads(DEFAULT_ARTIFACT.read_text(encoding="utf-8"))
    assert card["chosen"] == meta["info"]["chosen"]
    assert card["review_test"]["accuracy_after"] == meta["info"]["review_test"]["accuracy_after"]
    assert card["review_test"]["accuracy_after"] >= card["review_test"]["accuracy_before"] - 0.002
