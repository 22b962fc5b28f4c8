"""The vision app: self-hosted image classifiers (see :mod:`nunchi.apps.vision.app`).

Other apps use :class:`nunchi.apps.vision.published.PublishedModels` (read-only)."""

from nunchi.apps.vision.published import PublishedModel, PublishedModels

__all__ = ["PublishedModel", "PublishedModels"]
