"""Latency, build time and memory of `FuzzyIndex` (typo-tolerant Korean catalog search).

``run() -> dict``; as a script it prints one JSON line:
``python -m benchmarks.search_index [--generated N] [--queries Q] [--food CSV] [--skip-food]``.

Two catalogs:

* **food**: the 12,242 dishes of ``../shared/data/nutrition/mfds_dishes_2023-12-27.csv``
  (식품명 as name 1.0, 업체명 as maker 0.6 unless 해당없음, 대표식품명 0.5, 식품대분류명 0.4);
  skipped when the file is absent;
* **generated**: N (default 1,000,000) item names made from food and plant pieces with a
  fixed seed (``제주 유기농 매콤한 김치찌개 2인분``, ``수제 라벤더 화분 (소)``), a maker out of
  3,000 and a category out of the suffix kinds.

The query mix is fixed by seeds: ``Q`` source items per catalog, and for each one query of
each class: **keyword** (the whole name, or one word of it), **fuzzy** (the name with one or two
random jamo edits: a ㅐ/ㅔ or tense/plain swap, another jamo, a jamo dropped or added),
**choseong** (initial consonants of a word of two or more syllables) and **keyboard** (a word
as typed with the keyboard in English mode). Each query runs once, on one thread pinned to one
CPU where the OS allows, after a warm-up; p50/p99 in milliseconds. ``hit_at_10`` is the share
of queries with a relevant item among the first ten results: one whose name contains the
source name (keyword, fuzzy) or the source word (keyword, choseong, keyboard).
Memory: the index arrays (``index_mib``) and the process's resident-set growth over the build
(``rss_growth_mib``, which also holds the Python objects of the source list).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - the thread limits above must be set before numpy loads
import csv  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from nunchi.analyzers.text.fuzzy import FuzzyIndex, Text  # noqa: E402
from nunchi.analyzers.text.hangul import (  # noqa: E402
    choseong,
    compose_jamo,
    hangul_to_keyboard,
    is_syllable,
    to_jamo,
)

__all__ = ["FOOD_CSV", "food_items", "generated_items", "query_mix", "run", "typo"]

FOOD_CSV = Path("../shared/data/nutrition/mfds_dishes_2023-12-27.csv")
"""Where the food table is, relative to the checkout (the working directory)."""
Item = tuple[int, list[Text]]

_ORIGINS = ["", "", "", "국산", "제주", "유기농", "강원", "전남", "청송", "무농약", "햇", "수제",
            "할매", "옛날", "궁중", "시골", "전통", "프리미엄", "산지직송"]
_STYLES = ["", "", "매콤한", "달콤한", "고소한", "얼큰한", "담백한", "바삭한", "촉촉한", "진한",
           "순한", "새콤달콤", "마늘", "간장", "고추장", "된장", "치즈", "버터", "크림", "로제",
           "숯불", "훈제", "꿀", "생"]
_BASES = ["김치", "된장", "고추", "떡", "만두", "국수", "냉면", "불고기", "갈비", "삼겹살", "닭",
          "오리", "전복", "새우", "오징어", "낙지", "고등어", "갈치", "조기", "두부", "감자",
          "고구마", "호박", "버섯", "시금치", "콩나물", "미역", "쌀", "보리", "현미", "귀리",
          "사과", "배", "감", "귤", "딸기", "포도", "복숭아", "자두", "매실", "유자", "모과",
          "대추", "밤", "호두", "잣", "녹차", "홍삼", "인삼", "더덕", "도라지", "연근", "우엉",
          "양파", "마늘쫑", "깻잎", "상추", "진달래", "개나리", "철쭉", "무궁화", "장미", "국화",
          "백합", "튤립", "라벤더", "로즈마리", "바질", "민트", "선인장", "다육이", "몬스테라",
          "고무나무", "소나무", "단풍나무", "은행나무", "벚나무", "동백", "수국", "해바라기",
          "코스모스", "안개꽃", "제라늄", "베고니아", "산세베리아", "스투키", "금전수", "행운목",
          "올리브", "블루베리", "아보카도", "망고", "키위", "레몬", "자몽", "꽃게", "가리비",
          "떡볶이", "순대", "어묵", "족발", "보쌈", "곱창"]
_SUFFIXES = {
    "찌개 및 전골류": ["찌개", "전골", "탕", "국"],
    "볶음 및 조림류": ["볶음", "조림", "구이", "찜"],
    "반찬류": ["무침", "전", "튀김", "장아찌", "절임"],
    "밥 및 죽류": ["죽", "덮밥", "김밥", "비빔밥"],
    "면류": ["국수", "라면", "파스타", "우동"],
    "빵 및 과자류": ["빵", "케이크", "쿠키", "피자", "버거"],
    "음료 및 차류": ["주스", "라떼", "스무디", "차", "에이드"],
    "장 및 양념류": ["청", "잼", "즙", "소스"],
    "원예류": ["화분", "모종", "묘목", "씨앗", "구근", "꽃다발", "분재"],
}
_VARIANTS = ["", "", "", " (대)", " (소)", " 1kg", " 500g", " 2인분", " 세트", " 골드", " 스페셜",
             " 미니", " (L)", " (M)", " plus", " 3개입"]
_MAKER_HEADS = ["한", "대", "신", "참", "푸른", "새", "우리", "바른", "정", "해", "달", "솔", "봄",
                "들", "산", "강", "늘", "온", "맑은", "참된"]
_MAKER_MIDS = ["솔", "빛", "들", "마루", "누리", "가온", "다솜", "하늘", "바다", "나래", "미소",
               "보람", "한결", "새봄", "이슬"]
_MAKER_TAILS = ["식품", "농원", "푸드", "가든", "농장", "베이커리", "상회", "식당", "플라워",
                "화원", "F&B", "팜"]
_NEAR = {"ㅐ": "ㅔ", "ㅔ": "ㅐ", "ㅒ": "ㅖ", "ㅖ": "ㅒ", "ㄱ": "ㄲ", "ㄲ": "ㄱ", "ㄷ": "ㄸ",
         "ㄸ": "ㄷ", "ㅂ": "ㅃ", "ㅃ": "ㅂ", "ㅅ": "ㅆ", "ㅆ": "ㅅ", "ㅈ": "ㅉ", "ㅉ": "ㅈ"}
_JAMO = "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎㅏㅓㅗㅜㅡㅣㅐㅔㅑㅕ"
_WORD_SPLIT = re.compile(r"[\s_()/&·ㆍ,]+")


def food_items(path: Path = FOOD_CSV) -> list[Item]:
    """The dishes of the MFDS food table as items (id = row number)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    items: list[Item] = []
    for i, r in enumerate(rows):
        texts: list[Text] = [(r["식품명"], 1.0)]
        if r["업체명"] and r["업체명"] != "해당없음":
            texts.append((r["업체명"], 0.6))
        texts += [(r["대표식품명"], 0.5), (r["식품대분류명"], 0.4)]
        items.append((i, texts))
    return items


def generated_items(n: int, seed: int = 0) -> list[Item]:
    """``n`` plausible food and plant catalog items, the same for the same seed."""
    rng = random.Random(seed)
    makers = [f"{rng.choice(_MAKER_HEADS)}{rng.choice(_MAKER_MIDS)}{rng.choice(_MAKER_TAILS)}"
              for _ in range(3000)]
    kinds = list(_SUFFIXES)
    items: list[Item] = []
    for i in range(n):
        kind = rng.choice(kinds)
        words = [rng.choice(_ORIGINS), rng.choice(_STYLES),
                 rng.choice(_BASES) + rng.choice(_SUFFIXES[kind])]
        name = " ".join(w for w in words if w) + rng.choice(_VARIANTS)
        items.append((i, [(name, 1.0), (rng.choice(makers), 0.6), (kind, 0.4)]))
    return items


def typo(text: str, rng: random.Random, edits: int = 1) -> str:
    """``text`` with ``edits`` random jamo edits (near swap, other jamo, drop, add)."""
    jamo = list(to_jamo(text, split_compounds=True))
    for _ in range(edits):
        spots = [i for i, c in enumerate(jamo) if "ㄱ" <= c <= "ㅣ"]
        if not spots:
            break
        i = rng.choice(spots)
        roll = rng.random()
        if roll < 0.5 and jamo[i] in _NEAR:
            jamo[i] = _NEAR[jamo[i]]
        elif roll < 0.75:
            jamo[i] = rng.choice(_JAMO)
        elif roll < 0.88 and len(spots) > 4:
            del jamo[i]
        else:
            jamo.insert(i, rng.choice(_JAMO))
    return compose_jamo("".join(jamo))


def _words(name: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(name) if sum(map(is_syllable, w)) >= 2]


def query_mix(items: Sequence[Item], count: int, seed: int = 42
              ) -> dict[str, list[tuple[str, str]]]:
    """``count`` (query, expected) pairs per class, from seeded source items: a result is
    relevant when its name contains ``expected`` (the source name for keyword and fuzzy
    queries made of the whole name, else the word the query was made from)."""
    rng = random.Random(seed)
    mix: dict[str, list[tuple[str, str]]] = {"keyword": [], "fuzzy": [], "choseong": [],
                                              "keyboard": []}
    while len(mix["keyword"]) < count:
        name = str(items[rng.randrange(len(items))][1][0][0])
        words = _words(name)
        if not words:
            continue
        word = rng.choice(words)
        keyword = name if rng.random() < 0.5 else word
        mix["keyword"].append((keyword, keyword))
        mix["fuzzy"].append((typo(name, rng, rng.choice((1, 1, 2))), name))
        mix["choseong"].append((choseong(word, keep_other=False), word))
        mix["keyboard"].append((hangul_to_keyboard(word), word))
    return mix


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _measure(items: list[Item], queries: int) -> dict[str, Any]:
    names = {i: str(texts[0][0]) for i, texts in items}
    mix = query_mix(items, queries)
    gc.collect()
    rss0 = _rss_mib()
    started = time.perf_counter()
    index = FuzzyIndex.build(items)
    build_s = time.perf_counter() - started
    gc.collect()
    out: dict[str, Any] = {
        "items": len(items), "texts": sum(len(t) for _, t in items),
        "build_s": round(build_s, 2), "index_mib": round(index.nbytes / 2**20, 1),
        "rss_growth_mib": round(_rss_mib() - rss0, 1),
    }
    for q, _ in mix["keyword"][:20]:
        index.search(q)
    for kind, pairs in mix.items():
        times, hits = [], 0
        for q, source in pairs:
            t0 = time.perf_counter()
            found = index.search(q, 10)
            times.append((time.perf_counter() - t0) * 1000)
            hits += any(source in names[h.item_id] for h in found)
        out[kind] = {"p50_ms": _percentile(times, 0.5), "p99_ms": _percentile(times, 0.99),
                     "max_ms": round(max(times), 2), "hit_at_10": round(hits / len(pairs), 3)}
    return out


def _pin_one_cpu() -> int | None:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def run(generated: int = 1_000_000, queries: int = 200, food: Path | None = FOOD_CSV,
        progress: Callable[[str], None] | None = None, pin_cpu: bool = False
        ) -> dict[str, Any]:
    """Figures for the food catalog (when ``food`` is a file) and a generated one.

    ``pin_cpu`` pins this process to one CPU for good (the script does; a caller that goes
    on with other work should not)."""
    from benchmarks.pipeline import machine_info

    result: dict[str, Any] = {"benchmark": "search_index", "machine": machine_info(),
                              "pinned_cpu": _pin_one_cpu() if pin_cpu else None,
                              "queries_per_class": queries}
    if food is not None and food.is_file():
        if progress:
            progress("food")
        result["food"] = _measure(food_items(food), queries)
    else:
        result["food"] = None
    if generated:
        if progress:
            progress("generated")
        result["generated"] = _measure(generated_items(generated), queries)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """Print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--food", type=Path, default=FOOD_CSV,
                        help="the MFDS dishes CSV (default: %(default)s)")
    parser.add_argument("--skip-food", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.generated, args.queries, None if args.skip_food else args.food,
                 pin_cpu=True)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
