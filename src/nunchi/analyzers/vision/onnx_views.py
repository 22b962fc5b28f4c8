"""One ONNX file for a classifier on an embedding recipe: the views of a photo in, tag
probabilities out (pure: onnx, numpy).

:func:`recipe_classifier_model` extends ``onnx_export.classifier_model`` with the recipe's
combination of views: the input ``views`` is ``(batch, V, 3, S, S)`` float32 RGB 0..255
(what :meth:`EmbeddingRecipe.arrays` gives for one photo, stacked), each view runs
through the backbone, its features get the power transform and unit length, the views of a
photo are averaged, and the head turns the average into ``probabilities`` ``(batch, tags)``.
The recipe (views as crop boxes, power), tags and threshold are in the model's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.analyzers.vision.onnx_export import classifier_model
from nunchi.analyzers.vision.recipes import EmbeddingRecipe

__all__ = ["recipe_classifier_model", "write_recipe_classifier"]

_EPS = 1e-12


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def recipe_classifier_model(
    backbone: Path, head: ClassifierHead, recipe: EmbeddingRecipe
) -> onnx.ModelProto:
    """The backbone at ``backbone`` with ``recipe``'s view pooling and ``head``, as one model."""
    proto = classifier_model(backbone, head)
    graph = proto.graph
    (image,) = [i for i in graph.input if i.name == "image"]
    size = image.type.tensor_type.shape.dim[2].dim_value
    dim = head.feature_dim
    k = len(recipe.views)
    for node in graph.node:  # the head now reads the pooled embedding, not raw features
        if node.name.startswith("head/"):
            node.input[:] = ["views.pooled" if i == "features" else i for i in node.input]
    graph.initializer.extend(
        [
            _const("views.in_shape", np.array([-1, 3, size, size], np.int64)),
            _const("views.out_shape", np.array([-1, k, dim], np.int64)),
            _const("views.zero", np.array(0.0, np.float32)),
            _const("views.power", np.array(recipe.power, np.float32)),
            _const("views.eps", np.array(_EPS, np.float32)),
        ]
    )
    front = helper.make_node(
        "Reshape", ["views", "views.in_shape"], ["image"], name="views/Reshape"
    )
    pool = [
        helper.make_node("Max", ["features", "views.zero"], ["views.relu"], name="views/Max"),
        helper.make_node("Pow", ["views.relu", "views.power"], ["views.pow"], name="views/Pow"),
        helper.make_node(
            "ReduceL2", ["views.pow"], ["views.norm"], axes=[1], keepdims=1, name="views/L2"
        ),
        helper.make_node("Max", ["views.norm", "views.eps"], ["views.safe"], name="views/Eps"),
        helper.make_node("Div", ["views.pow", "views.safe"], ["views.unit"], name="views/Div"),
        helper.make_node(
            "Reshape", ["views.unit", "views.out_shape"], ["views.grouped"], name="views/Group"
        ),
        helper.make_node(
            "ReduceMean",
            ["views.grouped"],
            ["views.pooled"],
            axes=[1],
            keepdims=0,
            name="views/Mean",
        ),
    ]
    nodes = list(graph.node)
    first_head = next(i for i, n in enumerate(nodes) if n.name.startswith("head/"))
    del graph.node[:]
    graph.node.extend([front, *nodes[:first_head], *pool, *nodes[first_head:]])
    del graph.input[:]
    del graph.value_info[:]  # inner shapes said "batch" where there are now batch * V rows
    graph.input.append(
        helper.make_tensor_value_info("views", TensorProto.FLOAT, ["batch", k, 3, size, size])
    )
    batch_dim = graph.output[0].type.tensor_type.shape.dim[0]
    batch_dim.Clear()
    batch_dim.dim_param = "batch"
    meta = {p.key: p.value for p in proto.metadata_props}
    meta.update(
        {
            "nunchi.input": (
                "views: float32 (batch, V, 3, S, S), RGB 0..255; each view a square crop of "
                "the photo (see nunchi.views), bicubic-resized to S"
            ),
            "nunchi.recipe": recipe.name,
            "nunchi.views": json.dumps([v.to_dict() for v in recipe.views]),
            "nunchi.power": repr(recipe.power),
        }
    )
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    return proto


def write_recipe_classifier(
    backbone: Path, head: ClassifierHead, recipe: EmbeddingRecipe, out: Path
) -> Path:
    """Write :func:`recipe_classifier_model` to ``out``; the path."""
    onnx.save(recipe_classifier_model(backbone, head, recipe), str(out))
    return out
