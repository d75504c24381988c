"""tritonclient, over HTTP and gRPC, against the real server: health, metadata, and answers equal
to the SavedModels' own, bit for bit."""

from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tensorflow.core.example import example_pb2, feature_pb2

from tests.service.conftest import SEED_MODELS
from tests.v2.conftest import HALF_PLUS_TWO, LABEL, SavedModelAnswers

ROWS = 3
PROTOCOLS = ("http", "grpc")
Client = httpclient.InferenceServerClient | grpcclient.InferenceServerClient


@pytest.fixture(params=PROTOCOLS)
def client(request: pytest.FixtureRequest) -> Client:
    return request.getfixturevalue(f"{request.param}_client")


def module(client: Client) -> Any:
    return httpclient if isinstance(client, httpclient.InferenceServerClient) else grpcclient


def infer(
    client: Client,
    model: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str] | None = None,
    binary: bool = True,
    **kwargs: Any,
) -> Any:
    """One infer call the way a tritonclient user writes it."""
    mod = module(client)
    tensors = []
    for name, array in inputs.items():
        datatype = "BYTES" if array.dtype == object else mod.np_to_triton_dtype(array.dtype)
        tensor = mod.InferInput(name, list(array.shape), datatype)
        if mod is httpclient:
            tensor.set_data_from_numpy(array, binary_data=binary)
        else:
            tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    requested = None
    if outputs is not None:
        requested = [
            httpclient.InferRequestedOutput(n, binary_data=binary)
            if mod is httpclient
            else grpcclient.InferRequestedOutput(n)
            for n in outputs
        ]
    return client.infer(model, tensors, outputs=requested, **kwargs)


def rows(model: str, metadata: dict[str, Any]) -> dict[str, np.ndarray]:
    """Deterministic rows for each float input of the model's default signature."""
    rng = np.random.default_rng(sum(map(ord, model)))
    out = {}
    for tensor in metadata["inputs"]:
        shape = [ROWS if d == -1 else d for d in tensor["shape"]]
        out[tensor["name"]] = rng.uniform(-2, 2, size=shape).astype(np.float32)
    return out


def test_server_is_live_and_ready(client: Client) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("mlp")
    assert client.is_model_ready("half_plus_two_tf1", "123")
    assert not client.is_model_ready("half_plus_two_tf1", "124")


def test_server_metadata_names_blockserve_and_its_extensions(http_client: Any) -> None:
    metadata = http_client.get_server_metadata()
    assert metadata["name"] == "blockserve"
    assert {"binary_tensor_data", "model_repository"} <= set(metadata["extensions"])


def test_server_metadata_over_grpc(grpc_client: Any) -> None:
    metadata = grpc_client.get_server_metadata(as_json=True)
    assert metadata["name"] == "blockserve"
    assert "model_repository" in metadata["extensions"]


def test_model_metadata_has_v2_datatypes_and_unknown_dimensions(client: Client) -> None:
    metadata = (
        client.get_model_metadata("typed", as_json=True)
        if module(client) is grpcclient
        else client.get_model_metadata("typed")
    )
    assert metadata["name"] == "typed"
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "tensorflow_savedmodel"
    inputs = {t["name"]: (t["datatype"], [int(d) for d in t["shape"]]) for t in metadata["inputs"]}
    assert inputs == {
        "x": ("FP32", [-1, 2]),
        "text": ("BYTES", [-1]),
        "count": ("INT64", [-1]),
        "flag": ("BOOL", [-1]),
    }
    outputs = {t["name"]: t["datatype"] for t in metadata["outputs"]}
    assert outputs == {
        "doubled": "FP32",
        "half": "FP16",
        "length": "INT32",
        "echo": "BYTES",
        "next": "INT64",
        "negated": "BOOL",
    }


def test_rest_metadata_lists_every_signature(http_client: Any) -> None:
    metadata = http_client.get_model_metadata("half_plus_two_tf2", "123")
    assert metadata["versions"] == ["123"]
    signatures = metadata["signatures"]
    assert {"serving_default", "regress_x_to_y", "classify_x_to_y"} <= set(signatures)
    assert signatures["regress_x_to_y"]["inputs"] == [
        {"name": "inputs", "datatype": "BYTES", "shape": [-1]}
    ]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("model", [*SEED_MODELS, *HALF_PLUS_TWO])
def test_answers_equal_the_saved_models_own(
    http_client: Any,
    grpc_client: Any,
    saved_model_answers: SavedModelAnswers,
    model: str,
    binary: bool,
) -> None:
    inputs = rows(model, http_client.get_model_metadata(model))
    if model == "half_plus_two_tf2":  # its signature takes exactly one value: shape [1]
        inputs = {"x": np.array([2.5], dtype=np.float32)}
    expected = saved_model_answers(model, inputs)
    for client in (http_client, grpc_client):
        result = infer(client, model, inputs, binary=binary)
        for name, want in expected.items():
            got = result.as_numpy(name)
            assert got.dtype == want.dtype and np.array_equal(got, want), (model, name)


def test_half_plus_two_gives_tensorflow_servings_known_answers(client: Client) -> None:
    result = infer(client, "half_plus_two_tf1", {"x": np.array([[1.0], [2.0], [5.0]], np.float32)})
    assert result.as_numpy("y").ravel().tolist() == [2.5, 3.0, 4.5]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_every_datatype_round_trips(
    client: Client, saved_model_answers: SavedModelAnswers, binary: bool
) -> None:
    inputs = {
        "x": np.array([[1.5, -2.25], [3.0, 1e-3]], dtype=np.float32),
        "text": np.array([b"hello", "grüße".encode()], dtype=object),
        "count": np.array([41, -(2**40)], dtype=np.int64),
        "flag": np.array([True, False]),
    }
    expected = saved_model_answers("typed", inputs)
    result = infer(client, "typed", inputs, binary=binary)
    for name, want in expected.items():
        got = result.as_numpy(name)
        if want.dtype == object:
            assert got.tolist() == want.tolist(), name
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), name


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_a_subset_of_outputs_comes_back_in_the_order_asked(client: Client, binary: bool) -> None:
    inputs = {
        "x": np.ones((1, 2), np.float32),
        "text": np.array([b"a"], dtype=object),
        "count": np.array([1], np.int64),
        "flag": np.array([False]),
    }
    result = infer(client, "typed", inputs, outputs=["next", "doubled"], binary=binary)
    names = [o["name"] for o in _outputs(result)]
    assert names == ["next", "doubled"]
    assert result.as_numpy("next").tolist() == [2]
    assert result.as_numpy("echo") is None


def _outputs(result: Any) -> list[dict[str, Any]]:
    response = result.get_response()
    if isinstance(response, dict):
        return response["outputs"]
    return [{"name": o.name} for o in response.outputs]


def test_request_id_is_echoed(client: Client) -> None:
    result = infer(client, "mlp", {"x": np.zeros((1, 20), np.float32)}, request_id="req-7")
    response = result.get_response()
    assert (response["id"] if isinstance(response, dict) else response.id) == "req-7"


def test_versions_and_labels_choose_the_version(client: Client) -> None:
    x = {"x": np.array([[2.0]], np.float32)}
    for version in ("123", LABEL, ""):
        result = infer(client, "half_plus_two_tf1", x, model_version=version)
        response = result.get_response()
        served = response["model_version"] if isinstance(response, dict) else response.model_version
        assert served == "123"
        assert result.as_numpy("y").tolist() == [[3.0]]


def test_signature_name_parameter_picks_the_signature(
    client: Client, saved_model_answers: SavedModelAnswers
) -> None:
    example = example_pb2.Example(
        features=feature_pb2.Features(
            feature={"x": feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[2.0]))}
        )
    )
    inputs = {"inputs": np.array([example.SerializeToString()], dtype=object)}
    expected = saved_model_answers("half_plus_two_tf2", inputs, "regress_x_to_y")
    result = infer(
        client, "half_plus_two_tf2", inputs, parameters={"signature_name": "regress_x_to_y"}
    )
    assert np.array_equal(result.as_numpy("outputs"), expected["outputs"])
    assert result.as_numpy("outputs").tolist() == [[3.0]]
