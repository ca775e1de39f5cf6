"""The cost benchmark of Table 3 (GALR against DPRNN and the dual-path
transformer), GPU throughput and onnxruntime timings.  Run from the root
of a checkout: ``python -m benchmarks.benchmark --quick``; it builds the
models from the recipes' yaml files."""
