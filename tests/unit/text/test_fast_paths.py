"""The analyzers' fast paths against the plain code they replace.

* `_ngram_crc.char_gram_crcs` against ``zlib.crc32`` of each n-gram cut one by one;
* `profanity.featurize_arrays` (numpy n-gram hashing) against the features cut and hashed
  one n-gram string at a time;
* the normaliser with its steps skipped where they have nothing to do against every step run.

Each must give exactly what the plain code gives, on generated text mixing the characters the
steps act on (jamo, look-alikes, digits, Latin, spaces, emoji, invisible marks).
"""

from __future__ import annotations

import re
import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nunchi.analyzers.text._ngram_crc import char_gram_crcs
from nunchi.analyzers.text.normalize import _default, normalize
from nunchi.analyzers.text.profanity import (
    FeatureConfig,
    Lexicon,
    LexiconHit,
    count_arrays,
    featurize_arrays,
    prepare,
)

_ALPHABET = (
    "가나다시발씨새끼개병신좆년놈팔이아우오ㅅㅂㅆㄱㅋㅎㅠㅜㅡㅣㅏㅄ"
    "8 1l0o!@#.?~ABCHTLabcsz\t\n人己口卜ｓа\u200b\u0301😀🔥é◇"
)
_TEXT = st.text(alphabet=_ALPHABET, max_size=30)
_LEXICON = Lexicon.load()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=6), st.integers(1, 3), st.integers(3, 6))
def test_char_gram_crcs_equal_zlib(texts: list[str], low: int, high: int) -> None:
    texts = [t.encode("utf-8", "ignore").decode() for t in texts]  # no lone surrogates
    rows, crcs = char_gram_crcs(texts, low, high, skip=" ")
    want = sorted(
        (r, zlib.crc32(t[i : i + n].encode()))
        for n in range(low, high + 1)
        for r, t in enumerate(texts)
        for i in range(len(t) - n + 1)
        if not (n == 1 and t[i] == " ")
    )
    assert sorted(zip(rows.tolist(), crcs.tolist(), strict=True)) == want


def _plain_features(text: str, hits: list[LexiconHit], cfg: FeatureConfig) -> dict[int, float]:
    """The features as the model card describes them, one n-gram string at a time."""
    padded = " " + text + " "
    grams = [padded[i : i + n] for n in range(cfg.char_min, cfg.char_max + 1)
             for i in range(len(padded) - n + 1)]  # fmt: skip
    grams = [g for g in grams if g != " "]
    words = re.findall(r"\S+", text)
    grams += ["\x01" + "\x02".join(words[i : i + n]) for n in range(1, cfg.word_ngrams + 1)
              for i in range(len(words) - n + 1)]  # fmt: skip
    counts: dict[int, float] = {}
    for gram in grams:
        k = zlib.crc32(gram.encode()) % cfg.buckets
        counts[k] = counts.get(k, 0.0) + 1.0
    for hit in hits:
        for key in ("\x03" + hit.category, "\x03any", "\x04" + hit.term):
            k = zlib.crc32(key.encode()) % cfg.buckets
            counts[k] = counts.get(k, 0.0) + cfg.lexicon_weight
    return counts


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_featurize_arrays_equal_the_plain_features(texts: list[str]) -> None:
    cfg = FeatureConfig()
    preps = [prepare(t, _LEXICON) for t in texts]
    rows, idx, tf = featurize_arrays([p.text for p in preps], [p.hits for p in preps], cfg)
    want_rows, want_idx, want_tf = count_arrays([_plain_features(p.text, p.hits, cfg)
                                                 for p in preps])  # fmt: skip
    got = sorted(zip(rows.tolist(), idx.tolist(), tf.tolist(), strict=True))
    want = sorted(zip(want_rows.tolist(), want_idx.tolist(), want_tf.tolist(), strict=True))
    assert got == want


def test_featurize_arrays_of_nothing() -> None:
    rows, idx, tf = featurize_arrays([], [], FeatureConfig())
    assert len(rows) == len(idx) == len(tf) == 0
    rows, _, tf = featurize_arrays([""], [[]], FeatureConfig())
    assert rows.tolist() == [0] and tf.tolist() == [1.0]  # the padded text's "  " bigram


@settings(max_examples=1000, deadline=None)
@given(_TEXT)
def test_skipped_steps_change_nothing(text: str) -> None:
    fast = _default()._run(text, skip=True)
    full = _default()._run(text, skip=False)
    assert (fast.text, fast.index, fast.ends) == (full.text, full.index, full.ends)


def test_skipped_steps_on_known_cases() -> None:
    for text, want in [
        ("시 발", "시발"),
        ("가가1가", "가가"),  # noise dropped, then the repeat folded
        ("ㅅㅂ", "시발"),
        ("tlqkf", "시발"),
        ("씨8", "씨팔"),
        ("  안녕  하세요 ", "안녕 하세요"),
        ("", ""),
    ]:
        assert normalize(text).text == want, text
    assert np.array_equal(normalize("가나").index, (0, 1))
