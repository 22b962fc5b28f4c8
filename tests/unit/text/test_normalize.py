"""The chat normaliser: every evasion it undoes, and its map back to the original text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text.normalize import (
    Normalized,
    decompose,
    hangul_to_keyboard,
    keyboard_to_hangul,
    normalize,
)

# (original, normalised word expected, original span the word maps back to)
EVASIONS = [
    ("시1발", "시발", (0, 3)),
    ("시@발", "시발", (0, 3)),
    ("시...발", "시발", (0, 5)),
    ("시 발", "시발", (0, 3)),
    ("개 새 끼", "개새끼", (0, 5)),
    ("ㅅㅣㅂㅏㄹ", "시발", (0, 5)),
    ("ㅆㅣ발", "씨발", (0, 3)),
    ("ㅅ ㅣ ㅂ ㅏ ㄹ", "시발", (0, 9)),
    ("ㅅㅂ", "시발", (0, 2)),
    ("ㅂㅅ", "병신", (0, 2)),
    ("ㅄ", "병신", (0, 1)),
    ("ㅈㄹ", "지랄", (0, 2)),
    ("tlqkf", "시발", (0, 5)),
    ("ｔｌｑｋｆ", "시발", (0, 5)),
    ("toRl", "새끼", (0, 4)),
    ("qudtls", "병신", (0, 6)),
    ("ㅅl발", "시발", (0, 3)),
    ("ㅅ1발", "시발", (0, 3)),
    ("ㅅH끼", "새끼", (0, 3)),
    ("7ㅐ새끼", "개새끼", (0, 4)),
    ("人ㅣ발", "시발", (0, 3)),
    ("시이이발", "시발", (0, 4)),
    ("씨8", "씨팔", (0, 2)),
    ("시\u200b발", "시발", (0, 3)),
    ("\u1109\u1175\u1107\u1161\u11af", "시발", (0, 5)),  # conjoining jamo
]


@pytest.mark.parametrize(("original", "word", "span"), EVASIONS)
def test_evasion_is_undone_and_maps_back(original: str, word: str, span: tuple[int, int]) -> None:
    n = normalize(original)
    assert word in n.text, n.text
    start = n.text.index(word)
    assert n.to_original(start, start + len(word)) == span


@pytest.mark.parametrize(("original", "expected"), [
    ("ㅋㅋㅋㅋㅋㅋ", "ㅋㅋ"),
    ("와!!!!!!", "와!!"),
    ("아  니   야", "아니야"),
    ("진짜    좋다", "진짜 좋다"),
])
def test_repeats_and_spaces_fold(original: str, expected: str) -> None:
    assert normalize(original).text == expected


def test_evasion_inside_a_sentence_maps_to_the_right_characters() -> None:
    text = "아 진짜 ㅅ.ㅣ.ㅂ.ㅏ.ㄹ 왜 그래"
    n = normalize(text)
    start = n.text.index("시발")
    s, e = n.to_original(start, start + 2)
    assert text[s:e] == "ㅅ.ㅣ.ㅂ.ㅏ.ㄹ"


@pytest.mark.parametrize("text", [
    "안녕하세요 반갑습니다",
    "hello world",
    "the dog is ok",
    "좋아ㅠㅠ",
    "ㅋㅋ! 진짜",
    "ㅇㅇ 알았어",
    "2024년 3월",
])
def test_clean_text_keeps_its_letters(text: str) -> None:
    assert normalize(text).text == text.lower()


def test_english_is_not_read_as_korean_keyboard() -> None:
    # "dog" would type 앻 on a Korean keyboard; only words that spell a curse are converted.
    assert normalize("dog").text == "dog"
    assert normalize("I said tlqkf").text == "i said 시발"


def test_homoglyphs_and_full_width_letters_fold_to_latin() -> None:
    assert normalize("fuсk").text == "fuck"  # Cyrillic с
    assert normalize("ＦＵＣＫ").text == "fuck"


def test_keyboard_helpers_round_trip() -> None:
    assert hangul_to_keyboard("개새끼") == "rotoRl"
    assert keyboard_to_hangul("rotoRl") == "개새끼"
    assert keyboard_to_hangul("xxx") is None  # ㅌㅌㅌ spells no syllable
    assert decompose("시발") == "ㅅㅣㅂㅏㄹ"


def test_to_original_rejects_spans_outside_the_text() -> None:
    n = normalize("시발")
    with pytest.raises(ValueError, match="outside"):
        n.to_original(0, 5)
    assert n.to_original(2, 2) == (2, 2)


def test_empty_text() -> None:
    assert normalize("") == Normalized("", (), (), "")
    assert normalize("   ").text == ""


def test_non_text_is_rejected() -> None:
    with pytest.raises(TypeError, match="str"):
        normalize(123)  # type: ignore[arg-type]


chat_text = st.text(
    alphabet=st.sampled_from(list("시발씨병신개새끼ㅅㅂㅣㅏㄹㅋㅎㅇ ㅠ"
                                  "1@.!lHoO7tlqkf가나다 \u200b")),
    max_size=40,
) | st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(chat_text)
def test_index_maps_every_normalised_char_into_the_original(text: str) -> None:
    n = normalize(text)
    assert len(n.index) == len(n.ends) == len(n.text)
    assert n.original == text
    for s, e in zip(n.index, n.ends, strict=True):
        assert 0 <= s < e <= len(text)
    assert list(n.index) == sorted(n.index)
    if n.text:
        s, e = n.to_original(0, len(n.text))
        assert 0 <= s <= e <= len(text)
