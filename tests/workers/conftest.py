"""The worker tests run the worker's request road in the test process too (road.py).

tritonclient's generated `service_pb2` and blockserve's `service/protos/inference` register the
same `inference.*` messages, and one process can hold only one of the two (tests/v2 imports
tritonclient's). The road decodes V2 messages: where tritonclient's are in the process first,
blockserve's module name is pointed at them, whose field numbers and types
tests/protos/test_generated_in_step.py pins equal to ours; where ours are, nothing is needed.
"""

import importlib
import sys

from tests.service.conftest import pytest_runtest_makereport  # noqa: F401  (server logs on failure)

OURS = "service.protos.inference.grpc_service_pb2"
if OURS not in sys.modules and "tritonclient.grpc.service_pb2" in sys.modules:
    sys.modules[OURS] = importlib.import_module("tritonclient.grpc.service_pb2")
