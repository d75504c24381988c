"""Benchmarks of blockserve against a naive TensorFlow server and a bare gRPC floor.

Not tests: `python -m benchmarks.run` measures, `python -m benchmarks.soak` watches memory under
load; CI runs both only with `--smoke`. See benchmarks/README.md.
"""
