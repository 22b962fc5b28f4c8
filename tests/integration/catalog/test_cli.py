"""``nunchi catalog import|search|rankings`` against a SQLite store built from settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.cli import build
from nunchi.config import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUNCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NUNCHI_BUS_URL", "memory://")
    monkeypatch.delenv("NUNCHI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_import_a_cp949_csv_then_search_it(cli_env: Path) -> None:
    csv = cli_env / "꽃집.csv"
    csv.write_bytes("품명,가게,값\n진달래 화분,봄꽃화원,12000\n철쭉 묘목,산들농원,8000\n"
                    .encode("cp949"))
    app = build()
    done = runner.invoke(app, ["catalog", "import", "garden", str(csv), "--map",
                               "품명=name,가게=maker,값=price_won", "--source", "동네 꽃집 가격표"])
    assert done.exit_code == 0, done.output
    (summary,) = _lines(done.stdout)
    assert summary["inserted"] == 2 and summary["encoding"] in ("cp949", "euc-kr")
    found = runner.invoke(app, ["catalog", "search", "garden", "진달레"])
    assert found.exit_code == 0, found.output
    assert _lines(found.stdout)[0]["name"] == "진달래 화분"
    cheap = runner.invoke(app, ["catalog", "search", "garden", "", "--max", "price_won=10000"])
    assert [r["name"] for r in _lines(cheap.stdout)] == ["철쭉 묘목"]


def test_the_packaged_food_catalog_is_there_on_first_use(cli_env: Path) -> None:
    app = build()
    found = runner.invoke(app, ["catalog", "search", "food", "김치찌게", "--limit", "3"])
    assert found.exit_code == 0, found.output
    rows = _lines(found.stdout)
    assert len(rows) == 3 and rows[0]["name"] == "김치찌개"
    ranked = runner.invoke(app, ["catalog", "rankings", "plant", "--window", "hour"])
    assert ranked.exit_code == 0 and _lines(ranked.stdout) == []


def test_mistakes_end_with_a_line_saying_what_to_fix(cli_env: Path) -> None:
    csv = cli_env / "x.csv"
    csv.write_text("a,b\n1,2\n", "utf-8")
    app = build()
    no_map = runner.invoke(app, ["catalog", "import", "x", str(csv), "--source", "s"])
    assert no_map.exit_code == 2 and "--map" in no_map.output
    bad = runner.invoke(app, ["catalog", "import", "x", str(csv), "--source", "s",
                              "--map", "zz=name"])
    assert bad.exit_code == 2 and "no column 'zz'" in bad.output
    wrong = runner.invoke(app, ["catalog", "search", "Food", "x"])
    assert wrong.exit_code == 2 and "bad catalog kind" in wrong.output
