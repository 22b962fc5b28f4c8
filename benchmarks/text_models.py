"""Throughput of the text models on chat-like messages, one thread: ``run() -> dict``.

As a script it prints one JSON line: ``python -m benchmarks.text_models [N]``. Messages are
generated from a fixed seed (short Korean chat lines with slang, laughter, emoji and some
English), so the figures do not depend on any data set being present.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import importlib  # noqa: E402 - the thread limits above must be set before numpy loads
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

__all__ = ["chat_messages", "run", "throughput"]

_OPENERS = ["", "", "아 ", "와 ", "헐 ", "ㄹㅇ ", "진짜 ", "오늘 ", "근데 ", "님들 "]
_TOPICS = ["방송", "노래", "게임", "영화", "치킨", "떡볶이", "스트리머", "무대", "경기", "드라마",
           "BTS", "LOL", "신곡", "배그", "컨텐츠", "편집", "목소리", "춤", "댓글", "광고"]
_COMMENTS = ["너무 재밌다", "개웃기네", "최고다", "노잼이다", "별로네", "미쳤다", "감동이야",
             "지루하다", "짱이다", "실망이다", "좋아요", "대박", "왜 이래", "다시 보고 싶다",
             "언제 해요?", "ㅠㅠ 슬프다", "완전 꿀잼", "이건 좀 아닌듯", "레전드", "ok good"]
_TAILS = ["", "", "", " ㅋㅋㅋ", " ㅋㅋㅋㅋㅋㅋ", " ㅎㅎ", "!!", "~", " 😂", " ❤️", "...", " ?"]


def chat_messages(n: int, seed: int = 0) -> list[str]:
    """``n`` chat-like messages (about 10-25 characters), the same for the same seed."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(_OPENERS)}{rng.choice(_TOPICS)} {rng.choice(_COMMENTS)}{rng.choice(_TAILS)}"
        for _ in range(n)
    ]


def throughput(score: Callable[[Sequence[str]], object], messages: list[str], batch: int,
                repeats: int) -> float:
    """Median messages/s over ``repeats`` passes, scoring in batches of ``batch``."""
    score(messages[:batch])  # warm up (model tables, caches of the runtime)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for i in range(0, len(messages), batch):
            score(messages[i : i + batch])
        rates.append(len(messages) / (time.perf_counter() - started))
    return round(statistics.median(rates))


def run(n: int = 20_000, batch_size: int = 512, repeats: int = 3,
        keyword_messages: int = 3_000) -> dict[str, Any]:
    """Messages/s of sentiment (fast, accurate), the chat polarity layer, profanity and keywords
    on ``n`` messages.

    Keywords run on the first ``keyword_messages`` messages with the result cache off (Kiwi's
    morphological analysis is the slow part; repeated chat lines are cached in real use).
    A model that cannot be loaded is reported as ``None`` with the reason under ``errors``.
    """
    from nunchi.analyzers.text.keywords import KeywordExtractor
    from nunchi.analyzers.text.sentiment import SentimentClassifier

    messages = chat_messages(n)
    result: dict[str, Any] = {
        "benchmark": "text_models",
        "messages": n,
        "avg_chars": round(statistics.mean(len(m) for m in messages), 1),
        "batch_size": batch_size,
        "threads": 1,
    }
    errors: dict[str, str] = {}
    for variant in ("fast", "accurate"):
        key = f"sentiment_{variant}_msgs_per_s"
        try:
            model = SentimentClassifier.load(variant=variant)
            result[key] = throughput(model.predict_proba, messages, batch_size, repeats)
        except Exception as exc:  # report, keep measuring the others
            result[key] = None
            errors[key] = str(exc)
    try:
        chat_polarity = importlib.import_module("nunchi.analyzers.text.chat_polarity")
        layer = chat_polarity.ChatPolarity.load()
        result["chat_polarity_msgs_per_s"] = throughput(
            layer.predict_proba, messages, batch_size, repeats
        )
    except Exception as exc:
        result["chat_polarity_msgs_per_s"] = None
        errors["chat_polarity_msgs_per_s"] = str(exc)
    try:
        profanity = importlib.import_module("nunchi.analyzers.text.profanity")
        detector = profanity.ProfanityDetector.load()
        result["profanity_msgs_per_s"] = throughput(
            lambda texts: detector.score_batch(list(texts)), messages, batch_size, repeats
        )
    except Exception as exc:
        result["profanity_msgs_per_s"] = None
        errors["profanity_msgs_per_s"] = str(exc)
    extractor = KeywordExtractor(cache_size=0)
    result["keywords_msgs_per_s"] = throughput(
        extractor.extract_batch, messages[:keyword_messages], batch_size, 1
    )
    if errors:
        result["errors"] = errors
    return result


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps(run(count), ensure_ascii=False))
