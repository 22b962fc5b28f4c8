"""Builds the vision analyzers' artifacts: the ONNX backbone, its labels, the variant study."""
