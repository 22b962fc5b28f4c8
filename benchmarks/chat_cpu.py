"""Where the chat pipeline's CPU goes: the sustained part of ``nunchi bench chat`` (eight replays
at full speed into ``nunchi up`` on the embedded defaults), with the CPU seconds (user + system,
from ``/proc``) of the ``nunchi up`` process and of each of its child processes (the chat
scorer) over the run. A process busy for the whole run shows ``busy_share`` 1.0 (one core).
Prints one JSON line.

``python -m benchmarks.chat_cpu [--messages N]`` (Linux only).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks import chat_bench

__all__ = ["cpu_seconds", "main"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(c) for c in text)
    return found


def main() -> None:
    """Run it and print the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40_000)
    args = parser.parse_args()
    lines = chat_bench.sample_lines()
    per = args.messages // 8
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for i in range(8):
            files.append(root / f"sustained{i}.jsonl")
            chat_bench.write_recording(files[-1], lines, per, 0.0, salt=i * 100)
        with chat_bench.deployment(root / "a", "sqlite", "") as d:
            chat_bench.warm_up(d, lines, root)
            up = d.procs[0].popen.pid
            pids = {"nunchi_up": up, **{f"child_{c}": c for c in _children(up)}}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.monotonic()
            figures = chat_bench.sustained(d, files, per * 8)
            wall = time.monotonic() - started
            used = {name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()}
    print(
        json.dumps(
            {
                "bench": "chat_cpu",
                "machine": chat_bench.machine_info(),
                "messages": per * 8,
                **figures,
                "wall_s": round(wall, 2),
                "cpu_s": used,
                "busy_share": {name: round(s / wall, 3) for name, s in used.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
