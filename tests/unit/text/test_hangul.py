"""Hangul letters: syllables and jamo, initial consonants, the 2-beolsik keyboard, search keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text.hangul import (
    choseong,
    choseong_key,
    compose,
    compose_jamo,
    decompose,
    fold_key,
    hangul_to_keyboard,
    is_choseong_query,
    key_to_text,
    keyboard_to_hangul,
    looks_like_keyboard_korean,
    search_key,
    to_jamo,
)

syllables = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1,
                    max_size=12)


def test_decompose_and_compose_are_inverse_on_every_syllable() -> None:
    for code in range(0xAC00, 0xD7A4):
        parts = decompose(chr(code))
        assert parts is not None
        assert compose(*parts) == chr(code)


def test_decompose_gives_compatibility_jamo() -> None:
    assert decompose("값") == ("ㄱ", "ㅏ", "ㅄ")
    assert decompose("가") == ("ㄱ", "ㅏ", "")
    assert decompose("a") is None
    assert decompose("ㄱ") is None


def test_compose_rejects_what_is_not_a_syllable() -> None:
    with pytest.raises(ValueError, match="no Hangul syllable"):
        compose("ㅏ", "ㄱ")


def test_to_jamo_plain_and_split() -> None:
    assert to_jamo("김치") == "ㄱㅣㅁㅊㅣ"
    assert to_jamo("닭과 a1") == "ㄷㅏㄺㄱㅘ a1"
    assert to_jamo("닭과", split_compounds=True) == "ㄷㅏㄹㄱㄱㅗㅏ"


def test_choseong_keeps_or_drops_other_characters() -> None:
    assert choseong("김치찌개") == "ㄱㅊㅉㄱ"
    assert choseong("김치찌개 2인분") == "ㄱㅊㅉㄱ 2ㅇㅂ"
    assert choseong("김치찌개 2인분", keep_other=False) == "ㄱㅊㅉㄱㅇㅂ"
    assert choseong("ㅋㅋ버거ㅏ") == "ㅋㅋㅂㄱ"  # lone consonants stay, lone vowels go


@pytest.mark.parametrize(("text", "expected"), [
    ("ㄱㅊㅉㄱ", True), ("ㄱㅊ ㅉㄱ", True), ("ㄳ", True), ("ㄱ", True),
    ("김ㅊ", False), ("ㅏ", False), ("", False), ("  ", False), ("gc", False),
])
def test_is_choseong_query(text: str, expected: bool) -> None:
    assert is_choseong_query(text) is expected


@pytest.mark.parametrize(("keys", "hangul"), [
    ("rkdnl", "가위"),            # a final moves to the next syllable, ㅜ+ㅣ = ㅟ
    ("dkssud", "안녕"),
    ("rlacl", "김치"),
    ("rlaclWlro", "김치찌개"),    # shift: ㅉ
    ("ekfrdl", "닭이"),           # compound final ㄺ keeps ㄹ, ㄱ stays
    ("ekfrl", "달기"),            # of ㄺ only ㄱ moves
    ("dhkdl", "와이"),            # ㅗ+ㅏ = ㅘ
    ("dho", "왜"), ("dhl", "외"), ("dnjs", "원"), ("dnp", "웨"), ("dml", "의"),
    ("rkqt", "값"), ("dksg", "않"), ("dlfr", "읽"), ("sjfq", "넓"), ("rhkf", "괄"),
    ("Rk", "까"), ("Ek", "따"), ("Qk", "빠"), ("Tk", "싸"), ("Wk", "짜"), ("dO", "얘"),
    ("dP", "예"), ("rkR", "갂"), ("rkT", "갔"),
    ("qksrkqtmqslek", "반갑습니다"),
    ("dkssud 1", "안녕 1"),        # other characters are kept and end the syllable
    ("rt", "ㄱㅅ"),                # consonants alone are not made ㄳ
    ("QQ", "ㅃㅃ"),
    ("", ""),
])
def test_keyboard_to_hangul(keys: str, hangul: str) -> None:
    assert keyboard_to_hangul(keys) == hangul


def test_rlacljjrp_spells_what_its_keys_spell() -> None:
    # Typed on 2-beolsik, these keys are 김치 + ㅓㅓ + 게 (찌개 needs Wl ro).
    assert keyboard_to_hangul("rlacljjrp") == "김치ㅓㅓ게"


@pytest.mark.parametrize("text", ["김치찌개", "닭볶음탕", "왜", "값", "읽다", "과자", "쀍",
                                  "안녕하세요"])
def test_hangul_to_keyboard_round_trips(text: str) -> None:
    assert keyboard_to_hangul(hangul_to_keyboard(text)) == text


@settings(max_examples=200, deadline=None)
@given(syllables)
def test_keyboard_round_trip_on_any_syllables(text: str) -> None:
    assert keyboard_to_hangul(hangul_to_keyboard(text)) == text


def test_compose_jamo_is_what_the_keyboard_uses() -> None:
    assert compose_jamo("ㄱㅏㅇㅜㅣ") == "가위"
    assert compose_jamo("ㄱㅘ") == "과"  # compound input is accepted as its two keys


@pytest.mark.parametrize(("text", "expected"), [
    ("rlacl", True), ("dkssud", True), ("rlaclW", True), ("gksrmf dkssud", True),
    ("hello", False), ("pizza", False), ("latte", False), ("apple", False),
    ("dog", False),        # 앻 is not among the 2,350 common syllables
    ("", False), ("김치", False), ("rlacl1", False), ("123", False),
])
def test_looks_like_keyboard_korean(text: str, expected: bool) -> None:
    assert looks_like_keyboard_korean(text) is expected


def test_search_key_ignores_spacing_punctuation_and_case() -> None:
    assert search_key("김치 찌개!") == search_key("김치찌개")
    assert search_key("PIZZA (L)") == search_key("pizzal")
    assert search_key("ＡＢ") == search_key("ab")          # full-width folded by NFKC
    assert search_key("") == b"" and search_key("!! ~") == b""


def test_search_key_equals_for_keyboard_and_hangul() -> None:
    assert search_key(keyboard_to_hangul("rlaclWlro")) == search_key("김치찌개")
    assert search_key("김치ㅉ") == search_key("김치찌개")[:6]  # a word typed halfway: a prefix


def test_search_key_treats_lone_and_conjoining_jamo_as_compatibility_jamo() -> None:
    assert search_key("ㄱㅏ") == search_key("가")
    assert search_key("\u1100\u1161") == search_key("가")  # conjoining jamo
    assert choseong_key("ㄱㅊㅉㄱ") == choseong_key("김치찌개")


@pytest.mark.parametrize(("typo", "right"), [
    ("진달레", "진달래"), ("김치찌게", "김치찌개"), ("떡뽁이", "떡볶이"), ("얘기", "예기"),
])
def test_common_slips_fold_to_the_same_key(typo: str, right: str) -> None:
    assert search_key(typo) != search_key(right)
    assert fold_key(search_key(typo)) == fold_key(search_key(right))


def test_compound_letters_are_split_into_their_keys() -> None:
    # 과자 -> 가자 (a missed ㅗ) is one deletion on the key.
    assert len(search_key("과자")) == len(search_key("가자")) + 1


def test_key_to_text_spells_the_key_back() -> None:
    assert key_to_text(search_key("김치 찌개!")) == "김치찌개"
    assert key_to_text(search_key("7번가 Pizza")) == "7번가pizza"


@settings(max_examples=200, deadline=None)
@given(syllables)
def test_key_to_text_round_trips_syllables(text: str) -> None:
    assert key_to_text(search_key(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_functions_never_crash_on_any_text(text: str) -> None:
    search_key(text)
    choseong_key(text)
    choseong(text)
    hangul_to_keyboard(text)
    keyboard_to_hangul(text)
    looks_like_keyboard_korean(text)
    is_choseong_query(text)
    compose_jamo(text)
