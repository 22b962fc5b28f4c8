"""Message catalogs: complete in both languages, every template string comes from them."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from starlette.requests import Request

from nunchi.web.i18n import (
    SUPPORTED_LANGUAGES,
    catalog,
    choose_language,
    translate,
)

_T_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["'](?!\s*~)""")
_T_PREFIX = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+\.)["']\s*~""")


def _templates() -> dict[str, str]:
    folder = resources.files("nunchi.web").joinpath("templates")
    return {p.name: p.read_text("utf-8") for p in folder.iterdir() if p.name.endswith(".html")}


def test_catalogs_have_the_same_keys() -> None:
    ko, en = catalog("ko"), catalog("en")
    assert set(ko) == set(en)
    assert all(v.strip() for v in (*ko.values(), *en.values()))


def test_catalogs_use_the_same_placeholders() -> None:
    field = re.compile(r"{(\w+)}")
    ko, en = catalog("ko"), catalog("en")
    for key in ko:
        assert set(field.findall(ko[key])) == set(field.findall(en[key])), key


def test_every_template_key_exists() -> None:
    ko = catalog("ko")
    used = set()
    for name, text in _templates().items():
        for key in _T_CALL.findall(text):
            used.add(key)
            assert key in ko, f"{name} uses missing message {key!r}"
        for prefix in _T_PREFIX.findall(text):  # t("status." ~ s): every status must exist
            assert any(k.startswith(prefix) for k in ko), f"{name}: no {prefix}* messages"
    assert len(used) > 50


@pytest.mark.parametrize("prefix", ["status.", "event."])
def test_status_and_event_messages_cover_the_models(prefix: str) -> None:
    from nunchi.jobs.models import EVENT_TYPES, JOB_STATUSES

    values = JOB_STATUSES if prefix == "status." else EVENT_TYPES
    for lang in SUPPORTED_LANGUAGES:
        for v in values:
            assert prefix + v in catalog(lang)


def test_templates_have_no_hardcoded_hangul() -> None:
    hangul = re.compile(r"[\uac00-\ud7a3]")
    for name, text in _templates().items():
        assert not hangul.search(text), f"{name} has Korean text outside the catalog"


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert translate("en", "job.attempt_n", n=3) == "attempt 3"
    assert translate("ko", "job.attempt_n", n=3) == "3번째 시도"
    assert translate("en", "no.such.key") == "no.such.key"


def _request(query: str = "", cookie: str = "") -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "query_string": query.encode(), "headers": headers}
    return Request(scope)


def test_choose_language_order() -> None:
    assert choose_language(_request("lang=en"), "ko").lang == "en"
    assert choose_language(_request("lang=en"), "ko").remember
    assert not choose_language(_request("lang=en", "nunchi_lang=en"), "ko").remember
    assert choose_language(_request("", "nunchi_lang=en"), "ko").lang == "en"
    assert choose_language(_request("lang=fr", "nunchi_lang=en"), "ko").lang == "en"
    assert choose_language(_request(), "en").lang == "en"
    assert choose_language(_request(), "ja").lang == "ko"
