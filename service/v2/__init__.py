"""The Open Inference Protocol (KServe V2): its tensors, JSON and binary forms, and metadata.

Wire formats only; the gRPC servicer (service/front/grpc/inference.py) and the REST handlers
(service/front/rest/v2.py) use these to reach the same data plane as TensorFlow Serving's API.
"""
