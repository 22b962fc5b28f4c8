"""The catalog pages in Chromium against ``nunchi up`` (the real backbone, no vision app):
Food lens's infinite list, search as you type and sliders (the page script, no inline
scripts), and photos identified as jobs whose cards arrive over server-sent events."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.e2e.test_browser import JOB_TIMEOUT, Server, Tab, browser, open_tab, running_up

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared


@pytest.fixture(scope="module")
def server(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``nunchi up`` with auth off (the packaged catalogs import at start)."""
    with running_up(tmp_path_factory.mktemp("catalog-up"), auth_disabled="true") as up:
        yield up


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Tab]:
    """A live-capable (unfenced, see ``open_tab``) page on the server."""
    with open_tab(browser, server.url, fence=False) as opened:
        yield opened


def _photo(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 40)).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_food_lens_scrolls_searches_and_slides(tab: Tab) -> None:
    page = tab.page
    tab.open("/catalog/food")
    rows = page.locator("#food-rows tr:not(.more)")
    expect(rows).to_have_count(30, timeout=JOB_TIMEOUT * 1000)
    page.locator("#food-rows tr.more").scroll_into_view_if_needed()
    expect(rows).to_have_count(60)  # the next page, by cursor, when the last row shows
    page.fill("#food-q", "김치찌게")
    expect(rows.first).to_contain_text("김치찌개")
    slider = page.locator('input[name="energy_kcal_max"]')
    slider.focus()
    page.keyboard.press("Home")
    expect(page.locator("#energy_kcal-max-out")).to_have_text("0")
    tab.assert_clean()


def test_a_food_photo_gets_its_card_live(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    tab.open("/catalog/food")
    page.set_input_files("#photo", str(_photo(tmp_path / "dish.jpg")))
    page.click(".photo-form button[type=submit]")
    expect(page.locator("#identify-result .food-card")).to_be_visible(
        timeout=JOB_TIMEOUT * 1000)
    assert page.url.endswith("/catalog/food")  # no reload: the card came over the stream
    tab.assert_clean()


def test_a_plant_photo_result_keeps_the_emergency_help_in_view(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    tab.open("/catalog/plants")
    expect(page.locator(".emergency a[href='tel:119']").first).to_be_visible()
    page.set_input_files("#photo", str(_photo(tmp_path / "leaf.jpg")))
    page.click(".photo-form button[type=submit]")
    result = page.locator("#identify-result .plant-result")
    expect(result).to_be_visible(timeout=JOB_TIMEOUT * 1000)
    expect(page.locator("#identify-result .emergency")).to_contain_text("119")
    page.fill("#plant-q", "진달레")
    expect(page.locator("#plant-rows tr").first).to_contain_text("진달래")
    tab.assert_clean()
