"""``nunchi bench vision``: photos classified as jobs end to end, beside the bare backbone +
head on the same photos in the same run.

- **bare**: for each photo, in this process: read it safely (``load_image``), embed it with
  the published project's recipe, ask the head (what a job does, without the job).
- **identify**: the same photos as ``vision.predict`` jobs on an embedded platform as
  ``nunchi up`` runs it (SQLite store, SQLite event log, folder blobs; the job stage on one
  handler thread): each photo is put in the blob store, a job submitted, the stage runs it
  and stores the result. Throughput: every photo submitted at once, images/s from the first
  submit to the last job finished. Latency: one photo at a time, submit to finished as the
  store records it (``created_at`` -> ``finished_at``).

``overhead_ratio`` = bare images/s / identify images/s - 1: the share of extra time a photo
costs as a job (goal: <= 0.20). The project is the shipped ``plants-demo`` (the ``accurate``
recipe: 8 backbone runs a photo), so both sides do the same work. The catalog app's identify
jobs add a catalog lookup to this ``vision.predict`` path. Photos: the flowers of
``../shared/data/images/flowers`` when present, else generated ones.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import asyncio  # noqa: E402 - the thread limits above must be set before numpy loads
import io  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.pipeline import Progress, machine_info, quiet  # noqa: E402

__all__ = ["PROJECT", "VisionBenchConfig", "default_photos", "run_vision"]

PROJECT = "plants-demo"


@dataclass(frozen=True)
class VisionBenchConfig:
    """How many photos, from where (None: the flowers if present, else generated)."""

    images: int = 60
    latency_images: int = 30
    rounds: int = 2
    """Bare and identify runs alternate this many times; the best of each is reported (the
    round least disturbed by other work on a shared machine)."""
    photos: Path | None = None
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if min(self.images, self.latency_images, self.rounds) < 1:
            raise ValueError("images, latency_images and rounds must be at least 1")


def default_photos() -> Path:
    """``../shared/data/images/flowers`` next to the checkout this file lives in."""
    root = Path(__file__).resolve().parent.parent
    for base in (root.parent, root.parent.parent):
        found = base / "shared" / "data" / "images" / "flowers"
        if found.is_dir():
            return found
    return root.parent / "shared" / "data" / "images" / "flowers"


def _photos(config: VisionBenchConfig) -> tuple[list[bytes], str]:
    folder = config.photos or default_photos()
    files = sorted(folder.glob("*/*.jpg")) if folder.is_dir() else []
    if files:
        chosen = [files[i * len(files) // config.images % len(files)] for i in range(config.images)]
        return [p.read_bytes() for p in chosen], str(folder)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(config.images):
        pixels = rng.integers(0, 255, (227, 227, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out, "generated (227x227 noise JPEGs)"


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, min(len(ordered) - 1, int(np.ceil(q * len(ordered))) - 1))]


def _latency(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
    }


def _bare(photos: list[bytes], models: Any, progress: Progress) -> tuple[float, list[float]]:
    """Images/s and per-photo milliseconds of read + embed + head, one photo at a time."""
    from nunchi.inputs.images import load_image

    loaded = models.model(PROJECT)
    times: list[float] = []
    t0 = time.perf_counter()
    for i, data in enumerate(photos):
        start = time.perf_counter()
        vector = models.embed([load_image(data)], loaded.recipe)
        loaded.head.predict(vector, top_k=3)
        times.append((time.perf_counter() - start) * 1000)
        progress("bare backbone + head", i + 1, len(photos))
    return len(photos) / (time.perf_counter() - t0), times


def _wait(platform: Any, ids: list[str], timeout: float) -> list[Any]:
    """The jobs ``ids`` once all are final, woken by the stages' nudges (no busy polling:
    the bench must not take the CPU the jobs need)."""

    async def wait() -> list[Any]:
        deadline = time.monotonic() + timeout
        pending = list(ids)
        done: dict[str, Any] = {}
        with platform.core.nudges.subscribe("jobs") as nudged:
            while pending:
                job = platform.jobs.get(pending[0])
                if job.status in ("succeeded", "failed"):
                    done[pending.pop(0)] = job
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} vision.predict jobs not done in time")
                await nudged.wait(0.25)
        return [done[i] for i in ids]

    jobs = asyncio.run(wait())
    failed = [j for j in jobs if j.status != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs failed, e.g. {failed[0].error}")
    return jobs


def _submit(platform: Any, data: bytes) -> str:
    key = platform.core.blobs.put(data, "image/jpeg")
    job = platform.jobs.submit("vision.predict", {"project": PROJECT, "images": [key]})
    return str(job.id)


def _throughput(
    platform: Any, photos: list[bytes], config: VisionBenchConfig, progress: Progress
) -> float:
    """Images/s with every photo submitted at once (first submit to last finished)."""
    progress("identify jobs (all at once)", 0, 0)
    t0 = time.time()
    ids = [_submit(platform, data) for data in photos]
    jobs = _wait(platform, ids, config.timeout)
    return len(photos) / (max(j.finished_at.timestamp() for j in jobs) - t0)


def _latencies(
    platform: Any, photos: list[bytes], config: VisionBenchConfig, progress: Progress
) -> list[float]:
    """Milliseconds from submit to finished (as stored), one photo at a time."""
    out: list[float] = []
    count = min(config.latency_images, len(photos))
    for i in range(count):
        (job,) = _wait(platform, [_submit(platform, photos[i])], config.timeout)
        out.append((job.finished_at - job.created_at).total_seconds() * 1000)
        progress("identify jobs (one at a time)", i + 1, count)
    return out


def run_vision(config: VisionBenchConfig, progress: Progress = quiet) -> dict[str, Any]:
    """Run both sides; the JSON-ready result."""
    from nunchi.apps import APPS
    from nunchi.apps.vision.app import VISION_APP
    from nunchi.assembly import open_platform
    from nunchi.config import Settings

    machine = machine_info()
    photos, source = _photos(config)
    with tempfile.TemporaryDirectory(prefix="nunchi-bench-vision-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data")  # type: ignore[call-arg]
        platform = open_platform(settings, APPS)
        try:
            models = platform.services(VISION_APP).published
            progress("warming up", 0, 0)
            _bare(photos[:3], models, quiet)
            recipe = models.model(PROJECT).recipe
            platform.start()  # every stage and loop, as `nunchi up` runs them
            bare_rates: list[float] = []
            bare_ms: list[float] = []
            rates: list[float] = []
            try:
                for _ in range(config.rounds):
                    rate, times = _bare(photos, models, progress)
                    bare_rates.append(rate)
                    bare_ms += times
                    rates.append(_throughput(platform, photos, config, progress))
                latencies = _latencies(platform, photos, config, progress)
            finally:
                platform.stop()
        finally:
            platform.close()
    return {
        "bench": "vision",
        "project": PROJECT,
        "recipe": recipe,
        "photos": source,
        "images": len(photos),
        "rounds": config.rounds,
        "identify_images_per_s": round(max(rates), 2),
        "bare_images_per_s": round(max(bare_rates), 2),
        "overhead_ratio": round(max(bare_rates) / max(rates) - 1, 3),
        **{f"identify_{k}": v for k, v in _latency(latencies).items()},
        **{f"bare_{k}": v for k, v in _latency(bare_ms).items()},
        "identify_images_per_s_rounds": [round(r, 2) for r in rates],
        "bare_images_per_s_rounds": [round(r, 2) for r in bare_rates],
        "latency_jobs": len(latencies),
        "machine": machine,
    }
