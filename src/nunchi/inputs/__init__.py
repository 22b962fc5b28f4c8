"""Safe reading of what users send: photos (uploads and URLs), data tables, zips of photos.

Pure of web frameworks: the API wires these through :mod:`nunchi.web.uploads`, the CLI calls
them directly. Each reader trusts only the bytes (formats are sniffed, never taken from a file
name or content type), enforces byte, pixel, row and entry limits, and refuses with a
:class:`~nunchi.errors.NunchiError` whose message says what to fix: PayloadTooLarge (413),
UnsupportedMediaType (415), InvalidInput (422), OutboundBlocked / FetchFailed (422).

Contract for callers: nothing here stores anything. Store (blob, database row, job) only after
the reader returned; a refusal then leaves nothing half-stored.
"""

from nunchi.errors import FetchFailed, UnsupportedMediaType
from nunchi.inputs.archives import ArchiveEntry, ArchiveLimits, iter_folder, iter_zip
from nunchi.inputs.fetch import FetchOutcome, fetch_image, fetch_many
from nunchi.inputs.images import SafeImage, accepted_formats, load_image
from nunchi.inputs.sniff import Sniffed, sniff
from nunchi.inputs.tables import Renamed, Table, read_table
from nunchi.inputs.urllist import UrlItem, UrlList, read_url_list

__all__ = [
    "ArchiveEntry",
    "ArchiveLimits",
    "FetchFailed",
    "FetchOutcome",
    "Renamed",
    "SafeImage",
    "Sniffed",
    "Table",
    "UnsupportedMediaType",
    "UrlItem",
    "UrlList",
    "accepted_formats",
    "fetch_image",
    "fetch_many",
    "iter_folder",
    "iter_zip",
    "load_image",
    "read_table",
    "read_url_list",
    "sniff",
]
