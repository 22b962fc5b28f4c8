"""Profanity detector: evasions caught and masked in place, innocent look-alikes left alone."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text.profanity import (
    FeatureConfig,
    Lexicon,
    ModelWeights,
    ProfanityDetector,
    ProfanityResult,
    prepare,
)
from nunchi.errors import InvalidInput


@pytest.fixture(scope="module")
def detector() -> ProfanityDetector:
    return ProfanityDetector.load()


# (message, masked form expected)
CAUGHT = [
    ("시발", "**"),
    ("시1발 뭐야", "*** 뭐야"),
    ("시@발 뭐야", "*** 뭐야"),
    ("아 시 발 진짜", "아 *** 진짜"),
    ("ㅅㅣㅂㅏㄹ 진짜", "***** 진짜"),
    ("ㅆㅣ발 꺼져", "*** **"),
    ("ㅅㅂ 왜 저래", "** 왜 저래"),
    ("너 ㅂㅅ이냐", "너 **이냐"),
    ("ㅈㄹ하네", "**하네"),
    ("tlqkf 뭐함", "***** 뭐함"),
    ("ㅅl발", "***"),
    ("ㅅH끼야", "***야"),
    ("7ㅐ새끼", "****"),
    ("시이이발", "****"),
    ("씨발ㅋㅋㅋㅋ", "**ㅋㅋㅋㅋ"),
    ("개 새 끼", "*****"),
    ("병신같은 소리", "**같은 소리"),
    ("존나 웃기네", "** 웃기네"),
    ("what the fuck", "what the ****"),
]


@pytest.mark.parametrize(("text", "masked"), CAUGHT)
def test_evasions_are_caught_and_masked_in_place(detector: ProfanityDetector, text: str,
                                                 masked: str) -> None:
    result = detector.score(text)
    assert result.profane
    assert result.masked == masked
    assert result.score >= detector.weights.threshold


INNOCENT = [
    "시발점으로 돌아가자",
    "시발역에서 만나",
    "새끼 고양이가 너무 귀엽다",
    "고양이 새끼 세 마리",
    "알았지? 내일 보자",
    "수박씨발라먹기 대회",
    "노래방 십팔번이 뭐야",
    "저 녀석 조지다 말았네",
    "화면상으로는 괜찮아 보여",
    "그 영화 보지 마",
    "오늘 날씨 좋네요",
    "에미넴 노래 좋아",
    "5개년 계획",
    "쓰레기통 좀 비워줘",
]


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_look_alikes_are_not_flagged(detector: ProfanityDetector, text: str) -> None:
    result = detector.score(text)
    assert not result.profane, result
    assert result.spans == []
    assert result.masked == text


def test_result_to_dict_shape(detector: ProfanityDetector) -> None:
    d = detector.score("ㅅㅂ 뭐야").to_dict()
    assert set(d) == {"profane", "score", "spans", "masked"}
    assert d["spans"] == [[0, 2]]
    assert d["masked"] == "** 뭐야"
    assert isinstance(d["score"], float)


def test_score_batch_matches_single_scores(detector: ProfanityDetector) -> None:
    texts = [t for t, _ in CAUGHT] + INNOCENT + ["", "   "]
    assert detector.score_batch(texts) == [detector.score(t) for t in texts]
    assert detector.score_batch([]) == []


def test_mask_char_is_configurable() -> None:
    d = ProfanityDetector.load()
    d.mask_char = "#"
    assert d.score("시발 뭐야").masked == "## 뭐야"
    with pytest.raises(InvalidInput, match="one character"):
        ProfanityDetector(d.lexicon, d.weights, mask_char="**")


def test_bad_input_says_what_to_fix(detector: ProfanityDetector) -> None:
    with pytest.raises(InvalidInput, match="str"):
        detector.score(123)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="sequence"):
        detector.score_batch("시발")
    with pytest.raises(InvalidInput, match="split"):
        detector.score("가" * (detector.max_chars + 1))


def test_load_reports_missing_and_corrupt_models(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no profanity model"):
        ProfanityDetector.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(InvalidInput, match="not a nunchi profanity model"):
        ProfanityDetector.load(bad)


def test_save_and_load_round_trip(detector: ProfanityDetector, tmp_path: Path) -> None:
    path = tmp_path / "m" / "profanity.npz"
    detector.save(path)
    again = ProfanityDetector.load(path)
    texts = ["시1발 뭐야", "오늘 날씨 좋네요", "틀딱들 다 꺼져라"]
    assert again.score_batch(texts) == detector.score_batch(texts)


def test_lexicon_allow_list_rules() -> None:
    lex = Lexicon([("시발", "swear"), ("씨방새", "swear")], ["시발점", "씨방"])
    assert [h.term for h in lex.find("시발점")] == []
    assert [h.term for h in lex.find("씨방새")] == ["씨방새"]  # allow word is only a part
    assert [h.term for h in lex.find("시발 시발점")] == ["시발"]
    with pytest.raises(InvalidInput, match="unknown lexicon categories"):
        Lexicon([("x", "rude")], [])
    with pytest.raises(InvalidInput, match="without a category"):
        Lexicon.from_text("시발\n", "")
    with pytest.raises(InvalidInput, match="does not compile"):
        Lexicon([("re:(", "swear")], [])


def _toy_detector(bad_word: str) -> ProfanityDetector:
    """A model that only knows that the char n-grams of ``bad_word`` are bad."""
    cfg = FeatureConfig(buckets=1 << 12, lexicon_weight=0)
    w = np.zeros(cfg.buckets, np.float32)
    for size in range(1, len(bad_word) + 1):
        for i in range(len(bad_word) - size + 1):
            w[zlib.crc32(bad_word[i:i + size].encode()) % cfg.buckets] = 3.0
    weights = ModelWeights(config=cfg, idf=np.ones(cfg.buckets, np.float32), w_lr=w,
                           b_lr=-1.0, w_nb=np.zeros(cfg.buckets, np.float32), b_nb=-5.0,
                           mix=1.0, threshold=0.5)
    return ProfanityDetector(Lexicon([], []), weights)


def test_model_only_verdict_masks_the_words_that_drove_it() -> None:
    d = _toy_detector("멍게")
    result = d.score("이 멍게같은 녀석아")
    assert result.profane
    assert result.masked == "이 **** 녀석아"
    clean = d.score("오늘은 맑음")
    assert not clean.profane and clean.masked == "오늘은 맑음"


def test_prepare_hides_allowed_words_from_the_model() -> None:
    p = prepare("시발점에서", Lexicon.load())
    assert "시발" not in p.text
    assert p.hits == [] or all(h.category not in {"swear"} for h in p.hits)


messages = st.text(
    alphabet=st.sampled_from(list("시발씨병신개새끼점역ㅅㅂㅣㅏㄹㅋㅎ ㅠ"
                                  "1@.!lHtlqkf가나다오늘 \u200b")),
    max_size=50,
) | st.text(max_size=50)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_masking_only_touches_the_spans(detector: ProfanityDetector, text: str) -> None:
    d = detector
    result = d.score(text)
    assert isinstance(result, ProfanityResult)
    assert len(result.masked) == len(text)
    prev_end = 0
    for s, e in result.spans:
        assert prev_end <= s < e <= len(text)  # sorted, disjoint, in bounds, non-empty
        prev_end = e
    inside = {i for s, e in result.spans for i in range(s, e)}
    for i, (a, b) in enumerate(zip(text, result.masked, strict=True)):
        if i in inside:
            assert b == d.mask_char
        else:
            assert a == b
    if not result.profane:
        assert result.spans == [] and result.masked == text
    assert 0.0 <= result.score <= 1.0


@pytest.mark.parametrize(("text", "expected"), [
    ("기레기들아", [("기레기", "insult")]),
    ("달창 악플러", [("달창", "slur")]),
    ("ㅈ될뻔", [("ㅈ될", "swear")]),
    ("앵무새가 말을 따라해", []),  # 무새 (a slur suffix) inside an innocent word
    ("발기인 대회", []),
])
def test_lexicon_module_tiers_and_allow_list(text: str, expected: list[tuple[str, str]]) -> None:
    from nunchi.analyzers.text import lexicon

    assert lexicon.Lexicon is Lexicon  # profanity re-exports the lexicon module's class
    hits = lexicon.Lexicon.load().find(text)
    assert [(h.term, h.category) for h in hits
            if h.category in lexicon.STRONG_CATEGORIES] == expected
    if not expected:  # allow-listed words hide the weaker cue words too
        assert hits == []


EVERYDAY_CHAT = [  # none of these is in lexicon/benign_chat.txt
    "아 진짜 귀엽다ㅠㅠ",
    "귀여운 강아지다",
    "개귀엽네 진짜",
    "개웃김 ㅋㅋㅋㅋ",
    "미쳤네 이 컨트롤",
    "오늘 날씨 좋다",
]


@pytest.mark.parametrize("text", EVERYDAY_CHAT)
def test_everyday_chat_is_not_flagged(detector: ProfanityDetector, text: str) -> None:
    result = detector.score(text)
    assert not result.profane, (text, result.score)
    assert result.masked == text


def test_benign_chat_lines_are_training_negatives_only() -> None:
    from nunchi.training.text.profanity import benign_rows

    rows = benign_rows()
    assert len(rows) >= 100
    assert {label for _, label in rows} == {0}
    assert all(text and not text.startswith("#") for text, _ in rows)
