"""The apps: one package each, plugged into the platform through the contract of
:mod:`nunchi.apps.base`. :data:`APPS` is the one explicit list the composition root reads."""

from __future__ import annotations

from typing import Any

from nunchi.apps.base import App, Figure
from nunchi.apps.catalog.app import CATALOG_APP
from nunchi.apps.chat.app import CHAT_APP
from nunchi.apps.text.app import TEXT_APP
from nunchi.apps.vision.app import VISION_APP

__all__ = ["APPS", "App", "Figure"]

APPS: tuple[App[Any], ...] = (CHAT_APP, CATALOG_APP, TEXT_APP, VISION_APP)
"""Every app of a nunchi installation, in no particular order (each declares its ``order``)."""
