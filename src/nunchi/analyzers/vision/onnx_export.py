"""ONNX graph edits for the vision models: pruning, and backbone + classifier head in one file.

:func:`classifier_model` appends a trained head to the backbone graph (L2 normalisation,
``MatMul``, ``Add``, ``Softmax``, the temperature folded into the weights), so the user's
classifier runs anywhere ONNX runs: input ``image`` as for the backbone (float32 RGB 0..255,
NCHW, centre-cropped; see ``preprocess``), output ``probabilities`` ``(batch, tags)``. The tags,
threshold and preprocessing are in the model's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nunchi.errors import InvalidInput

if TYPE_CHECKING:
    from nunchi.analyzers.vision.head import ClassifierHead

__all__ = [
    "append_head",
    "classifier_model",
    "head_metadata",
    "prune",
    "set_metadata",
    "write_classifier",
]

_EPS = 1e-12  # as l2_normalize


def prune(proto: onnx.ModelProto) -> None:
    """Drop the nodes, initializers and value infos no graph output depends on (in place)."""
    graph = proto.graph
    needed = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    infos = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(infos)


def _opset(proto: onnx.ModelProto) -> int:
    return int(next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")))


def append_head(proto: onnx.ModelProto, features: str, head: ClassifierHead, batch: str) -> None:
    """Add ``head`` on the tensor ``features`` ``(batch, feature_dim)`` of ``proto``'s graph
    (unit length, affine map, softmax) and make ``probabilities`` the graph's only output."""
    graph = proto.graph
    w, b = head.affine()
    graph.initializer.extend(
        [
            numpy_helper.from_array(w.astype(np.float32), "head.weights"),
            numpy_helper.from_array(b.astype(np.float32), "head.bias"),
            numpy_helper.from_array(np.array(_EPS, dtype=np.float32), "head.eps"),
        ]
    )
    if _opset(proto) >= 18:
        graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "head.axes"))
        norm = helper.make_node(
            "ReduceL2", [features, "head.axes"], ["head.norm"], keepdims=1, name="head/ReduceL2"
        )
    else:
        norm = helper.make_node(
            "ReduceL2", [features], ["head.norm"], axes=[1], keepdims=1, name="head/ReduceL2"
        )
    graph.node.extend(
        [
            norm,
            helper.make_node("Max", ["head.norm", "head.eps"], ["head.safe_norm"], name="head/Max"),
            helper.make_node("Div", [features, "head.safe_norm"], ["head.unit"], name="head/Div"),
            helper.make_node(
                "MatMul", ["head.unit", "head.weights"], ["head.mm"], name="head/MatMul"
            ),
            helper.make_node("Add", ["head.mm", "head.bias"], ["head.logits"], name="head/Add"),
            helper.make_node(
                "Softmax", ["head.logits"], ["probabilities"], axis=1, name="head/Softmax"
            ),
        ]
    )
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, len(head.tags)])
    )


def classifier_model(backbone: Path, head: ClassifierHead) -> onnx.ModelProto:
    """The backbone graph at ``backbone`` with ``head`` on its features, as one ONNX model."""
    proto = onnx.load(str(backbone))
    graph = proto.graph
    outputs = {o.name: o for o in graph.output}
    if "features" not in outputs:
        raise InvalidInput(f"{backbone} has no 'features' output: not a nunchi backbone")
    dims = outputs["features"].type.tensor_type.shape.dim
    if len(dims) != 2 or dims[1].dim_value != head.feature_dim:
        raise InvalidInput(
            f"{backbone} gives {dims[1].dim_value if len(dims) == 2 else '?'}-dim features, "
            f"the head wants {head.feature_dim}: use the backbone the head was trained on"
        )
    append_head(proto, "features", head, dims[0].dim_param or "batch")
    prune(proto)
    set_metadata(proto, head_metadata(head))
    onnx.checker.check_model(proto)
    return proto


def head_metadata(head: ClassifierHead) -> dict[str, str]:
    """What an exported classifier records of its head: tags, threshold, temperature."""
    return {
        "nunchi.kind": "classifier",
        "nunchi.tags": json.dumps(list(head.tags), ensure_ascii=False),
        "nunchi.threshold": repr(head.threshold),
        "nunchi.temperature": repr(head.temperature),
    }


def set_metadata(proto: onnx.ModelProto, values: dict[str, str]) -> None:
    """Merge ``values`` into the model's metadata (in place)."""
    meta = {p.key: p.value for p in proto.metadata_props}
    meta.update(values)
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)


def write_classifier(backbone: Path, head: ClassifierHead, out: Path) -> Path:
    """Write :func:`classifier_model` to ``out``; the path."""
    onnx.save(classifier_model(backbone, head), str(out))
    return out
