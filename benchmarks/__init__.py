"""Benchmark workloads run by ``nunchi bench …``."""
