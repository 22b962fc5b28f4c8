"""The ImageNet backbone: image embeddings and ImageNet labels from one ONNX graph (pure).

The committed model is an EfficientNet-Lite exported by
``nunchi.training.vision.export_backbone``; it has two outputs, ``features`` (the pooled vector
before the classifier) and ``logits`` (1000 ImageNet classes). ONNX Runtime runs it on one
intra-op thread by default, which is what a worker stage wants on a shared machine.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from nunchi.analyzers.vision.preprocess import ImageInput, to_batch
from nunchi.analyzers.vision.vectors import l2_normalize
from nunchi.errors import InvalidInput

__all__ = [
    "DEFAULT_VARIANT",
    "INPUT_SIZES",
    "MODELS_DIR",
    "Backbone",
    "BackboneOutput",
]

MODELS_DIR = Path(__file__).parent / "models"
LABELS_FILE = MODELS_DIR / "imagenet-labels.txt"
DEFAULT_VARIANT = "lite0"
INPUT_SIZES = {"lite0": 224, "lite1": 240, "lite2": 260}
"""Each variant's input side, as it was trained (the model file also records it)."""

F32 = NDArray[np.float32]

_CACHE: dict[str, Backbone] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class BackboneOutput:
    """Both outputs for a batch: pooled ``features`` ``(n, d)`` and ImageNet ``logits``."""

    features: F32
    logits: F32


def _session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _softmax(logits: F32) -> F32:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: F32 = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


class Backbone:
    """An EfficientNet-Lite ONNX model with its preprocessing and ImageNet labels.

    Thread-safe: one ONNX Runtime session serves concurrent calls.
    """

    def __init__(
        self, path: Path, *, labels: Sequence[str] | None = None, threads: int = 1
    ) -> None:
        if not path.is_file():
            raise InvalidInput(
                f"no backbone model at {path}: export one with "
                "`python -m nunchi.training.vision.export_backbone --variant VARIANT --out DIR`"
            )
        self._path = path
        self._session = _session(path, threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        self._variant = str(meta.get("nunchi.variant", path.stem))
        size = meta.get("nunchi.input_size") or INPUT_SIZES.get(self._variant)
        if size is None:
            raise InvalidInput(f"{path} records no input size and {self._variant!r} is unknown")
        self._input_size = int(size)
        sizes = str(meta.get("nunchi.input_sizes") or size)
        self._input_sizes = tuple(int(v) for v in sizes.split(","))
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        if set(outputs) != {"features", "logits"}:
            raise InvalidInput(f"{path} is not a backbone (outputs {sorted(outputs)})")
        self._feature_dim = int(outputs["features"][1])
        names = labels if labels is not None else _read_labels(LABELS_FILE)
        if len(names) != int(outputs["logits"][1]):
            raise InvalidInput(f"{len(names)} labels for {outputs['logits'][1]} ImageNet logits")
        self._labels = tuple(names)

    @classmethod
    def load(cls, variant: str | None = None) -> Backbone:
        """The committed model of ``variant`` (default :data:`DEFAULT_VARIANT`), loaded once."""
        name = variant or DEFAULT_VARIANT
        if name not in INPUT_SIZES:
            raise InvalidInput(f"unknown backbone variant {name!r}: one of {sorted(INPUT_SIZES)}")
        with _CACHE_LOCK:
            found = _CACHE.get(name)
            if found is None:
                found = _CACHE[name] = cls(MODELS_DIR / f"{name}.onnx")
            return found

    @property
    def path(self) -> Path:
        """The ONNX file this backbone runs."""
        return self._path

    @property
    def variant(self) -> str:
        """The EfficientNet-Lite size, e.g. ``"lite0"``."""
        return self._variant

    @property
    def input_size(self) -> int:
        """The side of the square input the network sees, in pixels."""
        return self._input_size

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """Every input side the graph serves (its paddings checked at each when exported),
        :attr:`input_size` first."""
        return self._input_sizes

    @property
    def feature_dim(self) -> int:
        """The length of one embedding."""
        return self._feature_dim

    @property
    def labels(self) -> tuple[str, ...]:
        """The 1000 ImageNet class names, by logit index."""
        return self._labels

    def preprocess(self, images: Sequence[ImageInput]) -> F32:
        """Images as the network input ``(n, 3, S, S)``, RGB 0..255 (see ``preprocess``)."""
        return to_batch(images, self._input_size)

    def run_array(self, batch: F32) -> BackboneOutput:
        """Both outputs for an already preprocessed batch."""
        side = batch.shape[2] if batch.ndim == 4 else 0
        if batch.shape[1:] != (3, side, side) or side not in self._input_sizes:
            sides = " or ".join(f"(n, 3, {n}, {n})" for n in self._input_sizes)
            raise InvalidInput(f"batch of shape {batch.shape}, want {sides}: use preprocess()")
        features, logits = self._session.run(
            ["features", "logits"], {"image": np.ascontiguousarray(batch, dtype=np.float32)}
        )
        return BackboneOutput(features.astype(np.float32), logits.astype(np.float32))

    def run(self, images: Sequence[ImageInput], *, batch_size: int = 16) -> BackboneOutput:
        """Raw features and logits for ``images``, decoded and run ``batch_size`` at a time."""
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        feats: list[F32] = []
        logits: list[F32] = []
        for start in range(0, len(images), batch_size):
            out = self.run_array(self.preprocess(images[start : start + batch_size]))
            feats.append(out.features)
            logits.append(out.logits)
        if not feats:
            empty = np.zeros((0, self._feature_dim), np.float32)
            return BackboneOutput(empty, np.zeros((0, len(self._labels)), np.float32))
        return BackboneOutput(np.concatenate(feats), np.concatenate(logits))

    def embed(
        self, images: Sequence[ImageInput], *, normalize: bool = True, batch_size: int = 16
    ) -> F32:
        """Embeddings ``(n, feature_dim)`` float32; L2-normalised (unit rows) unless told not."""
        features = self.run(images, batch_size=batch_size).features
        return l2_normalize(features) if normalize else features

    def imagenet(
        self, images: Sequence[ImageInput], top_k: int = 5, *, batch_size: int = 16
    ) -> list[list[tuple[str, float]]]:
        """For each image, its ``top_k`` ImageNet labels with softmax probabilities, best first."""
        return self.top_labels(self.run(images, batch_size=batch_size).logits, top_k)

    def top_labels(self, logits: F32, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``top_k`` labels and probabilities for each row of ImageNet ``logits``."""
        if not 1 <= top_k <= len(self._labels):
            raise InvalidInput(f"top_k must be between 1 and {len(self._labels)}")
        probs = _softmax(logits)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        return [
            [(self._labels[j], float(row[j])) for j in idx]
            for row, idx in zip(probs, order, strict=True)
        ]


def _read_labels(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
