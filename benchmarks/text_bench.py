"""``nunchi bench text``: nunchi's Korean text analyzers, with the profanity detector side by
side with korcen (a rule-based Korean profanity filter, PyPI ``korcen``), in one run.

- **Speed of every text model** on generated chat lines (:mod:`benchmarks.text_models`, the
  shipped models, one thread).
- **Profanity quality.** The labelled data (``text|label`` lines) is split as the model card
  does, ``split_rows(rows, 0.2, seed=0)``. The shipped model was trained on every row, so it
  cannot be measured on any of them: nunchi's recipe (`train_profanity.train`) is trained here,
  on the 80 %, to a temporary file. Both detectors are scored on the held-out 20 %, and on the
  same rows rewritten by `obfuscate` with ``random.Random(1)`` (as the model card) to show
  recall under evasion (시1발, ㅅㅂ, tlqkf, 시 발, ...).
- **Profanity speed**, one thread, the same messages for both: the held-out texts and the chat
  lines. nunchi scores in batches (`score_batch`, 512); korcen has no batch call, so
  ``korcen.check(text)`` runs once per message. ``chat_flagged_share`` is the share of the chat
  lines (clean by construction: 노잼, 개웃기네, 미쳤다 ...) that a detector flags.

korcen is optional: when it cannot be imported the ``korcen`` entry is ``null`` and
``korcen_unavailable`` says why.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import contextlib  # noqa: E402 - the thread limits above must be set before numpy loads
import importlib  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.pipeline import Progress, machine_info, quiet  # noqa: E402
from benchmarks.text_models import chat_messages, throughput  # noqa: E402
from nunchi.training.text.metrics import binary_metrics  # noqa: E402

__all__ = [
    "OBFUSCATE_SEED",
    "SPLIT_SEED",
    "VAL_FRACTION",
    "Korcen",
    "Progress",
    "TextBenchConfig",
    "default_data",
    "load_korcen",
    "run_text",
]

VAL_FRACTION = 0.2
SPLIT_SEED = 0
OBFUSCATE_SEED = 1
"""The split and the evasions of the model card (``train_profanity.train`` with seed 0)."""
_KEYWORD_MESSAGES = 3_000


def default_data() -> Path:
    """``../shared/data/curse/train.txt`` next to the checkout this file lives in."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "curse" / "train.txt"


@dataclass(frozen=True)
class TextBenchConfig:
    """What to run: the labelled profanity data, and how many chat lines to time."""

    data: Path
    messages: int = 20_000
    """Generated chat lines for the msgs/s figures (keywords use at most 3,000 of them)."""
    repeats: int = 3
    """Timed passes per figure; the median is reported."""
    batch_size: int = 512

    def __post_init__(self) -> None:
        for name in ("messages", "repeats", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Korcen:
    """The peer: ``korcen.check`` and the installed version."""

    check: Callable[[str], bool]
    version: str


def load_korcen() -> Korcen | str:
    """Import korcen, or say why it cannot be imported.

    korcen prints to stdout when it imports (warnings) and ``colorama.init`` wraps
    ``sys.stdout`` / ``sys.stderr``: its output goes to stderr and both streams are put back,
    so stdout keeps exactly one JSON line."""
    saved = sys.stdout, sys.stderr
    try:
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module("korcen.korcen")
    except ImportError as e:
        return (f"korcen is not installed ({e}); install the test extra: "
                "pip install -c constraints.txt -e '.[test]'")
    finally:
        sys.stdout, sys.stderr = saved
    try:
        version = metadata.version("korcen")
    except metadata.PackageNotFoundError:  # imported from a folder, not installed
        version = str(getattr(sys.modules.get("korcen"), "__version__", "unknown"))
    return Korcen(check=module.check, version=version)


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 2)


def _detector_figures(
    flag: Callable[[Sequence[str]], list[bool]],
    heldout: Sequence[tuple[str, int]],
    obfuscated: Sequence[tuple[str, int]],
    chat: list[str],
    config: TextBenchConfig,
) -> dict[str, Any]:
    """Quality on the held-out rows (plain and obfuscated) and msgs/s of one detector."""
    labels = [y for _, y in heldout]
    texts = [t for t, _ in heldout]
    chat_flags = flag(chat)
    return {
        "heldout": binary_metrics(labels, flag(texts), digits=4),
        "heldout_obfuscated": binary_metrics(labels, flag([t for t, _ in obfuscated]), digits=4),
        "msgs_per_s_heldout": throughput(flag, texts, config.batch_size, config.repeats),
        "msgs_per_s_chat": throughput(flag, chat, config.batch_size, config.repeats),
        "chat_flagged_share": round(sum(chat_flags) / len(chat_flags), 4),
    }


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Limit BLAS / OpenMP pools to one thread (threadpoolctl comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (needed to train) brings it
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _nunchi(
    data: Path, progress: Progress
) -> tuple[Callable[[Sequence[str]], list[bool]], dict[str, Any]]:
    """Train the 80 % recipe to a temporary file; its flag function and training figures."""
    from nunchi.analyzers.text.profanity import ProfanityDetector
    from nunchi.training.text.profanity import train

    progress("nunchi: training the recipe on the 80 % (under a minute on the full data)", 0, 0)
    with tempfile.TemporaryDirectory(prefix="nunchi-bench-text-") as tmp:
        model = Path(tmp) / "profanity-80.npz"
        started = time.perf_counter()
        card = train(data, model, seed=SPLIT_SEED, val_fraction=VAL_FRACTION)
        train_s = time.perf_counter() - started
        detector = ProfanityDetector.load(model)

    def flag(texts: Sequence[str]) -> list[bool]:
        out: list[bool] = []
        for i in range(0, len(texts), 512):
            out.extend(r.profane for r in detector.score_batch(list(texts[i : i + 512])))
        return out

    info = {
        "model": "train_profanity.train recipe (seed 0), trained in this run on the 80 %",
        "train_s": round(train_s, 1),
        "threshold": card["threshold"],
        "cv_f1_mean": round(card["cv_f1_mean"], 4),
    }
    return flag, info


def _profanity(config: TextBenchConfig, chat: list[str], progress: Progress) -> dict[str, Any]:
    from nunchi.training.text.profanity import load_rows, obfuscate, split_rows

    rows = load_rows(config.data)
    train_rows, heldout = split_rows(rows, VAL_FRACTION, SPLIT_SEED)
    rng = random.Random(OBFUSCATE_SEED)
    obfuscated = [(obfuscate(t, rng), y) for t, y in heldout]
    result: dict[str, Any] = {
        "data": str(config.data),
        "rows": len(rows),
        "train_rows": len(train_rows),
        "heldout_rows": len(heldout),
        "heldout_profane": sum(y for _, y in heldout),
        "split": f"train_profanity.split_rows(rows, {VAL_FRACTION}, seed={SPLIT_SEED}), stratified",
        "obfuscation": f"train_profanity.obfuscate(text, random.Random({OBFUSCATE_SEED})) "
        "on every held-out row",
        "nunchi": None,
        "korcen": None,
        "korcen_unavailable": None,
    }
    try:
        flag, info = _nunchi(config.data, progress)
        progress("nunchi: scoring the held-out rows and the chat lines", 0, 0)
        result["nunchi"] = {**info, **_detector_figures(flag, heldout, obfuscated, chat, config)}
    except Exception as e:  # reported in the JSON; korcen still runs
        result["nunchi"] = {"error": f"{type(e).__name__}: {e}"}

    progress("korcen: scoring the held-out rows and the chat lines", 0, 0)
    peer = load_korcen()
    if isinstance(peer, str):
        result["korcen_unavailable"] = peer
    else:
        check = peer.check

        def korcen_flags(texts: Sequence[str]) -> list[bool]:
            return [bool(check(t)) for t in texts]

        try:
            result["korcen"] = {
                "version": peer.version,
                "call": "korcen.check(text), one message per call (default levels, foreign=False)",
                **_detector_figures(korcen_flags, heldout, obfuscated, chat, config),
            }
        except Exception as e:
            result["korcen"] = {"error": f"{type(e).__name__}: {e}"}

    ours = result["nunchi"] if "error" not in result["nunchi"] else {}
    theirs = result["korcen"] if result["korcen"] and "error" not in result["korcen"] else {}

    def pick(run: dict[str, Any], *path: str) -> float | None:
        value: Any = run
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value)

    for name, path in (
        ("f1_heldout", ("heldout", "f1")),
        ("f1_obfuscated", ("heldout_obfuscated", "f1")),
        ("recall_obfuscated", ("heldout_obfuscated", "recall")),
        ("msgs_per_s_heldout", ("msgs_per_s_heldout",)),
        ("msgs_per_s_chat", ("msgs_per_s_chat",)),
    ):
        result[f"ratio_{name}_nunchi_vs_korcen"] = _ratio(pick(ours, *path), pick(theirs, *path))
    return result


def run_text(config: TextBenchConfig, progress: Progress = quiet) -> dict[str, Any]:
    """The one JSON object ``nunchi bench text`` prints: speed of every text model on chat
    lines, and profanity quality and speed for nunchi and korcen on the same rows.

    A detector that fails gets ``{"error": ...}`` and the rest still runs."""
    from benchmarks import text_models

    machine = machine_info()
    chat = chat_messages(config.messages)
    with _one_thread():
        progress("text models: msgs/s on chat lines (sentiment, profanity, keywords)", 0, 0)
        speed = text_models.run(
            config.messages,
            batch_size=config.batch_size,
            repeats=config.repeats,
            keyword_messages=min(_KEYWORD_MESSAGES, config.messages),
        )
        speed.pop("benchmark", None)
        profanity = _profanity(config, chat, progress)
    return {
        "bench": "text",
        "machine": machine,
        "config": {
            "messages": config.messages,
            "avg_chars": round(statistics.mean(len(m) for m in chat), 1),
            "keyword_messages": min(_KEYWORD_MESSAGES, config.messages),
            "repeats": config.repeats,
            "batch_size": config.batch_size,
            "threads": 1,
        },
        "speed_chat": {k: v for k, v in speed.items() if k not in ("messages", "avg_chars",
                                                                   "batch_size", "threads")},
        "profanity": profanity,
    }
