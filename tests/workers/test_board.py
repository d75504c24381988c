"""The board a worker writes and the front reads after the worker died: what it held then."""

import signal
import subprocess
import sys

import pytest

from service.shared.board import SLOTS, Board

HOLD_AND_DIE = """
import os, signal, sys
from service.shared.board import Board
board = Board(int(sys.argv[1]))
ids = [int(i) for i in sys.argv[2:]]
if len(ids) == 1:
    board.hold_one(ids[0])
elif ids:
    board.hold(ids)
os.kill(os.getpid(), signal.SIGKILL)
"""


def held_by_a_killed_child(*call_ids: int) -> set[int]:
    board = Board.create()
    try:
        child = subprocess.run(
            [sys.executable, "-c", HOLD_AND_DIE, str(board.fd), *map(str, call_ids)],
            pass_fds=(board.fd,),
            check=False,
        )
        assert child.returncode == -signal.SIGKILL
        held = board.held()
        return {i for i in range(-1, 2 * SLOTS) if i in held}
    finally:
        board.close()


@pytest.mark.parametrize(
    "call_ids",
    [(), (7,), (3, 9, 4), tuple(range(100, 100 + SLOTS)), tuple(range(5, 5 + SLOTS + 3))],
    ids=["nothing", "one", "a group", "a full board", "past the board: a range"],
)
def test_what_a_dead_worker_held_is_what_the_front_reads(call_ids: tuple[int, ...]) -> None:
    assert held_by_a_killed_child(*call_ids) == set(call_ids)


def test_a_wiped_board_holds_nothing() -> None:
    board = Board.create()
    try:
        board.hold([1, 2])
        board.wipe()
        assert 1 not in board.held() and 2 not in board.held()
    finally:
        board.close()
