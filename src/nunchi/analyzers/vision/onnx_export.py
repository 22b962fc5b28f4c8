"""ONNX graph edits for the vision models: pruning, and backbone + classifier head in one file."""

from __future__ import annotations

import onnx

__all__ = ["prune"]


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
