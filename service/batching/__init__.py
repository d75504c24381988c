"""Where all requests for one model version meet its TensorFlow call: directly, or batched."""
