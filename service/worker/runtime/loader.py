"""Opens one version folder with the runtime that fits it: the one entry point workers use."""

import time
from pathlib import Path

from service.shared.errors import FailedPrecondition
from service.shared.options import RuntimeOptions
from service.worker.runtime.model_version import ModelVersion
from service.worker.runtime.ops import missing_op, register_op_packages
from service.worker.runtime.profiler import serve_profiler
from service.worker.runtime.tflite import TFLITE_FILE, TfLiteVersion

SAVED_MODEL_FILE = "saved_model.pb"


def open_version(
    name: str, version: int, path: Path, options: RuntimeOptions
) -> ModelVersion | TfLiteVersion:
    """Load a version and warm it up, so that its first request is as fast as the rest.

    A folder with model.tflite is served through TF Lite when it has no saved_model.pb, or
    with --prefer_tflite_model; otherwise its SavedModel is.
    """
    # Here rather than at the worker's start: the options come with the first load.
    serve_profiler(options.profiler_port)
    tflite = (path / TFLITE_FILE).is_file()
    model: ModelVersion | TfLiteVersion
    if tflite and (options.prefer_tflite_model or not (path / SAVED_MODEL_FILE).is_file()):
        model = TfLiteVersion(name, version, path, options)
    else:
        model = _open_saved_model(name, version, path, options)
    if options.enable_model_warmup:
        started = time.perf_counter()
        model.warm_up()
        model.load_seconds += time.perf_counter() - started
    return model


def _open_saved_model(name: str, version: int, path: Path, options: RuntimeOptions) -> ModelVersion:
    """The SavedModel, registering the installed op packages first if it needs their ops."""
    for last_try in (False, True):
        try:
            return ModelVersion(name, version, path, options.saved_model_tags, options)
        except Exception as e:
            message = missing_op(e)
            if message is None:
                raise
            if last_try or not register_op_packages():
                raise FailedPrecondition(message) from None
    raise AssertionError("the second try returns or raises")
