"""One worker process as the front sees it: the child, its socket, the calls awaiting answers."""

import asyncio
import contextlib
import itertools
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.front.workers.worker_log import WorkerLog, no_gpu_environment
from service.shared import channel
from service.shared.board import Board
from service.shared.errors import (
    DeadlineExceeded,
    ModelError,
    NotStarted,
    Unavailable,
    WorkerDied,
)

log = logging.getLogger(__name__)

Key = tuple[str, int]

CHUNK_BYTES = 1 << 20
"""How much of a large body one turn of the event loop writes to a worker's socket."""

EXIT_WAIT_SECONDS = 0.2
"""How long the front waits for a worker whose connection closed to be reaped."""


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker process is started with."""

    intra_op_parallelism: int = 1
    inter_op_parallelism: int = 1
    start_timeout_seconds: float = 120.0


class WorkerProcess(asyncio.Protocol):
    """A child running `service.worker.main`, spoken to over a UNIX socket pair.

    Messages are queued and written once per event-loop iteration, whatever the number of
    requests that iteration handled. When the child dies, its board says which calls it had in
    hand: a request among them fails with INTERNAL (it may be what killed the worker), the
    others with NotStarted (UNAVAILABLE, which the data plane sends to another worker), and
    `on_exit` is told.
    """

    def __init__(
        self,
        index: int,
        settings: WorkerSettings,
        on_exit: Callable[["WorkerProcess"], None],
        lane: bool = False,
    ) -> None:
        self.index = index
        self.lane = lane
        """Kept for large requests, so that small ones never queue behind them."""
        self.loaded: set[Key] = set()
        self.ready = False
        """Takes requests: started, and after a restart with its routes sent."""
        self.complete = False
        """Holds every version the pool serves (not yet, while reloading after a restart)."""
        self._settings = settings
        self._on_exit = on_exit
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ops: dict[int, tuple[str, tuple[Any, ...]]] = {}
        """The op and arguments of each pending call, for what a death means to it."""
        self.how = ""
        """How the process ended, once it has: 'was killed by SIGABRT', ..."""
        self.killed_by: tuple[str, tuple[Any, ...]] | None = None
        """The call this worker was running when it died, if it was running one."""
        self._board: Board | None = None
        self._outgoing: list[bytes | memoryview] = []
        self._streaming = False
        """A large body is being written: what follows it waits behind it."""
        self._paused = False
        """The transport's buffer is over its high-water mark."""
        self._reader = channel.FrameReader()
        self._transport: asyncio.Transport | None = None
        self._started: asyncio.Future[int] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._closing = False
        self.pid = 0

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        """Start the child and wait until it has imported TensorFlow and takes work."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._started = loop.create_future()
        self._board = board = Board.create()
        settings = self._settings
        self._process = subprocess.Popen(
            [
                *(sys.executable, "-m", "service.worker.main"),
                *("--fd", str(theirs.fileno()), "--board", str(board.fd)),
                *("--index", str(self.index)),
                *("--intra_op", str(settings.intra_op_parallelism)),
                *("--inter_op", str(settings.inter_op_parallelism)),
            ],
            pass_fds=(theirs.fileno(), board.fd),
            stderr=subprocess.PIPE,
            env=no_gpu_environment(),
        )
        theirs.close()
        assert self._process.stderr is not None
        await loop.connect_read_pipe(WorkerLog, self._process.stderr)
        await loop.connect_accepted_socket(lambda: self, ours)
        try:
            self.pid = await asyncio.wait_for(self._started, settings.start_timeout_seconds)
        except (TimeoutError, Unavailable):
            self._kill()
            raise Unavailable(f"TensorFlow worker {self.index} did not start") from None
        log.info("TensorFlow worker %d started (pid %d)", self.index, self.pid)

    def call(self, op: str, *args: Any) -> asyncio.Future[Any]:
        """Send one message; the future gets the worker's answer or its error."""
        future, call_id = self._register(op, args)
        if call_id is not None:
            self._queue(channel.frame((op, call_id, *args)))
        return future

    def call_large(self, op: str, *args: Any) -> asyncio.Future[Any]:
        """`call` for a message holding a body marked by `channel.out_of_band`: the body is
        written CHUNK_BYTES at a time as the socket drains, so that no turn of the event loop
        copies it whole while small requests wait."""
        future, call_id = self._register(op, args)
        if call_id is not None:
            header, *body = channel.frame_parts((op, call_id, *args))
            self._queue(header)
            self._outgoing.extend(body)
            self._streaming = True
        return future

    def send(self, op: str, *args: Any) -> None:
        """Send a message that wants no answer; dropped when the worker is not running (a
        restarted worker is sent the whole state again)."""
        if self._transport is not None and not self._closing:
            self._queue(channel.frame((op, channel.NO_REPLY, *args)))

    def _register(self, op: str, args: tuple[Any, ...]) -> tuple[asyncio.Future[Any], int | None]:
        """A future for a call, and its id; no id when the worker is not running."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._transport is None or self._closing:
            future.set_exception(Unavailable(f"TensorFlow worker {self.index} is not running"))
            return future, None
        call_id = next(self._ids)
        self._pending[call_id] = future
        self._ops[call_id] = (op, args)
        return future, call_id

    def _queue(self, frame: bytes) -> None:
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(frame)

    def _flush(self) -> None:
        if self._streaming:
            self._stream()
            return
        if self._transport is not None and self._outgoing:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _stream(self) -> None:
        """Write what waits, in order, a large body a chunk at a time, until the transport asks
        to pause; `resume_writing` goes on."""
        outgoing, transport = self._outgoing, self._transport
        while outgoing and transport is not None and not self._paused:
            piece = outgoing[0]
            if len(piece) > CHUNK_BYTES:
                transport.write(piece[:CHUNK_BYTES])
                outgoing[0] = piece[CHUNK_BYTES:]
            else:
                transport.write(piece)
                del outgoing[0]
        self._streaming = bool(outgoing)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._streaming:
            self._stream()

    def data_received(self, data: bytes) -> None:
        for call_id, ok, payload in self._reader.feed(data):
            if call_id == channel.READY:
                if self._started is not None and not self._started.done():
                    self._started.set_result(payload)
                continue
            if ok is None:
                self._keep_deadline(call_id, payload)
                continue
            future = self._pending.pop(call_id, None)
            self._ops.pop(call_id, None)
            if future is None or future.done():
                continue  # its request was cancelled or timed out
            if ok:
                future.set_result(payload)
            else:
                future.set_exception(ModelError(*payload))

    def _keep_deadline(self, call_id: int, deadline: float) -> None:
        """Fail the call at `deadline` (the monotonic clock, the event loop's) unless answered
        by then; the worker's late answer is dropped."""

        def expire() -> None:
            future = self._pending.pop(call_id, None)
            self._ops.pop(call_id, None)
            if future is not None and not future.done():
                future.set_exception(
                    DeadlineExceeded("the request took longer than its own timeout parameter")
                )

        asyncio.get_running_loop().call_at(deadline, expire)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._outgoing.clear()
        self._streaming = False
        self.ready = self.complete = False
        self.loaded.clear()
        how = "was stopped" if self._closing else self._exit_description()
        self.how = how
        error = Unavailable(
            f"TensorFlow worker {self.index} {how} before answering; the request was not "
            "served, try again"
        )
        pending, self._pending = self._pending, {}
        ops, self._ops = self._ops, {}
        held = self._board.held() if self._board is not None else ()
        in_hand = [i for i in sorted(pending) if i in held and ops[i][0] in channel.IN_ORDER]
        if in_hand and not self._closing:
            self.killed_by = ops[in_hand[0]]
        together = f" (in one call with {len(in_hand) - 1} others)" if len(in_hand) > 1 else ""
        for call_id, future in pending.items():
            if future.done():
                continue
            op = ops[call_id][0]
            if self._closing:
                future.set_exception(error)
            elif op == channel.LOAD:
                future.set_exception(
                    WorkerDied(
                        f"TensorFlow worker {self.index} {how} while loading this version",
                        how,
                        during_request=bool(in_hand),
                    )
                )
            elif call_id in in_hand:
                future.set_exception(
                    ModelError(
                        "INTERNAL",
                        f"TensorFlow worker {self.index} {how} while running this request"
                        f"{together}; the other requests are served",
                    )
                )
            elif op in channel.REQUESTS or op == channel.RUN:
                future.set_exception(
                    NotStarted(
                        f"TensorFlow worker {self.index} {how} before running this request; "
                        "it was not served, try again"
                    )
                )
            else:
                future.set_exception(error)
        if self._board is not None:
            self._board.close()
            self._board = None
        if self._started is not None and not self._started.done():
            self._started.set_exception(error)
        if not self._closing:
            log.error("TensorFlow worker %d (pid %d) %s", self.index, self.pid, how)
            self._on_exit(self)

    def _exit_description(self) -> str:
        # Its socket closed because it is ending; the kernel may not have it as a zombie yet.
        # A moment's wait on this rare event gets what ended it: the signal is the evidence an
        # operator (and the quarantine) needs.
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(EXIT_WAIT_SECONDS)
        if code is None:
            return "closed its connection"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    # shutting down

    async def stop(self, timeout: float = 5.0) -> None:
        """Close the connection (the worker's cue to exit) and reap the child."""
        self._closing = True
        self.ready = self.complete = False
        if self._transport is not None:
            self._flush()
            self._transport.close()
        if self._process is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, self._process.wait), timeout)
        except TimeoutError:
            self._kill()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
