"""The REST adapter: TensorFlow Serving's HTTP/JSON API, health endpoints and /metrics."""
