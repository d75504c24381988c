"""Request logging: sampled requests and responses written as PredictionLog TFRecords.

A model's `logging_config` in the ModelServerConfig turns it on (`sampling.py`); the gRPC
servicer hands each answered call to the `logger.RequestLogger`, whose writer thread frames them
(`tfrecord.py`) into rotating files (`files.py`). The records are the ones TensorFlow Serving's
warm-up reads: `python -m service.requestlog to-warmup` turns a log into a version's
assets.extra/tf_serving_warmup_requests (`warmup.py`).
"""
