"""Catalog search through the real service (``CatalogSearch`` on a migrated store): p50/p99 of
keyword, range and fuzzy queries beside a plain ``LIKE '%q%'`` scan, on the 12,242-dish food
catalog (the packaged MFDS table, imported as on first start) and on a generated catalog of
1,000,000 items; one JSON line (``nunchi bench search``).

Keys ``<catalog>.<query>.p50_ms`` / ``.p99_ms`` for catalogs ``food_12k`` and
``generated_1m`` (``generated_<n>`` with another ``--generated``) and queries:

* ``keyword``: a whole item name or one word of it (the query mix of
  ``benchmarks.search_index``), first page of 20 in relevance order;
* ``fuzzy``: the name with one or two random jamo edits, first page of 20;
* ``range``: one or two numeric ranges (``energy_kcal``, ``protein_g`` / ``price_won`` ...)
  sorted by a range attribute or by name, first page of 20;
* ``fuzzy_index_only``: the fuzzy queries on the bare in-memory index (no SQL, no page),
  in the same run: how much of ``fuzzy`` is the index and how much the service;
* ``like_scan``: the keyword queries as ``name LIKE '%q%' OR maker LIKE … OR category
  LIKE …``, 20 rows by name: what a plain SQL search does (no typos, no initial consonants);
  a quarter of the keyword queries on a catalog over 100,000 items (each scans it whole).

Every query runs once after a warm-up, on one thread (pinned to one CPU by the script;
``nunchi bench search`` pins its own process too); ``hit_at_20`` is the share of keyword /
fuzzy queries with a relevant item (its name contains the source name or word) on the page.
The generated items are built and imported in chunks (memory stays bounded); the store is
SQLite in a temporary folder; ``--postgres`` measures the food catalog on PostgreSQL too
(``food_12k_pg``, a fresh schema, dropped after).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - thread limits first
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import Engine, or_, select  # noqa: E402

from benchmarks.search_index import generated_items, query_mix  # noqa: E402
from nunchi.apps.catalog.app import CATALOG_APP  # noqa: E402
from nunchi.apps.catalog.models import items_table  # noqa: E402
from nunchi.apps.catalog.query import Range, SearchQuery  # noqa: E402
from nunchi.apps.catalog.records import ItemRecord  # noqa: E402
from nunchi.apps.catalog.search import CatalogSearch  # noqa: E402
from nunchi.apps.catalog.shipped import SHIPPED, ensure_shipped  # noqa: E402
from nunchi.apps.catalog.store import CatalogStore  # noqa: E402
from nunchi.assembly import schema_of  # noqa: E402
from nunchi.store.db import create_engine_for, migrate, session_factory  # noqa: E402

__all__ = ["generated_records", "pin_one_cpu", "run"]

Progress = Callable[[str, int, int], None]
_CHUNK = 20_000
_PAGE = 20


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def generated_records(n: int, kind: str = "generated", seed: int = 0
                      ) -> Iterator[list[ItemRecord]]:
    """``n`` generated items (names of ``search_index.generated_items``) with three numbers
    (``price_won``, ``weight_g``, ``energy_kcal``), in chunks, the same for the same seed."""
    rng = random.Random(seed + 1)
    for start in range(0, n, _CHUNK):
        chunk = generated_items(min(_CHUNK, n - start), seed=seed + start)
        yield [ItemRecord(kind=kind, key=f"g{start + i}", name=str(texts[0][0]),
                          maker=str(texts[1][0]), category=str(texts[2][0]),
                          numbers={"price_won": float(rng.randrange(500, 200_000, 10)),
                                   "weight_g": float(rng.randrange(10, 5000)),
                                   "energy_kcal": float(rng.randrange(0, 900))})
               for i, (_, texts) in enumerate(chunk)]  # fmt: skip


def _ranges(rng: random.Random, kind: str, count: int) -> list[SearchQuery]:
    attrs = (("energy_kcal", 0, 900), ("protein_g", 0, 40), ("sodium_mg", 0, 2000)) \
        if kind == "food" else (("energy_kcal", 0, 900), ("price_won", 500, 200_000),
                                ("weight_g", 10, 5000))  # fmt: skip
    out = []
    for _ in range(count):
        picked = rng.sample(attrs, rng.choice((1, 2)))
        ranges = []
        for attr, low, high in picked:
            width = (high - low) * rng.uniform(0.05, 0.4)
            start = rng.uniform(low, high - width)
            ranges.append(Range(attr, round(start, 1), round(start + width, 1)))
        sort = rng.choice([picked[0][0], "-" + picked[0][0], "name"])
        out.append(SearchQuery(kind=kind, ranges=tuple(ranges), sort=sort, limit=_PAGE))
    return out


def _like(store: CatalogStore, kind: str, q: str) -> list[int]:
    pattern = f"%{q}%"
    i = items_table
    stmt = (select(i.c.id, i.c.name).where(
        i.c.kind == kind, i.c.active,
        or_(i.c.name.like(pattern), i.c.maker.like(pattern), i.c.category.like(pattern)))
        .order_by(i.c.name, i.c.id).limit(_PAGE))  # fmt: skip
    with store.sessions() as s:
        return [int(r.id) for r in s.execute(stmt)]


def _timed(calls: Sequence[Callable[[], Any]]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for call in calls:
        t0 = time.perf_counter()
        results.append(call())
        times.append((time.perf_counter() - t0) * 1000)
    return times, results


def _measure(store: CatalogStore, kind: str, names: list[tuple[int, str]], queries: int,
             label: str, progress: Progress | None) -> dict[str, Any]:
    search = CatalogSearch(store, sync_interval=3600.0)
    t0 = time.perf_counter()
    search.index(kind).ensure()
    out: dict[str, Any] = {f"{label}.index_build_s": round(time.perf_counter() - t0, 2)}
    mix = query_mix([(i, [(n, 1.0)]) for i, n in names], queries)
    rng = random.Random(7)
    if progress:
        progress(f"{label}: queries", 0, 0)
    for q, _ in mix["keyword"][:20]:  # warm-up
        search.search(SearchQuery(kind=kind, q=q, limit=_PAGE))
    kinds = {"keyword": mix["keyword"], "fuzzy": mix["fuzzy"]}
    for name, pairs in kinds.items():
        times, pages = _timed([lambda q=q: search.search(SearchQuery(kind=kind, q=q,
                                                                     limit=_PAGE))
                               for q, _ in pairs])  # fmt: skip
        hits = sum(any(src in item["name"] for item in page.items)
                   for page, (_, src) in zip(pages, pairs, strict=True))  # fmt: skip
        out[f"{label}.{name}.p50_ms"] = _pct(times, 0.5)
        out[f"{label}.{name}.p99_ms"] = _pct(times, 0.99)
        out[f"{label}.{name}.hit_at_20"] = round(hits / len(pairs), 3)
    bare = search.index(kind).ensure()  # the FuzzyIndex alone, same queries: the service's share
    times, _ = _timed([lambda q=q: bare.search(q, _PAGE) for q, _ in mix["fuzzy"]])
    out[f"{label}.fuzzy_index_only.p50_ms"] = _pct(times, 0.5)
    out[f"{label}.fuzzy_index_only.p99_ms"] = _pct(times, 0.99)
    times, _ = _timed([lambda q=q: search.search(q) for q in _ranges(rng, kind, queries)])
    out[f"{label}.range.p50_ms"], out[f"{label}.range.p99_ms"] = _pct(times, .5), _pct(times, .99)
    scans = mix["keyword"] if len(names) <= 100_000 else mix["keyword"][: max(20, queries // 4)]
    times, found = _timed([lambda q=q: _like(store, kind, q) for q, _ in scans])
    out[f"{label}.like_scan.queries"] = len(scans)
    out[f"{label}.like_scan.p50_ms"] = _pct(times, 0.5)
    out[f"{label}.like_scan.p99_ms"] = _pct(times, 0.99)
    out[f"{label}.like_scan.empty_share"] = round(sum(not f for f in found) / len(found), 3)
    return out


def _names(store: CatalogStore, kind: str) -> list[tuple[int, str]]:
    with store.sessions() as s:
        return [(int(r.id), str(r.name)) for r in s.execute(
            select(items_table.c.id, items_table.c.name).where(items_table.c.kind == kind))]


def _open(url: str) -> tuple[CatalogStore, Engine]:
    engine = create_engine_for(url)
    migrate(engine, schema_of([CATALOG_APP]))
    return CatalogStore(session_factory(engine)), engine


def _food(store: CatalogStore, label: str, queries: int,
          progress: Progress | None) -> dict[str, Any]:
    if progress:
        progress(f"{label}: import", 0, 0)
    t0 = time.perf_counter()
    ensure_shipped(store, kinds=["food"], shipped=SHIPPED)
    out = {f"{label}.import_s": round(time.perf_counter() - t0, 2)}
    out.update(_measure(store, "food", _names(store, "food"), queries, label, progress))
    return out


def run(generated: int = 1_000_000, queries: int = 200, postgres: bool = False,
        postgres_url: str = "", progress: Progress | None = None) -> dict[str, Any]:
    """The figures (flat keys, see the module docstring); with ``postgres`` the food catalog
    is measured on PostgreSQL too (a fresh schema on ``postgres_url``'s server, default
    127.0.0.1:5432/test), as ``food_12k_pg``."""
    from benchmarks._proc import pg_schema
    from benchmarks.pipeline import machine_info

    result: dict[str, Any] = {"benchmark": "search", "machine": machine_info(),
                              "queries_per_class": queries, "page": _PAGE,
                              "store": "sqlite (embedded, temporary folder)"}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nunchi-search-bench-") as tmp:
        store, engine = _open(f"sqlite:///{Path(tmp) / 'catalog.db'}")
        result.update(_food(store, "food_12k", queries, progress))
        if generated:
            label = "generated_1m" if generated == 1_000_000 else f"generated_{generated}"
            rss0, t0, done = _rss_mib(), time.perf_counter(), 0
            for chunk in generated_records(generated):
                store.write("generated", chunk)
                done += len(chunk)
                if progress:
                    progress(f"{label}: import", done, generated)
            store.analyze()  # as every import does (ensure_shipped, import_table)
            result[f"{label}.import_s"] = round(time.perf_counter() - t0, 1)
            result.update(_measure(store, "generated", _names(store, "generated"), queries,
                                   label, progress))  # fmt: skip
            result[f"{label}.rss_growth_mib"] = round(_rss_mib() - rss0, 1)
        engine.dispose()
    if postgres:
        with pg_schema(postgres_url) as (url, where):
            pg_store, pg_engine = _open(url)
            try:
                result.update(_food(pg_store, "food_12k_pg", queries, progress))
            finally:
                pg_engine.dispose()
        result["postgres"] = where
    return result


@contextmanager
def pin_one_cpu() -> Iterator[int | None]:
    """This process pinned to one CPU (where the OS allows) while the block runs, the CPUs it
    had given back after: yields the CPU, or None."""
    try:
        before = os.sched_getaffinity(0)
        cpu = min(before)
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="food catalog on PostgreSQL too")
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args(argv)
    with pin_one_cpu() as pinned:
        result = run(args.generated, args.queries, args.postgres, args.postgres_url)
    result["pinned_cpu"] = pinned
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
