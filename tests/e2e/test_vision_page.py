"""The vision pages in Debian's Chromium against a real ``nunchi up``: the demo classifier
answers a photo from the "try it" form, a new project takes uploads and shows their
thumbnails, training runs as a job, and nothing leaves the server or breaks the page's
Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_browser import Server, Tab, browser, open_tab, running_up
from tests.integration.vision.conftest import photo

__all__ = ["browser"]  # the Chromium fixture, shared with the other browser tests

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def up(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_up(tmp_path_factory.mktemp("nunchi-up-vision"), auth_disabled="true") as server:
        yield server


@pytest.fixture
def tab(browser: Browser, up: Server) -> Iterator[Tab]:
    with open_tab(browser, up.url) as opened:
        yield opened


def test_the_demo_classifier_answers_from_the_page(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    tab.open("/vision")
    expect(page.get_by_role("heading", level=1)).to_have_text("이미지 분류 모델")
    page.get_by_role("link", name="plants-demo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("plants-demo")
    shot = tmp_path / "꽃.jpg"
    shot.write_bytes(photo("red", 3))
    page.locator("#try input[name=files]").set_input_files(str(shot))
    page.locator("#try button[type=submit]").click()
    row = page.locator("table.vision-predictions tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text("꽃.jpg")
    answer = row.locator("td").nth(1)
    expect(answer).to_contain_text("%")  # a tag or "확실하지 않음", with its probability
    tab.assert_clean()


def test_a_new_project_takes_uploads_and_trains(tab: Tab, up: Server, tmp_path: Path) -> None:
    page = tab.page
    tab.open("/vision")
    page.locator("input[name=name]").fill("e2e-colours")
    page.locator("select[name=recipe]").select_option("fast")
    page.get_by_role("button", name="만들기").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("e2e-colours")
    for colour, tag in (("red", "빨강"), ("blue", "파랑")):
        files = []
        for i in range(3):
            path = tmp_path / f"{colour}{i}.jpg"
            path.write_bytes(photo(colour, i))
            files.append(str(path))
        form = page.locator("form[action='/vision/e2e-colours/images']")
        form.locator("input[name=files]").set_input_files(files)
        form.locator("input[name=tag]").fill(tag)
        form.locator("button[type=submit]").click()
        expect(page.locator(".flash.ok")).to_contain_text("3장 추가")
    thumbs = page.locator("ul.thumbs img")
    expect(thumbs).to_have_count(6)
    # thumbnails load lazily: bring each into view, then wait (bounded) until every one decoded
    for i in range(6):
        thumbs.nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('ul.thumbs img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=10_000,
    )
    page.locator("#iterations button[type=submit]").first.click()
    expect(page.locator(".flash.ok")).to_contain_text("반복 #1")
    job_link = page.locator(".flash.ok a")
    job_id = (job_link.get_attribute("href") or "").rsplit("/", 1)[-1]
    up.wait_status(job_id, "succeeded")
    tab.open("/vision/e2e-colours/iterations/1")
    expect(page.locator("table.confusion")).to_be_visible()
    tab.assert_clean()
