"""The shared charts (``_charts.html`` + ``static/charts.js`` + vendored ECharts) in Debian's
Chromium, under the pages' Content-Security-Policy: every kind draws, live updates move the
chart, PNG and CSV exports hold what the chart shows (Korean kept), hostile text stays text,
htmx fragments get their charts, and a CSP violation fails the checks.

The pages come from a loopback Starlette app (``tests/e2e/chart_pages.py``) that renders
them with the app's template environment and serves ``src/nunchi/web/static``.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    FloatRect,
    Page,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Response as PageResponse

from tests.e2e.chart_pages import ChartSite, running_site
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.services import require_service

EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
"""Breaks out of a script element, or runs when parsed as HTML."""

KO = {
    "png": "PNG 저장",
    "csv": "CSV 저장",
    "x": "시각",
    "y": "메시지 수",
    "name": "감정",
    "value": "메시지",
    "word": "단어",
    "weight": "빈도",
    "empty": "데이터 없음",
}
EN = {
    "png": "Save PNG",
    "csv": "Save CSV",
    "x": "Time",
    "y": "Messages",
    "name": "Sentiment",
    "value": "Messages",
    "word": "Word",
    "weight": "Count",
}
SENTIMENTS = ["긍정", "중립", "부정", "욕설"]
MINUTES = ["10:00", "10:01", "10:02", "10:03", "10:04"]
PER_MINUTE = {
    "x": MINUTES,
    "series": [
        {"name": "긍정", "values": [12, 15, 9, 20, 18], "color": "#2e8b57"},
        {"name": "중립", "values": [30, 28, 33, 31, 29]},
        {"name": "부정", "values": [4, 6, 3, 8, 5], "color": "#c0392b"},
        {"name": "욕설", "values": [1, 0, 2, None, 1]},
    ],
}
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WORDS = [
    {"word": "안녕하세요", "weight": 40},
    {"word": "ㅋㅋㅋ", "weight": 33},
    {"word": "최고", "weight": 21},
    {"word": "감사합니다", "weight": 18},
    {"word": "화이팅", "weight": 12},
    {"word": "대박", "weight": 9},
]


def _chart(
    id: str, kind: str, data: dict[str, Any], title: str, labels: dict[str, str] = KO
) -> dict[str, Any]:
    return {"id": id, "kind": kind, "data": data, "title": title, "labels": labels}


ALL_KINDS = [
    _chart("per-minute", "line", PER_MINUTE, "분당 메시지"),
    _chart(
        "stacked-area",
        "area",
        {
            "x_type": "time",
            "x": [T0 + i * 60_000 for i in range(5)],
            "series": PER_MINUTE["series"],
            "stack": True,
        },
        "감정별 누적",
    ),
    _chart("grouped-bar", "bar", PER_MINUTE, "분당 메시지 (묶음)"),
    _chart("stacked-bar", "bar", {**PER_MINUTE, "stack": True}, "분당 메시지 (누적)"),
    _chart(
        "share-pie",
        "pie",
        {
            "items": [
                {"name": n, "value": v} for n, v in zip(SENTIMENTS, [74, 151, 26, 4], strict=True)
            ]
        },
        "감정 비율",
    ),
    _chart(
        "share-donut",
        "donut",
        {
            "items": [
                {"name": n, "value": v} for n, v in zip(SENTIMENTS, [74, 151, 26, 4], strict=True)
            ]
        },
        "감정 비율 (도넛)",
    ),
    {**_chart("words", "wordcloud", {"words": WORDS}, "많이 쓴 단어"), "height": 260},
]

_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""
"""Runs before the page's scripts (injected by the browser, not subject to the CSP)."""

_PAINTED = """(id) => {
  const canvas = document.querySelector(`[data-chart="${id}"] canvas`);
  if (!canvas || !canvas.width) return 0;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) n++;
  return n;
}"""
"""How many pixels of a chart's canvas are drawn."""

_PIXEL_HASH = """(id) => {
  const canvas = document.querySelector(`[data-chart="${id}"] canvas`);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 0;
  for (let i = 0; i < pixels.length; i += 7) h = (h * 31 + pixels[i]) | 0;
  return h;
}"""


@dataclass
class Tab:
    """A page in a fresh browser context, with what it did recorded."""

    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Script errors, console errors (CSP violations among them) and failed requests."""

    def open(self, path: str) -> None:
        """Navigate to ``path`` on the site."""
        self.page.goto(self.url + path)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def on_response(self, response: PageResponse) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def violations(self) -> list[str]:
        """The CSP violations the page reported."""
        found: list[str] = self.page.evaluate("() => window.__cspViolations")
        return found

    def assert_clean(self) -> None:
        """Every request stayed on the site; nothing popped up, broke or was refused."""
        assert self.requests, "the page made no requests"
        outside = [u for u in self.requests if not u.startswith(self.url + "/")]
        assert outside == [], f"requests left the site: {outside}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.violations() == [], "CSP violations"
        assert self.problems == [], f"the page reported problems: {self.problems}"

    def wait_drawn(self, *ids: str) -> None:
        """Wait until each chart finished drawing and has pixels on its canvas."""
        for id in ids:
            expect(self.page.locator(f'[data-chart="{id}"]')).to_have_attribute(
                "data-chart-state", "ready"
            )
            self.page.wait_for_function(f"() => ({_PAINTED})({id!r}) > 500")

    def instance(self, id: str, expression: str) -> Any:
        """``expression`` evaluated with ``chart`` bound to the chart's ECharts instance."""
        return self.page.evaluate(
            f"(id) => {{ const chart = window.nunchiCharts.instance(id); return {expression}; }}",
            id,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (skipped locally when it is missing, failed in CI)."""
    require_service(
        "Chromium",
        CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
        "apt-get install -y chromium fonts-noto-cjk (scripts/services.sh does it)",
    )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def site() -> Iterator[ChartSite]:
    """The loopback chart site."""
    with running_site() as running:
        yield running


@contextmanager
def open_tab(browser: Browser, url: str) -> Iterator[Tab]:
    """A page in a fresh context whose requests to any other host are recorded and refused."""
    context = browser.new_context(
        locale="ko-KR", timezone_id="Asia/Seoul", viewport={"width": 1100, "height": 900}
    )
    context.set_default_timeout(10_000)
    context.add_init_script(_VIOLATIONS)
    page = context.new_page()
    tab = Tab(page, url)

    def route(route: Route) -> None:
        if route.request.url.startswith(url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("requestfailed", lambda r: tab.problems.append(f"failed: {r.url}"))
    page.on("response", tab.on_response)
    page.on("console", tab.on_console)
    page.on("pageerror", lambda error: tab.problems.append(f"script error: {error}"))
    page.on("dialog", tab.on_dialog)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def tab(browser: Browser, site: ChartSite) -> Iterator[Tab]:
    """A fresh, fenced-in page on the chart site."""
    with open_tab(browser, site.url) as opened:
        yield opened


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"not a PNG: {data[:16]!r}"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _box(tab: Tab, id: str) -> FloatRect:
    """Where a chart's container is on the page."""
    box = tab.page.locator(f'[data-chart="{id}"]').bounding_box()
    assert box is not None, f"chart {id} is not shown"
    return box


def _show_tip(tab: Tab, id: str, index: int) -> None:
    """Show the tooltip of the first series' item ``index``, as hovering it would."""
    tab.instance(
        id, f"chart.dispatchAction({{type: 'showTip', seriesIndex: 0, dataIndex: {index}}})"
    )


def _table(tab: Tab, id: str) -> list[list[str]]:
    rows: list[list[str]] = tab.page.evaluate(
        """(id) => Array.from(document.querySelectorAll(`#${id}-table tr`)).map(
             (tr) => Array.from(tr.children).map((cell) => cell.textContent))""",
        id,
    )
    return rows


def test_a_csp_violation_fails_the_checks(tab: Tab, site: ChartSite) -> None:
    """The detector the other tests rely on: an inline script is refused, and seen."""
    site.page("/csp-control", [], extra="<script>window.ran = true;</script>")
    tab.open("/csp-control")
    assert tab.page.evaluate("() => window.ran === undefined"), "the inline script ran"
    assert tab.violations(), "no securitypolicyviolation event"
    assert any("Content Security Policy" in p for p in tab.problems), tab.problems
    with pytest.raises(AssertionError):
        tab.assert_clean()


def test_every_kind_draws_under_the_csp(tab: Tab, site: ChartSite) -> None:
    site.page("/all", ALL_KINDS)
    tab.open("/all")
    page = tab.page
    ids = [c["id"] for c in ALL_KINDS]
    tab.wait_drawn(*ids)
    for c in ALL_KINDS:
        box = page.locator(f'[data-chart="{c["id"]}"]')
        expect(box.locator("canvas")).to_have_count(1)
        expect(box).to_have_attribute("role", "img")
        expect(box).to_have_attribute("aria-label", c["title"])
        figure = page.locator(f"#{c['id']}-figure")
        expect(figure.get_by_role("button", name="PNG 저장")).to_be_visible()
        expect(figure.get_by_role("button", name="CSV 저장")).to_be_visible()

    # The library's model holds what the JSON said: stacked or grouped, the kind of series.
    assert (
        tab.instance("grouped-bar", "chart.getOption().series.map(s => s.stack || null)")
        == [None] * 4
    )
    assert (
        tab.instance("stacked-bar", "chart.getOption().series.map(s => s.stack)") == ["total"] * 4
    )
    assert (
        tab.instance("stacked-area", "chart.getOption().series.map(s => !!s.areaStyle)")
        == [True] * 4
    )
    assert tab.instance("stacked-area", "chart.getOption().xAxis[0].type") == "time"
    assert tab.instance("share-donut", "chart.getOption().series[0].radius") == ["42%", "68%"]
    assert tab.instance("words", "chart.getOption().series[0].type") == "wordCloud"
    assert tab.instance("per-minute", "chart.getOption().series.map(s => s.name)") == SENTIMENTS
    assert tab.instance("per-minute", "chart.getOption().legend[0].show") is True

    # Charts use the page's Korean font stack (the PNG export too: it is the same canvas).
    page_font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Noto Sans KR" in page_font
    assert tab.instance("words", "chart.getOption().textStyle.fontFamily") == page_font
    assert tab.instance("words", "chart.getOption().series[0].textStyle.fontFamily") == page_font

    # The macro's height, else the stylesheet's 20rem (the page's root font is 15px).
    assert _box(tab, "words")["height"] == 260
    assert _box(tab, "share-pie")["height"] == 300

    # The screen-reader table holds the data, with the labels from the JSON.
    assert _table(tab, "per-minute")[0] == ["시각", *SENTIMENTS]
    assert _table(tab, "per-minute")[1] == ["10:00", "12", "30", "4", "1"]
    assert _table(tab, "per-minute")[4][4] == "–"  # a missing value
    assert _table(tab, "share-pie")[:2] == [["감정", "메시지"], ["긍정", "74"]]
    assert _table(tab, "words")[1] == ["안녕하세요", "40"]
    area_rows = _table(tab, "stacked-area")
    assert len(area_rows) == 6 and "2026" in area_rows[1][0], area_rows[1]

    # A tooltip is text in the page's language, from the JSON.
    _show_tip(tab, "per-minute", 2)
    tip = page.locator('[data-chart="per-minute"] .chart-tip')
    expect(tip).to_be_visible()
    expect(tip.locator(".chart-tip-head")).to_have_text("10:02")
    expect(tip.locator(".chart-tip-row")).to_have_count(4)
    expect(tip.locator(".chart-tip-row").nth(3)).to_contain_text("욕설")
    tab.assert_clean()


def test_texts_follow_the_page_language(tab: Tab, site: ChartSite) -> None:
    data = {
        "x_type": "time",
        "x": [T0, T0 + 60_000],
        "series": [{"name": "Positive", "values": [1200.5, 3]}],
    }
    site.page("/en", [_chart("rate-en", "line", data, "Messages per minute", EN)], lang="en")
    tab.open("/en")
    tab.wait_drawn("rate-en")
    page = tab.page
    figure = page.locator("#rate-en-figure")
    expect(figure.get_by_role("button", name="Save PNG")).to_be_visible()
    expect(figure.get_by_role("button", name="Save CSV")).to_be_visible()
    rows = _table(tab, "rate-en")
    assert rows[0] == ["Time", "Positive"]
    assert rows[1][0] == "Jan 1, 2026, 09:00:00", rows[1]  # Asia/Seoul, English month
    assert rows[1][1] == "1,200.5"
    assert tab.instance("rate-en", "chart.getOption().xAxis[0].name") == "Time"
    assert tab.instance("rate-en", "chart.getOption().yAxis[0].name") == "Messages"
    tab.assert_clean()


def test_update_and_append_move_the_chart(tab: Tab, site: ChartSite) -> None:
    site.page(
        "/live",
        [
            _chart("live", "line", PER_MINUTE, "분당 메시지"),
            _chart("live-words", "wordcloud", {"words": WORDS[:3]}, "단어"),
            _chart("live-pie", "pie", {"items": [{"name": "긍정", "value": 1}]}, "비율"),
            _chart("empty", "bar", {"x": [], "series": []}, "빈 차트"),
        ],
    )
    tab.open("/live")
    tab.wait_drawn("live", "live-words", "live-pie")
    page = tab.page
    before = page.evaluate(f"() => ({_PIXEL_HASH})('live')")

    # append: one point, values in series order; the oldest drops out past max.
    assert page.evaluate(
        "() => window.nunchiCharts.append('live', {x: '10:05', values: [50, 1, 2, 3]}, {max: 5})"
    )
    assert tab.instance("live", "chart.getOption().xAxis[0].data") == [*MINUTES[1:], "10:05"]
    assert tab.instance("live", "chart.getOption().series[0].data") == [15, 9, 20, 18, 50]
    page.wait_for_function(f"(before) => ({_PIXEL_HASH})('live') !== before", arg=before)
    assert _table(tab, "live")[-1] == ["10:05", "50", "1", "2", "3"]
    assert len(_table(tab, "live")) == 6

    # values by series name; a series not named gets a gap.
    page.evaluate("() => window.nunchiCharts.append('live', [{x: '10:06', values: {'부정': 7}}])")
    assert tab.instance("live", "chart.getOption().series[2].data")[-1] == 7
    assert tab.instance("live", "chart.getOption().series[0].data")[-1] is None

    # update: new data, new series.
    page.evaluate(
        "() => window.nunchiCharts.update('live', {x: ['a', 'b'], series: "
        "[{name: '새 계열', values: [5, 6]}]})"
    )
    assert tab.instance("live", "chart.getOption().series.map(s => s.name)") == ["새 계열"]
    assert _table(tab, "live") == [["시각", "새 계열"], ["a", "5"], ["b", "6"]]
    assert page.evaluate("() => window.nunchiCharts.data('live').series[0].values") == [5, 6]

    # word cloud and pie: appended counts add up, the largest max are kept.
    page.evaluate(
        "() => window.nunchiCharts.append('live-words', [{word: '최고', weight: 100}, "
        "{word: '새말', weight: 1}], {max: 3})"
    )
    words = page.evaluate("() => window.nunchiCharts.data('live-words').words")
    assert words == [
        {"word": "최고", "weight": 121},
        {"word": "안녕하세요", "weight": 40},
        {"word": "ㅋㅋㅋ", "weight": 33},
    ]
    page.evaluate("() => window.nunchiCharts.append('live-pie', {name: '부정', value: 2})")
    assert tab.instance("live-pie", "chart.getOption().series[0].data.map(d => d.name)") == [
        "부정",
        "긍정",
    ]

    # An empty chart says so, and draws once points arrive.
    assert tab.instance("empty", "chart.getOption().graphic[0].elements[0].style.text") == (
        "데이터 없음"
    )
    page.evaluate(
        "() => window.nunchiCharts.update('empty', {x: ['월'], series: [{name: 'n', values: [3]}]})"
    )
    assert tab.instance("empty", "chart.getOption().graphic || null") in (None, [])
    tab.wait_drawn("empty")

    # An id that is not on the page: false and a warning, no exception.
    assert page.evaluate("() => window.nunchiCharts.update('nope', {x: [], series: []})") is False
    tab.assert_clean()


def test_png_export_is_the_chart_as_a_png(tab: Tab, site: ChartSite) -> None:
    site.page("/png", [_chart("png-chart", "bar", PER_MINUTE, "분당 메시지")])
    tab.open("/png")
    tab.wait_drawn("png-chart")
    page = tab.page
    box = _box(tab, "png-chart")

    url = page.evaluate("() => window.nunchiCharts.png('png-chart')")
    assert url.startswith("data:image/png;base64,")
    data = base64.b64decode(url.split(",", 1)[1])
    width, height = _png_size(data)
    assert (width, height) == (round(box["width"]) * 2, round(box["height"]) * 2)
    assert len(data) > 10_000, f"a suspiciously small PNG: {len(data)} bytes"

    with page.expect_download() as got:
        page.locator("#png-chart-figure").get_by_role("button", name="PNG 저장").click()
    download = got.value
    assert download.suggested_filename == "png-chart.png"
    assert download.url.startswith("data:image/png;base64,")
    saved = Path(download.path()).read_bytes()
    assert _png_size(saved) == (width, height)
    tab.assert_clean()


def test_csv_export_holds_the_data(tab: Tab, site: ChartSite) -> None:
    tricky = 'say "hi", then\nleave'
    data = {
        "x": ["10:00", "10:01"],
        "series": [{"name": "긍정", "values": [1, 2.5]}, {"name": tricky, "values": [None, -3]}],
    }
    words: list[dict[str, Any]] = [
        {"word": "안녕", "weight": 3},
        {"word": '=HYPERLINK("http://x/","클릭")', "weight": 2},
        {"word": "쉼표,단어", "weight": 1},
    ]
    site.page(
        "/csv",
        [
            _chart("csv-line", "line", data, "분당", {**KO, "filename": "분당 메시지"}),
            _chart("csv-words", "wordcloud", {"words": words}, "단어"),
        ],
    )
    tab.open("/csv")
    tab.wait_drawn("csv-line", "csv-words")
    page = tab.page

    def download(id: str) -> tuple[str, bytes]:
        with page.expect_download() as got:
            page.locator(f"#{id}-figure").get_by_role("button", name="CSV 저장").click()
        return got.value.suggested_filename, Path(got.value.path()).read_bytes()

    name, raw = download("csv-line")
    assert name == "분당 메시지.csv"
    assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM (Excel would show mojibake)"
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["시각", "긍정", tricky], ["10:00", "1", ""], ["10:01", "2.5", "-3"]]

    name, raw = download("csv-words")
    assert name == "csv-words.csv"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["단어", "빈도"],
        ["안녕", "3"],
        ["'" + words[1]["word"], "2"],  # not run as a formula by a spreadsheet
        ["쉼표,단어", "1"],
    ]
    assert page.evaluate("() => window.nunchiCharts.csv('csv-words')") == raw.decode("utf-8")
    tab.assert_clean()


def test_hostile_text_stays_text(tab: Tab, site: ChartSite) -> None:
    hostile = {**KO, "x": EVIL, "png": EVIL}
    series = {"x": [EVIL, "b"], "series": [{"name": EVIL, "values": [1, 2]}]}
    html = site.page(
        "/hostile",
        [
            _chart("evil-line", "line", series, EVIL, hostile),
            _chart("evil-pie", "pie", {"items": [{"name": EVIL, "value": 1}]}, "파이"),
            _chart("evil-words", "wordcloud", {"words": [{"word": EVIL, "weight": 5}]}, "단어"),
        ],
    )
    assert "<img src=x" not in html
    tab.open("/hostile")
    tab.wait_drawn("evil-line", "evil-pie", "evil-words")
    page = tab.page
    main = page.locator("main")
    expect(main.locator("img")).to_have_count(0)
    expect(main.locator("script")).to_have_count(3)  # the three JSON blocks, nothing more
    expect(main.locator('script[type="application/json"]')).to_have_count(3)
    expect(page.locator("#evil-line-figure").get_by_role("button", name=EVIL)).to_be_visible()
    assert _table(tab, "evil-line")[:2] == [[EVIL, EVIL], [EVIL, "1"]]
    assert page.evaluate("() => window.nunchiCharts.data('evil-words').words[0].word") == EVIL

    # Tooltips (HTML in ECharts by default) show the text as text.
    _show_tip(tab, "evil-line", 0)
    tip = page.locator('[data-chart="evil-line"] .chart-tip')
    expect(tip.locator(".chart-tip-head")).to_have_text(EVIL)
    expect(tip.locator(".chart-tip-name")).to_have_text(EVIL)
    _show_tip(tab, "evil-pie", 0)
    expect(page.locator('[data-chart="evil-pie"] .chart-tip-name')).to_have_text(EVIL)
    _show_tip(tab, "evil-words", 0)
    expect(page.locator('[data-chart="evil-words"] .chart-tip-name')).to_have_text(EVIL)

    expect(main.locator("img")).to_have_count(0)
    expect(page.locator("script")).to_have_count(page.locator("head script").count() + 3)
    assert not [u for u in tab.requests if u.endswith("/x")], "the injected <img> loaded"
    tab.assert_clean()


def test_htmx_swapped_fragments_get_their_charts(tab: Tab, site: ChartSite) -> None:
    site.fragment("/frag/1", "slot", [_chart("swapped", "bar", PER_MINUTE, "교체 1")])
    site.fragment(
        "/frag/2",
        "slot",
        [_chart("swapped", "pie", {"items": [{"name": "긍정", "value": 3}]}, "교체 2")],
    )
    buttons = (
        '<button id="load1" hx-get="/frag/1" hx-target="#slot" hx-swap="outerHTML">1</button>'
        '<button id="load2" hx-get="/frag/2" hx-target="#slot" hx-swap="outerHTML">2</button>'
        '<div id="slot"></div>'
    )
    site.page("/htmx", [], extra=buttons)
    tab.open("/htmx")
    page = tab.page
    page.locator("#load1").click()
    tab.wait_drawn("swapped")
    assert tab.instance("swapped", "chart.getOption().series[0].type") == "bar"
    first = page.locator('[data-chart="swapped"]').element_handle()

    page.locator("#load2").click()
    expect(page.locator("#swapped-title")).to_have_text("교체 2")
    tab.wait_drawn("swapped")
    assert tab.instance("swapped", "chart.getOption().series[0].type") == "pie"
    # The chart that was swapped out is disposed, not left running.
    assert page.evaluate("(el) => window.echarts.getInstanceByDom(el) === undefined", first)
    assert page.evaluate("() => window.nunchiCharts.append('swapped', {name: '부정', value: 1})")
    assert _table(tab, "swapped")[1:] == [["긍정", "3"], ["부정", "1"]]
    tab.assert_clean()


def test_charts_follow_their_container_size(tab: Tab, site: ChartSite) -> None:
    site.page("/resize", [_chart("sized", "area", PER_MINUTE, "크기")])
    tab.open("/resize")
    tab.wait_drawn("sized")
    page = tab.page
    wide = tab.instance("sized", "chart.getWidth()")
    page.set_viewport_size({"width": 420, "height": 900})
    page.wait_for_function(
        "(wide) => window.nunchiCharts.instance('sized').getWidth() < wide / 2", arg=wide
    )
    canvas_width = page.evaluate(
        "() => document.querySelector('[data-chart=\"sized\"] canvas').getBoundingClientRect()"
        ".width"
    )
    assert canvas_width <= 420
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    tab.assert_clean()
