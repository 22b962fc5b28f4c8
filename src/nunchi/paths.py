"""Files and folders nunchi writes that hold users' data: private to the user running it.

Databases and the event log keep inputs, results and callback URLs (which often carry
tokens), so the data directory is made ``0700`` and database files ``0600`` (SQLite gives its
``-wal`` and ``-shm`` files the mode of the database file). Folders and files made by an
older version with looser modes are tightened when opened, with a log line.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

__all__ = ["private_dir", "private_file"]

log = logging.getLogger(__name__)

_SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_mode & 0o777 & ~mode and info.st_uid == os.getuid():
        log.warning(
            "%s is open to others (mode %o); restricting it to %o", path, info.st_mode & 0o777, mode
        )
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing, mode ``0700``; tighten it if it is ours and
    looser. Returns ``path``."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode ``0600`` unless it exists; tighten it, and its SQLite
    side files, if they are ours and looser. Returns ``path``."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, *(path.with_name(path.name + s) for s in _SIDE_FILES)):
        _tighten(candidate, 0o600)
    return path
