"""Fuzzed requests: whatever a client sends, the server answers within 2 s, never with INTERNAL
or a 5xx for the client's own mistake, and stays up; then good requests keep their latency.

Hypothesis draws PredictRequest tensors (any dtype, shape and contents, consistent or not) and
REST bodies (JSON of any shape, raw bytes, any path). The runs are derandomised, so CI draws the
same examples each time; a failure prints the smallest request that shows it.
"""

import json
from urllib.parse import quote

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

from tests.reliability.conftest import Latency, good_latency
from tests.service.conftest import ServerProcess
from tests.service.wire import model_spec

# The baseline is taken before the first fuzzed request, even when this module runs alone.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("corpus_baseline")]

GRPC_EXAMPLES = 400
REST_EXAMPLES = 400
ANSWER_SECONDS = 2.0
# A client's mistake never gets these; a request that is fine gets OK.
SERVER_FAULTS = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
}
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODELS = ("mlp", "fixed_hidden_mlp", "chimera", "lookup")
names = st.one_of(st.sampled_from(MODELS), st.text(max_size=12))
input_names = st.one_of(st.sampled_from(("x", "index")), st.text(max_size=6))
dims = st.one_of(
    st.integers(0, 30),
    st.sampled_from((-1, 0, 1000, 1001, 10**9, 2**31, 2**59 + 1, 2**62, 2**63 - 1)),
    st.integers(-(2**63), 2**63 - 1),
)
# Around NumPy's limit of 64 dimensions, mostly empty (a 0 somewhere) or of one element.
high_ranks = st.lists(st.sampled_from((0, 1, 1, 1)), min_size=60, max_size=70)
floats = st.floats(width=32, allow_nan=True, allow_infinity=True)
small_ints = st.integers(-(2**31), 2**31 - 1)
big_ints = st.integers(-(2**63), 2**63 - 1)
TYPED_FIELDS = {
    "float_val": floats,
    "double_val": st.floats(),
    "int_val": small_ints,
    "int64_val": big_ints,
    "half_val": small_ints,
    "uint32_val": st.integers(0, 2**32 - 1),
    "uint64_val": st.integers(0, 2**64 - 1),
    "bool_val": st.booleans(),
    "string_val": st.binary(max_size=8),
}


@st.composite
def tensors(draw: st.DrawFn) -> tensor_pb2.TensorProto:
    """A TensorProto of any dtype and shape, its contents agreeing with the shape or not."""
    dtype = draw(
        st.one_of(
            st.sampled_from((types_pb2.DT_FLOAT, types_pb2.DT_INT32)),
            st.sampled_from(types_pb2.DataType.values()),
        )
    )
    proto = tensor_pb2.TensorProto(dtype=dtype)
    if draw(st.integers(0, 19)) == 0:
        proto.tensor_shape.unknown_rank = True
    shape = draw(st.lists(dims, max_size=4) if draw(st.integers(0, 4)) else high_ranks)
    proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape)
    contents = draw(st.sampled_from(("none", "tensor_content", "typed")))
    if contents == "tensor_content":
        proto.tensor_content = draw(st.binary(max_size=512))
    elif contents == "typed":
        field = draw(st.sampled_from(sorted(TYPED_FIELDS)))
        getattr(proto, field).extend(draw(st.lists(TYPED_FIELDS[field], max_size=64)))
    return proto


@st.composite
def predict_requests(draw: st.DrawFn) -> predict_pb2.PredictRequest:
    spec = model_spec(draw(names), signature=draw(st.sampled_from(("", "serving_default", "x"))))
    choice = draw(st.integers(0, 3))
    if choice == 1:
        spec.version.value = draw(big_ints)
    elif choice == 2:
        spec.version_label = draw(st.text(max_size=8))
    request = predict_pb2.PredictRequest(model_spec=spec)
    for name in draw(st.lists(input_names, max_size=3, unique=True)):
        request.inputs[name].CopyFrom(draw(tensors()))
    request.output_filter.extend(draw(st.lists(st.sampled_from(("y", "z", "")), max_size=2)))
    return request


def check_answered(server: ServerProcess, asked: list[int]) -> None:
    assert server.process is not None and server.process.poll() is None, "the server died"
    assert asked[0] >= 100, f"only {asked[0]} examples were drawn"


def test_fuzzed_predict_requests_never_fault_the_server(corpus_server: ServerProcess) -> None:
    asked = [0]

    @settings(FUZZ, max_examples=GRPC_EXAMPLES)
    @given(predict_requests())
    def answers(request: predict_pb2.PredictRequest) -> None:
        asked[0] += 1
        try:
            corpus_server.prediction.Predict(request, timeout=ANSWER_SECONDS)
        except grpc.RpcError as e:
            assert e.code() not in SERVER_FAULTS, f"{e.code().name}: {e.details()}"
            assert e.details()

    answers()
    check_answered(corpus_server, asked)


# -- REST ---------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.fixed_dictionaries({"b64": st.text(max_size=8)}),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.one_of(st.sampled_from(("x", "index", "b64", "y")), st.text(max_size=4)),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=40,
)
rows = st.one_of(
    st.lists(st.lists(st.floats(width=32), min_size=20, max_size=20), min_size=1, max_size=3),
    st.lists(st.integers(-5, 5), min_size=1, max_size=4),
    json_values,
)
request_objects = st.fixed_dictionaries(
    {},
    optional={
        "instances": rows,
        "inputs": st.one_of(rows, st.dictionaries(input_names, rows, max_size=2)),
        "signature_name": st.one_of(st.sampled_from(("serving_default", "x")), json_scalars),
        "examples": json_values,
        "context": json_values,
    },
)
bodies = st.one_of(
    request_objects.map(json.dumps),
    json_values.map(json.dumps),
    st.integers(1, 3000).map(lambda n: '{"instances": ' + "[" * n + "1" + "]" * n + "}"),
    st.binary(max_size=64),
)
verbs = st.sampled_from(("predict", "classify", "regress", "explain", ""))


@st.composite
def paths(draw: st.DrawFn) -> str:
    name = quote(draw(names), safe="")
    middle = draw(
        st.sampled_from(("", "/versions/1", "/versions/99", "/labels/stable", "/labels/x"))
    )
    tail = draw(st.one_of(verbs.map(lambda v: f":{v}"), st.sampled_from(("", "/metadata"))))
    return f"/v1/models/{name}{middle}{tail}"


def test_fuzzed_rest_requests_never_get_a_5xx(corpus_server: ServerProcess) -> None:
    asked = [0]

    @settings(FUZZ, max_examples=REST_EXAMPLES)
    @given(st.sampled_from(("POST", "POST", "GET", "PUT")), paths(), bodies)
    def answers(method: str, path: str, body: str | bytes) -> None:
        asked[0] += 1
        response = corpus_server.rest(method, path, body, timeout=ANSWER_SECONDS)
        assert response.status < 500, response.body[:300]

    answers()
    check_answered(corpus_server, asked)


def test_after_the_corpus_good_requests_keep_their_latency(
    corpus_server: ServerProcess, corpus_baseline: Latency
) -> None:
    after = good_latency(corpus_server)
    # Generous: other tests share the machine's two cores.
    assert after.grpc < 3 * corpus_baseline.grpc + 0.02, (corpus_baseline, after)
    assert after.rest < 3 * corpus_baseline.rest + 0.02, (corpus_baseline, after)
    print(f"good Predict median before/after the corpus: {corpus_baseline} / {after}")
