"""The committed sample recorded chat and its generator (make_sample_chat)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nunchi
from nunchi.analyzers.text.chat_polarity import ChatPolarity
from nunchi.analyzers.text.profanity import ProfanityDetector
from nunchi.errors import NotFound
from nunchi.training.chat.sample_chat import SPIKE, build, load_pools, write
from tests.fixtures.services import require_service

SAMPLE = Path(nunchi.__file__).resolve().parent / "apps" / "chat" / "data" / "sample_chat.jsonl.gz"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FIELDS = ["offset_ms", "message_id", "author_id", "author_name", "text", "kind", "amount",
          "badges"]
KINDS = {"chat", "donation", "subscription", "system"}
BADGES = {"subscriber", "moderator", "vip"}


def _read(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def messages() -> list[dict[str, Any]]:
    return _read(SAMPLE)


@pytest.fixture(scope="module")
def chat(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["kind"] == "chat"]


def test_the_sample_is_small_and_every_line_has_the_fields(
        messages: list[dict[str, Any]]) -> None:
    assert SAMPLE.stat().st_size < 2_000_000
    assert len(messages) > 5000
    for m in messages:
        assert list(m) == FIELDS
        assert isinstance(m["offset_ms"], int) and isinstance(m["text"], str) and m["text"]
        assert m["kind"] in KINDS
        assert (m["author_id"] == "system") == (m["kind"] == "system")
        if m["kind"] == "donation":
            assert isinstance(m["amount"], int) and m["amount"] >= 1000
        else:
            assert m["amount"] is None
        assert m["badges"] == sorted(m["badges"]) and set(m["badges"]) <= BADGES
    assert len({m["message_id"] for m in messages}) == len(messages)


def test_offsets_increase_and_the_chat_never_goes_quiet(messages: list[dict[str, Any]]) -> None:
    offsets = np.array([m["offset_ms"] for m in messages])
    assert offsets[0] >= 0 and np.all(np.diff(offsets) > 0)
    assert 15 * 60_000 <= offsets[-1] <= 20 * 60_000
    assert np.diff(offsets).max() < 5000
    per_10s = np.bincount(offsets // 10_000) / 10
    assert per_10s.min() >= 1.5 and per_10s.max() <= 35  # 2.8 and 26.1 msgs/s measured
    assert per_10s.max() >= 3 * np.median(per_10s)  # bursts


def test_authors_have_a_long_tail(chat: list[dict[str, Any]]) -> None:
    counts = sorted(Counter(m["author_id"] for m in chat).values(), reverse=True)
    assert 150 <= len(counts) <= 250
    assert counts[0] / len(chat) < 0.10
    assert sum(counts[: len(counts) // 10]) / len(chat) >= 0.30
    assert sum(1 for c in counts if c <= 5) >= 20


def test_a_few_authors_swear_again_and_again(chat: list[dict[str, Any]]) -> None:
    flagged = ProfanityDetector.load().score_batch([m["text"] for m in chat])
    per_author = Counter(m["author_id"] for m, r in zip(chat, flagged, strict=True) if r.profane)
    repeat = [a for a, c in per_author.items() if c >= 20]
    assert 3 <= len(repeat) <= 8


def test_donations_and_subscriptions(messages: list[dict[str, Any]]) -> None:
    kinds = Counter(m["kind"] for m in messages)
    assert kinds["donation"] >= 2 and kinds["subscription"] >= 2 and kinds["system"] >= 1
    for sub in (m for m in messages if m["kind"] == "subscription"):
        later = [m for m in messages
                 if m["author_id"] == sub["author_id"] and m["offset_ms"] >= sub["offset_ms"]]
        assert all("subscriber" in m["badges"] for m in later)


def test_a_negative_spike_of_a_few_minutes(chat: list[dict[str, Any]]) -> None:
    labels = np.array([r.label for r in ChatPolarity.load().score_batch([m["text"] for m in chat])])
    minute = np.array([m["offset_ms"] // 60_000 for m in chat])
    share = np.array([np.mean(labels[minute == k] == "negative") for k in range(minute.max() + 1)])
    volume = np.bincount(minute)
    baseline = float(np.median(share))
    peak = int(np.argmax(share))
    assert share[peak] >= 2.5 * baseline  # measured 0.77 against about 0.22
    assert volume[peak] >= 300
    high = np.flatnonzero(share >= 2 * baseline)
    assert high.size >= 2 and np.all(np.diff(high) == 1)  # one spike, at least 2 minutes
    duration_min = (chat[-1]["offset_ms"] + 1) / 60_000
    assert SPIKE[0] * duration_min - 1 <= high[0] and high[-1] <= SPIKE[1] * duration_min + 1


def _tiny_data(root: Path) -> Path:
    (root / "nsmc").mkdir(parents=True)
    (root / "curse").mkdir()
    reviews = ["id\tdocument\tlabel"] + [
        f"{i}\t{text}\t{label}" for i, (text, label) in enumerate(
            [("꿀잼 ㅋㅋ", 1), ("완전 좋아요", 1), ("최고다", 1), ("지루해요", 0), ("별로임", 0),
             ("시간 아까움", 0), ("감독 최악", 0)])
    ]
    (root / "nsmc" / "train.tsv").write_text("\n".join(reviews) + "\n", encoding="utf-8")
    curse = ["시발 꺼져라|1", "개새끼야 닥쳐|1", "오늘 날씨 좋네|0", "밥 먹었어?|0"]
    (root / "curse" / "train.txt").write_text("\n".join(curse) + "\n", encoding="utf-8")
    return root


def test_the_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    pools = load_pools(_tiny_data(tmp_path / "data"))
    assert "감독 최악" not in pools["nsmc_neg"]  # review words are not chat
    first = write(build(pools, seed=3, minutes=3), tmp_path / "a.jsonl.gz")
    again = write(build(pools, seed=3, minutes=3), tmp_path / "b.jsonl.gz")
    assert first == again
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    write(build(pools, seed=4, minutes=3), tmp_path / "c.jsonl")
    other = _read(tmp_path / "c.jsonl")
    assert other != _read(tmp_path / "a.jsonl.gz")
    assert all(list(m) == FIELDS for m in other)


def test_the_generator_needs_the_data(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="--data"):
        load_pools(tmp_path)


def test_the_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    require_service("shared data", (SHARED / "nsmc" / "train.tsv").is_file(), f"expected {SHARED}")
    write(build(load_pools(SHARED), seed=0), tmp_path / "sample.jsonl.gz")
    assert (tmp_path / "sample.jsonl.gz").read_bytes() == SAMPLE.read_bytes()
