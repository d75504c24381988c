"""TensorFlow's profiler server in a worker: what tensorflow.ProfilerService traces."""

import logging
import threading

import tensorflow as tf

log = logging.getLogger(__name__)

# TensorFlow's profiler server is one per process, so is the record of it having started.
_started: set[int] = set()
_lock = threading.Lock()


def serve_profiler(port: int) -> None:
    """Start TensorFlow's profiler server on `port` in this process, once; 0: none.

    It traces what this process's TensorFlow runs. TensorFlow's server listens on every
    interface ([::]:port, it takes no address); several workers given one port share it
    (SO_REUSEPORT), and each trace then reaches one of them.
    """
    if not port:
        return
    with _lock:
        if port in _started:
            return
        try:
            tf.profiler.experimental.server.start(port)
        except Exception:  # a profiler that cannot start must not stop the model loading
            log.exception("TensorFlow's profiler server did not start on port %d", port)
        _started.add(port)
