"""What a search query means: its tokens, the ways each may be read, the caller's filter and
popularity, checked and turned into arrays the index can use."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nunchi.analyzers.text._fuzzy_arrays import I64
from nunchi.analyzers.text._fuzzy_match import KEYBOARD, MAX_QUERY_UNITS
from nunchi.analyzers.text.hangul import (
    CHOSEONG,
    choseong_key,
    fold_key,
    hangul_to_keyboard,
    is_choseong_query,
    is_syllable,
    keyboard_to_hangul,
    looks_like_keyboard_korean,
    normalize_text,
    search_key,
)
from nunchi.errors import InvalidInput

__all__ = ["MAX_QUERY_CHARS", "MAX_TOKENS", "Popularity", "Token", "Variant", "allowed_filter",
           "plan"]

MAX_QUERY_CHARS = 200
MAX_TOKENS = 6
F32 = npt.NDArray[np.float32]
_LATIN_RUN = re.compile(r"[A-Za-z]+")
_CONSONANTS = frozenset(CHOSEONG) | frozenset("ㄳㄵㄶㄺㄻㄼㄽㄾㄿㅀㅄ")


@dataclass(frozen=True)
class Variant:
    """One reading of a token: a literal key, or initial consonants (``choseong``)."""

    choseong: bool
    key: bytes
    weight: float = 1.0           # a reading through the keyboard weighs a little less
    how: int | None = None        # reported kind when it is not the match's own (keyboard)
    pattern: re.Pattern[str] | None = None   # syllables a mixed choseong query must keep
    whole: bool = True            # False when the key was cut to MAX_QUERY_UNITS

    @property
    def folded(self) -> bytes:
        """The key folded (tense consonants plain, ㅔ->ㅐ, ㅖ->ㅒ)."""
        return fold_key(self.key)


@dataclass(frozen=True)
class Token:
    """A word of the query and its readings."""

    text: str
    variants: tuple[Variant, ...]


def _literal(key: bytes, *, weight: float = 1.0, how: int | None = None) -> Variant:
    return Variant(False, key[:MAX_QUERY_UNITS], weight, how,
                   whole=len(key) <= MAX_QUERY_UNITS)


def _mixed_pattern(norm: str) -> re.Pattern[str] | None:
    """A regex for a query mixing syllables and lone initials (``김치ㅉㄱ``), else None."""
    if not (any(is_syllable(c) for c in norm) and any(c in _CONSONANTS for c in norm)):
        return None
    if not all(is_syllable(c) or c in CHOSEONG for c in norm):
        return None
    parts = []
    for c in norm:
        if is_syllable(c):
            parts.append(re.escape(c))
        else:
            first = 0xAC00 + CHOSEONG.index(c) * 588
            parts.append(f"[{chr(first)}-{chr(first + 587)}]")
    return re.compile("".join(parts))


def _variants(raw: str) -> tuple[Variant, ...]:
    norm = normalize_text(raw)
    out: list[Variant] = []
    if is_choseong_query(norm):
        out.append(Variant(True, choseong_key(norm)[:MAX_QUERY_UNITS]))
    else:
        key = search_key(norm)
        if key:
            out.append(_literal(key))
        pattern = _mixed_pattern(norm)
        if pattern is not None:
            out.append(Variant(True, choseong_key(norm)[:MAX_QUERY_UNITS], pattern=pattern))
    # Korean typed with the keyboard in English mode, whole token or its Latin runs.
    if raw.isascii() and raw.isalpha() and len(raw) >= 2 and is_choseong_query(
            keyboard_to_hangul(raw)):
        out.append(Variant(True, choseong_key(keyboard_to_hangul(raw)), 0.97, KEYBOARD))
    elif _LATIN_RUN.search(raw):
        converted = _LATIN_RUN.sub(
            lambda m: keyboard_to_hangul(m.group()) if looks_like_keyboard_korean(m.group())
            else m.group(), raw)
        if converted != raw:
            out.append(_literal(search_key(converted), weight=0.97, how=KEYBOARD))
    # English typed with the keyboard in Korean mode (ㅔㅑㅋㅋㅁ -> pizza).
    elif norm and all("가" <= c <= "힣" or "ㄱ" <= c <= "ㅣ" for c in norm) and not \
            is_choseong_query(norm) and not looks_like_keyboard_korean(hangul_to_keyboard(norm)):
        out.append(_literal(search_key(hangul_to_keyboard(norm).lower()), weight=0.97,
                            how=KEYBOARD))
    return tuple(v for v in out if v.key)


def plan(query: object) -> tuple[list[Token], Token | None]:
    """The tokens of ``query`` and, for several tokens, the joined one (spacing varies).

    Raises InvalidInput for a query that is not a string, is empty or blank, or is longer
    than MAX_QUERY_CHARS. A query of punctuation only has no tokens. Past MAX_TOKENS words,
    the rest are ignored.
    """
    if not isinstance(query, str):
        raise InvalidInput(f"query must be a string, got {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is {len(query)} characters long; "
                           f"shorten it to at most {MAX_QUERY_CHARS}")
    words = query.split()
    if not words:
        raise InvalidInput("query is empty; type at least one letter or digit")
    tokens = [Token(w, v) for w in words[:MAX_TOKENS] if (v := _variants(w))]
    joined = None
    if len(tokens) > 1:
        text = "".join(t.text for t in tokens)
        joined = Token(text, _variants(text))
    return tokens, joined


class Popularity:
    """The popularity boost: ``weight * log1p(p) / (log1p(p) + log1p(ref))`` per item, so 0
    for a count of 0, half of ``weight`` at ``ref``, approaching ``weight`` for large counts."""

    def __init__(self, counts: Mapping[int, float] | npt.NDArray[np.generic] | None,
                 weight: float, ref: float) -> None:
        if not (math.isfinite(weight) and 0 <= weight <= 1):
            raise InvalidInput(f"popularity_weight must be within 0..1, got {weight}")
        if not (math.isfinite(ref) and ref > 0):
            raise InvalidInput(f"popularity_ref must be a positive count, got {ref}")
        if counts is not None and not isinstance(counts, (Mapping, np.ndarray)):
            raise InvalidInput("popularity must be a mapping of item id to count or a numpy "
                               f"array indexed by item id, got {type(counts).__name__}")
        self._counts = counts if weight > 0 else None
        self._weight = weight
        self._ref = math.log1p(ref)

    @property
    def active(self) -> bool:
        """Whether any boost can be non-zero."""
        return self._counts is not None

    def __call__(self, item_ids: I64) -> F32:
        """The boost of each item in ``item_ids``."""
        if self._counts is None or len(item_ids) == 0:
            return np.zeros(len(item_ids), dtype=np.float32)
        if isinstance(self._counts, np.ndarray):
            table = self._counts
            inside = (item_ids >= 0) & (item_ids < len(table))
            counts = np.zeros(len(item_ids), dtype=np.float64)
            counts[inside] = table[item_ids[inside]]
        else:
            get = self._counts.get
            counts = np.fromiter((get(int(i), 0) for i in item_ids), dtype=np.float64,
                                 count=len(item_ids))
        logs = np.log1p(np.clip(np.nan_to_num(counts), 0, None))
        return (self._weight * logs / (logs + self._ref)).astype(np.float32)


def allowed_filter(allowed: Collection[int] | npt.NDArray[np.generic] | None
                   ) -> npt.NDArray[np.bool_] | I64 | None:
    """The caller's restriction as a bool mask indexed by id, or sorted ids, or None."""
    if allowed is None:
        return None
    if isinstance(allowed, np.ndarray):
        if allowed.dtype == np.bool_:
            return np.asarray(allowed, dtype=np.bool_).ravel()
        if not np.issubdtype(allowed.dtype, np.integer):
            raise InvalidInput("allowed must hold item ids (integers) or be a bool mask, "
                               f"got an array of {allowed.dtype}")
        return np.unique(allowed.astype(np.int64).ravel())
    try:
        ids = np.fromiter((int(i) for i in allowed), dtype=np.int64, count=len(allowed))
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidInput(f"allowed must be a collection of item ids: {e}") from e
    return np.unique(ids)


def allowed_mask(restriction: npt.NDArray[np.bool_] | I64 | None, item_ids: I64
                 ) -> npt.NDArray[np.bool_] | None:
    """Which of ``item_ids`` the restriction lets through (None: all)."""
    if restriction is None:
        return None
    if restriction.dtype == np.bool_:
        inside = (item_ids >= 0) & (item_ids < len(restriction))
        ok = np.zeros(len(item_ids), dtype=bool)
        ok[inside] = restriction[item_ids[inside]]
        return ok
    at = np.searchsorted(restriction, item_ids)
    at[at >= len(restriction)] = 0
    return restriction[at] == item_ids if len(restriction) else np.zeros(len(item_ids), bool)
