"""The ``_charts.html`` macros, rendered with the app's template environment: the JSON data
block cannot be broken out of, every text is escaped, a wrong kind or missing label fails the
render, and the assets it names are vendored with their licences."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

import nunchi.web
from nunchi.web.pages.rendering import make_environment

STATIC = Path(nunchi.web.__file__).parent / "static"
BREAKOUT = "</script><script>alert(1)</script>"
EVIL = BREAKOUT + "<img src=x onerror=alert(2)>'\"&<!--"
LABELS = {"png": "PNG 저장", "csv": "CSV 저장", "x": "시각"}


def _render(source: str, **context: Any) -> str:
    env = make_environment()
    return env.from_string('{% from "_charts.html" import chart, chart_assets %}' + source).render(
        **context
    )


def _chart(id: str = "c1", kind: str = "line", **overrides: Any) -> str:
    args: dict[str, Any] = {
        "id": id,
        "kind": kind,
        "data": {"x": ["10:00"], "series": [{"name": "긍정", "values": [1]}]},
        "title": "분당 메시지",
        "labels": LABELS,
    }
    args.update(overrides)
    return _render("{{ chart(id, kind, data, title, labels, height) }}", height=None, **args)


class _Elements(HTMLParser):
    """The elements of an HTML text, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def test_the_data_block_holds_the_data_and_cannot_be_broken_out_of() -> None:
    data = {
        "x": [EVIL, "10:01"],
        "series": [{"name": EVIL, "values": [1, None]}, {"name": "부정", "values": [2.5, 3]}],
    }
    html = _chart(data=data, title=EVIL, labels={**LABELS, "x": EVIL, "png": EVIL})
    # One script element, closed once: the text cannot end it early.
    assert html.count("<script") == 1
    assert html.lower().count("</script") == 1
    parsed = _parse(html)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts == [{"type": "application/json", "id": "c1-data"}]
    assert not [tag for tag, _ in parsed.tags if tag == "img"]
    # The JSON has <, >, & and ' escaped, and reads back as the data given.
    block = parsed.scripts[0]
    assert not re.search(r"[<>&']", block), block
    spec = json.loads(block)
    assert spec == {
        "kind": "line",
        "title": EVIL,
        "labels": {**LABELS, "x": EVIL, "png": EVIL},
        "data": data,
        "height": None,
    }


def test_texts_outside_the_data_block_are_escaped() -> None:
    html = _chart(title=EVIL, labels={**LABELS, "png": EVIL, "csv": "CSV"})
    parsed = _parse(html)
    assert [tag for tag, _ in parsed.tags].count("img") == 0
    chart = next(attrs for tag, attrs in parsed.tags if tag == "div" and "data-chart" in attrs)
    assert chart == {"class": "chart", "data-chart": "c1", "role": "img", "aria-label": EVIL}
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img" in html
    buttons = [attrs for tag, attrs in parsed.tags if tag == "button"]
    assert [b["data-chart-export"] for b in buttons] == ["png", "csv"]
    assert all(b["data-chart-for"] == "c1" and b["type"] == "button" for b in buttons)
    assert "&gt;&#39;&#34;&amp;&lt;!--</button>" in html


def test_an_id_is_escaped_in_every_attribute() -> None:
    html = _chart(id='x" onmouseover="alert(1)')
    parsed = _parse(html)
    assert all("onmouseover" not in attrs for _, attrs in parsed.tags)
    ids = [attrs.get("id") for _, attrs in parsed.tags if attrs.get("id")]
    assert 'x" onmouseover="alert(1)-data' in ids


def test_each_kind_renders_its_container() -> None:
    for kind in ("line", "area", "bar", "pie", "donut", "wordcloud"):
        spec = json.loads(_parse(_chart(kind=kind)).scripts[0])
        assert spec["kind"] == kind


def test_a_wrong_kind_or_a_missing_button_label_fails_the_render() -> None:
    with pytest.raises(UndefinedError, match="chart_kind_must_be_line_area_bar_pie_donut"):
        _chart(kind="scatter")
    with pytest.raises(UndefinedError, match="csv"):
        _chart(labels={"png": "PNG"})


def test_the_height_goes_into_the_data_block() -> None:
    html = _render(
        "{{ chart('c2', 'bar', {'x': [], 'series': []}, '막대', labels, 240) }}", labels=LABELS
    )
    assert json.loads(_parse(html).scripts[0])["height"] == 240


def test_chart_assets_name_vendored_files_loaded_deferred() -> None:
    html = _render("{{ chart_assets() }}")
    parsed = _parse(html)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert [s["src"] for s in scripts] == [
        "/static/vendor/echarts/echarts.common.min.js",
        "/static/vendor/echarts-wordcloud/echarts-wordcloud.min.js",
        "/static/charts.js",
    ]
    assert all("defer" in s for s in scripts)
    links = [str(attrs["href"]) for tag, attrs in parsed.tags if tag == "link"]
    assert links == ["/static/charts.css"]
    for path in [str(s["src"]) for s in scripts] + links:
        assert path.startswith("/static/")
        assert (STATIC / path.removeprefix("/static/")).is_file(), path
    for lib in ("echarts", "echarts-wordcloud"):
        assert (STATIC / "vendor" / lib / "LICENSE.txt").is_file()
        assert f"- {lib}/:" in (STATIC / "vendor" / "README.txt").read_text("utf-8")
