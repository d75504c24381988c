"""blockserve: a TensorFlow Serving-compatible model server that shows what its models hold."""

import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU-only machine) buries the server's log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
