"""`nunchi text analyze` and `nunchi models eval / train-sentiment / heldout-sentiment`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.cli import build

app = build()

NSMC = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nsmc"
HAS_TRAINING = all(importlib.util.find_spec(m) for m in ("sklearn", "scipy"))
runner = CliRunner()


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_analyze_sentiment_writes_one_json_object_per_line() -> None:
    result = runner.invoke(app, ["text", "analyze", "--task", "sentiment"],
                           input="정말 재밌어요\n최악의 영화\n\n")
    assert result.exit_code == 0, result.output
    records = _json_lines(result.stdout)
    assert [r["text"] for r in records] == ["정말 재밌어요", "최악의 영화", ""]
    assert records[0]["label"] == "positive" and records[1]["label"] == "negative"
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in records)  # type: ignore[arg-type]
    assert "정말 재밌어요" in result.stdout  # ensure_ascii=False: Korean stays readable


def test_analyze_several_tasks_nests_fields_by_task() -> None:
    result = runner.invoke(app, ["text", "analyze", "--task", "sentiment,keywords",
                                 "--batch-size", "1"],
                           input="BTS 노래 최고\n떡볶이 맛집 최악\n")
    assert result.exit_code == 0, result.output
    records = _json_lines(result.stdout)
    assert len(records) == 2
    assert records[0]["keywords"] == ["bts", "노래", "최고"]
    sentiment = records[1]["sentiment"]
    assert isinstance(sentiment, dict) and sentiment["label"] == "negative"


def test_analyze_keywords_alone_and_repeated_flag() -> None:
    result = runner.invoke(app, ["text", "analyze", "--task", "keywords", "--task", "keywords"],
                           input="강아지 사진 귀엽다\n")
    assert result.exit_code == 0, result.output
    assert _json_lines(result.stdout) == [{"text": "강아지 사진 귀엽다",
                                          "keywords": ["강아지", "사진"]}]


def test_analyze_profanity_when_the_detector_ships() -> None:
    profanity = importlib.util.find_spec("nunchi.analyzers.text.profanity")
    model = Path(__file__).resolve().parents[3] / "src/nunchi/analyzers/text/models/profanity.npz"
    if profanity is None or not model.is_file():
        pytest.skip("profanity detector not built yet")
    result = runner.invoke(app, ["text", "analyze", "--task", "profanity"], input="안녕하세요\n")
    assert result.exit_code == 0, result.output
    record = _json_lines(result.stdout)[0]
    assert record["text"] == "안녕하세요"
    assert set(record) >= {"profane", "score", "spans", "masked"}


def test_analyze_bad_flags_say_what_to_fix() -> None:
    result = runner.invoke(app, ["text", "analyze", "--task", "emotion"], input="x\n")
    assert result.exit_code == 2
    assert "unknown task 'emotion'" in result.output
    result = runner.invoke(app, ["text", "analyze", "--task", "sentiment", "--variant", "big"],
                           input="x\n")
    assert result.exit_code == 2
    assert "fast or accurate" in result.output


def test_models_eval_prints_table_and_json(tmp_path: Path) -> None:
    file = tmp_path / "labelled.tsv"
    file.write_text("document\tlabel\n정말 재밌어요\t1\n최악의 영화\t0\n꿀잼 강추\t1\n"
                    "시간 아깝다\t0\n", encoding="utf-8")
    result = runner.invoke(app, ["models", "eval", "--task", "sentiment", "--file", str(file),
                                 "--variant", "fast", "--json"])
    assert result.exit_code == 0, result.output
    (figures,) = _json_lines(result.stdout)
    assert figures["model"] == "sentiment-fast"
    assert figures["rows"] == 4 and figures["accuracy"] == 1.0
    assert set(figures) >= {"precision", "recall", "f1", "messages_per_s"}
    table = runner.invoke(app, ["models", "eval", "--task", "sentiment", "--file", str(file),
                                "--variant", "fast"])
    assert table.exit_code == 0, table.output
    assert "accuracy" in table.stdout and "sentiment-fast" in table.stdout
    pipe = tmp_path / "labelled.txt"
    pipe.write_text("정말 재밌어요|1\n최악의 영화|0\n", encoding="utf-8")
    result = runner.invoke(app, ["models", "eval", "--task", "sentiment", "--file", str(pipe),
                                 "--format", "pipe", "--variant", "fast", "--json"])
    assert result.exit_code == 0, result.output
    assert _json_lines(result.stdout)[0]["accuracy"] == 1.0


def test_models_eval_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["models", "eval", "--task", "sentiment",
                                  "--file", str(tmp_path / "nope.tsv")])
    assert missing.exit_code != 0
    assert "does not exist" in missing.output
    bad = runner.invoke(app, ["models", "eval", "--task", "speech", "--file", "x"])
    assert bad.exit_code == 2 and "unknown task" in bad.output
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("좋아\tyes\t1\tz\n", encoding="utf-8")
    result = runner.invoke(app, ["models", "eval", "--task", "sentiment", "--file", str(wrong)])
    assert result.exit_code == 2 and "tab-separated" in result.output


@pytest.mark.skipif(not HAS_TRAINING, reason="scikit-learn/scipy (training extras) missing")
def test_models_train_sentiment_on_a_small_folder(tmp_path: Path) -> None:
    data = tmp_path / "nsmc"
    data.mkdir()
    lines = ["id\tdocument\tlabel"]
    for i in range(400):
        word = "꿀잼 최고" if i % 2 else "노잼 최악"
        lines.append(f"{i}\t{word} 영화 {i}번째\t{i % 2}")
    (data / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "model.npz"
    result = runner.invoke(app, ["models", "train-sentiment", "--data", str(data),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout.strip().splitlines()[-1])
    assert card["path"] == str(out) and out.is_file()
    assert card["test"]["accuracy"] == 1.0
    bad = runner.invoke(app, ["models", "train-sentiment", "--data", str(tmp_path / "none"),
                              "--out", str(out)])
    assert bad.exit_code == 2 and "train.tsv not found" in bad.output


@pytest.mark.skipif(not (NSMC / "train.tsv").is_file(), reason="NSMC data not found")
def test_models_heldout_sentiment_writes_the_split(tmp_path: Path) -> None:
    out = tmp_path / "heldout.tsv"
    result = runner.invoke(app, ["models", "heldout-sentiment", "--data", str(NSMC),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "document\tlabel"
    assert 7000 < len(lines) - 1 < 7500
    assert f"wrote {len(lines) - 1} rows" in result.stdout


def test_models_train_profanity_reports_a_missing_file(tmp_path: Path) -> None:
    if importlib.util.find_spec("nunchi.training.text.profanity") is None:
        pytest.skip("profanity trainer not built yet")
    result = runner.invoke(app, ["models", "train-profanity", "--data",
                                 str(tmp_path / "missing.txt"), "--out", str(tmp_path / "p.npz")])
    assert result.exit_code == 2
    assert "missing.txt" in result.output
    assert not (tmp_path / "p.npz").exists()


def test_models_train_profanity_ships_a_model_trained_on_every_row(tmp_path: Path) -> None:
    curse = Path(__file__).resolve().parents[4] / "shared" / "data" / "curse" / "train.txt"
    if not curse.is_file():
        pytest.skip("../shared/data/curse/train.txt is not here")
    small = tmp_path / "small.txt"
    small.write_text("\n".join(curse.read_text(encoding="utf-8").splitlines()[:400]) + "\n",
                     encoding="utf-8")
    out = tmp_path / "p.npz"
    result = runner.invoke(app, ["models", "train-profanity", "--data", str(small),
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout.strip().splitlines()[-1])
    assert card["trained_on"] == "all rows"
    from nunchi.analyzers.text.profanity import ProfanityDetector

    shipped = ProfanityDetector.load(out)
    assert card["f1"] == shipped.metadata["recipe_holdout"]["f1"]  # the card is the held-out run
    assert shipped.metadata["recipe_holdout"]["val_fraction"] == 0.2
    assert shipped.metadata["val_fraction"] == 0.0  # the written model saw every row
