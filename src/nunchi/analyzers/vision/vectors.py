"""Embedding vectors: scaling rows to unit length (shared by the backbone and the head)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["l2_normalize"]


def l2_normalize(features: NDArray[np.floating], eps: float = 1e-12) -> NDArray[np.float32]:
    """Rows scaled to unit Euclidean length (all-zero rows stay zero), as float32."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    out: NDArray[np.float32] = (x / np.maximum(norms, eps)[:, None]).astype(np.float32)
    return out
