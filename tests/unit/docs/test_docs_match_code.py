"""Docs that name settings and commands are checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from nunchi.cli import build
from nunchi.config import Settings

app = build()

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`NUNCHI_([A-Z_]+)`", doc))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/configuration.md"
    assert documented - fields == set(), "docs/configuration.md names settings that do not exist"


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make up", "make test"]


def test_commands_named_in_docs_exist() -> None:
    runner = CliRunner()
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    named = set(re.findall(r"`nunchi ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", text))
    assert named, "expected the docs to name nunchi commands"
    for command in sorted(named):
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, f"`nunchi {command}` named in docs/ does not exist"


def test_model_summary_states_the_shipped_models_own_figures() -> None:
    """The summary table of docs/models.md quotes the held-out figures stored in the shipped
    model files (each card is written by the training run that made the file)."""
    from nunchi.analyzers.text.profanity import ProfanityDetector
    from nunchi.analyzers.text.sentiment import SentimentClassifier

    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines()
            if line.startswith("| ") and "`models/" in line}
    info = SentimentClassifier.load().info
    fast = info["test"]
    assert f"accuracy **{fast['accuracy']:.4f}**" in rows["sentiment `fast`"]
    figures = f"| `fast` (shipped) | **{fast['accuracy']:.4f}** | " + " | ".join(
        f"{fast[k]:.4f}" for k in ("precision", "recall", "f1"))
    assert figures in doc, "the sentiment Figures table does not quote the shipped card"
    assert f"validation accuracy {info['val']['accuracy']:.4f} fast" in doc
    held = ProfanityDetector.load().metadata["recipe_holdout"]
    assert f"F1 **{held['f1']:.3f}**" in rows["profanity"]


def test_every_data_file_of_the_package_is_installed() -> None:
    """A non-editable install (wheel, Docker image) carries only what package-data names:
    every file under src/nunchi that is not Python must match one of its patterns."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["nunchi"]
    names = [p.removeprefix("**/") for p in patterns]
    package = ROOT / "src" / "nunchi"
    data = [
        f for f in package.rglob("*")
        if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts
    ]
    assert data, "expected data files (templates, models, assets) in the package"
    left_out = [str(f.relative_to(package)) for f in data
                if not any(fnmatch.fnmatch(f.name, n) for n in names)]
    assert left_out == [], f"not in [tool.setuptools.package-data]: {left_out}"
