"""Normaliser for noisy Korean chat that keeps a map back to the original characters.

`normalize(text)` undoes the usual ways people dodge a profanity filter:

* Unicode NFKC, case folding, zero-width and combining characters dropped, look-alike
  Cyrillic/Greek letters folded to Latin, any white space folded to one space;
* Korean typed on an English keyboard (``tlqkf`` -> ``시발``) when that spells a lexicon word;
* look-alike letters standing in for jamo (``ㅅl발``, ``ㅅH끼``, ``7ㅐ새끼``, ``人ㅣ발``);
* digits and symbols inside a word (``시1발``, ``시@발``, ``씨8``);
* letters spaced apart (``시 발``, ``개 새 끼``);
* split jamo composed into syllables (``ㅅㅣㅂㅏㄹ``, ``ㅆㅣ발``);
* repeated characters folded (``ㅋㅋㅋㅋ`` -> ``ㅋㅋ``, ``시이이발`` -> ``시발``);
* consonant abbreviations spelled out (``ㅅㅂ`` -> ``시발``, ``ㅂㅅ`` -> ``병신``,
  ``ㅈㄹ`` -> ``지랄``).

Every normalised character remembers the half-open range of original characters it came
from (`Normalized.index` and `Normalized.ends`), so a match found in the normalised text maps
back to exactly the original characters to mask (`Normalized.to_original`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Normalized", "Normalizer", "decompose", "hangul_to_keyboard", "keyboard_to_hangul",
           "normalize"]

_LEXICON_DIR = Path(__file__).with_name("lexicon")

# --- Hangul tables -------------------------------------------------------------------------
_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_LEAD_IX = {c: i for i, c in enumerate(_LEADS)}
_VOWEL_IX = {c: i for i, c in enumerate(_VOWELS)}
_TAIL_IX = {c: i for i, c in enumerate(_TAILS) if i}
_VOWEL_PAIRS = {"ㅗㅏ": "ㅘ", "ㅗㅐ": "ㅙ", "ㅗㅣ": "ㅚ", "ㅜㅓ": "ㅝ", "ㅜㅔ": "ㅞ", "ㅜㅣ": "ㅟ",
                "ㅡㅣ": "ㅢ"}
_TAIL_PAIRS = {"ㄱㅅ": "ㄳ", "ㄴㅈ": "ㄵ", "ㄴㅎ": "ㄶ", "ㄹㄱ": "ㄺ", "ㄹㅁ": "ㄻ", "ㄹㅂ": "ㄼ",
               "ㄹㅅ": "ㄽ", "ㄹㅌ": "ㄾ", "ㄹㅍ": "ㄿ", "ㄹㅎ": "ㅀ", "ㅂㅅ": "ㅄ"}
# Vowels that, doubled, are emoticons (ㅠㅠ, ㅜㅜ, ㅡㅡ) and laughter consonants: never composed.
_EMOTICON_VOWELS = frozenset("ㅠㅜㅡ")
_LAUGH = frozenset("ㅋㅎ")
# Doubled chat consonants (ㅋㅋ, ㅎㅎ, ㅇㅇ) never take a look-alike vowel (ㅋㅋ! is not ㅋ키).
_NO_LOOKALIKE_VOWEL = frozenset("ㅋㅎㅇ")

# Dubeolsik (standard Korean) keyboard layout.
_KEYBOARD = dict(zip("qwertyuiop" "asdfghjkl" "zxcvbnm" "QWERTOP",
                     "ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ" "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ" "ㅋㅌㅊㅍㅠㅜㅡ" "ㅃㅉㄸㄲㅆㅒㅖ",
                     strict=True))

# Characters that stand in for a jamo; adopted only where they compose into a syllable.
_LOOKALIKE = {
    "l": "ㅣ", "i": "ㅣ", "1": "ㅣ", "|": "ㅣ", "!": "ㅣ", "ǀ": "ㅣ", "丨": "ㅣ", "│": "ㅣ",
    "ι": "ㅣ", "o": "ㅇ", "0": "ㅇ", "○": "ㅇ", "◯": "ㅇ", "人": "ㅅ", "^": "ㅅ", "己": "ㄹ",
    "乙": "ㄹ", "口": "ㅁ", "□": "ㅁ", "7": "ㄱ", "卜": "ㅏ", "ト": "ㅏ", "⊥": "ㅗ", "丁": "ㅜ",
    "一": "ㅡ", "ー": "ㅡ", "从": "ㅆ", "エ": "ㅗ",
}
# Look-alikes decided on the original (unfolded) letter case.
_LOOKALIKE_CASED = {"L": "ㄴ", "H": "ㅐ", "T": "ㅜ"}
# Cyrillic and Greek letters that look like Latin ones.
_HOMOGLYPHS = str.maketrans("аеорсухкмтвніјѕԁɡαοѵνκρτАВЕКМНОРСТХІЈЅΑΒΕΗΙΚΜΝΟΡΤΧΥΖ",
                            "aeopcyxkmtbhijsdgaovvkptABEKMHOPCTXIJSABEHIKMNOPTXYZ")

# Consonant abbreviations, longest first when matched.
_ABBREVIATIONS = {
    "ㄱㅅㄲ": "개새끼", "ㅁㅊㄴ": "미친놈", "ㅅㅂㄴ": "시발놈", "ㅆㅂㄴ": "씨발놈",
    "ㄴㄱㅁ": "느금마", "ㅆㄹㄱ": "쓰레기", "ㅅㅂ": "시발", "ㅆㅂ": "씨발", "ㅂㅅ": "병신",
    "ㅄ": "병신", "ㅈㄹ": "지랄", "ㅈㄴ": "존나", "ㅅㄲ": "새끼", "ㅁㅊ": "미친", "ㄲㅈ": "꺼져",
    "ㄷㅊ": "닥쳐", "ㅈㄲ": "좆까",
}
_ABBREV_MAX = max(len(k) for k in _ABBREVIATIONS)

_HANGUL_RE = re.compile(r"[가-힣ㄱ-ㅣ]")
_JAMO_RE = re.compile(r"[ㄱ-ㅣ]")
_LATIN_RUN_RE = re.compile(r"[A-Za-z]+")


def _is_hangul(c: str) -> bool:
    return "가" <= c <= "힣" or "ㄱ" <= c <= "ㅣ"


def _is_jamo(c: str) -> bool:
    return "ㄱ" <= c <= "ㅣ"


def _syllable(lead: str, vowel: str, tail: str = "") -> str:
    t = _TAIL_IX[tail] if tail else 0
    return chr(0xAC00 + (_LEAD_IX[lead] * 21 + _VOWEL_IX[vowel]) * 28 + t)


def _conjoining_to_compat(c: str) -> str:
    """Map a conjoining jamo (U+1100 block and extensions) to its compatibility form."""
    try:
        name = unicodedata.name(c)
    except ValueError:
        return c
    for prefix in ("HANGUL CHOSEONG ", "HANGUL JUNGSEONG ", "HANGUL JONGSEONG "):
        if name.startswith(prefix):
            try:
                return unicodedata.lookup("HANGUL LETTER " + name[len(prefix):])
            except KeyError:
                return ""
    return c


# A piece is one normalised character and the half-open original range it came from.
_Piece = tuple[str, int, int]


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus the map back to the original.

    ``index[i]`` is the position in the original text where normalised character ``i``
    starts and ``ends[i]`` where it ends (exclusive): one normalised character may stand for
    several original ones (``tlqkf`` -> ``시발``, ``ㅅㅣ`` -> ``시``) and several normalised
    characters may share one original (``ㅄ`` -> ``병신``).
    """

    text: str
    index: tuple[int, ...]
    ends: tuple[int, ...]
    original: str

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span ``[start, end)`` to the original span that produced it."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) is outside the normalised text "
                             f"of length {len(self.text)}")
        if start == end:
            pos = self.index[start] if start < len(self.index) else len(self.original)
            return pos, pos
        return min(self.index[start:end]), max(self.ends[start:end])


_SPLIT_VOWELS = {v: k for k, v in _VOWEL_PAIRS.items()}
_SPLIT_TAILS = {v: k for k, v in _TAIL_PAIRS.items()}
_KEYS = {v: k for k, v in _KEYBOARD.items()}


def decompose(text: str, split_compounds: bool = False) -> str:
    """Spell Hangul syllables as compatibility jamo (``시발`` -> ``ㅅㅣㅂㅏㄹ``).

    With ``split_compounds`` compound vowels and finals are split too (``ㅘ`` -> ``ㅗㅏ``).
    """
    out = []
    for c in text:
        if not "가" <= c <= "힣":
            out.append(c)
            continue
        code = ord(c) - 0xAC00
        lead, vowel, tail = _LEADS[code // 588], _VOWELS[(code % 588) // 28], _TAILS[code % 28]
        if split_compounds:
            vowel = _SPLIT_VOWELS.get(vowel, vowel)
            tail = _SPLIT_TAILS.get(tail, tail)
        out.append(lead + vowel + tail.strip())
    return "".join(out)


def hangul_to_keyboard(text: str) -> str:
    """The keys a dubeolsik keyboard needs to type ``text`` (``시발`` -> ``tlqkf``)."""
    return "".join(_KEYS.get(j, j) for j in decompose(text, split_compounds=True))


def keyboard_to_hangul(latin: str) -> str | None:
    """Read Latin letters as keys typed on a Korean (dubeolsik) keyboard.

    Returns the Hangul syllables, or None when the keys do not spell whole syllables.
    """
    jamo = []
    for c in latin:
        k = _KEYBOARD.get(c) or _KEYBOARD.get(c.lower())
        if k is None:
            return None
        jamo.append((k, 0, 0))
    out = _compose(jamo)
    if any(not ("가" <= p[0][0] <= "힣") for p in out):
        return None
    return "".join(p[0][0] for p in out)


def _compose(pieces: list[_Piece]) -> list[tuple[_Piece, list[int]]]:
    """Compose runs of compatibility jamo into syllables.

    Returns each output piece with the indices of the input pieces it consumed.
    """
    out: list[tuple[_Piece, list[int]]] = []
    n = len(pieces)
    i = 0

    def ch(k: int) -> str:
        return pieces[k][0] if k < n else ""

    while i < n:
        lead = ch(i)
        vowel = ch(i + 1)
        if (lead in _LEAD_IX and vowel in _VOWEL_IX
                and not (vowel in _EMOTICON_VOWELS and (ch(i + 2) == vowel or lead in _LAUGH))):
            j = i + 2
            if ch(j) and (vowel + ch(j)) in _VOWEL_PAIRS:
                vowel = _VOWEL_PAIRS[vowel + ch(j)]
                j += 1
            tail = ""
            if (ch(j) in _TAIL_IX and ch(j + 1) not in _VOWEL_IX
                    and not (ch(j) in _LAUGH and ch(j + 1) == ch(j))):
                tail = ch(j)
                j += 1
                pair = tail + ch(j)
                if pair in _TAIL_PAIRS and ch(j + 1) not in _VOWEL_IX:
                    tail = _TAIL_PAIRS[pair]
                    j += 1
            src = list(range(i, j))
            out.append(((_syllable(lead, vowel, tail), pieces[i][1], pieces[j - 1][2]), src))
            i = j
        else:
            out.append((pieces[i], [i]))
            i += 1
    return out


class Normalizer:
    """The normalisation pipeline; `normalize` uses one built from the packaged lexicon.

    ``keyboard_roots``: Hangul strings; a Latin word is read as Korean typed on an English
    keyboard only when its Hangul reading contains one of them (so English stays English).
    """

    def __init__(self, keyboard_roots: frozenset[str] | set[str]) -> None:
        self._roots = frozenset(keyboard_roots)

    def __call__(self, text: str) -> Normalized:
        """Normalise ``text``; see the module docstring for the steps."""
        return self._run(text, skip=True)

    def _run(self, text: str, *, skip: bool) -> Normalized:
        """The steps in order. With ``skip``, a step is left out where the text cannot give
        it anything to do (no jamo to compose, no 8 to read, no space to join, ...): the same
        result, cheaper (``skip=False`` runs every step; the tests hold the two equal)."""
        if not isinstance(text, str):
            raise TypeError(f"normalize() needs a str, got {type(text).__name__}")
        pieces = _plain_chars(text) if skip and _PLAIN_RE.fullmatch(text) else _map_chars(text)
        chars = _chars(pieces)
        if not skip or _ASCII_LETTER_RE.search(chars):
            pieces = self._keyboard(pieces)
            chars = _chars(pieces)
        if _JAMO_RE.search(chars):
            pieces = _lookalikes(pieces)
            chars = _chars(pieces)
        if not skip or _UPPER_RE.search(chars):
            pieces = [(c.lower(), s, e) if "A" <= c <= "Z" else (c, s, e) for c, s, e in pieces]
            chars = _chars(pieces)
        if _HANGUL_RE.search(chars):
            if not skip or "8" in chars:
                pieces = _phonetic_digits(pieces)
            if not skip or _one_letter_words(chars) >= 2:
                pieces = _join_spaced(pieces)
            pieces = _fold_repeats(pieces)
            chars = _chars(pieces)
            if not skip or _WEDGED_RE.search(chars):
                pieces = _drop_noise(pieces)
            jamo = not skip or _JAMO_RE.search(chars)  # drop_noise adds none
            if jamo:
                pieces = [p for p, _ in _compose(pieces)]
            pieces = _fold_repeats(pieces)
            if jamo:
                pieces = _abbreviations(pieces)
        else:
            pieces = _fold_repeats(pieces)
        chars = _chars(pieces)
        if not skip or "  " in chars or chars.startswith(" ") or chars.endswith(" "):
            pieces = _squeeze_spaces(pieces)
        if not pieces:
            return Normalized(text="", index=(), ends=(), original=text)
        letters, index, ends = zip(*pieces, strict=True)
        return Normalized(text="".join(letters), index=index, ends=ends, original=text)

    def _keyboard(self, pieces: list[_Piece]) -> list[_Piece]:
        """Read runs of Latin letters typed on a Korean keyboard when they spell a root."""
        letters = "".join(p[0] if p[0].isascii() and p[0].isalpha() else "\0" for p in pieces)
        out: list[_Piece] = []
        pos = 0
        for m in _LATIN_RUN_RE.finditer(letters):
            hangul = keyboard_to_hangul(m.group()) if len(m.group()) >= 2 else None
            if hangul is None or not any(r in hangul for r in self._roots):
                continue
            out.extend(pieces[pos:m.start()])
            jamo = [(_KEYBOARD.get(c) or _KEYBOARD[c.lower()], p[1], p[2])
                    for c, p in zip(m.group(), pieces[m.start():m.end()], strict=True)]
            out.extend(p for p, _ in _compose(jamo))
            pos = m.end()
        if not pos:
            return pieces
        out.extend(pieces[pos:])
        return out


_PLAIN_RE = re.compile(r"[가-힣\x20-\x7e]*")
"""Text whose characters `_map_chars` keeps as they are (Hangul syllables, printable ASCII)."""
_ASCII_LETTER_RE = re.compile(r"[A-Za-z]")
_UPPER_RE = re.compile(r"[A-Z]")
_WEDGED_RE = re.compile(r"[가-힣ㄱ-ㅣ][^가-힣ㄱ-ㅣ ]{1,3}[가-힣ㄱ-ㅣ]")
"""Where `_drop_noise` may act: one to three other characters between Hangul letters."""


def _one_letter_words(chars: str) -> int:
    """Words with exactly one Hangul letter: `_join_spaced` joins runs of two or more."""
    return sum(1 for word in chars.split(" ") if len(_HANGUL_RE.findall(word)) == 1)


def _chars(pieces: list[_Piece]) -> str:
    return "".join([p[0] for p in pieces])


def _plain_chars(text: str) -> list[_Piece]:
    """`_map_chars` of a text that `_PLAIN_RE` matches: every character kept, in place."""
    return list(zip(text, range(len(text)), range(1, len(text) + 1), strict=True))


def _map_chars(text: str) -> list[_Piece]:
    """NFKC, homoglyphs, white space, conjoining jamo, case folding of non-Latin letters;
    invisible marks dropped. Latin letters keep their case for the keyboard step."""
    out: list[_Piece] = []
    for s, c in enumerate(text):
        e = s + 1
        if "가" <= c <= "힣":
            out.append((c, s, e))
            continue
        if c.isascii():
            if c.isspace():
                out.append((" ", s, e))
            elif c.isprintable():
                out.append((c, s, e))
            continue
        cat = unicodedata.category(c)
        if cat in ("Cf", "Mn", "Me", "Cc", "Cs", "Co"):
            continue
        if c.isspace():
            out.append((" ", s, e))
            continue
        for d in unicodedata.normalize("NFKC", c).translate(_HOMOGLYPHS):
            if "\u1100" <= d <= "\u11ff" or "\ua960" <= d <= "\ua97f" or "\ud7b0" <= d <= "\ud7ff":
                d = _conjoining_to_compat(d)
            if not d.isascii():
                d = d.casefold()
            if d and unicodedata.category(d[0]) not in ("Mn", "Me", "Cf"):
                out.extend((" " if x.isspace() else x, s, e) for x in d)
    return out


def _lookalikes(pieces: list[_Piece]) -> list[_Piece]:
    """Adopt look-alike letters as jamo where, so read, they compose into a syllable."""
    trial: list[_Piece] = []
    swapped: set[int] = set()
    for k, (c, s, e) in enumerate(pieces):
        jamo = _LOOKALIKE_CASED.get(c) or _LOOKALIKE.get(c.lower())
        if jamo is not None:
            swapped.add(k)
            trial.append((jamo, s, e))
        else:
            trial.append((c, s, e))
    if not swapped:
        return pieces
    composed = _compose(trial)
    out: list[_Piece] = []
    for k, (piece, src) in enumerate(composed):
        used = [i for i in src if i in swapped]
        if used and not _adopt(composed, k, trial, used):
            out.extend(pieces[i] for i in src)  # keep the original characters
        else:
            out.append(piece)
    return out


def _adopt(composed: list[tuple[_Piece, list[int]]], k: int, trial: list[_Piece],
           used: list[int]) -> bool:
    """Whether a syllable built with look-alikes reads as part of a Hangul word."""
    src = composed[k][1]
    if len(src) == 1:
        return False
    lead = trial[src[0]][0]
    if (lead in _NO_LOOKALIKE_VOWEL and any(trial[i][0] in _VOWEL_IX for i in used)
            and src[0] > 0 and trial[src[0] - 1][0] == lead):
        return False  # ㅋㅋ! / ㅇㅇ1 are chat, not 키 / 이
    prev = composed[k - 1][0][0] if k else ""
    nxt = composed[k + 1][0][0] if k + 1 < len(composed) else ""
    return "가" <= prev <= "힣" or "가" <= nxt <= "힣"


def _phonetic_digits(pieces: list[_Piece]) -> list[_Piece]:
    """Read ``8`` as ``팔`` after 시/씨 (씨8, ㅅ8) and ``18`` before 놈/년/새 as ``씨팔``."""
    out = list(pieces)
    for k, (c, s, e) in enumerate(pieces):
        prev = pieces[k - 1][0] if k else ""
        nxt = pieces[k + 1][0] if k + 1 < len(pieces) else ""
        if c == "8" and prev in ("시", "씨", "ㅅ", "ㅆ") and not nxt.isdigit():
            out[k] = ("팔", s, e)
            if prev in ("ㅅ", "ㅆ"):
                out[k - 1] = ("씨", pieces[k - 1][1], pieces[k - 1][2])
        elif (c == "1" and nxt == "8" and not (prev.isdigit())
              and k + 2 < len(pieces) and pieces[k + 2][0] in ("놈", "새", "색", "쉐")):
            out[k] = ("씨", s, e)
            out[k + 1] = ("팔", pieces[k + 1][1], pieces[k + 1][2])
    return out


def _is_noise(c: str) -> bool:
    return not _is_hangul(c) and not c.isspace() and (
        not c.isalpha() or c.isascii())


def _join_spaced(pieces: list[_Piece]) -> list[_Piece]:
    """Join runs of two or more one-letter Hangul words (``시 발``, ``개 새 끼``, ``ㅅ ㅂ``)."""
    # Split into words: (start, end) piece indices of maximal non-space runs.
    words: list[tuple[int, int]] = []
    k = 0
    n = len(pieces)
    while k < n:
        if pieces[k][0] == " ":
            k += 1
            continue
        j = k
        while j < n and pieces[j][0] != " ":
            j += 1
        words.append((k, j))
        k = j
    kinds = []
    for a, b in words:
        chars = [pieces[i][0] for i in range(a, b)]
        hangul = sum(1 for c in chars if _is_hangul(c))
        if hangul == 1 and all(_is_hangul(c) or (_is_noise(c) and not c.isalnum())
                               for c in chars):
            kinds.append("single")
        elif hangul == 0 and len(chars) <= 2 and all(
                _is_noise(c) and not c.isalnum() for c in chars):
            kinds.append("noise")
        else:
            kinds.append("word")
    drop: set[int] = set()
    w = 0
    while w < len(words):
        if kinds[w] != "single":
            w += 1
            continue
        run = [w]
        v = w + 1
        while v < len(words) and kinds[v] in ("single", "noise"):
            if kinds[v] == "single":
                run.append(v)
            v += 1
        if len(run) >= 2:
            first, last = words[run[0]][0], words[run[-1]][1]
            drop.update(i for i in range(first, last) if pieces[i][0] == " ")
            for x in range(run[0], run[-1] + 1):
                if kinds[x] == "noise":
                    drop.update(range(*words[x]))
            w = run[-1] + 1
        else:
            w = v
    if not drop:
        return pieces
    return [p for i, p in enumerate(pieces) if i not in drop]


# Counters that follow a number (3월, 5개): digits between two of them (2024년3월5일), or
# two or more digits before one, are a number, not noise.
_UNITS = frozenset("년월일시분초개명번살원층등위차회권장마리대병잔점호세킬톤배편곳채평주")


def _drop_noise(pieces: list[_Piece]) -> list[_Piece]:
    """Delete up to three digits/symbols/Latin letters wedged between Hangul (시1발, 시@발)."""
    out: list[_Piece] = []
    n = len(pieces)
    k = 0
    while k < n:
        c = pieces[k][0]
        if _is_noise(c) and out and _is_hangul(out[-1][0]):
            j = k
            while j < n and _is_noise(pieces[j][0]):
                j += 1
            run = "".join(p[0] for p in pieces[k:j])
            if (j - k <= 3 and j < n and _is_hangul(pieces[j][0])
                    and not (run.isdigit() and pieces[j][0] in _UNITS
                             and (out[-1][0] in _UNITS or len(run) > 1))):
                k = j
                continue
            out.extend(pieces[k:j])
            k = j
            continue
        out.append(pieces[k])
        k += 1
    return out


def _vowel_tail(c: str) -> tuple[int, int, int] | None:
    if not "가" <= c <= "힣":
        return None
    code = ord(c) - 0xAC00
    return code // 588, (code % 588) // 28, code % 28


_IEUNG = _LEAD_IX["ㅇ"]


# Open syllables that start with a silent ㅇ (아, 이, 우, ...): the shape of vowel elongation.
_ECHOES = frozenset(chr(0xAC00 + (_LEAD_IX["ㅇ"] * 21 + v) * 28) for v in range(21))
_TRIPLE_RE = re.compile(r"(.)\1\1")


def _fold_repeats(pieces: list[_Piece]) -> list[_Piece]:
    """Fold three or more equal characters to two; drop vowel elongation (시이이발 -> 시발)."""
    joined = "".join(p[0] for p in pieces)
    if not _TRIPLE_RE.search(joined) and _ECHOES.isdisjoint(joined):
        return pieces
    out: list[_Piece] = []
    for p in pieces:
        c = p[0]
        if len(out) >= 2 and out[-1][0] == c and out[-2][0] == c:
            out[-1] = (c, out[-1][1], p[2])
            continue
        if out and c in _ECHOES:
            prev = _vowel_tail(out[-1][0])
            cur = _vowel_tail(c)
            if (prev is not None and cur is not None and prev[2] == 0 and cur[2] == 0
                    and cur[0] == _IEUNG and cur[1] == prev[1] and prev[0] != _IEUNG):
                out[-1] = (out[-1][0], out[-1][1], p[2])
                continue
        out.append(p)
    return out


def _abbreviations(pieces: list[_Piece]) -> list[_Piece]:
    """Spell out consonant abbreviations inside runs of bare consonants (ㅅㅂ -> 시발)."""
    out: list[_Piece] = []
    n = len(pieces)
    k = 0
    while k < n:
        if pieces[k][0] not in _LEAD_IX and pieces[k][0] != "ㅄ":
            out.append(pieces[k])
            k += 1
            continue
        for size in range(min(_ABBREV_MAX, n - k), 0, -1):
            key = "".join(p[0] for p in pieces[k:k + size])
            full = _ABBREVIATIONS.get(key)
            if full is None:
                continue
            src = pieces[k:k + size]
            for m, c in enumerate(full):
                s, e = src[min(m * len(src) // len(full), len(src) - 1)][1:]
                out.append((c, s, e))
            k += size
            break
        else:
            out.append(pieces[k])
            k += 1
    return out


def _squeeze_spaces(pieces: list[_Piece]) -> list[_Piece]:
    out: list[_Piece] = []
    for p in pieces:
        if p[0] == " " and (not out or out[-1][0] == " "):
            continue
        out.append(p)
    if out and out[-1][0] == " ":
        out.pop()
    return out


@lru_cache(maxsize=1)
def _default() -> Normalizer:
    """Keyboard roots: the literal Hangul words of the curse lexicon (one-letter ones only when
    they are swear or sexual words: 좆, 씹)."""
    roots = set()
    for line in (_LEXICON_DIR / "curse.txt").read_text(encoding="utf-8").splitlines():
        term, _, category = line.partition("\t")
        if line.startswith("#") or not term or not all("가" <= c <= "힣" for c in term):
            continue
        if len(term) >= 2 or category.strip() in ("swear", "sexual"):
            roots.add(term)
    return Normalizer(roots)


def normalize(text: str) -> Normalized:
    """Normalise noisy Korean chat text, keeping the map back to the original characters."""
    return _default()(text)
