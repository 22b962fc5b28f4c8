"""Build the synthetic sample recorded chat of the live chat guard app (JSON lines, gzip).

``python -m nunchi.training.chat.sample_chat --out FILE --seed N [--data DIR] [--minutes M]``

A made-up Korean live stream of ``minutes`` (17 by default) from three kinds of lines: short
NSMC reviews that read like chat (CC0), short lines of the curse data (MIT; its profane ones
are what the swearing authors say), and the project's own labelled chat lines
(``data/chat_sentiment*.tsv``). One JSON object a line, in time order::

    {"offset_ms", "message_id", "author_id", "author_name", "text",
     "kind": "chat"|"donation"|"subscription"|"system", "amount": int|null, "badges": [...]}

The story: a continuous chat at a varying rate (a slow swell, reaction bursts of 10-30
msgs/s, never below about 2 msgs/s), ~200 authors whose activity has a long tail, a handful
of authors who swear again and again, a few donations and subscriptions, and a negative spike
(the stream lags and the streamer keeps losing) from 56% to 74% of the way, where the negative
share is several times the baseline and the rate is higher; a moderator turns slow mode on and
mutes the worst offender. The same ``seed`` and inputs give the same bytes. Prints one JSON
line of statistics.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nunchi.errors import InvalidInput, NotFound
from nunchi.training.text.chat_data import DEFAULT_PATH, FRESH_PATH, read_chat_rows
from nunchi.training.text.data import read_labelled

__all__ = ["SPIKE", "SampleChat", "build", "load_pools", "main", "write"]

SPIKE = (0.56, 0.74)
"""Where the negative spike lies, as fractions of the duration (ramps of 20 s each side)."""
POOLS = ("own_pos", "own_neu", "own_neg", "nsmc_pos", "nsmc_neg", "curse_clean", "curse_profane")
_BASELINE = (0.38, 0.33, 0.04, 0.155, 0.03, 0.05, 0.015)
_SPIKE_MIX = (0.06, 0.12, 0.36, 0.03, 0.20, 0.11, 0.12)
_REVIEW_WORDS = re.compile(
    r"영화|감독|배우|연기|스토리|평점|작품|극장|개봉|관람|시나리오|주인공|결말|원작|별점|드라마|"
    r"애니|속편|점수|각본|연출|시리즈|캐스팅|엔딩|ost|다큐|장면|만화|더빙|남주|여주|배역|관객|"
    r"상영|개연성|영환|\d|http|www",
    re.IGNORECASE,
)
_HAPPY_BURSTS = ("ㅋㅋㅋㅋ", "ㅋㅋㅋㅋㅋㅋㅋ", "나이스!!", "ㄷㄷㄷ", "와", "미쳤다",
                 "ㅋㅋㅋ 개웃겨", "GG", "👏👏", "대박", "ㅋㅋㅋㅋㅋㅋ 아", "오오오")
_ANGRY_BURSTS = ("ㅡㅡ", "렉", "렉 뭐야", "또 끊김", "노잼", "아 ㅋㅋ 또 졌네", "화면 멈춤", "ㅠㅠ",
                 "에휴", "버퍼링 ㅡㅡ", "아 진짜")
_NAME_HEADS = ("딸기", "고양이", "겜돌이", "치킨", "새벽", "별빛", "감자", "호랑이", "라면", "구름",
               "초코", "바람", "민트", "달빛", "야식", "햄찌", "토끼", "너구리", "펭귄", "붕어빵",
               "coffee", "night", "pixel", "lucky", "moon")
_NAME_TAILS = ("러버", "왕", "맨", "덕후", "장인", "요정", "대장", "짱", "님", "123", "99", "_kr",
               "07", "냥", "쓰", "_", "2")
_DONATION_TEXT = re.compile(r"후원|응원|감사|고마|화이팅|수고|고생|커피|치킨")
_NOT_DONATION = re.compile(r"구독|별풍선|치즈|팔로우|좋아요")  # other platform events
_AMOUNTS = (1000, 1000, 2000, 3000, 5000, 5000, 10000, 10000, 20000, 50000)


@dataclass
class SampleChat:
    """The generated messages (dicts in output order) and the generator's own statistics."""

    messages: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)


def load_pools(data: Path, chat_files: Sequence[Path] = (DEFAULT_PATH, FRESH_PATH)
               ) -> dict[str, list[str]]:
    """The line pools: short chat-like NSMC reviews, short curse lines, the project's lines."""
    nsmc, curse = data / "nsmc" / "train.tsv", data / "curse" / "train.txt"
    for path in (nsmc, curse):
        if not path.is_file():
            raise NotFound(f"{path} not found: point --data at shared/data")
    pools: dict[str, list[str]] = {name: [] for name in POOLS}
    for text, label in read_labelled(nsmc):
        text = " ".join(text.split())
        if 2 <= len(text) <= 28 and not _REVIEW_WORDS.search(text):
            pools["nsmc_pos" if label else "nsmc_neg"].append(text)
    for text, label in read_labelled(curse, fmt="pipe"):
        text = " ".join(text.split())
        if label and 4 <= len(text) <= 40:
            pools["curse_profane"].append(text)
        elif not label and 3 <= len(text) <= 30:
            pools["curse_clean"].append(text)
    own = {"positive": "own_pos", "neutral": "own_neu", "negative": "own_neg"}
    for path in chat_files:
        for row in read_chat_rows(path):
            pools[own[row.label]].append(row.text)
    empty = [name for name, lines in pools.items() if not lines]
    if empty:
        raise InvalidInput(f"no usable lines for {', '.join(empty)} under {data}")
    return pools


_Burst = tuple[float, float, bool]
"""Start and end (s) of a reaction burst, and whether it is an angry one (in the spike)."""


def _rate(t: np.ndarray, duration: float,
          rng: np.random.Generator) -> tuple[np.ndarray, list[_Burst]]:
    """Messages/s per 100 ms bin (a swell, bursts, more in the spike) and the bursts."""
    base = 6.0 * (1 + 0.35 * np.sin(2 * np.pi * t / 240.0) + 0.15 * np.sin(2 * np.pi * t / 57.0))
    spike = _spike_weight(t, duration)
    rate = base * (1 + 0.6 * spike)
    bursts: list[_Burst] = []
    start = float(rng.exponential(45.0))
    while start < duration - 5:
        length = float(rng.uniform(4.0, 14.0))
        extra = float(rng.uniform(8.0, 20.0))
        inside = (t >= start) & (t < start + length)
        rate[inside] += extra
        angry = bool(_spike_weight(np.array([start]), duration)[0] > 0.5)
        bursts.append((start, start + length, angry))
        start += length + float(rng.exponential(55.0))
    return np.clip(rate, 2.0, 30.0), bursts


def _spike_weight(t: np.ndarray, duration: float, ramp: float = 20.0) -> np.ndarray:
    """0 outside the spike, 1 inside, linear ramps of ``ramp`` seconds."""
    lo, hi = SPIKE[0] * duration, SPIKE[1] * duration
    up = np.clip((t - lo) / ramp + 0.5, 0.0, 1.0)
    down = np.clip((hi - t) / ramp + 0.5, 0.0, 1.0)
    return np.asarray(np.minimum(up, down), dtype=np.float64)


@dataclass
class _Author:
    author_id: str
    name: str
    weight: float
    joins: float
    leaves: float
    badges: set[str]


def _authors(n: int, duration: float, rng: np.random.Generator) -> list[_Author]:
    names: set[str] = set()
    out: list[_Author] = []
    while len(out) < n:
        name = str(rng.choice(_NAME_HEADS)) + str(rng.choice(_NAME_TAILS))
        if rng.random() < 0.3:
            name += str(int(rng.integers(1, 1000)))
        if name in names:
            continue
        names.add(name)
        rank = len(out)
        joins = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 0.8 * duration))
        leaves = duration if rng.random() < 0.7 else joins + float(rng.uniform(0.25, 1) * duration)
        badges = {"subscriber"} if rng.random() < 0.3 else set()
        if rank in (1, 6, 30):
            badges.add("moderator")
        elif rng.random() < 0.04:
            badges.add("vip")
        author_id = "u" + "".join(f"{b:02x}" for b in rng.integers(0, 256, 4))
        weight = (rank + 50) ** -2.0 * (0.15 if rng.random() < 0.3 else 1.0)  # 30% lurk
        out.append(_Author(author_id, name, weight, joins, leaves, badges))
    return out


def _vary(text: str, rng: np.random.Generator) -> str:
    """Small typing variations: a longer laugh, a trailing ㅋㅋ or emoji."""
    roll = rng.random()
    if roll < 0.10:
        return text + " " + "ㅋ" * int(rng.integers(2, 8))
    if roll < 0.14:
        return text + " " + str(rng.choice(("😂", "👍", "🔥", "ㅎㅎ", "~~")))
    return text


def build(pools: dict[str, list[str]], *, seed: int = 0, minutes: float = 17.0,
          n_authors: int = 200, n_offenders: int = 5) -> SampleChat:
    """Generate the sample chat in memory (deterministic for ``seed`` and the pools)."""
    if minutes < 2 or n_authors < n_offenders + 10:
        raise InvalidInput("need at least 2 minutes and more authors than offenders + 10")
    rng = np.random.default_rng(seed)
    duration = minutes * 60.0
    bins = np.arange(0.0, duration, 0.1)
    rate, bursts = _rate(bins, duration, rng)
    counts = rng.poisson(rate * 0.1)
    times = np.sort(np.repeat(bins, counts) + rng.uniform(0, 0.1, int(counts.sum())))
    authors = _authors(n_authors, duration, rng)
    order = rng.permutation(np.arange(4, min(n_authors, 80)))
    offenders = [authors[int(i)] for i in order[:n_offenders]]
    general = [a for a in authors if a not in offenders]
    weights = np.array([a.weight for a in general])
    joins = np.array([a.joins for a in general])
    leaves = np.array([a.leaves for a in general])
    spike = _spike_weight(times, duration)
    mix = np.outer(1 - spike, _BASELINE) + np.outer(spike, _SPIKE_MIX)
    raw: list[tuple[float, _Author, str, str, int | None]] = []
    for t, w, probs in zip(times.tolist(), spike.tolist(), mix, strict=True):
        burst = next((b for b in bursts if b[0] <= t < b[1]), None)
        if rng.random() < 0.015 + 0.065 * w:
            author = offenders[int(rng.integers(len(offenders)))]
            pool = "curse_profane" if rng.random() < 0.55 + 0.3 * w else "own_neg"
            raw.append((t, author, "chat", str(rng.choice(pools[pool])), None))
            continue
        active = weights * ((joins <= t) & (leaves > t))
        author = general[int(rng.choice(len(general), p=active / active.sum()))]
        if burst is not None and rng.random() < 0.5:
            text = str(rng.choice(_ANGRY_BURSTS if burst[2] else _HAPPY_BURSTS))
        else:
            pool = POOLS[int(rng.choice(len(POOLS), p=probs / probs.sum()))]
            text = str(rng.choice(pools[pool]))
            if pool in ("own_pos", "own_neu", "nsmc_pos"):
                text = _vary(text, rng)
        raw.append((t, author, "chat", text, None))
    raw += _events(rng, duration, general, pools)
    raw.sort(key=lambda item: item[0])
    return _finish(raw, duration, offenders, rng)


def _events(rng: np.random.Generator, duration: float, authors: list[_Author],
            pools: dict[str, list[str]]) -> list[tuple[float, _Author, str, str, int | None]]:
    """Donations and subscriptions, spread over the stream (mostly outside the spike)."""
    thanks = [t for t in pools["own_pos"]
              if _DONATION_TEXT.search(t) and not _NOT_DONATION.search(t)] or pools["own_pos"]
    events: list[tuple[float, _Author, str, str, int | None]] = []
    regulars = authors[:60]
    for i in range(8):
        t = duration * (0.04 + 0.92 * (i + float(rng.uniform(0.1, 0.9))) / 8)
        author = regulars[int(rng.integers(len(regulars)))]
        amount = int(rng.choice(_AMOUNTS))
        events.append((t, author, "donation", str(rng.choice(thanks)), amount))
    for i in range(6):
        t = duration * (0.06 + 0.88 * (i + float(rng.uniform(0.1, 0.9))) / 6)
        author = authors[int(rng.integers(len(authors)))]
        months = int(rng.choice((1, 1, 2, 3, 6, 12, 24)))
        text = "구독 시작했어요!" if months == 1 else f"{months}개월째 구독 중이에요 ㅎㅎ"
        events.append((t, author, "subscription", text, None))
    return events


def _finish(raw: list[tuple[float, _Author, str, str, int | None]], duration: float,
            offenders: list[_Author], rng: np.random.Generator) -> SampleChat:
    """System notices, slow mode and the mute applied; ids, badges and offsets assigned."""
    lo, hi = SPIKE[0] * duration, SPIKE[1] * duration
    said = Counter(a.author_id for t, a, _, _, _ in raw if a in offenders and t < lo + 100)
    worst = max(offenders, key=lambda a: (said[a.author_id], a.author_id))
    system = _Author("system", "시스템", 0.0, 0.0, duration, set())
    notices = [
        (0.4, "채팅방에 오신 것을 환영합니다. 욕설과 비방은 제재될 수 있어요."),
        (lo + 70, "슬로우 모드가 켜졌습니다 (3초)"),
        (lo + 100, f"{worst.name}님이 매니저에 의해 10분간 채팅이 금지되었습니다"),
        (hi + 30, "슬로우 모드가 꺼졌습니다"),
    ]
    raw = raw + [(t, system, "system", text, None) for t, text in notices]
    raw.sort(key=lambda item: (item[0], item[2] != "system"))
    messages: list[dict[str, Any]] = []
    last_said: dict[str, float] = {}
    last_ms = -1
    for t, author, kind, text, amount in raw:
        if kind == "chat":
            if author is worst and lo + 100 <= t < lo + 700:
                continue  # muted
            if lo + 70 <= t < hi + 30 and t - last_said.get(author.author_id, -9.0) < 3.0:
                continue  # slow mode: one message per 3 s per author
            last_said[author.author_id] = t
        if kind == "subscription":
            author.badges.add("subscriber")
        offset = max(int(t * 1000), last_ms + 1)
        last_ms = offset
        messages.append({
            "offset_ms": offset, "message_id": f"m{len(messages) + 1:06d}",
            "author_id": author.author_id, "author_name": author.name, "text": text,
            "kind": kind, "amount": amount, "badges": sorted(author.badges),
        })
    return SampleChat(messages, _stats(messages, duration, offenders))


def _stats(messages: list[dict[str, Any]], duration: float,
           offenders: list[_Author]) -> dict[str, Any]:
    chat = [m for m in messages if m["kind"] == "chat"]
    per_author = Counter(m["author_id"] for m in chat)
    per_second = np.bincount([m["offset_ms"] // 1000 for m in chat], minlength=int(duration))
    top = sorted(per_author.values(), reverse=True)
    gaps = np.diff([m["offset_ms"] for m in messages])
    return {
        "messages": len(messages), "chat": len(chat), "duration_s": round(duration),
        "kinds": dict(Counter(m["kind"] for m in messages)),
        "authors": len(per_author), "top_author_share": round(top[0] / len(chat), 4),
        "top_10pct_share": round(sum(top[: max(1, len(top) // 10)]) / len(chat), 4),
        "authors_with_le_5_messages": sum(1 for c in top if c <= 5),
        "msgs_per_s": {"min": int(per_second.min()), "median": float(np.median(per_second)),
                       "max": int(per_second.max()), "mean": round(len(chat) / duration, 2)},
        "max_gap_ms": int(gaps.max()) if gaps.size else 0,
        "offenders": {a.name: per_author[a.author_id] for a in offenders},
        "spike_s": [round(SPIKE[0] * duration), round(SPIKE[1] * duration)],
    }


def write(sample: SampleChat, out: Path) -> int:
    """Write JSON lines (gzip when ``out`` ends in ``.gz``, with a fixed header); bytes written."""
    body = "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in sample.messages).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as z:
            z.write(body)
        body = buffer.getvalue()
    out.write_bytes(body)
    return len(body)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--out FILE --seed N [--data DIR] [--minutes M]``."""
    parser = argparse.ArgumentParser(description="Build the synthetic sample recorded chat.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--minutes", type=float, default=17.0)
    args = parser.parse_args(argv)
    sample = build(load_pools(args.data), seed=args.seed, minutes=args.minutes)
    size = write(sample, args.out)
    print(json.dumps({**sample.stats, "out": str(args.out), "bytes": size}, ensure_ascii=False))


if __name__ == "__main__":
    main()
