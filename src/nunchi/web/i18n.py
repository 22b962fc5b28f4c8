"""Message catalogs for the pages: Korean first, English second.

Catalogs are JSON files in ``nunchi/web/locales/<lang>.json`` mapping a dotted key to a
text; ``{name}`` placeholders are filled with :meth:`str.format`. The language of a request
is ``?lang=`` (remembered in a cookie), else that cookie, else the configured default.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from starlette.requests import Request

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANG_COOKIE",
    "SUPPORTED_LANGUAGES",
    "LanguageChoice",
    "Translator",
    "catalog",
    "choose_language",
    "translate",
]

log = logging.getLogger("nunchi.web")

SUPPORTED_LANGUAGES: tuple[str, ...] = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "nunchi_lang"


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def catalog(lang: str) -> dict[str, str]:
    """The message catalog of ``lang`` (one of :data:`SUPPORTED_LANGUAGES`)."""
    if lang not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; supported: {SUPPORTED_LANGUAGES}")
    text = resources.files("nunchi.web").joinpath("locales", f"{lang}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"catalog {lang}.json must map keys to strings")
    return {str(k): v for k, v in data.items()}


def translate(lang: str, key: str, /, **params: object) -> str:
    """The text of ``key`` in ``lang`` (falling back to Korean, then to the key itself)."""
    text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT_LANGUAGE).get(key)
        if text is None:
            log.warning("missing message %r", key)
            return key
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        log.warning("message %r in %s does not fit its parameters", key, lang)
        return text


@dataclass(frozen=True)
class Translator:
    """``t("key", name=value)`` bound to one language, for templates."""

    lang: str

    def __call__(self, key: str, /, **params: object) -> str:
        """The text of ``key`` in this language."""
        return translate(self.lang, key, **params)


@dataclass(frozen=True)
class LanguageChoice:
    """The language of a request and whether the cookie should be (re)set to it."""

    lang: str
    remember: bool


def _supported(lang: str | None) -> str | None:
    if not lang:
        return None
    lang = lang.strip().lower()[:2]
    return lang if lang in SUPPORTED_LANGUAGES else None


def choose_language(request: Request, default: str) -> LanguageChoice:
    """``?lang=`` (then remember it), else the cookie, else ``default`` (else Korean)."""
    asked = _supported(request.query_params.get("lang"))
    if asked is not None:
        return LanguageChoice(asked, remember=asked != request.cookies.get(LANG_COOKIE))
    remembered = _supported(request.cookies.get(LANG_COOKIE))
    if remembered is not None:
        return LanguageChoice(remembered, remember=False)
    return LanguageChoice(_supported(default) or DEFAULT_LANGUAGE, remember=False)
