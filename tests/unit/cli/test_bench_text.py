"""`nunchi bench text`: text model speed, and nunchi's profanity detector beside korcen."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from benchmarks.text_models import chat_messages
from typer.testing import CliRunner

from nunchi.cli import build
from tests.fixtures.services import require_service

app = build()

runner = CliRunner()

DETECTOR_KEYS = {
    "heldout",
    "heldout_obfuscated",
    "msgs_per_s_heldout",
    "msgs_per_s_chat",
    "chat_flagged_share",
}
RATIO_KEYS = {
    "ratio_f1_heldout_nunchi_vs_korcen",
    "ratio_f1_obfuscated_nunchi_vs_korcen",
    "ratio_recall_obfuscated_nunchi_vs_korcen",
    "ratio_msgs_per_s_heldout_nunchi_vs_korcen",
    "ratio_msgs_per_s_chat_nunchi_vs_korcen",
}


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """40 profane and 40 clean chat lines: held out, 8 of each."""
    rng = random.Random(3)
    curses = ["시발", "씨발", "병신", "개새끼", "지랄", "존나", "미친놈"]
    rows = [f"{rng.choice(curses)} {m}|1" for m in chat_messages(40, seed=5)]
    rows += [f"{m}|0" for m in chat_messages(40, seed=6)]
    path = tmp_path / "curse.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _bench(data: Path) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(
        app,
        ["bench", "text", "--data", str(data), "--messages", "200", "--repeats", "1",
         "--json-only"],
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout: {result.output[:2000]}"
    out: dict[str, Any] = json.loads(lines[0])
    return result.exit_code, out, result.stderr


def _check_quality(figures: dict[str, float]) -> None:
    assert set(figures) == {"precision", "recall", "f1", "accuracy", "n"}
    assert figures["n"] == 16  # the held-out rows
    p, r = figures["precision"], figures["recall"]
    assert all(0.0 <= v <= 1.0 for k, v in figures.items() if k != "n")
    assert figures["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0, abs=1e-3)


def _check_detector(run: dict[str, Any]) -> None:
    assert "error" not in run, run
    assert set(run) >= DETECTOR_KEYS
    _check_quality(run["heldout"])
    _check_quality(run["heldout_obfuscated"])
    assert run["msgs_per_s_heldout"] > 0 and run["msgs_per_s_chat"] > 0
    assert 0.0 <= run["chat_flagged_share"] <= 1.0
    # Every held-out profane row has a plain swear word: both detectors find most of them.
    assert run["heldout"]["recall"] >= 0.75


@pytest.mark.timeout(90)
def test_one_json_line_with_korcen_side_by_side(tiny_data: Path) -> None:
    require_service("korcen", importlib.util.find_spec("korcen") is not None,
                    "pip install -c constraints.txt -e '.[test]'")
    code, out, stderr = _bench(tiny_data)
    assert code == 0, out
    assert out["bench"] == "text"
    assert out["config"]["messages"] == 200 and out["config"]["threads"] == 1
    speed = out["speed_chat"]
    assert speed["sentiment_fast_msgs_per_s"] > 0
    assert speed["profanity_msgs_per_s"] > 0 and speed["keywords_msgs_per_s"] > 0

    profanity = out["profanity"]
    assert set(profanity) >= RATIO_KEYS
    assert profanity["rows"] == 80 and profanity["train_rows"] == 64
    assert profanity["heldout_rows"] == 16 and profanity["heldout_profane"] == 8
    nunchi, korcen = profanity["nunchi"], profanity["korcen"]
    _check_detector(nunchi)
    assert nunchi["train_s"] > 0 and 0.0 < nunchi["threshold"] < 1.0
    _check_detector(korcen)
    assert korcen["version"] == metadata.version("korcen")
    assert profanity["korcen_unavailable"] is None
    for name, ours, theirs in (
        ("f1_heldout", nunchi["heldout"]["f1"], korcen["heldout"]["f1"]),
        ("recall_obfuscated", nunchi["heldout_obfuscated"]["recall"],
         korcen["heldout_obfuscated"]["recall"]),
        ("msgs_per_s_chat", nunchi["msgs_per_s_chat"], korcen["msgs_per_s_chat"]),
    ):
        ratio = profanity[f"ratio_{name}_nunchi_vs_korcen"]
        if theirs:
            assert ratio == pytest.approx(ours / theirs, abs=0.006), name
        else:
            assert ratio is None, name
    assert "nunchi: training" not in stderr  # --json-only: no progress


def test_importing_korcen_leaves_stdout_and_stderr_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # korcen runs colorama.init() on import, which wraps both streams.
    pytest.importorskip("korcen")
    from benchmarks.text_bench import Korcen, load_korcen

    for name in [m for m in sys.modules if m == "korcen" or m.startswith("korcen.")]:
        monkeypatch.delitem(sys.modules, name)  # import it afresh; put back after the test
    before = sys.stdout, sys.stderr
    peer = load_korcen()
    assert sys.stdout is before[0] and sys.stderr is before[1]
    assert isinstance(peer, Korcen)
    assert peer.check("ㅅㅂ 뭐하냐") and not peer.check("정말 좋은 날씨입니다.")


@pytest.mark.timeout(90)
def test_missing_korcen_is_null_with_the_reason(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "korcen", None)  # `import korcen` now fails
    monkeypatch.setitem(sys.modules, "korcen.korcen", None)
    code, out, _ = _bench(tiny_data)
    assert code == 0, out
    profanity = out["profanity"]
    assert profanity["korcen"] is None
    assert "korcen is not installed" in profanity["korcen_unavailable"]
    assert ".[test]" in profanity["korcen_unavailable"]
    _check_detector(profanity["nunchi"])
    assert all(profanity[key] is None for key in RATIO_KEYS)


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = runner.invoke(app, ["bench", "text", "--data", str(missing), "--json-only"])
    assert result.exit_code == 2
    assert "profanity data not found" in result.output and "--data" in result.output
    assert result.stdout.strip() == ""


def test_malformed_data_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("좋은 하루|1\n라벨 없는 줄\n", encoding="utf-8")
    result = runner.invoke(app, ["bench", "text", "--data", str(bad)])
    assert result.exit_code == 2
    assert "expected 'text|0' or 'text|1'" in result.output
    assert result.stdout.strip() == ""
