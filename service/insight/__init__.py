"""Live insight from real traffic: per-layer activation statistics and input drift.

The worker side (`monitor.VersionInsight`) samples requests after their answers went and runs
them again through an instrumented call; the front side merges what the workers hold
(`merge`), exports it as metrics (`metrics`) and serves it (service/front/grpc/inspection.py,
service/front/rest/insight.py). Only `monitor` and `instrumented` import TensorFlow.
"""
