"""The profanity lexicon: curse words in tiers and their innocent look-alikes.

`Lexicon.load()` reads ``lexicon/curse.txt`` (``TERM<TAB>CATEGORY``) and ``lexicon/allow.txt``
(one innocent word a line) and finds their matches in NORMALISED text (see `normalize`).
Literal words compile into one trie-shaped regular expression per tier; a term starting with
``re:`` is a regular expression of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nunchi.errors import InvalidInput

__all__ = ["LEXICON_DIR", "STRONG_CATEGORIES", "Lexicon", "LexiconHit"]

LEXICON_DIR = Path(__file__).parent / "lexicon"


@dataclass(frozen=True)
class LexiconHit:
    """One lexicon match in normalised text: ``[start, end)``, the text matched, its category."""

    start: int
    end: int
    term: str
    category: str


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex alternation of literal words, factored as a trie (longest match first)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for c in w:
            node = node.setdefault(c, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(c) + build(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?"
        return body

    return build(trie)


def _read_entries(raw: str, name: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not fields[0]:
            raise InvalidInput(f"{name}:{n}: empty lexicon entry")
        rows.append(fields)
    return rows


def _compile(entries: Sequence[tuple[str, str]]) -> tuple[
        re.Pattern[str], list[str], dict[str, str]]:
    literal: dict[str, str] = {}
    regexes: list[tuple[str, str]] = []
    for term, cat in entries:
        if term.startswith("re:"):
            regexes.append((term[3:], cat))
        elif term.isascii():
            regexes.append((r"(?<![a-z])" + re.escape(term), cat))
        else:
            literal[term] = cat
    parts = []
    cats = [""]
    if literal:
        parts.append(f"(?P<g0>{_trie_pattern(literal)})")
    for k, (rx, cat) in enumerate(regexes, 1):
        try:
            re.compile(rx)
        except re.error as e:
            raise InvalidInput(f"lexicon regex {rx!r} does not compile: {e}") from e
        parts.append(f"(?P<g{k}>{rx})")
        cats.append(cat)
    pattern = re.compile("|".join(parts) if parts else r"(?!x)x")
    return pattern, cats, literal


# Lexicon tiers, matched separately so a weak cue never hides a strong word.
STRONG_CATEGORIES = frozenset({"swear", "sexual", "slur", "insult"})
_TIERS = (("strong", STRONG_CATEGORIES), ("cue", frozenset({"cue"})),
          ("style", frozenset({"style"})))


class Lexicon:
    """Curse words and their innocent look-alikes, matched on normalised text.

    ``entries``: (term, category) pairs; ``allow``: innocent words. A term starting with
    ``re:`` is a regular expression. Categories ``swear``, ``sexual``, ``slur`` and ``insult``
    are strong words (always masked); ``cue`` marks words that are often abusive but not
    always (model features, masked only in a message judged profane); ``style`` marks
    grammar the model may use but nobody masks (e.g. the -노 ending of one forum's slang).
    A match is dropped when an allow-list match overlaps it and is not a strictly shorter
    part of it (시발점 hides 시발, 씨방 does not hide 씨방새).
    """

    def __init__(self, entries: Sequence[tuple[str, str]], allow: Sequence[str]) -> None:
        known = {c for _, cats in _TIERS for c in cats}
        unknown = sorted({c for _, c in entries} - known)
        if unknown:
            raise InvalidInput(f"unknown lexicon categories {unknown}; use one of {sorted(known)}")
        self.entries = list(entries)
        self.allow = list(allow)
        self.source = ("".join(f"{t}\t{c}\n" for t, c in self.entries),
                       "".join(f"{a}\n" for a in self.allow))
        self._tiers = [_compile([(t, c) for t, c in self.entries if c in cats])
                       for _, cats in _TIERS]
        self._allow = _compile([(a, "allow") for a in self.allow])

    @classmethod
    def load(cls, directory: Path | None = None) -> Lexicon:
        """Read ``curse.txt`` and ``allow.txt`` from ``directory`` (default: the packaged one)."""
        d = directory or LEXICON_DIR
        try:
            curse = (d / "curse.txt").read_text(encoding="utf-8")
            allow = (d / "allow.txt").read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise InvalidInput(f"lexicon file missing: {e.filename}") from e
        return cls.from_text(curse, allow)

    @classmethod
    def from_text(cls, curse: str, allow: str) -> Lexicon:
        """Build from the contents of ``curse.txt`` and ``allow.txt``."""
        rows = _read_entries(curse, "curse.txt")
        bad = [r[0] for r in rows if len(r) < 2]
        if bad:
            raise InvalidInput(f"curse.txt entries without a category: {bad[:5]}")
        lexicon = cls([(r[0], r[1]) for r in rows],
                      [r[0] for r in _read_entries(allow, "allow.txt")])
        lexicon.source = (curse, allow)
        return lexicon

    def allowed_spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of innocent allow-list words in normalised ``text``."""
        return [m.span() for m in self._allow[0].finditer(text) if m.end() > m.start()]

    def find(self, text: str, allowed: list[tuple[int, int]] | None = None) -> list[LexiconHit]:
        """Lexicon matches in normalised ``text`` (all tiers), innocent look-alikes removed."""
        if allowed is None:
            allowed = self.allowed_spans(text)
        hits = []
        for pattern, cats, literal in self._tiers:
            for m in pattern.finditer(text):
                s, e = m.span()
                if e <= s:
                    continue
                if any(a < e and s < b and not (s <= a and b <= e and b - a < e - s)
                       for a, b in allowed):
                    continue
                k = int((m.lastgroup or "g0")[1:])
                cat = literal.get(m.group(), "cue") if k == 0 else cats[k]
                hits.append(LexiconHit(s, e, m.group(), cat))
        return hits
