"""The networks of the seed chapter "Layers and Blocks", written as Keras 3 blocks."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU-only machine) buries the export summary.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
