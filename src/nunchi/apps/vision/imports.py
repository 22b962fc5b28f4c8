"""Adding images to a project: uploads, zip archives and folders of ``<tag>/<photo>``, URL lists.

Every photo is read by :mod:`nunchi.inputs` (formats sniffed from the bytes, size and pixel
limits, decompression-bomb guard) before anything is stored. An upload of several files is
all or nothing: one refused file refuses the request (4xx) and nothing is stored. Archives,
folders and URL lists report each item they could not use and store the rest; URLs are
fetched only through the core's guarded client (no private addresses, before or after a
redirect). Photos are stored in chunks (:func:`~nunchi.apps.vision.images.store_images`),
so a large import holds only a few decoded photos at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nunchi.apps.vision.images import Candidate, store_images
from nunchi.apps.vision.models import VisionProject
from nunchi.apps.vision.queries import clean_tag, project_row
from nunchi.apps.vision.schemas import ImportFailure, ImportReport
from nunchi.core import Core
from nunchi.errors import InvalidInput, NunchiError, PayloadTooLarge
from nunchi.inputs.archives import ArchiveEntry, ArchiveLimits, iter_folder, iter_zip
from nunchi.inputs.fetch import fetch_many
from nunchi.inputs.images import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS, load_image

__all__ = ["ImageImports", "ImportLimits", "UrlRow"]

_CHUNK_IMAGES = 16
_CHUNK_PIXELS = 100_000_000
_MAX_IDS = 1000


@dataclass(frozen=True)
class ImportLimits:
    """Limits of one import (per photo, per request, for URL fetches)."""

    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_files: int = 100
    """Files in one upload request (use a zip or a URL list for more)."""
    max_urls: int = 10_000
    fetch_timeout: float = 20.0
    fetch_deadline: float = 3600.0
    fetch_concurrency: int = 4


@dataclass(frozen=True)
class UrlRow:
    """One URL of a list to import, with its tag and its row number in the list."""

    row: int
    url: str
    tag: str | None


class _Report:
    """Collects the outcome of an import, storing photos in chunks as they come."""

    def __init__(self, core: Core, project: VisionProject) -> None:
        self.core, self.project = core, project
        self.pending: list[Candidate] = []
        self.pixels = 0
        self.added: list[str] = []
        self.duplicates = 0
        self.failed: list[ImportFailure] = []

    def fail(self, item: str, reason: str, message: str) -> None:
        self.failed.append(ImportFailure(item=item, reason=reason, message=message))

    def add(self, candidate: Candidate) -> None:
        self.pending.append(candidate)
        self.pixels += candidate.image.width * candidate.image.height
        if len(self.pending) >= _CHUNK_IMAGES or self.pixels >= _CHUNK_PIXELS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            stored = store_images(self.core, self.project, self.pending)
            self.added += stored.added
            self.duplicates += stored.duplicates
            self.pending, self.pixels = [], 0

    def done(self) -> ImportReport:
        self.flush()
        return ImportReport(
            added=len(self.added),
            duplicates=self.duplicates,
            failed=self.failed,
            image_ids=self.added[:_MAX_IDS],
        )


def _reason(error: NunchiError) -> str:
    return {413: "too_large", 415: "not_image"}.get(error.status, "damaged")


class ImageImports:
    """Imports into a project by name (see the module docstring)."""

    def __init__(self, core: Core, limits: ImportLimits | None = None) -> None:
        self.core = core
        self.limits = limits or ImportLimits()

    def _project(self, name: str) -> VisionProject:
        with self.core.sessions() as s:
            row = project_row(s, name)
            s.expunge(row)
            return row

    def uploads(
        self, project: str, files: Sequence[tuple[str | None, bytes]], tag: str
    ) -> ImportReport:
        """Photos sent in one request, all with ``tag``: every file is decoded first, and one
        refused file refuses them all (PayloadTooLarge, UnsupportedMediaType, InvalidInput)."""
        row = self._project(project)
        label = clean_tag(tag)
        if not files:
            raise InvalidInput("no files: send one or more photos as 'files'")
        if len(files) > self.limits.max_files:
            raise PayloadTooLarge(
                f"{len(files)} files in one request; at most {self.limits.max_files}: send a zip "
                "or a URL list for more"
            )
        limits = self.limits
        decoded = [
            load_image(
                data, max_bytes=limits.max_image_bytes, max_pixels=limits.max_pixels, name=name
            )
            for name, data in files
        ]
        report = _Report(self.core, row)
        for (name, _), image in zip(files, decoded, strict=True):
            report.add(Candidate(image, label, "upload", filename=name))
        return report.done()

    def _entries(
        self, row: VisionProject, entries: Iterable[ArchiveEntry], source: str
    ) -> ImportReport:
        report = _Report(self.core, row)
        for entry in entries:
            if entry.data is None or entry.tag is None:
                report.fail(entry.path, "skipped", entry.error or "not read")
                continue
            try:
                image = load_image(
                    entry.data,
                    max_bytes=self.limits.max_image_bytes,
                    max_pixels=self.limits.max_pixels,
                    name=entry.path,
                )
                tag = clean_tag(entry.tag)
            except NunchiError as e:
                report.fail(entry.path, _reason(e), str(e))
                continue
            report.add(Candidate(image, tag, source, filename=entry.path))
        return report.done()

    def _archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(max_entry_bytes=self.limits.max_image_bytes)

    def archive(self, project: str, data: bytes, name: str | None = None) -> ImportReport:
        """A zip of ``<tag>/<photo>`` entries (a refused archive as a whole raises first)."""
        row = self._project(project)
        entries = iter_zip(data, limits=self._archive_limits(), name=name)
        return self._entries(row, entries, "zip")

    def folder(self, project: str, root: Path) -> ImportReport:
        """A folder of ``<tag>/<photo>`` files (the command line's import)."""
        row = self._project(project)
        return self._entries(row, iter_folder(root, limits=self._archive_limits()), "folder")

    def urls(self, project: str, rows: Sequence[UrlRow]) -> ImportReport:
        """Fetch ``rows`` through the guarded client; each URL that fails (refused address,
        redirect to one, HTTP error, timeout, not an image, too large) is reported."""
        row = self._project(project)
        if len(rows) > self.limits.max_urls:
            raise PayloadTooLarge(f"{len(rows)} URLs; at most {self.limits.max_urls} an import")
        report = _Report(self.core, row)
        tagged: list[UrlRow] = []
        for item in rows:
            try:
                tagged.append(UrlRow(item.row, item.url, clean_tag(item.tag)))
            except InvalidInput as e:
                report.fail(f"row {item.row}: {item.url}", "no_tag", str(e))
        limits = self.limits
        outcomes = fetch_many(
            self.core.client,
            [t.url for t in tagged],
            max_bytes=limits.max_image_bytes,
            max_pixels=limits.max_pixels,
            timeout=limits.fetch_timeout,
            concurrency=limits.fetch_concurrency,
            deadline=limits.fetch_deadline,
        )
        for outcome in outcomes:
            item = tagged[outcome.index]
            if outcome.image is None:
                report.fail(
                    f"row {item.row}: {item.url}",
                    outcome.reason or "internal",
                    outcome.message or "",
                )
                continue
            assert item.tag is not None
            report.add(Candidate(outcome.image, item.tag, "url", source_url=item.url))
        return report.done()
