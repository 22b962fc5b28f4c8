"""JSON from outside, held to what nunchi can store and send back: strict parsing and one check.

Python's ``json`` accepts things that break later: lone surrogates (``"\\ud800"``) that no
UTF-8 encoder writes, NUL characters that PostgreSQL's JSONB refuses, ``NaN`` / ``Infinity``
and ``1e400`` (stored as ``null``), duplicate keys (the last silently wins) and nesting deep
enough to overflow the serialiser. :func:`loads` refuses all of them; :func:`check` applies the
same rules to a document that is already parsed (input given on the command line, a job's
result). Each refusal is an :class:`~nunchi.errors.InvalidInput` that names the place
(``input.payload[3]``) and says what to change.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from nunchi.errors import InvalidInput

__all__ = ["MAX_DEPTH", "MAX_INT_BITS", "InvalidDocument", "check", "loads", "scrub"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted."""
MAX_INT_BITS = 63
"""Integers must fit a signed 64-bit number (what JSON readers in other languages keep)."""

_MAX_INT = (1 << MAX_INT_BITS) - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:[dD][89abAB]|[dD][c-fC-F]|0000)")
"""A ``\\u`` escape that may make a lone surrogate or NUL (a hint only: an escaped backslash
before it makes a false alarm, never a miss, since raw UTF-8 cannot carry either)."""


class InvalidDocument(InvalidInput):
    """A JSON document breaks one of the rules of this module; ``where`` is the place."""

    def __init__(self, where: str, problem: str) -> None:
        shown = where if len(where) <= 120 else f"{where[:60]}…{where[-40:]}"
        super().__init__(f"{shown}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


def _refuse_constant(name: str) -> Any:
    raise InvalidDocument("", f"{name} is not a JSON number; send a finite number or null")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidDocument("", f"the number {text[:40]} is too large for a 64-bit float")
    return value


def _int(text: str) -> int:
    if len(text) > 20:  # more digits than any 64-bit integer; also spares int() the work
        raise InvalidDocument("", f"the integer {text[:24]}… does not fit in 64 bits")
    value = int(text)
    if not -_MAX_INT - 1 <= value <= _MAX_INT:
        raise InvalidDocument("", f"the integer {text} does not fit in 64 bits")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InvalidDocument("", f"the key {key[:60]!r} appears twice in one object")
        out[key] = value
    return out


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` strictly (see the module docstring).

    Raises :class:`InvalidDocument` for a document that parses but breaks a rule, and
    :class:`ValueError` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) for one that is
    not JSON at all, so callers can tell "fix this value" from "this is not JSON"."""
    if isinstance(data, str):
        problem = _string_problem(data)
        if problem is not None:
            raise InvalidDocument("", f"the document {problem}")
        raw = data.encode("utf-8")
    else:
        raw = data
    try:
        value = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_float=_float,
            parse_int=_int,
            object_pairs_hook=_pairs,
        )
    except RecursionError:
        raise InvalidDocument(
            "", f"the document is nested too deeply; at most {max_depth} levels are accepted"
        ) from None
    suspect = _SUSPECT_ESCAPE.search(raw) is not None
    deep = raw.count(b"[") + raw.count(b"{") > max_depth
    if suspect or deep:
        check(value, max_depth=max_depth)
    return value


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored; remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return (
            f"contains a lone surrogate (\\u{ord(text[e.start]):04x}) at character {e.start}, "
            "which is not valid Unicode; send whole characters (a high and a low surrogate "
            "together, or the character itself in UTF-8)"
        )
    return None


def _place(parent: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{parent}[{step}]"
    return f"{parent}.{step}" if parent else step


def check(value: Any, where: str = "", *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`InvalidDocument` unless ``value`` (plain JSON data: dicts, lists, str,
    int, float, bool, None) follows this module's rules; ``where`` prefixes the place named."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem is not None:
                raise InvalidDocument(place or "the document", f"the text {problem}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_MAX_INT - 1 <= item <= _MAX_INT:
                raise InvalidDocument(place or "the document", "the integer does not fit 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidDocument(
                    place or "the document", f"{item} is not a JSON number; send a finite number"
                )
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise InvalidDocument(
                    place or "the document",
                    f"nested too deeply; at most {max_depth} levels are accepted",
                )
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InvalidDocument(place or "the document", "object keys must be text")
                    problem = _string_problem(key)
                    if problem is not None:
                        raise InvalidDocument(place or "the document", f"a key {problem}")
                    stack.append((child, _place(place, key), depth + 1))
            else:
                stack.extend((child, _place(place, i), depth + 1) for i, child in enumerate(item))
        else:
            raise InvalidDocument(
                place or "the document", f"{type(item).__name__} values are not JSON data"
            )


def scrub(text: str) -> str:
    """``text`` made storable: lone surrogates become U+FFFD and NUL characters are dropped
    (for texts nunchi writes itself from outside material, such as error messages)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a str holds only lone surrogates: a pair is one code point
        text = _SURROGATE.sub("\ufffd", text)
    return text
