"""Security: the bind address, TLS and mutual TLS for gRPC (TensorFlow Serving's SSLConfig),
HTTPS for REST, the token that guards HandleReloadConfigRequest, model names checked before
they are used, and no deserialiser that can run code.

Certificates come from the `openssl` command line: a CA, a server certificate for 127.0.0.2,
a client certificate from the same CA, and a client certificate from a CA the server never saw.
"""

import ast
import http.client
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from grpc_health.v1 import health_pb2_grpc
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from service.protos.blockserve.v1 import server_config_pb2
from tests.service.conftest import (
    CALL_TIMEOUT,
    ROOT,
    RestResponse,
    ServerProcess,
    write_model_config,
)
from tests.service.wire import metadata_request, predict_request, status_request

pytestmark = pytest.mark.slow

BOUND = "127.0.0.2"  # a loopback address other than the usual one
TOKEN = "s3cret-reload-token"


@dataclass(frozen=True)
class Identity:
    key: Path
    cert: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Identity
    client: Identity
    stranger: Identity
    """A client whose certificate comes from another CA."""


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def new_ca(folder: Path, name: str) -> Identity:
    key, cert = folder / f"{name}.key", folder / f"{name}.pem"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
    )  # fmt: skip
    return Identity(key, cert)


def issue(folder: Path, name: str, ca: Identity, extensions: str) -> Identity:
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}",
    )  # fmt: skip
    extfile = folder / f"{name}.ext"
    extfile.write_text(extensions)
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extfile),
    )  # fmt: skip
    return Identity(key, cert)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, other_ca = new_ca(folder, "test-ca"), new_ca(folder, "other-ca")
    server = issue(
        folder,
        "server",
        ca,
        f"subjectAltName=IP:{BOUND},IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client = issue(folder, "client", ca, "extendedKeyUsage=clientAuth\n")
    stranger = issue(folder, "stranger", other_ca, "extendedKeyUsage=clientAuth\n")
    return Pki(ca.cert, server, client, stranger)


def ssl_config_file(path: Path, pki: Pki, client_verify: bool) -> Path:
    """TensorFlow Serving's --ssl_config_file: PEM contents inline, in text format."""
    config = server_config_pb2.SSLConfig(
        server_key=pki.server.key.read_text(),
        server_cert=pki.server.cert.read_text(),
        custom_ca=pki.ca.read_text() if client_verify else "",
        client_verify=client_verify,
    )
    path.write_text(text_format.MessageToString(config))
    return path


class SecureServer(ServerProcess):
    """A server on BOUND with gRPC over TLS; REST over HTTPS when `https` is set."""

    def __init__(
        self,
        flags: list[str],
        log_path: Path,
        pki: Pki,
        https: bool,
        client: Identity | None = None,
    ) -> None:
        super().__init__([f"--bind_address={BOUND}", *flags], log_path)
        self.pki, self.https, self.client = pki, https, client

    def start(self, timeout: float = 60.0) -> "SecureServer":
        super().start(timeout)
        assert self.channel is not None
        self.channel.close()
        self.channel = self.secure_channel(self.client)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        return self

    def secure_channel(self, client: Identity | None) -> grpc.Channel:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.pki.ca.read_bytes(),
            private_key=client.key.read_bytes() if client else None,
            certificate_chain=client.cert.read_bytes() if client else None,
        )
        return grpc.secure_channel(f"{BOUND}:{self.grpc_port}", credentials)

    def rest(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> RestResponse:
        if isinstance(body, dict):
            body = json.dumps(body)
        if self.https:
            context = ssl.create_default_context(cafile=str(self.pki.ca))
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                BOUND, self.rest_port, timeout=timeout, context=context
            )
        else:
            connection = http.client.HTTPConnection(BOUND, self.rest_port, timeout=timeout)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return RestResponse(response.status, response.read())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, tiny_models: dict[str, Path]
) -> Iterator[SecureServer]:
    """TLS on both ports, bound to BOUND only, reloads guarded by a token."""
    root = tmp_path_factory.mktemp("tls")
    config = write_model_config(root / "models.config", {"lookup": tiny_models["lookup"]})
    token = root / "admin.token"
    token.write_text(TOKEN + "\n")
    flags = [
        f"--model_config_file={config}",
        f"--ssl_config_file={ssl_config_file(root / 'ssl.config', pki, client_verify=False)}",
        f"--rest_tls_cert_file={pki.server.cert}",
        f"--rest_tls_key_file={pki.server.key}",
        f"--admin_token_file={token}",
    ]
    with SecureServer(flags, root / "server.log", pki, https=True) as server:
        yield server


def lookup(*indices: int):
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_INT32,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(indices))]
        ),
        int_val=list(indices),
    )
    return predict_request("lookup", {"index": tensor})


def predict_code(channel: grpc.Channel) -> grpc.StatusCode:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
        stub.Predict(lookup(1), timeout=5)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def test_grpc_over_tls_serves_and_a_plaintext_client_is_refused(tls_server: SecureServer) -> None:
    response = tls_server.prediction.Predict(lookup(1), timeout=CALL_TIMEOUT)
    assert list(response.outputs["y"].float_val) == [20.0]
    with grpc.insecure_channel(f"{BOUND}:{tls_server.grpc_port}") as plaintext:
        assert predict_code(plaintext) == grpc.StatusCode.UNAVAILABLE


def test_rest_over_https_serves_and_plain_http_gets_nothing(tls_server: SecureServer) -> None:
    response = tls_server.rest("POST", "/v1/models/lookup:predict", {"instances": [1]})
    assert response.status == 200 and response.json() == {"predictions": [20.0]}
    plain = http.client.HTTPConnection(BOUND, tls_server.rest_port, timeout=CALL_TIMEOUT)
    with pytest.raises((http.client.HTTPException, OSError)):
        plain.request("GET", "/healthz")
        plain.getresponse().read()
    plain.close()


@pytest.mark.parametrize("port", ["grpc_port", "rest_port"])
def test_ports_listen_on_the_bind_address_only(tls_server: SecureServer, port: str) -> None:
    number = getattr(tls_server, port)
    socket.create_connection((BOUND, number), timeout=5).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", number), timeout=5).close()


def reload_request(models: dict[str, Path]) -> model_management_pb2.ReloadConfigRequest:
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in models.items():
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base_path), "tensorflow"
    return model_management_pb2.ReloadConfigRequest(config=config)


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer wrong-token"),),
        (("authorization", TOKEN),),
        (("authorization", f"Bearer {TOKEN}x"),),
        (("authorization", f"bearer {TOKEN[:-1]}"),),
    ],
    ids=["no_token", "wrong_token", "no_bearer", "longer_token", "shorter_token"],
)
def test_reload_config_without_the_admin_token_is_refused_and_changes_nothing(
    tls_server: SecureServer, metadata: tuple[tuple[str, str], ...]
) -> None:
    # An empty config would unload every model, had it been accepted.
    with pytest.raises(grpc.RpcError) as refused:
        tls_server.models.HandleReloadConfigRequest(
            reload_request({}), metadata=metadata, timeout=CALL_TIMEOUT
        )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert TOKEN not in refused.value.details()
    status = tls_server.models.GetModelStatus(status_request("lookup"), timeout=CALL_TIMEOUT)
    assert [s.version for s in status.model_version_status] == [1]


def test_reload_config_with_the_admin_token_is_applied(
    tls_server: SecureServer, tiny_models: dict[str, Path]
) -> None:
    response = tls_server.models.HandleReloadConfigRequest(
        reload_request({"lookup": tiny_models["lookup"]}),
        metadata=(("authorization", f"Bearer {TOKEN}"),),
        timeout=CALL_TIMEOUT,
    )
    assert response.status.error_code == 0


@pytest.mark.parametrize("name", ["../lookup", "lookup/../../etc", "/etc/passwd", ".hidden", ""])
def test_reload_config_refuses_model_names_that_are_no_names(
    tls_server: SecureServer, tiny_models: dict[str, Path], name: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        tls_server.models.HandleReloadConfigRequest(
            reload_request({name: tiny_models["lookup"]}),
            metadata=(("authorization", f"Bearer {TOKEN}"),),
            timeout=CALL_TIMEOUT,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()


@pytest.mark.parametrize("name", ["../../etc/passwd", "lookup/..", "..", "%2e%2e", "a\0b"])
def test_model_names_are_checked_before_they_are_used(tls_server: SecureServer, name: str) -> None:
    for call, request in (
        (tls_server.prediction.Predict, predict_request(name, {"x": np.zeros((1, 1))})),
        (tls_server.prediction.GetModelMetadata, metadata_request(name)),
        (tls_server.models.GetModelStatus, status_request(name)),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            call(request, timeout=CALL_TIMEOUT)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()


@pytest.fixture(scope="module")
def mtls_server(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, tiny_models: dict[str, Path]
) -> Iterator[SecureServer]:
    """gRPC with client_verify: only clients with a certificate from the CA get in."""
    root = tmp_path_factory.mktemp("mtls")
    config = write_model_config(root / "models.config", {"lookup": tiny_models["lookup"]})
    flags = [
        f"--model_config_file={config}",
        f"--ssl_config_file={ssl_config_file(root / 'ssl.config', pki, client_verify=True)}",
    ]
    with SecureServer(flags, root / "server.log", pki, https=False, client=pki.client) as server:
        yield server


@pytest.mark.parametrize(
    ("client", "code"),
    [
        ("client", grpc.StatusCode.OK),
        (None, grpc.StatusCode.UNAVAILABLE),
        ("stranger", grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_mutual_tls_lets_in_only_clients_certified_by_the_ca(
    mtls_server: SecureServer, pki: Pki, client: str | None, code: grpc.StatusCode
) -> None:
    identity = getattr(pki, client) if client else None
    with mtls_server.secure_channel(identity) as channel:
        assert predict_code(channel) == code


# Modules that turn bytes into live objects, and builtins that run text as code: either could
# run what a request or a model file smuggles in.
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "joblib", "yaml"}
UNSAFE_CALLS = {"eval", "exec", "__import__", "compile"}


def test_nothing_is_deserialised_with_pickle_or_eval() -> None:
    found = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                found += [
                    f"{where} import {a.name}" for a in node.names if a.name in UNSAFE_MODULES
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "") in UNSAFE_MODULES:
                found.append(f"{where} from {node.module} import")
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in UNSAFE_CALLS:
                    found.append(f"{where} {node.func.id}()")
                keywords = {k.arg: k.value for k in node.keywords}
                allow = keywords.get("allow_pickle")
                if isinstance(allow, ast.Constant) and allow.value is True:
                    found.append(f"{where} allow_pickle=True")
    # The one exception: the front and its own worker processes pickle their messages over an
    # unnamed socket pair the front creates and hands to the child it starts. No other process
    # can reach that socket; nothing from a client is ever unpickled.
    assert [(f.split(":")[0], f.split(" ", 1)[1]) for f in found] == [
        ("service/shared/channel.py", "import pickle")
    ]
    workers = "".join(p.read_text() for p in (ROOT / "service" / "front" / "workers").glob("*.py"))
    assert "socket.socketpair(" in workers
    assert not any(call in workers for call in (".bind(", ".listen(", "create_server("))
