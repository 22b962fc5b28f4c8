"""Keyword extraction with Kiwi and the sliding-window word counter."""

from __future__ import annotations

import threading

import pytest

from nunchi.analyzers.text.keywords import KeywordExtractor, SlidingWindowCounter
from nunchi.errors import InvalidInput


@pytest.fixture(scope="module")
def extractor() -> KeywordExtractor:
    return KeywordExtractor()


def test_extracts_nouns_and_latin_words_in_order(extractor: KeywordExtractor) -> None:
    words = extractor.extract("오늘 방송 진짜 재밌었어요 ㅋㅋㅋ BTS 노래 최고! 떡볶이 먹고 싶다")
    assert words == ["방송", "bts", "노래", "최고", "떡볶이"]


def test_drops_stopwords_and_single_char_nouns_unless_allowed(
    extractor: KeywordExtractor,
) -> None:
    words = extractor.extract("그 사람 것 때문에 돈 많이 벌었고 꿀 같은 휴가")
    assert "돈" in words and "꿀" in words and "휴가" in words
    assert not {"것", "사람", "때문"} & set(words)


def test_custom_stopwords_and_stems() -> None:
    custom = KeywordExtractor(stopwords=["노래"], include_stems=True)
    words = custom.extract("노래 가사 너무 좋다 재밌다")
    assert "노래" not in words
    assert "가사" in words
    assert "좋다" in words and "재밌다" in words


def test_batch_matches_single_and_keeps_order(extractor: KeywordExtractor) -> None:
    texts = ["강아지 사진 귀엽다", "", "주식 시장 폭락", "강아지 사진 귀엽다", "ㅋㅋㅋㅋ"]
    batch = extractor.extract_batch(texts)
    assert batch == [extractor.extract(t) for t in texts]
    assert batch[0] == ["강아지", "사진"]
    assert batch[1] == [] and batch[4] == []
    assert batch[2] == ["주식", "시장", "폭락"]
    batch[0].append("mutated")  # results are copies: the cache is not changed
    assert extractor.extract(texts[0]) == ["강아지", "사진"]


def test_by_word_joins_each_words_keywords_whatever_came_before() -> None:
    texts = ["강아지 사진 귀엽다 ㅋㅋㅋ", "고양이 사진", "", "ㅋㅋㅋㅋ", "주식 시장 폭락 BTS"]
    alone = KeywordExtractor(by_word=True, cache_size=0)
    expected = [[k for word in t.split() for k in alone.extract(word)] for t in texts]
    warm = KeywordExtractor(by_word=True, cache_size=64)
    warm.extract_batch(["사진 주식 고양이 폭락"])  # words already seen in another text
    assert warm.extract_batch(texts) == expected
    assert expected[0] == ["강아지", "사진"] and expected[2] == [] and expected[3] == []
    assert warm.extract_batch(texts[::-1]) == expected[::-1]
    tiny = KeywordExtractor(by_word=True, cache_size=2)  # evicting while a batch is read
    assert tiny.extract_batch(texts * 3) == expected * 3
    first = warm.extract_batch(texts)
    first[0].append("mutated")  # results are copies: the cache is not changed
    assert warm.extract_batch(texts) == expected


def test_bad_input_is_rejected(extractor: KeywordExtractor) -> None:
    with pytest.raises(InvalidInput, match="extract"):
        extractor.extract_batch("한 문장")
    with pytest.raises(InvalidInput, match="expected str"):
        extractor.extract_batch(["ok", None])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="expected str"):
        KeywordExtractor(by_word=True).extract_batch(["ok", 3])  # type: ignore[list-item]


def test_window_counts_and_expires_old_buckets() -> None:
    counter = SlidingWindowCounter(window_s=60, bucket_s=10)
    counter.add(["강아지", "고양이"], at=0.0)
    counter.add(["강아지"], at=25.0)
    counter.add(["강아지", "주식"], at=55.0)
    assert counter.top(2, now=55.0) == [("강아지", 3), ("고양이", 1)]
    # At t=65 the bucket [0, 10) has left the 60 s window.
    assert dict(counter.top(10, now=65.0)) == {"강아지": 2, "주식": 1}
    assert dict(counter.top(10, now=125.0)) == {}
    assert len(counter) == 0


def test_window_late_and_too_old_arrivals() -> None:
    counter = SlidingWindowCounter(window_s=30, bucket_s=5)
    counter.add(["a"], at=100.0)
    counter.add(["b"], at=92.0)  # late but inside the window: counted in its own bucket
    counter.add(["c"], at=60.0)  # older than the window: ignored
    assert dict(counter.top(10)) == {"a": 1, "b": 1}
    counter.add(["a"], at=119.0)  # the bucket of t=92 (90-95) is still inside
    assert dict(counter.top(10, now=119.0)) == {"a": 2, "b": 1}
    assert dict(counter.top(10, now=120.0)) == {"a": 2}  # 90-95 left; 95-100 is the oldest
    counter.add(["a"], at=130.0)
    assert dict(counter.top(10, now=130.0)) == {"a": 2}  # t=100 left the window


def test_window_rejects_bad_settings() -> None:
    with pytest.raises(InvalidInput):
        SlidingWindowCounter(window_s=0)
    with pytest.raises(InvalidInput):
        SlidingWindowCounter(window_s=10, bucket_s=20)
    with pytest.raises(InvalidInput):
        SlidingWindowCounter(window_s=10).top(-1)


def test_window_is_thread_safe() -> None:
    counter = SlidingWindowCounter(window_s=1000, bucket_s=1)

    def writer(offset: int) -> None:
        for i in range(2000):
            counter.add(["x", "y"], at=float(offset + i % 50))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert dict(counter.top(5)) == {"x": 8000, "y": 8000}
