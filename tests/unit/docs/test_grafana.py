"""The Grafana dashboards in deploy/grafana/ read metrics nunchi really exports, and no query
groups by broadcast (a label nunchi never puts on a metric)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import nunchi.apps.chat.metrics
import nunchi.runtime.metrics
import nunchi.web.metrics  # noqa: F401 - registers the metrics

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))


def exported() -> set[str]:
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",), "summary": ("_sum", "_count", "")}  # fmt: skip
    for family in REGISTRY.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_every_dashboard_query_names_an_exported_metric() -> None:
    assert DASHBOARDS, "deploy/grafana/ holds the chat dashboard"
    known = exported()
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
        assert exprs, path.name
        for expr in exprs:
            used = set(re.findall(r"\bnunchi_[a-z_]+\b", expr))
            assert used and used <= known, (path.name, expr, used - known)
            assert "broadcast" not in expr, expr
        assert board["uid"] and board["title"]
