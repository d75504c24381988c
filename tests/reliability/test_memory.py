"""Memory does not grow with reloads: ten load/unload cycles grow the server's RSS by < 25%.

TensorFlow Serving's users report leaks here (each load leaving graphs or functions behind).
Each cycle adds three seed models with HandleReloadConfigRequest, calls each once, and removes
them again; an `anchor` model stays loaded throughout. RSS is read after each unload, counting
from the end of a warm-up cycle, since the first load allocates what every later one reuses.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.reliability.conftest import mib, rss_bytes
from tests.service.conftest import CALL_TIMEOUT, ServerProcess, write_model_config
from tests.service.wire import predict_request, status_request

pytestmark = pytest.mark.slow

CYCLED = ("chimera", "nest_mlp", "mlp_subclassed")
CYCLES = 10
MAX_GROWTH = 0.25


@pytest.fixture(scope="module")
def reloading_server(
    tmp_path_factory: pytest.TempPathFactory, exported: Path
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("memory")
    config = write_model_config(root / "models.config", {"anchor": exported / "mlp"})
    with ServerProcess([f"--model_config_file={config}"], root / "server.log") as server:
        yield server


def reload(server: ServerProcess, models: dict[str, Path]) -> None:
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in models.items():
        entry = config.model_config_list.config.add()
        entry.name, entry.base_path, entry.model_platform = name, str(base_path), "tensorflow"
    response = server.models.HandleReloadConfigRequest(
        model_management_pb2.ReloadConfigRequest(config=config), timeout=CALL_TIMEOUT * 4
    )
    assert response.status.error_code == 0, response.status.error_message


def cycle(server: ServerProcess, exported: Path) -> int:
    """Load the cycled models, call each once, unload them; the RSS while they were loaded."""
    anchor = {"anchor": exported / "mlp"}
    reload(server, anchor | {f"cycled_{name}": exported / name for name in CYCLED})
    x = np.full((2, 20), 0.5, np.float32)
    for name in CYCLED:
        response = server.prediction.Predict(
            predict_request(f"cycled_{name}", {"x": x}), timeout=CALL_TIMEOUT
        )
        assert response.model_spec.version.value == 1
    loaded = rss_bytes(server)
    reload(server, anchor)
    return loaded


def test_ten_load_unload_cycles_grow_rss_by_less_than_a_quarter(
    reloading_server: ServerProcess, exported: Path
) -> None:
    server = reloading_server
    fresh = rss_bytes(server)
    first_load = cycle(server, exported) - fresh
    baseline = rss_bytes(server)
    samples, loaded = [], []
    for _ in range(CYCLES):
        loaded.append(cycle(server, exported))
        samples.append(rss_bytes(server))
    growth = (samples[-1] - baseline) / baseline
    steps = ", ".join(f"{(s - baseline) / (1 << 20):+.0f}" for s in samples)
    print(
        f"RSS after warm-up {mib(baseline)}; after each of {CYCLES} cycles (MiB): {steps}; "
        f"growth {growth:.1%}. The first load took {mib(first_load)}; later ones reuse it "
        f"(at most {mib(max(loaded) - baseline)} more while loaded)"
    )
    assert growth < MAX_GROWTH, f"RSS grew {growth:.1%} over {CYCLES} cycles: {steps}"
    # These models are small beside TensorFlow itself, so 25% would let a leak of every load
    # pass; ten cycles must also keep less than two loads' worth.
    assert samples[-1] - baseline < 2 * first_load, f"RSS grew {steps} MiB"
    status = server.models.GetModelStatus(status_request("anchor"), timeout=CALL_TIMEOUT)
    assert [s.version for s in status.model_version_status] == [1]
