"""Profanity and abuse detector for Korean chat: lexicon spans plus a trained linear model.

`ProfanityDetector.score(text)` normalises the text (`normalize.normalize`), finds curse words
of the packaged lexicon (`lexicon.Lexicon`) in the normalised text (skipping innocent
look-alikes from the allow-list, e.g. 시발점, 새끼 고양이) and asks a hashed char/word
n-gram logistic regression (trained by `train_profanity.train`) how likely the message is
profane or abusive.

* ``profane`` is the model's probability against a threshold calibrated on validation data;
* ``spans`` are the lexicon matches mapped back to the ORIGINAL text; when the model says
  profane but no lexicon word matches (insults without swear words), the words whose n-grams
  push the score up the most are masked instead (see `ProfanityDetector.explain_tokens`);
* ``masked`` is the original text with exactly the span characters replaced by ``mask_char``.

Run time needs only numpy and the standard library; the weights are a compressed .npz.
"""

from __future__ import annotations

import bisect
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text._ngram_crc import char_gram_crcs
from nunchi.analyzers.text.lexicon import STRONG_CATEGORIES, Lexicon, LexiconHit
from nunchi.analyzers.text.normalize import Normalized, normalize
from nunchi.errors import InvalidInput

__all__ = [
    "DEFAULT_MODEL_PATH",
    "STRONG_CATEGORIES",
    "FeatureConfig",
    "Lexicon",
    "LexiconHit",
    "ModelWeights",
    "Prepared",
    "ProfanityDetector",
    "ProfanityResult",
    "count_arrays",
    "featurize_arrays",
    "mask",
    "merge_spans",
    "model_text",
    "ngram_positions",
    "prepare",
]

_HERE = Path(__file__).parent
DEFAULT_MODEL_PATH = _HERE / "models" / "profanity.npz"
_PLACEHOLDER = "◇"  # stands in for an allow-listed word in the text the model sees
_WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class FeatureConfig:
    """How text becomes hashed features; stored with the model so both sides agree."""

    buckets: int = 1 << 18
    char_min: int = 1
    char_max: int = 5
    word_ngrams: int = 2
    lexicon_weight: float = 1.0

    def to_json(self) -> str:
        """The config as JSON."""
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> FeatureConfig:
        """Read a config written by `to_json`."""
        return cls(**json.loads(raw))


def model_text(norm: str, allowed: Sequence[tuple[int, int]]) -> tuple[
        str, list[tuple[int, int]]]:
    """The normalised text with allow-listed words replaced by a placeholder.

    Returns the text and, for each of its characters, the normalised span it stands for
    (a placeholder stands for its whole allow-listed word).
    """
    if not allowed:
        return norm, [(i, i + 1) for i in range(len(norm))]
    out: list[str] = []
    where: list[tuple[int, int]] = []
    pos = 0
    for a, b in sorted(allowed):
        if a < pos:
            continue
        out.append(norm[pos:a])
        where.extend((i, i + 1) for i in range(pos, a))
        out.append(_PLACEHOLDER)
        where.append((a, b))
        pos = b
    out.append(norm[pos:])
    where.extend((i, i + 1) for i in range(pos, len(norm)))
    return "".join(out), where


def _char_grams(text: str, cfg: FeatureConfig) -> Iterator[tuple[str, int, int]]:
    padded = " " + text + " "
    n = len(padded)
    for size in range(cfg.char_min, cfg.char_max + 1):
        for i in range(n - size + 1):
            gram = padded[i:i + size]
            if gram != " ":
                yield gram, max(i - 1, 0), min(i - 1 + size, len(text))


def _word_gram(words: Iterable[str]) -> str:
    """The feature string of consecutive words (``\\x01`` then the words ``\\x02``-joined)."""
    return "\x01" + "\x02".join(words)


def _word_grams(text: str, cfg: FeatureConfig) -> Iterator[tuple[str, int, int]]:
    words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
    for size in range(1, cfg.word_ngrams + 1):
        for i in range(len(words) - size + 1):
            gram = _word_gram(w[0] for w in words[i:i + size])
            yield gram, words[i][1], words[i + size - 1][2]


def _lexicon_keys(hit: LexiconHit) -> tuple[str, str, str]:
    """The feature strings of a lexicon match: its category, any match, its term."""
    return "\x03" + hit.category, "\x03any", "\x04" + hit.term


_BUCKETS: dict[int, dict[str, int]] = {}
_BUCKET_CACHE_MAX = 1 << 19  # memoised n-gram -> bucket entries per bucket count


def _bucket_cache(buckets: int) -> dict[str, int]:
    cache = _BUCKETS.setdefault(buckets, {})
    if len(cache) > _BUCKET_CACHE_MAX:
        cache.clear()
    return cache


def featurize_arrays(texts: Sequence[str], hits: Sequence[Sequence[LexiconHit]],
                     cfg: FeatureConfig) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Hashed feature counts of many model texts (see `model_text`) as ``(row, bucket,
    count)`` arrays, in bucket order within a row: char and word n-grams plus one feature per
    lexicon category, per matched term and for any match.

    A feature's bucket is ``crc32(utf-8 bytes) % cfg.buckets``; char n-grams run over the
    text padded with one space each side (the lone space left out) and are hashed with numpy
    (``_ngram_crc``); word n-grams are prefixed ``\\x01`` (through the bucket cache), lexicon
    features ``\\x03`` (category, ``any``) and ``\\x04`` (term).
    """
    b = cfg.buckets
    char_rows, crcs = char_gram_crcs([" " + t + " " for t in texts], cfg.char_min,
                                     cfg.char_max, skip=" ")
    cache = _bucket_cache(b)
    crc = zlib.crc32
    rows: list[int] = []
    buckets: list[int] = []
    for r, text in enumerate(texts):
        words = text.split()  # the words of _WORD_RE (\S+)
        grams = [_word_gram(words[i:i + size]) for size in range(1, cfg.word_ngrams + 1)
                 for i in range(len(words) - size + 1)]
        for gram in grams:
            k = cache.get(gram)
            if k is None:
                k = cache[gram] = crc(gram.encode()) % b
            buckets.append(k)
        rows.extend([r] * len(grams))
    weights = [1.0] * len(rows)
    if cfg.lexicon_weight > 0:
        for r, found in enumerate(hits):
            for hit in found:
                for key in _lexicon_keys(hit):
                    rows.append(r)
                    buckets.append(crc(key.encode()) % b)
                    weights.append(cfg.lexicon_weight)
    all_rows = np.concatenate([char_rows, np.array(rows, dtype=np.int64)])
    idx = np.concatenate([(crcs % b).astype(np.int64), np.array(buckets, dtype=np.int64)])
    counts = np.concatenate([np.ones(len(crcs)), np.array(weights, dtype=np.float64)])
    keys, inverse = np.unique(all_rows * b + idx, return_inverse=True)
    tf = np.bincount(inverse, counts, minlength=len(keys)).astype(np.float32)
    return keys // b, keys % b, tf


def ngram_positions(text: str, cfg: FeatureConfig) -> list[tuple[int, int, int]]:
    """``(bucket, start, end)`` of every char and word n-gram occurrence in model text."""
    grams = [*_char_grams(text, cfg), *_word_grams(text, cfg)]
    return [(zlib.crc32(g.encode()) % cfg.buckets, s, e) for g, s, e in grams]


@dataclass(frozen=True)
class Prepared:
    """A message ready for the model: normalised, lexicon-matched, allow-listed words hidden."""

    normalized: Normalized
    hits: list[LexiconHit]
    text: str
    where: list[tuple[int, int]]


def prepare(text: str, lexicon: Lexicon) -> Prepared:
    """Normalise ``text`` and match the lexicon on it."""
    norm = normalize(text)
    allowed = lexicon.allowed_spans(norm.text)
    hits = lexicon.find(norm.text, allowed)
    mtext, where = model_text(norm.text, allowed)
    return Prepared(norm, hits, mtext, where)


@dataclass(frozen=True)
class ProfanityResult:
    """The verdict on one message; ``spans`` index the ORIGINAL text, half-open."""

    profane: bool
    score: float
    spans: list[tuple[int, int]]
    masked: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"profane", "score", "spans": [[s, e], ...], "masked"}``."""
        return {"profane": self.profane, "score": self.score,
                "spans": [[s, e] for s, e in self.spans], "masked": self.masked}


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort spans and merge the overlapping or touching ones; empty spans are dropped."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def mask(text: str, spans: Sequence[tuple[int, int]], mask_char: str = "*") -> str:
    """Replace the characters of ``text`` inside ``spans`` (sorted, disjoint) by ``mask_char``."""
    out = []
    pos = 0
    for s, e in spans:
        out.append(text[pos:s])
        out.append(mask_char * (e - s))
        pos = e
    out.append(text[pos:])
    return "".join(out)


def count_arrays(counts: Sequence[dict[int, float]]) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Flatten per-message feature counts into ``(row, bucket, count)`` arrays."""
    sizes = np.fromiter((len(c) for c in counts), np.int64, len(counts))
    total = int(sizes.sum())
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), sizes)
    idx = np.fromiter((k for c in counts for k in c), np.int64, total)
    tf = np.fromiter((v for c in counts for v in c.values()), np.float32, total)
    return rows, idx, tf


def _sigmoid(z: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


@dataclass(frozen=True)
class ModelWeights:
    """The trained numbers: tf-idf logistic regression plus a Naive-Bayes-scaled one.

    ``score = mix * sigmoid(lr) + (1 - mix) * sigmoid(nb)``; ``profane`` when
    ``score >= threshold`` (or, with ``lexicon_override``, when a strong word matched).
    """

    config: FeatureConfig
    idf: npt.NDArray[np.float32]
    w_lr: npt.NDArray[np.float32]
    b_lr: float
    w_nb: npt.NDArray[np.float32]
    b_nb: float
    mix: float
    threshold: float
    lexicon_override: bool = True

    def probabilities(self, counts: Sequence[dict[int, float]]) -> npt.NDArray[np.float64]:
        """Model probability that each message (given as feature counts) is profane."""
        return self.probabilities_arrays(len(counts), *count_arrays(counts))

    def probabilities_arrays(self, n: int, rows: npt.NDArray[np.int64],
                             idx: npt.NDArray[np.int64],
                             tf: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """:meth:`probabilities` of ``n`` messages given as ``(row, bucket, count)`` arrays
        (:func:`featurize_arrays`, :func:`count_arrays`)."""
        if n == 0:
            return np.zeros(0)
        idf = self.idf[idx].astype(np.float64)
        val = (1.0 + np.log(np.maximum(tf, 1e-9))) * idf
        norm = np.sqrt(np.bincount(rows, val * val, minlength=n))
        norm[norm == 0] = 1.0
        val /= norm[rows]
        z_lr = np.bincount(rows, val * self.w_lr[idx], minlength=n) + self.b_lr
        seen = (idf > 0).astype(np.float64)
        z_nb = np.bincount(rows, seen * self.w_nb[idx], minlength=n) + self.b_nb
        return np.asarray(self.mix * _sigmoid(z_lr) + (1.0 - self.mix) * _sigmoid(z_nb))


class ProfanityDetector:
    """Scores Korean chat messages for profanity and abuse and masks the offending words."""

    mask_char: str = "*"
    max_chars: int = 100_000
    """Longest message accepted; split longer text before scoring."""
    explain_ratio: float = 0.6
    """Fallback masking keeps words whose contribution is at least this share of the top one."""
    explain_max_words: int = 3

    def __init__(self, lexicon: Lexicon, weights: ModelWeights, *,
                 metadata: dict[str, object] | None = None, mask_char: str = "*") -> None:
        if len(mask_char) != 1:
            raise InvalidInput(f"mask_char must be one character, got {mask_char!r}")
        self.lexicon = lexicon
        self.weights = weights
        self.metadata = dict(metadata or {})
        self.mask_char = mask_char

    @classmethod
    def load(cls, path: Path | None = None) -> ProfanityDetector:
        """Load a model written by `train_profanity.train` (default: the packaged one)."""
        p = Path(path) if path is not None else DEFAULT_MODEL_PATH
        if not p.is_file():
            raise InvalidInput(f"no profanity model at {p}; train one with "
                               "`nunchi models train-profanity` or pass an existing path")
        try:
            with np.load(p, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                weights = ModelWeights(
                    config=FeatureConfig(**meta["config"]),
                    idf=z["idf"].astype(np.float32), w_lr=z["w_lr"].astype(np.float32),
                    b_lr=float(meta["b_lr"]), w_nb=z["w_nb"].astype(np.float32),
                    b_nb=float(meta["b_nb"]), mix=float(meta["mix"]),
                    threshold=float(meta["threshold"]),
                    lexicon_override=bool(meta.get("lexicon_override", True)))
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise InvalidInput(f"{p} is not a nunchi profanity model: {e}") from e
        lexicon = Lexicon.from_text(meta["lexicon_curse"], meta["lexicon_allow"])
        return cls(lexicon, weights, metadata=meta.get("info", {}))

    def save(self, path: Path) -> None:
        """Write the model (weights, config and the lexicon it was trained with) to ``path``."""
        w = self.weights
        meta = {"format": 1, "config": json.loads(w.config.to_json()), "b_lr": w.b_lr,
                "b_nb": w.b_nb, "mix": w.mix, "threshold": w.threshold,
                "lexicon_override": w.lexicon_override, "lexicon_curse": self.lexicon.source[0],
                "lexicon_allow": self.lexicon.source[1], "info": self.metadata}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta, ensure_ascii=False)),
                                idf=w.idf.astype(np.float16), w_lr=w.w_lr.astype(np.float16),
                                w_nb=w.w_nb.astype(np.float16))

    def _check(self, text: object) -> str:
        if not isinstance(text, str):
            raise InvalidInput(f"profanity scoring needs text (str), got {type(text).__name__}")
        if len(text) > self.max_chars:
            raise InvalidInput(f"message of {len(text)} characters is longer than "
                               f"{self.max_chars}; split it before scoring")
        return text

    def score(self, text: str) -> ProfanityResult:
        """Score one message."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[ProfanityResult]:
        """Score many messages at once (one vectorised model pass)."""
        if isinstance(texts, str):
            raise InvalidInput("score_batch needs a sequence of messages, got one str")
        preps = [prepare(self._check(t), self.lexicon) for t in texts]
        cfg = self.weights.config
        features = featurize_arrays([p.text for p in preps], [p.hits for p in preps], cfg)
        probs = self.weights.probabilities_arrays(len(preps), *features)
        return [self._result(p, float(prob)) for p, prob in zip(preps, probs, strict=True)]

    def _result(self, prep: Prepared, prob: float) -> ProfanityResult:
        w = self.weights
        strong = [h for h in prep.hits if h.category in STRONG_CATEGORIES]
        profane = prob >= w.threshold or (w.lexicon_override and bool(strong))
        score = max(prob, w.threshold) if profane else prob
        norm = prep.normalized
        if not profane:
            spans: list[tuple[int, int]] = []
        elif strong:
            spans = [norm.to_original(h.start, h.end) for h in strong]
        else:
            spans = [norm.to_original(s, e) for s, e, _ in self.explain_tokens(prep)]
        spans = merge_spans(spans)
        return ProfanityResult(profane, round(score, 6), spans,
                               mask(norm.original, spans, self.mask_char))

    def explain_tokens(self, prep: Prepared) -> list[tuple[int, int, float]]:
        """Words (normalised spans) whose n-grams push the score up the most.

        Each word's contribution is the sum over the char and word n-grams inside it of
        ``weight * idf``; words at or above `explain_ratio` of the top positive contribution
        are returned, at most `explain_max_words`, best first.
        """
        w = self.weights
        words = [(m.start(), m.end()) for m in _WORD_RE.finditer(prep.text)]
        if not words:
            return []
        score = [0.0] * len(words)
        starts = [s for s, _ in words]
        for bucket, s, e in ngram_positions(prep.text, w.config):
            k = bisect.bisect_right(starts, s) - 1
            if k >= 0 and e <= words[k][1]:
                score[k] += float(w.w_lr[bucket]) * float(w.idf[bucket])
        top = max(score)
        if top <= 0:
            return []
        ranked = sorted(range(len(words)), key=lambda k: -score[k])
        out = []
        for k in ranked[:self.explain_max_words]:
            if score[k] < self.explain_ratio * top:
                break
            s, e = words[k]
            out.append((prep.where[s][0], prep.where[e - 1][1], score[k]))
        return out
