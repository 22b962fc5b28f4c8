"""Vision analyzers: the ImageNet backbone and the trainable classifier head (pure).

The names load on first use, so importing this package does not start ONNX Runtime.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Backbone",
    "BackboneOutput",
    "ClassifierHead",
    "Evaluation",
    "Prediction",
    "evaluate",
    "l2_normalize",
    "write_classifier",
]

_LAZY = {
    "Backbone": "nunchi.analyzers.vision.backbone",
    "BackboneOutput": "nunchi.analyzers.vision.backbone",
    "ClassifierHead": "nunchi.analyzers.vision.head",
    "Prediction": "nunchi.analyzers.vision.head",
    "Evaluation": "nunchi.analyzers.vision.evaluation",
    "evaluate": "nunchi.analyzers.vision.evaluation",
    "write_classifier": "nunchi.analyzers.vision.onnx_export",
    "l2_normalize": "nunchi.analyzers.vision.vectors",
}


def __getattr__(name: str) -> Any:
    """Load the public names on first access."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
