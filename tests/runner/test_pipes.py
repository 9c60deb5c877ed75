"""runner.pipes.drain: what is left in a pipe after its process exited, never waiting."""

from __future__ import annotations

import fcntl
import os

from runner.pipes import _READ_BYTES, drain


def test_drain_takes_what_is_there_and_returns_while_a_writer_still_holds_the_pipe() -> None:
    read_end, write_end = os.pipe()  # write_end open: a grandchild that keeps the pipe
    try:
        os.write(write_end, b"last words\n")
        taken: list[bytes] = []
        drain(read_end, taken.append)
        assert b"".join(taken) == b"last words\n"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_drain_stops_once_the_reader_is_gone() -> None:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4 * _READ_BYTES)  # room for several reads
    try:
        os.write(write_end, b"x" * (2 * _READ_BYTES))
        taken: list[bytes] = []

        def write(data: bytes) -> bool:
            taken.append(data)
            return False  # the reader went away

        drain(read_end, write)
        assert len(taken) == 1
        assert os.read(read_end, 4 * _READ_BYTES)  # the rest was left in the pipe
    finally:
        os.close(read_end)
        os.close(write_end)
