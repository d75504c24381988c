"""SavedModels that use TF Text's ops: they load once tensorflow-text's ops are registered, and a
worker without them says which op and which package."""

import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from tests.service.conftest import CALL_TIMEOUT, ROOT, ServerProcess, write_model_config


def write_case_folding(version_dir: Path) -> Path:
    """A SavedModel whose one op, CaseFoldUTF8, is TF Text's."""
    import tensorflow_text

    class Fold(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"folded": tensorflow_text.case_fold_utf8(text)}

    module = Fold()
    tf.saved_model.save(module, str(version_dir), signatures={"serving_default": module.serve})
    return version_dir


@pytest.fixture(scope="module")
def case_folding(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("text") / "fold"
    write_case_folding(base / "1")
    return base


def test_a_tf_text_model_is_served_once_its_ops_are_registered(
    case_folding: Path, tmp_path: Path
) -> None:
    config = write_model_config(tmp_path / "models.config", {"fold": case_folding})
    with ServerProcess([f"--model_config_file={config}"], tmp_path / "server.log") as server:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "fold"
        request.inputs["text"].CopyFrom(tf.make_tensor_proto([b"HeLLo", "ÀBC".encode()]))
        response = server.prediction.Predict(request, timeout=CALL_TIMEOUT)
        assert list(response.outputs["folded"].string_val) == [b"hello", "àbc".encode()]


def test_without_the_op_package_the_load_names_the_op_and_the_package(case_folding: Path) -> None:
    """In a process that cannot import tensorflow_text (as where it is not installed)."""
    script = (
        "import sys; sys.modules['tensorflow_text'] = None\n"
        "import importlib.util; importlib.util.find_spec = lambda name, *a: None\n"
        "from pathlib import Path\n"
        "from service.worker.runtime.loader import open_version\n"
        "from service.shared.options import RuntimeOptions\n"
        f"open_version('fold', 1, Path({str(case_folding / '1')!r}), RuntimeOptions())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert "FailedPrecondition" in last and "'CaseFoldUTF8'" in last, last
    assert "pip install 'blockserve[text]'" in last, last
