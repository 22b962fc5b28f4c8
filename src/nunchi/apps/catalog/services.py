"""CatalogServices: what the catalog app's API, pages, job kinds and commands share.

Built once per process and cheap: the packaged catalogs are imported on first use
(:meth:`CatalogServices.ready`, also run at once by the app's background loop under
``nunchi up``), each kind's search index is built on its first search.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from nunchi.apps.catalog.classifier import ImageClassifier, PublishedClassifier
from nunchi.apps.catalog.food_lens import FoodLens
from nunchi.apps.catalog.foods import FOOD_KIND
from nunchi.apps.catalog.mapping import ColumnMapping
from nunchi.apps.catalog.plant_guard import PlantGuard
from nunchi.apps.catalog.query import SearchQuery
from nunchi.apps.catalog.records import check_kind, check_text
from nunchi.apps.catalog.search import CatalogSearch, SearchPage
from nunchi.apps.catalog.shipped import PLANT_KIND, SHIPPED, Shipped, ensure_shipped
from nunchi.apps.catalog.store import CatalogStore
from nunchi.core import Core
from nunchi.errors import InvalidInput
from nunchi.inputs.images import SafeImage
from nunchi.inputs.tables import read_table
from nunchi.jobs.schemas import JobOut
from nunchi.store.types import utcnow

__all__ = ["IDENTIFY_KINDS", "STORED_PHOTO_SIDE", "CatalogServices"]

IDENTIFY_KINDS = {FOOD_KIND: "catalog.food_lens", PLANT_KIND: "catalog.plant_guard"}
"""Catalog -> the job kind that identifies photos for it."""
STORED_PHOTO_SIDE = 1024
"""Photos are stored re-encoded (no EXIF, no GPS) at most this many pixels on a side."""


class CatalogServices:
    """Store, search and identify flows of the catalogs; thread-safe."""

    def __init__(self, core: Core, classifier: ImageClassifier | None = None, *,
                 shipped: Sequence[Shipped] = SHIPPED, sync_interval: float = 1.0) -> None:
        self.core = core
        self.store = CatalogStore(core.sessions)
        self.search = CatalogSearch(self.store, sync_interval=sync_interval)
        self.classifier = classifier if classifier is not None else PublishedClassifier(core)
        self.food_lens = FoodLens(self.store, self.search, self.classifier)
        self.plant_guard = PlantGuard(self.store, self.search, self.classifier)
        self._shipped = tuple(shipped)
        self._ready = False
        self._lock = threading.Lock()

    # -- data ----------------------------------------------------------------------------

    def ready(self) -> None:
        """Import the packaged catalogs if this store lacks them (once per process)."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                for kind in ensure_shipped(self.store, shipped=self._shipped):
                    self.search.refresh(kind)
                self._ready = True

    def warm(self) -> None:
        """Import what is missing and build the shipped kinds' search indexes (the
        background loop's step; later steps only catch up with other processes' writes)."""
        self.ready()
        for each in self._shipped:
            self.search.index(each.kind).ensure()

    def import_table(self, kind: str, data: bytes, mapping: ColumnMapping, *,
                     source: str, file: str | None = None, url: str | None = None,
                     licence: str | None = None, encoding: str | None = None,
                     sheet: str | int | None = None) -> dict[str, Any]:
        """Import a table (CSV in UTF-8 or CP949, TSV, JSON lines, xlsx) into ``kind`` with
        ``mapping``; the source's attribution is kept. Returns what happened."""
        check_kind(kind)
        if not source.strip():
            raise InvalidInput("name the data's source (--source): who published it")
        for what, text in (("source", source), ("file", file), ("url", url),
                           ("licence", licence)):  # fmt: skip
            if text is not None:
                check_text(text, what)
        self.ready()
        table = read_table(data, name=file, encoding=encoding, sheet=sheet)
        mapped = mapping.read(kind, table, source_note=source.strip())
        if not mapped.records:
            raise InvalidInput("no row has a name: check the mapping's name column")
        source_id = self.store.add_source(kind, source.strip(), file=file, url=url,
                                          licence=licence)  # fmt: skip
        written = self.store.write(kind, mapped.records, source_id)
        self.store.finish_source(source_id, len(mapped.records))
        self.store.analyze()
        self.search.refresh(kind)
        return {"kind": kind, "source_id": source_id, "rows": len(mapped.records),
                "inserted": written.inserted, "updated": written.updated,
                "skipped": mapped.skipped, "format": table.format, "encoding": table.encoding,
                "notes": list(mapped.notes)}  # fmt: skip

    def find(self, query: SearchQuery) -> SearchPage:
        """One page of a search (see :mod:`nunchi.apps.catalog.search`)."""
        self.ready()
        return self.search.search(query)

    def item(self, kind: str, item_id: int) -> dict[str, Any]:
        """One item with its source."""
        self.ready()
        return self.store.item(check_kind(kind), item_id)

    def rankings(self, kind: str, window: str, limit: int = 10) -> list[dict[str, Any]]:
        """The most identified items of ``kind`` in ``window`` (``hour`` or ``all``)."""
        if window not in ("hour", "all"):
            raise InvalidInput(f"window must be hour or all, got {window!r}")
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be within 1..100")
        self.ready()
        return [{"item": item, "count": n}
                for item, n in self.store.rankings(check_kind(kind), window, limit)]

    def figure(self) -> int:
        """Items in every catalog (the home card's number; one small query)."""
        return sum(s.items for s in self.store.kinds())

    def identified_today(self) -> int:
        """Identifications since midnight UTC."""
        now = utcnow()
        return self.store.identified_since(datetime(now.year, now.month, now.day, tzinfo=UTC))

    # -- identify ------------------------------------------------------------------------

    def identify(self, kind: str, image: Image.Image, job_id: str | None = None
                 ) -> dict[str, Any]:
        """Identify one photo for ``kind`` (``food`` or ``plant``); in a job (``job_id``) an
        identified item counts toward the rankings, once per job."""
        self.ready()
        if kind == FOOD_KIND:
            result = self.food_lens.identify(image)
            item = result["item"]
        elif kind == PLANT_KIND:
            result = self.plant_guard.identify(image)
            item = result["plant"]
        else:
            raise InvalidInput(f"photos are identified for food and plant, not {kind!r}")
        counted = job_id is not None and result["status"] == "identified" and item is not None
        if counted and self.store.record_identification(kind, item["id"], job_id):
            self.search.refresh(kind)
        return result

    def submit_identify(self, kind: str, photo: SafeImage, actor: str | None = None) -> JobOut:
        """Store ``photo`` (re-encoded without metadata) and queue its identify job."""
        job_kind = IDENTIFY_KINDS.get(kind)
        if job_kind is None:
            raise InvalidInput(f"photos are identified for {', '.join(IDENTIFY_KINDS)}, "
                               f"not {kind!r}")
        key = self.core.blobs.put(photo.thumbnail(STORED_PHOTO_SIDE), "image/jpeg")
        return self.core.jobs.submit(job_kind, {"image": key}, actor=actor)
