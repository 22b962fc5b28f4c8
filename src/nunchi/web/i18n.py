"""Message catalogs for the pages: Korean first, English second.

Catalogs are JSON files mapping a dotted key to a text; ``{name}`` placeholders are filled
with :meth:`str.format`. The platform's are ``nunchi/web/locales/<lang>.json``; each app adds
its own ``locales/<lang>.json`` with keys that start with its name (``chat.…``), merged into one
:class:`Catalogs` per web app. The language of a request is ``?lang=`` (remembered in a
cookie), else that cookie, else the configured default.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from starlette.requests import HTTPConnection

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANG_COOKIE",
    "SUPPORTED_LANGUAGES",
    "Catalogs",
    "LanguageChoice",
    "Translator",
    "catalog",
    "choose_language",
    "read_catalog",
    "translate",
]

log = logging.getLogger("nunchi.web")

SUPPORTED_LANGUAGES: tuple[str, ...] = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "nunchi_lang"


def read_catalog(path: Path, lang: str) -> dict[str, str]:
    """The catalog ``<path>/<lang>.json`` (``{}`` when the file is missing)."""
    if lang not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; supported: {SUPPORTED_LANGUAGES}")
    file = path / f"{lang}.json"
    if not file.is_file():
        return {}
    data = json.loads(file.read_text("utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"catalog {file} must map keys to strings")
    return {str(k): v for k, v in data.items()}


def _core_folder() -> Path:
    return Path(str(resources.files("nunchi.web").joinpath("locales")))


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def catalog(lang: str) -> dict[str, str]:
    """The platform's own message catalog of ``lang`` (one of :data:`SUPPORTED_LANGUAGES`)."""
    return read_catalog(_core_folder(), lang)


@dataclass(frozen=True)
class Catalogs:
    """The platform's messages and every app's, by language."""

    messages: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {lang: catalog(lang) for lang in SUPPORTED_LANGUAGES}
    )

    @classmethod
    def load(cls, apps: Iterable[tuple[str, Path | None]]) -> Catalogs:
        """The platform's catalogs merged with each app's (``(name, locales folder)``); an
        app's keys must start with ``<name>.`` so no app can change another's texts."""
        merged = {lang: dict(catalog(lang)) for lang in SUPPORTED_LANGUAGES}
        for name, folder in apps:
            if folder is None:
                continue
            for lang in SUPPORTED_LANGUAGES:
                texts = read_catalog(folder, lang)
                stray = [k for k in texts if not k.startswith(name + ".")]
                if stray:
                    raise ValueError(
                        f"app {name!r}: message keys must start with '{name}.': {stray[:3]}"
                    )
                merged[lang].update(texts)
        return cls(merged)

    def get(self, lang: str, key: str) -> str | None:
        """The text of ``key`` in ``lang``, or None."""
        return self.messages.get(lang, {}).get(key)

    def translate(self, lang: str, key: str, /, **params: object) -> str:
        """The text of ``key`` in ``lang`` (falling back to Korean, then to the key itself)."""
        text = self.get(lang, key)
        if text is None:
            text = self.get(DEFAULT_LANGUAGE, key)
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


_PLATFORM = Catalogs()


def translate(lang: str, key: str, /, **params: object) -> str:
    """A platform message of ``key`` in ``lang`` (apps' messages: :class:`Catalogs`)."""
    return _PLATFORM.translate(lang, key, **params)


@dataclass(frozen=True)
class Translator:
    """``t("key", name=value)`` bound to one language, for templates."""

    lang: str
    catalogs: Catalogs = _PLATFORM

    def __call__(self, key: str, /, **params: object) -> str:
        """The text of ``key`` in this language."""
        return self.catalogs.translate(self.lang, key, **params)

    def knows(self, key: str) -> bool:
        """Whether ``key`` has a text (in this language or in Korean)."""
        return self.catalogs.get(self.lang, key) is not None


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


def choose_language(request: HTTPConnection, default: str) -> LanguageChoice:
    """``?lang=`` (then remember it), else the cookie, else ``default`` (else Korean)."""
    asked = _supported(request.query_params.get("lang"))
    if asked is not None:
        return LanguageChoice(asked, remember=asked != request.cookies.get(LANG_COOKIE))
    remembered = _supported(request.cookies.get(LANG_COOKIE))
    if remembered is not None:
        return LanguageChoice(remembered, remember=False)
    return LanguageChoice(_supported(default) or DEFAULT_LANGUAGE, remember=False)
