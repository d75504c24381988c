"""A TensorFlow worker process: `python -m service.workers.worker --fd N --index I ...`.

Started by the front's `WorkerPool` with one end of a socket pair. It loads the versions the
front names and runs the calls the front sends, on its main thread, one at a time and in the
order they came: with TensorFlow's thread pools at one thread each that is the fastest exact
path measured (see README), and a request's rows are never merged with another's here. Loads,
unloads and parameter comparisons take seconds, so they run on a second thread while calls go
on. The replies to calls that were waiting together go back in one write.

The worker ends when the front closes its end of the socket (or dies), and ignores SIGINT: a
Ctrl-C in a terminal reaches the whole process group, and it is the front that drains.
"""

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf

from service.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    ServingError,
    Unavailable,
)
from service.inspection import InspectionError, compare_parameters, find_parameters
from service.protos.blockserve.v1 import inspection_pb2
from service.runtime.description import VersionDescription, describe
from service.runtime.loader import open_version
from service.runtime.model_version import ModelVersion
from service.runtime.options import RuntimeOptions
from service.workers import channel

log = logging.getLogger("blockserve.worker")

Key = tuple[str, int]


class Worker:
    """The loaded versions of one process and the loop that serves the front."""

    def __init__(self, connection: socket.socket) -> None:
        self._socket = connection
        self._send_lock = threading.Lock()
        self._models: dict[Key, ModelVersion] = {}
        self._options: dict[Key, RuntimeOptions] = {}
        self._runs: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
        self._control: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()

    def serve(self) -> None:
        """Run calls until the front closes the socket; the calls that arrived together are
        answered in one write."""
        for target, name in ((self._read, "reader"), (self._control_loop, "control")):
            threading.Thread(target=target, name=name, daemon=True).start()
        self._send([channel.frame((channel.READY, True, os.getpid()))])
        while (batch := self._next_runs()) is not None:
            self._send([self._run(*message[1:]) for message in batch])

    def _read(self) -> None:
        """On its own thread, so that loads and unloads arrive while a call runs."""
        reader = channel.FrameReader()
        try:
            while data := self._socket.recv(1 << 20):
                for message in reader.feed(data):
                    (self._runs if message[0] == channel.RUN else self._control).put(message)
        except OSError:
            pass
        finally:  # the front is gone: finish the call in hand, then exit
            self._runs.put(None)
            self._control.put(None)

    def _next_runs(self) -> list[tuple[Any, ...]] | None:
        first = self._runs.get()
        if first is None:
            return None
        batch = [first]
        while True:
            try:
                message = self._runs.get_nowait()
            except Empty:
                return batch
            if message is None:
                self._runs.put(None)
                return batch
            batch.append(message)

    def _send(self, frames: list[bytes]) -> None:
        with self._send_lock:
            self._socket.sendall(b"".join(frames))

    def _run(
        self,
        call_id: int,
        key: Key,
        signature: str,
        inputs: dict[str, Any],
        outputs: tuple[str, ...],
        deadline: float | None,
    ) -> bytes:
        started = time.monotonic()
        try:
            if deadline is not None and started >= deadline:
                raise DeadlineExceeded(
                    "the deadline passed while the request waited for TensorFlow"
                )
            model = self._models.get(key)
            if model is None:
                raise Unavailable(f"model {key[0]!r} version {key[1]} is not loaded in this worker")
            result = model.run(signature, inputs, outputs)
        except ServingError as e:
            return channel.frame((call_id, False, (e.code, str(e))))
        except Exception as e:  # a model's own failure must not end the worker
            log.exception("call to %s version %d failed", *key)
            return channel.frame((call_id, False, ("INTERNAL", f"{type(e).__name__}: {e}")))
        return channel.frame((call_id, True, (result, started, time.monotonic() - started)))

    def _control_loop(self) -> None:
        while (message := self._control.get()) is not None:
            op, call_id, *args = message
            try:
                payload = getattr(self, f"_{op}")(*args)
                reply = (call_id, True, payload)
            except ServingError as e:
                reply = (call_id, False, (e.code, str(e)))
            except Exception as e:
                log.warning("%s %s failed: %s", op, args[:2], e)
                reply = (call_id, False, ("UNKNOWN", f"{type(e).__name__}: {e}"))
            try:
                self._send([channel.frame(reply)])
            except OSError:
                return  # the front is gone

    def _load(
        self, name: str, version: int, path: str, options: RuntimeOptions
    ) -> VersionDescription:
        key = (name, version)
        model = self._models.get(key) or open_version(name, version, Path(path), options)
        self._models[key], self._options[key] = model, options
        return describe(model)

    def _unload(self, name: str, version: int) -> None:
        model = self._models.pop((name, version), None)
        self._options.pop((name, version), None)
        if model is not None:
            model.close()

    def _compare(self, name: str, version: int, base_dir: str, base_version: int) -> bytes:
        """How a loaded version's parameters differ from those of another on disk."""
        model = self._models.get((name, version))
        if model is None or model.parameters is None:
            raise FailedPrecondition(
                f"model {name!r} version {version} has no parameters to compare: "
                f"{model.summary_problem if model else 'not loaded'}"
            )
        try:
            base = find_parameters(Path(base_dir), self._options[(name, version)].saved_model_tags)
        except InspectionError as e:
            raise FailedPrecondition(f"cannot inspect version {base_version}: {e}") from None
        comparison: inspection_pb2.ParameterComparison = compare_parameters(
            base, model.parameters, name, base_version, version
        )
        return comparison.SerializeToString()


def configure_tensorflow(intra_op: int, inter_op: int) -> None:
    """Thread pools before TensorFlow starts them; 0 leaves TensorFlow's own choice."""
    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.workers.worker")
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket pair")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--intra_op", type=int, default=1)
    parser.add_argument("--inter_op", type=int, default=1)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s worker-{args.index}: %(message)s",
    )
    tf.get_logger().propagate = False  # it has a handler of its own: no line twice
    configure_tensorflow(args.intra_op, args.inter_op)
    connection = socket.socket(fileno=args.fd)
    with contextlib.suppress(ConnectionError):  # the front went away: nothing to answer
        Worker(connection).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
