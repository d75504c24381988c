"""Runs the calls that waited together in a worker: alone, looped, or with rows merged.

- Exact batching (the default): compatible requests (same version, signature, outputs, and
  input shapes) run in one looped TensorFlow call that computes each on its own, bit for bit
  its own call's answer; coupled models included. Only when enough wait that it costs less.
- Row merging (--enable_batching, as TensorFlow Serving means it): requests of a version whose
  rows are independent share a call's rows up to max_batch_size, padded to allowed sizes.
- Anything else: one call per request.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from service.shared.batching import BatchingParameters
from service.shared.board import Board
from service.shared.errors import InvalidArgument, ModelError, ServingError
from service.worker.road import Call, RequestRoad

SINGLE = "single"
LOOPED = "looped"
MERGED = "merged"

Runner = Callable[[Any, str, dict[str, np.ndarray], tuple[str, ...]], dict[str, np.ndarray]]


def rows_of(inputs: dict[str, np.ndarray]) -> int:
    first = next(iter(inputs.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim else 1


class Executor:
    """Plans and runs one worker's waiting calls; `looped` gives a version's checked looped
    call for a signature, or None."""

    def __init__(
        self,
        road: RequestRoad,
        run: Runner,
        looped: Callable[[Any, str], Any | None],
        batching: Callable[[Any], BatchingParameters] | None = None,
        board: Board | None = None,
    ) -> None:
        """`batching(model)` gives a version's own batching parameters
        (--enable_per_model_batching_parameters); the server's without it. The calls of each
        TensorFlow call are put on `board` while it runs."""
        self._road = road
        self._board = board
        self._run = run
        self._looped = looped
        settings = road.settings
        self._exact = settings.exact_batching
        self._min_looped = max(2, settings.exact_batching_min_requests)
        self._max_looped = max(self._min_looped, settings.exact_batching_max_requests)
        self._merge = settings.merge_rows
        self._batching = batching or (lambda model: settings.batching)

    def execute(self, calls: list[Call]) -> None:
        """Answer every call that is still unanswered."""
        waiting = [c for c in calls if c.reply is None]
        if len(waiting) == 1:
            self._single(waiting[0])
            return
        for group in self._groups(waiting):
            if self._merge and len(group) > 1 and self._mergeable(group[0]):
                self._merged(group)
            elif self._exact and len(group) >= self._min_looped:
                looped = self._looped(group[0].model, group[0].signature)
                if looped is None:
                    for call in group:
                        self._single(call)
                    continue
                for start in range(0, len(group), self._max_looped):
                    self._run_looped(looped, group[start : start + self._max_looped])
            else:
                for call in group:
                    self._single(call)

    def _groups(self, calls: Iterable[Call]) -> list[list[Call]]:
        groups: dict[tuple[Any, ...], list[Call]] = {}
        for call in calls:
            # Only calls whose rows may be merged group by their inner shape; the rest stack
            # whole, so their full shapes must agree.
            merged = self._merge and self._mergeable(call)
            shapes = tuple(
                (k, v.dtype.str, v.shape[1:] if merged else v.shape) for k, v in call.inputs.items()
            )
            key = (id(call.model), call.signature, call.outputs, merged, shapes)
            groups.setdefault(key, []).append(call)
        return list(groups.values())

    def _mergeable(self, call: Call) -> bool:
        return call.mergeable and call.model.facts.rows_coupled is not True

    # -- the three paths ----------------------------------------------------------------------

    def _single(self, call: Call) -> None:
        board = self._board
        if board is not None:
            board.hold_one(call.call_id)
        started = time.monotonic()
        try:
            outputs = self._run(call.model, call.signature, call.inputs, call.outputs)
        except ModelError as e:
            self._road.fail(call, _with_shapes(e, call))
            return
        except ServingError as e:
            self._road.fail(call, e)
            return
        finally:
            if board is not None:
                board.wipe()
        timing = (started, time.monotonic() - started, rows_of(call.inputs), SINGLE)
        self._road.answer(call, outputs, timing)

    def _run_looped(self, looped: Any, calls: list[Call]) -> None:
        if len(calls) < self._min_looped:
            for call in calls:
                self._single(call)
            return
        self._hold(calls)
        started = time.monotonic()
        try:
            stacked = {k: np.stack([c.inputs[k] for c in calls]) for k in calls[0].inputs}
            result = looped(stacked)
            wanted = calls[0].outputs or tuple(result)
            together = {k: np.asarray(result[k]) for k in wanted}
        except Exception:  # one request's failure: each one runs alone for its own answer
            for call in calls:
                self._single(call)
            return
        finally:
            self._wipe()
        seconds = time.monotonic() - started
        for i, call in enumerate(calls):
            outputs = {k: v[i] for k, v in together.items()}
            self._road.answer(call, outputs, (started, seconds, rows_of(call.inputs), LOOPED))

    def _merged(self, group: list[Call]) -> None:
        limit = self._batching(group[0].model).max_batch_size
        batch: list[Call] = []
        rows = 0
        for call in group:
            n = rows_of(call.inputs)
            if batch and rows + n > limit:
                self._run_merged(batch, rows)
                batch, rows = [], 0
            batch.append(call)
            rows += n
        if batch:
            self._run_merged(batch, rows)

    def _run_merged(self, calls: list[Call], rows: int) -> None:
        if len(calls) == 1:
            self._single(calls[0])
            return
        sizes = self._batching(calls[0].model).allowed_batch_sizes
        padded = next((s for s in sizes if s >= rows), rows)
        merged = {}
        for name in calls[0].inputs:
            parts = [c.inputs[name] for c in calls]
            if padded > rows:
                parts.append(np.zeros((padded - rows, *parts[0].shape[1:]), parts[0].dtype))
            merged[name] = np.concatenate(parts)
        first = calls[0]
        self._hold(calls)
        started = time.monotonic()
        try:
            answer = self._run(first.model, first.signature, merged, first.outputs)
            for name, array in answer.items():
                if array.ndim == 0 or array.shape[0] != padded:
                    raise InvalidArgument(
                        f"output {name!r} has shape {list(array.shape)}, not one row per input "
                        "row, so requests cannot be batched; serve this model with batching off"
                    )
        except (ModelError, InvalidArgument):  # one request's fault: each runs alone
            for call in calls:
                self._single(call)
            return
        except ServingError as e:
            for call in calls:
                self._road.fail(call, e)
            return
        finally:
            self._wipe()
        seconds = time.monotonic() - started
        offset = 0
        for call in calls:
            n = rows_of(call.inputs)
            outputs = {k: v[offset : offset + n] for k, v in answer.items()}
            offset += n
            self._road.answer(call, outputs, (started, seconds, rows, MERGED))

    def _hold(self, calls: list[Call]) -> None:
        if self._board is not None:
            self._board.hold([c.call_id for c in calls])

    def _wipe(self) -> None:
        if self._board is not None:
            self._board.wipe()


def _with_shapes(error: ModelError, call: Call) -> ModelError:
    """TensorFlow's refusal of a shape, led by which input had which shape against the
    signature's declared one: the graph stays the judge, the message names the input."""
    if error.code != "INVALID_ARGUMENT":
        return error
    signature = call.model.signatures[call.signature]
    wrong = []
    for name, array in call.inputs.items():
        spec = signature.inputs[name]
        if spec.shape is None:
            continue
        fits = array.ndim == len(spec.shape) and all(
            want < 0 or want == got for want, got in zip(spec.shape, array.shape, strict=True)
        )
        if not fits:
            wrong.append(
                f"input {name!r} has shape {list(array.shape)}, the signature declares "
                f"{list(spec.shape)}"
            )
    if not wrong:
        return error
    where = f"model {call.model.name!r} signature {call.signature!r}"
    return ModelError(error.code, f"{where}: {'; '.join(wrong)}; TensorFlow says: {error}")
