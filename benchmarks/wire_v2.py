"""The V2 inference protocol's ModelInfer (KServe, Triton, MLServer), built without any peer's code.

blockserve's own `proto/inference/grpc_service.proto` is compiled when this module is first
imported (protoc from grpcio-tools, a project dependency) into a descriptor pool of this
module's own: tritonclient and blockserve's V2 adapter register
the same `inference.*` names in protobuf's default pool, and one process cannot hold two
definitions of a name there, so the tests may import this module beside either of them.
Nothing generated is checked in, and no peer package enters the project's venv.

Requests carry the same rows as `benchmarks.wire.predict_request`, as raw little-endian float32
(`raw_input_contents`), which is what Triton's own client sends; MLServer then answers in raw
contents too, Triton always does.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from benchmarks.wire import reference_rows

PROTO = Path(__file__).resolve().parents[1] / "proto" / "inference" / "grpc_service.proto"


def _compiled() -> descriptor_pb2.FileDescriptorSet:
    """The proto's descriptors, from protoc in a process of its own: grpcio-tools' compiler
    crashes a process that has loaded TensorFlow's protobuf runtime."""
    with tempfile.TemporaryDirectory(prefix="blockserve-v2-") as scratch:
        out = Path(scratch) / "grpc_service.desc"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--proto_path={PROTO.parent}",
                f"--descriptor_set_out={out}",
                PROTO.name,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"protoc could not compile {PROTO}: {done.stderr[-2000:]}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


_pool = descriptor_pool.DescriptorPool()
for _file in _compiled().file:
    _pool.Add(_file)
ModelInferRequest = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("inference.ModelInferRequest")
)
ModelInferResponse = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("inference.ModelInferResponse")
)

MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def model_infer_request(model: str, rows: int, features: int = 20) -> bytes:
    """A serialized ModelInfer of `rows` reference rows as input `x` (FP32, raw contents)."""
    return model_infer_request_for(model, reference_rows(rows, features))


def model_infer_request_for(model: str, x: np.ndarray) -> bytes:
    """A serialized ModelInfer of float32 `x` as input `x` (FP32, raw contents)."""
    request = ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
    del tensor  # its data travels in raw_input_contents, index-aligned with `inputs`
    request.raw_input_contents.append(x.astype("<f4").tobytes())
    return request.SerializeToString()


def output_array(answer: bytes, name: str = "y") -> np.ndarray:
    """A FP32 output of a serialized ModelInferResponse, from raw or typed contents."""
    response = ModelInferResponse.FromString(answer)
    for i, tensor in enumerate(response.outputs):
        if tensor.name != name:
            continue
        shape = tuple(tensor.shape)
        if tensor.datatype != "FP32":
            raise ValueError(f"output {name!r} is {tensor.datatype}, expected FP32")
        if response.raw_output_contents:
            return np.frombuffer(response.raw_output_contents[i], dtype="<f4").reshape(shape)
        return np.array(tensor.contents.fp32_contents, dtype=np.float32).reshape(shape)
    raise ValueError(f"the answer has no output {name!r}: {[t.name for t in response.outputs]}")
