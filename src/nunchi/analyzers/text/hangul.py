"""Hangul letters: syllables and jamo, initial consonants, the 2-beolsik keyboard, search keys.

Pure functions on Unicode arithmetic (a syllable is ``0xAC00 + (lead * 21 + vowel) * 28 + tail``);
jamo are returned as *compatibility* jamo (U+3131..U+3163), the ones people type and see.

* `decompose` / `compose`: one syllable <-> (lead, vowel, tail); `to_jamo` spells a text in jamo.
* `choseong`: the initial consonants of a text (``김치찌개`` -> ``ㄱㅊㅉㄱ``); `is_choseong_query`
  tells a query typed as initial consonants only.
* `keyboard_to_hangul` / `hangul_to_keyboard`: Korean typed on an English keyboard (2-beolsik,
  두벌식) and back; `compose_jamo` is the input automaton both use; `looks_like_keyboard_korean`
  guesses that Latin letters were meant as Korean.
* `search_key`: the comparison key the fuzzy index matches on (see its docstring for the design).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = [
    "CHOSEONG",
    "JONGSEONG",
    "JUNGSEONG",
    "KEY_ALPHABET_SIZE",
    "char_key",
    "choseong",
    "choseong_key",
    "compose",
    "compose_jamo",
    "decompose",
    "fold_key",
    "fold_table",
    "hangul_to_keyboard",
    "is_choseong_query",
    "is_syllable",
    "key_to_text",
    "keyboard_to_hangul",
    "looks_like_keyboard_korean",
    "normalize_text",
    "search_key",
    "to_jamo",
]

CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
"""The 19 initial consonants, in Unicode order."""
JUNGSEONG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
"""The 21 vowels, in Unicode order."""
JONGSEONG = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ",
             "ㄿ", "ㅀ", "ㅁ", "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")
"""The 28 finals, in Unicode order; index 0 is "no final"."""

_BASE, _LAST = 0xAC00, 0xD7A3
_LEAD_IX = {c: i for i, c in enumerate(CHOSEONG)}
_VOWEL_IX = {c: i for i, c in enumerate(JUNGSEONG)}
_TAIL_IX = {c: i for i, c in enumerate(JONGSEONG) if i}

# Compound vowels and finals, as the two keys that type them.
_VOWEL_PAIRS = {"ㅗㅏ": "ㅘ", "ㅗㅐ": "ㅙ", "ㅗㅣ": "ㅚ", "ㅜㅓ": "ㅝ", "ㅜㅔ": "ㅞ", "ㅜㅣ": "ㅟ",
                "ㅡㅣ": "ㅢ"}
_TAIL_PAIRS = {"ㄱㅅ": "ㄳ", "ㄴㅈ": "ㄵ", "ㄴㅎ": "ㄶ", "ㄹㄱ": "ㄺ", "ㄹㅁ": "ㄻ", "ㄹㅂ": "ㄼ",
               "ㄹㅅ": "ㄽ", "ㄹㅌ": "ㄾ", "ㄹㅍ": "ㄿ", "ㄹㅎ": "ㅀ", "ㅂㅅ": "ㅄ"}
_SPLIT = {v: k for k, v in (_VOWEL_PAIRS | _TAIL_PAIRS).items()}
_CONSONANTS = frozenset(CHOSEONG) | frozenset(_TAIL_PAIRS.values())
_SIMPLE_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅛㅜㅠㅡㅣ"
_NO_TAIL = frozenset("ㄸㅃㅉ")  # consonants that are never a final

# 2-beolsik (두벌식): the key for each jamo; shift gives the tense consonants and ㅒ ㅖ.
_KEYS = dict(zip("qwertyuiopasdfghjklzxcvbnm",
                 "ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔㅁㄴㅇㄹㅎㅗㅓㅏㅣㅋㅌㅊㅍㅠㅜㅡ", strict=True))
_SHIFT_KEYS = dict(zip("QWERTOP", "ㅃㅉㄸㄲㅆㅒㅖ", strict=True))
_JAMO_TO_KEY = {v: k for k, v in _KEYS.items()} | {v: k for k, v in _SHIFT_KEYS.items()}

# Search-key alphabet: one byte per unit, 0 reserved (padding).
_KEY_JAMO = CHOSEONG + _SIMPLE_VOWELS                  # codes 1..33
_JAMO_CODE = {c: i + 1 for i, c in enumerate(_KEY_JAMO)}
_DIGIT0 = 1 + len(_KEY_JAMO)                           # 34..43
_LATIN0 = _DIGIT0 + 10                                 # 44..69
_OTHER0, _OTHER_BUCKETS = _LATIN0 + 26, 8              # 70..77: other letters, hashed
KEY_ALPHABET_SIZE = _OTHER0 + _OTHER_BUCKETS
"""Number of distinct byte values a search key uses (0 is never used in a key)."""
_FOLD_PAIRS = {"ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ", "ㅔ": "ㅐ", "ㅖ": "ㅒ"}
_FOLD = bytes(_JAMO_CODE[_FOLD_PAIRS[c]] if c in _FOLD_PAIRS else i + 1
              for i, c in enumerate(_KEY_JAMO))
_FOLD_TABLE = bytes([0]) + _FOLD + bytes(range(_DIGIT0, 256))


def is_syllable(ch: str) -> bool:
    """Whether ``ch`` is one precomposed modern Hangul syllable (가..힣)."""
    return len(ch) == 1 and _BASE <= ord(ch) <= _LAST


def decompose(ch: str) -> tuple[str, str, str] | None:
    """(lead, vowel, tail) of one syllable as compatibility jamo (``값`` -> ``ㄱ, ㅏ, ㅄ``).

    The tail is ``""`` when there is none; None when ``ch`` is not a Hangul syllable.
    """
    if not is_syllable(ch):
        return None
    code = ord(ch) - _BASE
    return CHOSEONG[code // 588], JUNGSEONG[code % 588 // 28], JONGSEONG[code % 28]


def compose(lead: str, vowel: str, tail: str = "") -> str:
    """The syllable of compatibility jamo ``lead`` + ``vowel`` (+ ``tail``); ValueError if none."""
    try:
        t = _TAIL_IX[tail] if tail else 0
        return chr(_BASE + (_LEAD_IX[lead] * 21 + _VOWEL_IX[vowel]) * 28 + t)
    except KeyError:
        raise ValueError(f"no Hangul syllable has lead {lead!r}, vowel {vowel!r} "
                         f"and final {tail!r}") from None


def to_jamo(text: str, *, split_compounds: bool = False) -> str:
    """``text`` with each syllable spelled in compatibility jamo (``김치`` -> ``ㄱㅣㅁㅊㅣ``).

    With ``split_compounds`` compound vowels and finals become the two keys that type them
    (``ㅘ`` -> ``ㅗㅏ``, ``ㄺ`` -> ``ㄹㄱ``). Other characters are kept as they are.
    """
    out: list[str] = []
    for ch in text:
        parts = decompose(ch)
        jamo = "".join(parts) if parts else ch
        if split_compounds:
            jamo = "".join(_SPLIT.get(j, j) for j in jamo)
        out.append(jamo)
    return "".join(out)


def choseong(text: str, *, keep_other: bool = True) -> str:
    """The initial consonant of each syllable (``김치찌개 2인분`` -> ``ㄱㅊㅉㄱ 2ㅇㅂ``).

    Lone consonant jamo are kept and lone vowels dropped. Other characters (Latin, digits,
    spaces, punctuation) are kept as they are by default, so the result lines up with the
    words of the text; ``keep_other=False`` drops them (``ㄱㅊㅉㄱㅇㅂ``).
    """
    out: list[str] = []
    for ch in text:
        parts = decompose(ch)
        if parts:
            out.append(parts[0])
        elif ch in _CONSONANTS or (keep_other and not "ㅏ" <= ch <= "ㅣ"):
            out.append(ch)
    return "".join(out)


def is_choseong_query(text: str) -> bool:
    """Whether ``text`` is initial consonants only (``ㄱㅊㅉㄱ``, ``ㄱㅊ ㅉㄱ``), spaces allowed.

    Compound consonants (``ㄳ``, which some input methods make of ㄱ+ㅅ) count too.
    """
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and all(c in _CONSONANTS for c in letters)


def compose_jamo(jamo: str) -> str:
    """Compose compatibility jamo into syllables the way a 2-beolsik input method does.

    Compound vowels and finals form from their two keys (``ㅗㅏ`` -> ``ㅘ``, ``ㄹㄱ`` -> ``ㄺ``),
    and a final moves to the next syllable when a vowel follows (``ㄱㅏㅇㅜㅣ`` -> ``가위``;
    of a compound final only its second consonant moves: ``ㄷㅏㄹㄱㅇㅣ`` -> ``닭이``,
    ``ㄷㅏㄹㄱㅣ`` -> ``달기``). Consonants with no vowel stay lone jamo (``ㄱㅅ`` stays, it is
    not made ``ㄳ``); any other character ends the syllable being built and is kept.
    """
    out: list[str] = []
    lead = vowel = ""
    tail: list[str] = []

    def flush() -> None:
        nonlocal lead, vowel
        if lead and vowel:
            out.append(compose(lead, vowel, _TAIL_PAIRS.get("".join(tail), "".join(tail))))
        else:
            out.append(lead + vowel)
        lead = vowel = ""
        tail.clear()

    for key in "".join(_SPLIT.get(c, c) for c in jamo):
        if key in _LEAD_IX:
            first_tail = not tail and key not in _NO_TAIL
            second_tail = len(tail) == 1 and tail[0] + key in _TAIL_PAIRS
            if lead and vowel and (first_tail or second_tail):
                tail.append(key)
            else:
                flush()
                lead = key
        elif key in _VOWEL_IX:
            if lead and vowel and tail:
                moved = tail.pop()
                flush()
                lead, vowel = moved, key
            elif vowel and vowel + key in _VOWEL_PAIRS:
                vowel = _VOWEL_PAIRS[vowel + key]
            elif lead and not vowel:
                vowel = key
            else:
                flush()
                vowel = key
        else:
            flush()
            out.append(key)
    flush()
    return "".join(out)


def keyboard_to_hangul(keys: str) -> str:
    """Read Latin letters as keys typed on a 2-beolsik keyboard (``rlacl`` -> ``김치``).

    Shift (an upper-case letter) gives ㅃㅉㄸㄲㅆㅒㅖ on Q W E R T O P; on the other letters
    it is ignored (``Rkdnl`` -> ``까위`` but ``RKDNL`` -> ``까위`` as well). Characters that are
    not letters are kept and end the syllable being typed (``dkssud 1`` -> ``안녕 1``).
    """
    jamo = "".join(_SHIFT_KEYS.get(c) or _KEYS.get(c.lower(), c) if c.isascii() else c
                   for c in keys)
    return compose_jamo(jamo)


def hangul_to_keyboard(text: str) -> str:
    """The keys a 2-beolsik keyboard needs to type ``text`` (``김치찌개`` -> ``rlaclWlro``)."""
    return "".join(_JAMO_TO_KEY.get(j, j) for j in to_jamo(text, split_compounds=True))


@lru_cache(maxsize=16384)
def _is_common_syllable(ch: str) -> bool:
    # The 2,350 syllables of KS X 1001 (two bytes in EUC-KR) are the ones everyday text uses.
    return len(ch.encode("euc-kr")) == 2


def looks_like_keyboard_korean(text: str) -> bool:
    """Whether Latin ``text`` reads as Korean typed with the keyboard in English mode.

    True when the letters compose into common syllables only (the 2,350 of KS X 1001) with no
    jamo left alone, except at the very end of a word (a word still being typed: ``rlaclW``).
    ``rlacl`` and ``dkssud`` pass, ``hello`` or ``pizza`` do not. Two-letter words are ambiguous
    (``go`` reads as 해) and need the caller's judgement.
    """
    words = text.split()
    if not words or not all(w.isascii() and any(c.isalpha() for c in w) for w in words):
        return False
    for word in words:
        if not word.isalpha():
            return False
        hangul = keyboard_to_hangul(word)
        body = hangul[:-1] if len(hangul) > 1 and not is_syllable(hangul[-1]) else hangul
        if not body or not all(is_syllable(c) and _is_common_syllable(c) for c in body):
            return False
    return True


# --- search keys -----------------------------------------------------------------------------

def _conjoining_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for start, letters in ((0x1100, CHOSEONG), (0x1161, JUNGSEONG), (0x11A8, JONGSEONG[1:])):
        for i, c in enumerate(letters):
            table[start + i] = c
    for cp in list(range(0x1113, 0x1161)) + list(range(0x1176, 0x11A8)) + list(
            range(0x11C3, 0x1200)):
        table[cp] = ""  # archaic jamo: no modern letter to match
    return table


_CONJOINING = _conjoining_table()


def normalize_text(text: str) -> str:
    """NFKC and case folding, with jamo kept as compatibility jamo (NFKC alone turns a lone
    ``ㄱ`` into the conjoining ``ᄀ`` and ``ㄱㅏ`` into ``가``; the key treats both the same)."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_CONJOINING)


@lru_cache(maxsize=65536)
def _char_key(ch: str) -> bytes:
    parts = decompose(ch)
    if parts:
        return bytes(_JAMO_CODE[k] for j in parts if j for k in _SPLIT.get(j, j))
    if "ㄱ" <= ch <= "ㅣ":
        return bytes(_JAMO_CODE[k] for k in _SPLIT.get(ch, ch) if k in _JAMO_CODE)
    if "0" <= ch <= "9":
        return bytes([_DIGIT0 + ord(ch) - 48])
    if "a" <= ch <= "z":
        return bytes([_LATIN0 + ord(ch) - 97])
    if unicodedata.category(ch)[0] in "LN":
        return bytes([_OTHER0 + ord(ch) % _OTHER_BUCKETS])
    return b""  # spaces, punctuation, symbols, marks


def search_key(text: str) -> bytes:
    """The comparison key of ``text``: the 2-beolsik keystrokes that type it, one byte each.

    The text is normalised (`normalize_text`), spaces and punctuation are dropped (Korean
    spacing varies: ``김치 찌개`` = ``김치찌개``), each syllable becomes its keystrokes with
    compound vowels and finals split (``왜`` -> ㅇ ㅗ ㅐ, ``닭`` -> ㄷ ㅏ ㄹ ㄱ) and tense
    consonants kept as one unit (``ㄲ``: one key with shift). Digits and Latin letters are
    one unit each; other letters share a few hashed units.

    Why keystrokes: a typing slip is then one edit (a missed ㅗ in ``과자`` -> ``가자``, a
    wrong final), Korean typed in English mode has the very same key (``rlacl`` and ``김치``
    both give ㄱ ㅣ ㅁ ㅊ ㅣ), and a word typed halfway (``김치ㅉ``) is a prefix of the word.
    The confusions people make most, a tense consonant for a plain one (``떡뽁이``) and
    ㅐ/ㅔ, ㅒ/ㅖ (``김치찌게``, ``진달레``), are folded together by `fold_key`: the fuzzy
    index counts such a slip as half an edit (the mean of the distances on the key and on
    the folded key), so ``진달레`` is 0.5 from ``진달래`` and ``떡뽁이`` 1.0 from ``떡볶이``.
    """
    return b"".join(_char_key(ch) for ch in normalize_text(text))


def choseong_key(text: str) -> bytes:
    """The search key of the initial consonants of ``text`` (the key `choseong` gives, spaces
    and punctuation dropped): what a choseong query (``ㄱㅊㅉㄱ``) is matched against."""
    return b"".join(_char_key(ch) for ch in choseong(normalize_text(text)))


def char_key(ch: str) -> bytes:
    """The search-key units of one already normalised character (see `search_key`)."""
    return _char_key(ch)


def fold_key(key: bytes) -> bytes:
    """``key`` with tense consonants made plain and ㅔ->ㅐ, ㅖ->ㅒ (the common slips, see above)."""
    return key.translate(_FOLD_TABLE)


def fold_table() -> bytes:
    """The 256-byte translation table `fold_key` applies (for vectorised use)."""
    return _FOLD_TABLE


def key_to_text(key: bytes) -> str:
    """Spell a search key back as text; hashed letters read ``?``.

    ``key_to_text(search_key("김치 찌개!"))`` is ``김치찌개``: the key keeps every letter, so only
    spaces, punctuation and letter case are lost.
    """
    chars: list[str] = []
    for b in key:
        if 1 <= b < _DIGIT0:
            chars.append(_KEY_JAMO[b - 1])
        elif b < _LATIN0:
            chars.append(chr(48 + b - _DIGIT0))
        elif b < _OTHER0:
            chars.append(chr(97 + b - _LATIN0))
        else:
            chars.append("?")
    return compose_jamo("".join(chars))
