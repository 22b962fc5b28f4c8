"""The live chat pipeline under load, against real ``nunchi`` processes: a synthetic Korean chat
stream (the shipped sample chat's lines, cycled with fresh ids) replayed through the full
pipeline (replay source -> ``chat.raw`` -> ``chat.score`` -> ``chat.scored`` -> ``chat.store``
-> a live page's event stream), and in the same run the analyzers alone on the same messages.

- ``sustained_msgs_per_s``: eight replays at full speed (``speed=0``), from the first message
  stored to the last;
- ``p50_ms_at_1000`` / ``p99_ms_at_1000``: one replay at 1,000 messages a second, from nunchi
  receiving each message to a connected live-page client (``/chat/live/<b>/events``, the
  page's own stream) getting it;
- ``analyzers_only_msgs_per_s``: profanity + chat polarity + keywords on the same texts in one
  process, in the stage's batches; ``ratio_to_analyzers`` = sustained / analyzers alone.

Embedded defaults (``nunchi up``: SQLite store and log, one scorer process) and, beside it,
Kafka (Tansu) + PostgreSQL with two ``nunchi worker`` processes scoring and storing (the API
tier and the watcher in their own processes). Prints one JSON line.

``python -m benchmarks.chat_bench`` or ``nunchi bench chat``.
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks._proc import Proc, clean_env, free_port, pg_schema, tansu_broker, wait_for
from benchmarks.pipeline import machine_info

__all__ = ["ChatBenchConfig", "run"]

GOALS = {"sustained_msgs_per_s": 5000.0, "ratio_to_analyzers": 0.5, "p99_ms_at_1000": 250.0}
_STAGE_BATCH = 500
_NUNCHI = [sys.executable, "-c", "from nunchi.cli import main; main()"]


@dataclass(frozen=True)
class ChatBenchConfig:
    """What one run does."""

    messages: int = 100_000
    """Messages of the sustained run (over eight broadcasts)."""
    latency_seconds: float = 30.0
    """Seconds of the 1,000 msg/s run."""
    backends: tuple[str, ...] = ("sqlite", "kafka")
    postgres_url: str = ""


def sample_lines() -> list[dict[str, Any]]:
    """The shipped sample chat's lines."""
    from nunchi.apps.chat.services import sample_path

    with gzip.open(sample_path(), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def stream_text(line: dict[str, Any], i: int, size: int, salt: int = 0) -> str:
    """The text of message ``i`` of a stream cycling the sample (``size`` lines): the sample's
    own text on the first pass, then with the pass number added, so the stream keeps the
    sample's share of repeats (``distinct_text_share`` in the JSON line) instead of repeating
    it word for word."""
    cycle = i // size + salt
    return line["text"] if cycle == 0 else f"{line['text']} {cycle}"


def stream_texts(lines: Sequence[dict[str, Any]], count: int) -> list[str]:
    """The texts of a ``count``-message stream (see :func:`stream_text`)."""
    return [stream_text(lines[i % len(lines)], i, len(lines)) for i in range(count)]


def write_recording(
    path: Path, lines: Sequence[dict[str, Any]], count: int, gap_ms: float, salt: int = 0
) -> None:
    """``count`` lines cycled from ``lines``, ``gap_ms`` apart, each with its own id."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            line = lines[i % len(lines)]
            row = {
                "offset_ms": round(i * gap_ms, 3),
                "message_id": f"{path.stem}-{i}",
                "author_id": line["author_id"],
                "author_name": line["author_name"],
                "text": stream_text(line, i, len(lines), salt),
                "kind": line.get("kind") or "chat",
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def analyzers_only(texts: Sequence[str]) -> float:
    """Messages a second of the analyzers alone, in the stage's batches, one process."""
    from nunchi.analyzers.text.chat_scoring import score_texts

    score_texts(texts[:50])  # load the models first
    started = time.perf_counter()
    for start in range(0, len(texts), _STAGE_BATCH):
        score_texts(texts[start : start + _STAGE_BATCH])
    return len(texts) / (time.perf_counter() - started)


# -- the processes ----------------------------------------------------------------------------


@dataclass
class Deployment:
    """Running nunchi processes and a client of their API."""

    base: str
    api: httpx.Client
    procs: list[Proc]

    def check(self) -> None:
        for proc in self.procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def deployment(root: Path, backend: str, postgres_url: str) -> Iterator[Deployment]:
    """``nunchi up`` on the embedded defaults, or on Kafka + PostgreSQL: ``nunchi up
    --no-workers`` (API tier), a worker running the watcher and two scoring and storing."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    env = {
        "NUNCHI_DATA_DIR": str(root / "data"),
        "NUNCHI_AUTH_DISABLED": "true",
        "NUNCHI_LIVE_MAX_SECONDS": "600",
        "OMP_NUM_THREADS": "1",
        "OMP_THREAD_LIMIT": "1",
    }
    with ExitStack() as stack:
        procs: list[Proc] = []
        up = [*_NUNCHI, "up", "--host", "127.0.0.1", "--port", str(port)]
        if backend == "kafka":
            bus = stack.enter_context(tansu_broker(log=str(root / "tansu.log")))
            db, _ = stack.enter_context(pg_schema(postgres_url))
            env.update(
                NUNCHI_BUS_URL=bus,
                NUNCHI_DATABASE_URL=db,
                NUNCHI_DEFAULT_PARTITIONS="8",
                NUNCHI_CHAT_SCORERS="0",
            )
            up.append("--no-workers")
        procs.append(Proc(up, env=env, base_env=clean_env(), log=str(root / "up.log"),
                          name="nunchi up"))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        wait_for(lambda: _ready(client) or not procs[0].alive(), 90, "nunchi up to be ready")
        if backend == "kafka":
            stages = {"watcher": ["chat.watcher"], "w1": ["chat.score", "chat.store"],
                      "w2": ["chat.score", "chat.store"]}  # fmt: skip
            for name, parts in stages.items():
                args = [*_NUNCHI, "worker", "--name", name]
                for part in parts:
                    args += ["--stage", part]
                log = str(root / f"{name}.log")
                procs.append(
                    Proc(args, env=env, base_env=clean_env(), log=log, name=f"worker {name}")
                )
        try:
            found = Deployment(base, client, procs)
            found.check()
            yield found
        finally:
            for proc in reversed(procs):
                proc.stop()


# -- the runs -------------------------------------------------------------------------------


def _watch(d: Deployment, path: Path, speed: float) -> str:
    """Upload ``path`` as a recording and replay it; the broadcast's id."""
    with path.open("rb") as fh:
        up = d.api.post("/api/v1/chat/recordings", files={"file": (path.name, fh)})
    if up.status_code != 201:
        raise RuntimeError(f"uploading a recording failed: {up.status_code} {up.text}")
    r = d.api.post(
        "/api/v1/chat/watches",
        json={"url": up.json()["name"], "platform": "replay", "speed": speed},
    )
    if r.status_code != 201:
        raise RuntimeError(f"starting a replay failed: {r.status_code} {r.text}")
    return f"replay:{r.json()['id']}"


def _stored(d: Deployment, broadcasts: Sequence[str]) -> int:
    r = d.api.get("/api/v1/chat/broadcasts")
    r.raise_for_status()
    return sum(b["messages"] for b in r.json() if b["id"] in broadcasts)


def warm_up(d: Deployment, lines: Sequence[dict[str, Any]], root: Path) -> None:
    """What a first start does once before it is measured: the other apps' first-start work
    (the catalogs' import and search index), the scorer process and the models, by a short
    replay stored to the end."""
    for kind in ("food", "plants"):
        r = d.api.get(f"/api/v1/catalog/{kind}/items", params={"q": "가", "limit": 1})
        if r.status_code >= 500:
            raise RuntimeError(f"warming the {kind} catalog failed: {r.status_code} {r.text}")
    path = root / "warm-up.jsonl"
    write_recording(path, lines, 2000, 0.0, salt=999)
    broadcast = _watch(d, path, 0.0)
    wait_for(lambda: _stored(d, [broadcast]) >= 2000, 120, "the warm-up replay")


def sustained(d: Deployment, files: Sequence[Path], total: int) -> dict[str, Any]:
    """Eight replays at full speed; messages a second from the first stored to the last."""
    broadcasts = [_watch(d, f, 0.0) for f in files]
    first_at = 0.0
    first = 0
    deadline = time.monotonic() + max(120.0, total / 500)
    while True:
        n = _stored(d, broadcasts)
        now = time.monotonic()
        if n and not first_at:
            first_at, first = now, n
        if n >= total:
            break
        if now > deadline:
            raise RuntimeError(f"only {n} of {total} messages stored in time")
        d.check()
        time.sleep(0.1)
    elapsed = now - first_at
    return {
        "sustained_msgs_per_s": round((total - first) / elapsed, 1) if elapsed > 0 else None,
        "seconds": round(elapsed, 2),
    }


def _listen(url: str, since: float, samples: list[float], stop: threading.Event) -> None:
    """Read a live page's event stream; the latency of every message received after
    ``since`` (epoch seconds)."""
    headers = {"Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", url, headers=headers) as stream,
    ):
        event = ""
        for line in stream.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "chat":
                now = time.time()
                for m in json.loads(line[5:])["messages"]:
                    if m["r"] >= since:
                        samples.append((now - m["r"]) * 1000)


def latency(d: Deployment, path: Path, seconds: float) -> dict[str, Any]:
    """One replay at 1,000 msg/s; latency from receipt to a live-page client."""
    broadcast = _watch(d, path, 1.0)
    samples: list[float] = []
    stop = threading.Event()
    warm = time.time() + 2.0  # the first two seconds warm the stream up
    listener = threading.Thread(
        target=_listen,
        args=(f"{d.base}/chat/live/{broadcast}/events", warm, samples, stop),
        daemon=True,
    )
    listener.start()
    time.sleep(seconds + 2.0)
    stop.set()
    listener.join(15)
    d.check()
    if not samples:
        raise RuntimeError("the live page's stream delivered no message")
    ordered = sorted(samples)
    return {
        "p50_ms_at_1000": round(statistics.median(ordered), 1),
        "p99_ms_at_1000": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "latency_samples": len(ordered),
        "achieved_msgs_per_s": round(len(ordered) / seconds, 1),
    }


def run_backend(
    config: ChatBenchConfig, backend: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    """Both runs on one backend, each on fresh processes and data."""
    per = config.messages // 8
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for i in range(8):  # each broadcast its own passes: 8 x 12,500 = 100,000 messages
            files.append(root / f"sustained{i}.jsonl")
            write_recording(files[-1], lines, per, 0.0, salt=i * 100)
        paced = root / "paced.jsonl"
        write_recording(paced, lines, int(1000 * (config.latency_seconds + 4)), 1.0)
        with deployment(root / "a", backend, config.postgres_url) as d:
            warm_up(d, lines, root)
            figures = sustained(d, files, per * 8)
        with deployment(root / "b", backend, config.postgres_url) as d:
            warm_up(d, lines, root)
            figures.update(latency(d, paced, config.latency_seconds))
    return figures


def run(config: ChatBenchConfig | None = None) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    config = config or ChatBenchConfig()
    machine = machine_info()
    lines = sample_lines()
    texts = stream_texts(lines, 20_000)
    alone = analyzers_only(texts)
    result: dict[str, Any] = {
        "bench": "chat",
        "machine": machine,
        "messages": config.messages // 8 * 8,
        "analyzers_only_msgs_per_s": round(alone, 1),
        "analyzers_only_messages": len(texts),
        "distinct_text_share": round(len(set(texts)) / len(texts), 3),
    }
    for backend in config.backends:
        try:
            figures = run_backend(config, backend, lines)
        except (RuntimeError, TimeoutError, httpx.HTTPError) as e:
            figures = {"error": str(e)[-2000:]}
        if figures.get("sustained_msgs_per_s"):
            figures["ratio_to_analyzers"] = round(figures["sustained_msgs_per_s"] / alone, 3)
        if backend == "sqlite":
            result.update(figures)
            result["goals_met"] = {
                key: (result.get(key) is not None and (
                    result[key] <= goal if key.startswith("p99") else result[key] >= goal))
                for key, goal in GOALS.items()
            }  # fmt: skip
        else:
            result["kafka_postgres_two_workers"] = figures
    return result


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False))
