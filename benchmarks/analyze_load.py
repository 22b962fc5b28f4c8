"""``POST /api/v1/text/analyze`` under load: how long the largest request the API analyses
while the caller waits takes, what a request past the limits gets, and how much two such
requests running at once slow the rest of the API. Against a real ``nunchi up`` process
(embedded defaults, keys off, loopback). Prints one JSON line.

``python -m benchmarks.analyze_load [SECONDS]`` or ``nunchi bench analyze``.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks._proc import Proc, clean_env, free_port, wait_for
from benchmarks.pipeline import machine_info

__all__ = ["run"]

_PHRASES = (
    "정말 재밌어요 ㅋㅋ",
    "이건 좀 아닌 듯",
    "오늘 방송 최고!",
    "ㅅ1발 뭐야 이게",
    "배송이 빨라요",
)


def _texts(count: int, chars: int) -> list[str]:
    out = []
    for i in range(count):
        text = ""
        while len(text) < chars:
            text += _PHRASES[(i + len(text)) % len(_PHRASES)] + " "
        out.append(text[:chars])
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p99_ms": round(p99, 1)}


def _timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    return (time.perf_counter() - started) * 1000, response


def run(seconds: float = 10.0) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {"NUNCHI_DATA_DIR": str(Path(tmp) / "data"), "NUNCHI_AUTH_DISABLED": "true"}
        argv = [sys.executable, "-c", "from nunchi.cli import main; main()",
                "up", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        server = Proc(argv, env=env, base_env=clean_env(), log=str(Path(tmp) / "up.log"))
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=120) as client:

                def ready() -> bool:
                    try:
                        return client.get("/readyz").status_code == 200
                    except httpx.HTTPError:
                        return False

                wait_for(ready, 60, "nunchi up to be ready")
                largest = {"texts": _texts(1000, 100)}  # 100,000 characters: the limit
                oversize = {"texts": ["a" * 5000] * 1000}  # the probe's 5,000,000 characters
                client.post("/api/v1/text/analyze", json={"texts": ["warm up"]})
                idle = [_timed(lambda: client.get("/api/v1/jobs?limit=1"))[0] for _ in range(200)]
                big_ms, big = _timed(lambda: client.post("/api/v1/text/analyze", json=largest))
                over_ms, over = _timed(lambda: client.post("/api/v1/text/analyze", json=oversize))
                loaded, statuses = _under_load(base, largest, seconds)
        finally:
            server.stop()
    return {
        "bench": "analyze_load",
        "machine": machine,
        "largest_request": {"texts": 1000, "chars": 100_000, "status": big.status_code,
                            "seconds": round(big_ms / 1000, 3)},
        "oversize_request": {"texts": 1000, "chars": 5_000_000, "status": over.status_code,
                             "ms": round(over_ms, 1)},
        "api_idle": _percentiles(idle),
        "api_during_two_largest": _percentiles(loaded),
        "analyze_statuses_during_load": statuses,
        "load_seconds": seconds,
    }  # fmt: skip


def _under_load(
    base: str, body: dict[str, Any], seconds: float
) -> tuple[list[float], dict[str, int]]:
    """API latency (GET one job page) while two clients send ``body`` back to back."""
    stop = threading.Event()
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def hammer() -> None:
        with httpx.Client(base_url=base, timeout=120) as c:
            while not stop.is_set():
                code = str(c.post("/api/v1/text/analyze", json=body).status_code)
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    samples: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as c:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            samples.append(_timed(lambda: c.get("/api/v1/jobs?limit=1"))[0])
    stop.set()
    for t in threads:
        t.join(120)
    return samples, statuses


if __name__ == "__main__":
    print(json.dumps(run(*[float(a) for a in sys.argv[1:2]]), ensure_ascii=False))
