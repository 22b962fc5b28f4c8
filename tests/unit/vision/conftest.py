"""Shared data for the vision tests: the flowers photos (read-only) and the committed backbone."""

from __future__ import annotations

from pathlib import Path

import pytest

from nunchi.analyzers.vision.backbone import Backbone
from tests.fixtures.services import require_service

_ROOT = Path(__file__).resolve().parents[3]
# shared/ sits beside the checkout; a git worktree under wt/ has it one level further up.
_CANDIDATES = [
    _ROOT.parent / "shared" / "data" / "images" / "flowers",
    _ROOT.parent.parent / "shared" / "data" / "images" / "flowers",
]
FLOWERS = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])


@pytest.fixture(scope="session")
def flowers() -> Path:
    """The flowers folder (``<class>/*.jpg``, 5 classes x 50, CC-BY 2.0)."""
    require_service("flowers photos", FLOWERS.is_dir(), f"expected {FLOWERS} (shared/data)")
    return FLOWERS


@pytest.fixture(scope="session")
def backbone() -> Backbone:
    """The committed default backbone."""
    return Backbone.load()
