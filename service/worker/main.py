"""A TensorFlow worker process: `python -m service.worker.main --fd N --index I ...`.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf

from service.insight.fetch import ACTIVATIONS
from service.insight.monitor import VersionInsight
from service.inspection import InspectionError, compare_parameters, find_parameters
from service.protos.blockserve.v1 import inspection_pb2
from service.shared import channel
from service.shared.batching import BatchingParameters, read_version_batching_parameters
from service.shared.board import Board
from service.shared.config_files import ConfigError
from service.shared.description import VersionDescription
from service.shared.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    ServingError,
    Unavailable,
)
from service.shared.options import RuntimeOptions
from service.shared.settings import ServingSettings
from service.worker.description import describe
from service.worker.execution import Executor
from service.worker.looped import LoopedCall, looped_calls
from service.worker.road import Call, RequestRoad
from service.worker.routing import RoutingTable
from service.worker.runtime.loader import open_version
from service.worker.runtime.model_version import ModelVersion

log = logging.getLogger("blockserve.worker")

Key = tuple[str, int]


class Worker:
    """The loaded versions of one process and the loop that serves the front."""

    def __init__(self, connection: socket.socket, board: Board) -> None:
        self._socket = connection
        self._board = board
        """The calls in hand, for the front to read should this process die."""
        self._send_lock = threading.Lock()
        self._models: dict[Key, ModelVersion] = {}
        self._options: dict[Key, RuntimeOptions] = {}
        self._looped: dict[Key, dict[str, LoopedCall]] = {}
        self._insight: dict[Key, VersionInsight] = {}
        self._batching: dict[Key, BatchingParameters] = {}
        self._routes = RoutingTable(self._models)
        self._road = RequestRoad(ServingSettings(), self._routes)
        self._executor = self._executor_for(self._road)
        self._ordered: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
        self._control: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()

    def serve(self) -> None:
        """Serve the ordered messages until the front closes the socket; the answers to the
        messages that arrived together go back in one write."""
        for target, name in ((self._read, "reader"), (self._control_loop, "control")):
            threading.Thread(target=target, name=name, daemon=True).start()
        self._send([channel.frame((channel.READY, True, os.getpid()))])
        while (batch := self._next_batch(block=not self._sampled)) is not None:
            if not batch:  # nothing waits: one sampled request's instrumented run
                self._insight_work()
                continue
            replies: list[bytes | memoryview] = []
            answered: list[Call] = []
            waiting: list[Call] = []
            board = self._board
            for message in batch:
                if message[0] in channel.REQUESTS:
                    board.hold_one(message[1])
                    waiting.append(self._road.decode(message))
                    board.wipe()
                    continue
                self._answer(waiting, replies, answered)  # what came before it, first
                reply = self._in_order(message)
                if reply is not None:
                    replies.append(reply)
            self._answer(waiting, replies, answered)
            if replies:
                self._send(replies)
            self._offer(answered)

    def _answer(
        self, waiting: list[Call], replies: list[bytes | memoryview], answered: list[Call]
    ) -> None:
        if not waiting:
            return
        notices = [
            channel.frame((c.call_id, None, c.notice)) for c in waiting if c.notice is not None
        ]
        if notices:  # before the calls run: the front answers at the deadline, not after
            self._send(notices)
        try:
            self._executor.execute(waiting)
        except Exception as e:  # a bug of ours must cost these requests, not the worker
            log.exception("running %d requests failed", len(waiting))
            for call in waiting:
                if call.reply is None:
                    self._road.fail(call, Internal(f"{type(e).__name__}: {e}"))
        for c in waiting:
            if c.large:
                replies.extend(channel.frame_parts((c.call_id, True, c.reply)))
            else:
                replies.append(channel.frame((c.call_id, True, c.reply)))
        answered.extend(waiting)
        waiting.clear()

    # -- live insight: after the answers went, never on a request's own call -----------------

    @property
    def _sampled(self) -> bool:
        return any(insight.pending() for insight in self._insight.values())

    def _offer(self, answered: list[Call]) -> None:
        insights = self._insight
        if not insights:
            return
        for call in answered:
            if call.model is None or call.reply is None or call.reply[0] != "OK":
                continue
            insight = insights.get((call.model.name, call.model.version))
            if insight is not None:
                insight.offer(call.signature, call.inputs)

    def _insight_work(self) -> None:
        for insight in list(self._insight.values()):
            if insight.pending():
                try:
                    insight.work()
                except Exception:  # a sample the instrumented call refuses: the next one
                    log.exception("live insight of %s version %d", insight.name, insight.version)
                return

    def _in_order(self, message: tuple[Any, ...]) -> bytes | None:
        op, call_id, *args = message
        if op == channel.ROUTE:
            name, route = args
            self._routes.update(name, route)
            return None
        if op == channel.RUN:
            return self._run(call_id, *args)
        if op == channel.UNLOAD:
            name, version = args
            self._routes.drop_version(name, version)
            model = self._models.pop((name, version), None)
            self._options.pop((name, version), None)
            self._looped.pop((name, version), None)
            self._insight.pop((name, version), None)
            self._batching.pop((name, version), None)
            # Freeing TensorFlow's memory takes a while: the control thread does it, then answers.
            self._control.put((channel.UNLOAD, call_id, model))
            return None
        if op == channel.CONFIGURE:
            (settings,) = args
            self._road = RequestRoad(settings, self._routes)
            self._executor = self._executor_for(self._road)
            return channel.frame((call_id, True, None))
        return channel.frame((call_id, False, ("INTERNAL", f"unknown message {op!r}")))

    def _executor_for(self, road: RequestRoad) -> Executor:
        return Executor(road, self._call_model, self._looped_call, self._batching_of, self._board)

    def _batching_of(self, model: ModelVersion) -> BatchingParameters:
        key = (model.name, model.version)
        return self._batching.get(key) or self._road.settings.batching

    def _call_model(
        self, model: ModelVersion, signature: str, inputs: dict[str, Any], outputs: tuple[str, ...]
    ) -> dict[str, Any]:
        try:
            return model.run(signature, inputs, outputs)
        except ServingError:
            raise
        except Exception as e:  # a model's own failure must not end the worker
            log.exception("call to %s version %d failed", model.name, model.version)
            raise Internal(f"{type(e).__name__}: {e}") from None

    def _looped_call(self, model: ModelVersion, signature: str) -> LoopedCall | None:
        return self._looped.get((model.name, model.version), {}).get(signature)

    def _read(self) -> None:
        """On its own thread, so that loads and unloads arrive while a call runs."""
        reader = channel.FrameReader()
        try:
            while data := self._socket.recv(1 << 20):
                for message in reader.feed(data):
                    queue = self._ordered if message[0] in channel.IN_ORDER else self._control
                    queue.put(message)
        except OSError:
            pass
        finally:  # the front is gone: finish the call in hand, then exit
            self._ordered.put(None)
            self._control.put(None)

    def _next_batch(self, block: bool = True) -> list[tuple[Any, ...]] | None:
        """The messages waiting, in order; [] when none waits and `block` is false."""
        try:
            first = self._ordered.get(block)
        except Empty:
            return []
        if first is None:
            return None
        batch = [first]
        while True:
            try:
                message = self._ordered.get_nowait()
            except Empty:
                return batch
            if message is None:
                self._ordered.put(None)
                return batch
            batch.append(message)

    def _send(self, frames: list[bytes | memoryview]) -> None:
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
        """A call whose arrays the front decoded (Classify, Regress)."""
        started = time.monotonic()
        self._board.hold_one(call_id)
        try:
            if deadline is not None and started >= deadline:
                raise DeadlineExceeded(
                    "the deadline passed while the request waited for TensorFlow"
                )
            model = self._models.get(key)
            if model is None:
                raise Unavailable(f"model {key[0]!r} version {key[1]} is not loaded in this worker")
            result = self._call_model(model, signature, inputs, outputs)
        except ServingError as e:
            return channel.frame((call_id, False, (e.code, str(e))))
        finally:
            self._board.wipe()
        return channel.frame((call_id, True, (result, started, time.monotonic() - started)))

    def _control_loop(self) -> None:
        """Loads on up to --num_load_threads threads, so that a slow load holds up no other;
        the rest of the control messages here, one at a time."""
        loads: ThreadPoolExecutor | None = None
        try:
            while (message := self._control.get()) is not None:
                if message[0] == channel.LOAD:
                    if loads is None:
                        threads = max(1, self._road.settings.load_threads)
                        loads = ThreadPoolExecutor(threads, thread_name_prefix="load")
                    loads.submit(self._control_message, message)
                elif not self._control_message(message):
                    return
        finally:
            if loads is not None:
                loads.shutdown(wait=False, cancel_futures=True)

    def _control_message(self, message: tuple[Any, ...]) -> bool:
        """Handle one control message and answer it; False once the front is gone."""
        op, call_id, *args = message
        try:
            handler = self._insight_of if op == channel.INSIGHT else getattr(self, f"_{op}")
            reply = (call_id, True, handler(*args))
        except ServingError as e:
            reply = (call_id, False, (e.code, str(e)))
        except Exception as e:
            log.warning("%s %s failed: %s", op, args[:2], e)
            reply = (call_id, False, ("UNKNOWN", f"{type(e).__name__}: {e}"))
        try:
            self._send([channel.frame(reply)])
        except OSError:
            return False
        return True

    def _load(
        self, name: str, version: int, path: str, options: RuntimeOptions
    ) -> VersionDescription:
        key = (name, version)
        model = self._models.get(key) or open_version(name, version, Path(path), options)
        looped: dict[str, LoopedCall] = {}
        if isinstance(model, ModelVersion) and model.function_signatures is not None:
            looped, refused = looped_calls(
                model.function_signatures, model.signatures, model.signature_calls
            )
            for signature, why in sorted(refused.items()):
                log.info(
                    "%s version %d signature %s: no exact batching, one call per request (%s)",
                    *(name, version, signature, why),
                )
        self._looped[key] = looped
        settings = self._road.settings
        if settings.merge_rows and settings.per_model_batching:
            try:
                self._batching[key] = read_version_batching_parameters(
                    Path(path), settings.batching
                )
            except ConfigError as e:
                log.error("%s version %d: %s; using the server's", name, version, e)
        insight = self._road.settings.insight
        if insight.enabled:
            self._insight[key] = VersionInsight(model, insight)
        self._models[key], self._options[key] = model, options
        return describe(model, tuple(sorted(looped)))

    def _unload(self, model: ModelVersion | None) -> None:
        if model is not None:
            model.close()

    def _insight_of(self, kind: str, name: str, version: int) -> bytes:
        """This worker's share of a version's live insight (merged by the front)."""
        insight = self._insight.get((name, version))
        if insight is None:
            raise FailedPrecondition(
                f"model {name!r} version {version} has no live insight here: "
                + ("not loaded" if (name, version) not in self._models else "sampling is off")
            )
        return insight.activation_summary() if kind == ACTIVATIONS else insight.input_drift()

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
    parser = argparse.ArgumentParser(prog="python -m service.worker.main")
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket pair")
    parser.add_argument("--board", type=int, required=True, help="the shared board's memfd")
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
        Worker(connection, Board(args.board)).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
