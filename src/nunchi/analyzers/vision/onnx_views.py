"""One ONNX file for a classifier on an embedding recipe: the views of a photo in, tag
probabilities out (pure: onnx, numpy).

:func:`recipe_classifier_model` joins the recipe's backbones, its combination of views and
the head into one graph. Each input side the recipe feeds gets an input: ``views`` for the
first, ``views_<side>`` for any other, each ``(batch, V, 3, S, S)`` float32 RGB 0..255 (what
:meth:`EmbeddingRecipe.arrays` gives for one photo at that side, stacked). Every view runs
through its backbone, its features get the power transform and unit length, the views of a
photo are averaged, each backbone's average is scaled to unit length and the averages are
joined end to end (one backbone: the join is that average); the head turns the result into
``probabilities`` ``(batch, tags)``. The recipe (views as crop boxes, power, the backbones
and their inputs), tags and threshold are in the model's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from nunchi.analyzers.vision.backbone import Backbone
from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.analyzers.vision.onnx_export import append_head, head_metadata, prune, set_metadata
from nunchi.analyzers.vision.recipes import EmbeddingRecipe
from nunchi.errors import InvalidInput

__all__ = ["recipe_classifier_model", "write_recipe_classifier"]

_EPS = 1e-12


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def _unit(x: str, out: str, prefix: str) -> list[onnx.NodeProto]:
    """Nodes scaling the rows of ``x`` to unit length into ``out`` (as l2_normalize)."""
    return [
        helper.make_node(
            "ReduceL2", [x], [f"{prefix}.norm"], axes=[-1], keepdims=1, name=f"{prefix}/L2"
        ),
        helper.make_node(
            "Max", [f"{prefix}.norm", "views.eps"], [f"{prefix}.safe"], name=f"{prefix}/Eps"
        ),
        helper.make_node("Div", [x, f"{prefix}.safe"], [out], name=f"{prefix}/Div"),
    ]


def recipe_classifier_model(
    head: ClassifierHead,
    recipe: EmbeddingRecipe,
    backbones: Mapping[str, Backbone] | None = None,
) -> onnx.ModelProto:
    """``recipe``'s backbones (the committed ones unless ``backbones`` by variant), its view
    pooling and ``head``, as one model."""
    nets = [(run.backbone(backbones), run) for run in recipe.runs]
    dims = sum(net.feature_dim for net, _ in nets)
    if dims != head.feature_dim:
        raise InvalidInput(
            f"recipe {recipe.name!r} gives {dims}-dim embeddings, the head wants "
            f"{head.feature_dim}: export with the recipe the head was trained on"
        )
    k = len(recipe.views)
    first_side = nets[0][1].side(nets[0][0])
    protos = [
        compose.add_prefix(onnx.load(str(net.path)), f"b{i}.") for i, (net, _) in enumerate(nets)
    ]
    nodes: list[onnx.NodeProto] = []
    inits = [
        _const("views.zero", np.array(0.0, np.float32)),
        _const("views.power", np.array(recipe.power, np.float32)),
        _const("views.eps", np.array(_EPS, np.float32)),
    ]
    inputs: dict[str, onnx.ValueInfoProto] = {}
    pooled: list[str] = []
    described = []
    for i, ((net, run), proto) in enumerate(zip(nets, protos, strict=True)):
        side = run.side(net)
        name = "views" if side == first_side else f"views_{side}"
        described.append({"variant": net.variant, "size": side, "input": name})
        inputs.setdefault(
            name,
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", k, 3, side, side]),
        )
        p = f"b{i}"
        inits += list(proto.graph.initializer)
        inits += [
            _const(f"{p}.in_shape", np.array([-1, 3, side, side], np.int64)),
            _const(f"{p}.out_shape", np.array([-1, k, net.feature_dim], np.int64)),
        ]
        nodes.append(
            helper.make_node(
                "Reshape", [name, f"{p}.in_shape"], [f"{p}.image"], name=f"{p}/views/Reshape"
            )
        )
        nodes += list(proto.graph.node)
        nodes += [
            helper.make_node(
                "Max", [f"{p}.features", "views.zero"], [f"{p}.relu"], name=f"{p}/views/Max"
            ),
            helper.make_node(
                "Pow", [f"{p}.relu", "views.power"], [f"{p}.pow"], name=f"{p}/views/Pow"
            ),
            *_unit(f"{p}.pow", f"{p}.unit", f"{p}/views"),
            helper.make_node(
                "Reshape",
                [f"{p}.unit", f"{p}.out_shape"],
                [f"{p}.grouped"],
                name=f"{p}/views/Group",
            ),
            helper.make_node(
                "ReduceMean",
                [f"{p}.grouped"],
                [f"{p}.mean"],
                axes=[1],
                keepdims=0,
                name=f"{p}/views/Mean",
            ),
        ]
        nodes += _unit(f"{p}.mean", f"{p}.pooled", f"{p}/pooled")  # the head's is then a no-op
        pooled.append(f"{p}.pooled")
    features = "views.joined"
    nodes.append(helper.make_node("Concat", pooled, [features], axis=1, name="views/Concat"))
    base = protos[0]
    graph = helper.make_graph(nodes, "nunchi_recipe_classifier", list(inputs.values()), [], inits)
    model = helper.make_model(graph, opset_imports=list(base.opset_import))
    model.ir_version = base.ir_version
    model.producer_name = "nunchi.analyzers.vision.onnx_views"
    append_head(model, features, head, "batch")
    prune(model)
    padding = {m.key: m.value for m in base.metadata_props}.get("nunchi.crop_padding")
    set_metadata(
        model,
        {
            **({"nunchi.crop_padding": padding} if padding is not None else {}),
            "nunchi.variant": "+".join(net.variant for net, _ in nets),
            "nunchi.input_size": str(first_side),
            **head_metadata(head),
            "nunchi.input": (
                "views (and views_<side> for each further side in nunchi.backbones): float32 "
                "(batch, V, 3, S, S), RGB 0..255; each view a square crop of the photo (see "
                "nunchi.views), bicubic-resized to S"
            ),
            "nunchi.recipe": recipe.name,
            "nunchi.views": json.dumps([v.to_dict() for v in recipe.views]),
            "nunchi.power": repr(recipe.power),
            "nunchi.backbones": json.dumps(described),
        },
    )
    onnx.checker.check_model(model)
    return model


def write_recipe_classifier(
    head: ClassifierHead,
    recipe: EmbeddingRecipe,
    out: Path,
    backbones: Mapping[str, Backbone] | None = None,
) -> Path:
    """Write :func:`recipe_classifier_model` to ``out``; the path."""
    onnx.save(recipe_classifier_model(head, recipe, backbones), str(out))
    return out
