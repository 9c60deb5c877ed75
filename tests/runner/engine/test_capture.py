"""StreamCapture: the capped log file, the tail, passthrough."""

from __future__ import annotations

import logging
import os

from runner.executors.local.capture import TAIL_BYTES, StreamCapture


def test_output_under_the_cap_is_written_as_is(tmp_path):
    capture = StreamCapture(tmp_path / "a" / "b" / "out.log", cap_bytes=100)

    capture.write(b"one\n")
    capture.write(b"two")
    capture.close()

    assert (tmp_path / "a" / "b" / "out.log").read_bytes() == b"one\ntwo"
    assert capture.dropped_bytes == 0


def test_output_past_the_cap_is_counted_and_one_line_notes_it(tmp_path):
    path = tmp_path / "out.log"
    capture = StreamCapture(path, cap_bytes=10)

    capture.write(b"0123456\n")
    capture.write(b"789abc\n")
    capture.write(b"more\n")
    capture.close()

    assert path.read_bytes() == (
        b"0123456\n78\n[runwatch] output truncated: 10 more bytes not written (cap 10 bytes)\n"
    )
    assert capture.dropped_bytes == 10


def test_truncation_note_follows_a_complete_last_line_directly(tmp_path):
    path = tmp_path / "out.log"
    capture = StreamCapture(path, cap_bytes=4)

    capture.write(b"abc\ndef\n")
    capture.close()

    assert path.read_bytes() == (
        b"abc\n[runwatch] output truncated: 4 more bytes not written (cap 4 bytes)\n"
    )


def test_bytes_are_written_exactly_as_received(tmp_path):
    path = tmp_path / "out.bin"
    data = bytes(range(256)) * 10
    capture = StreamCapture(path, cap_bytes=len(data))

    for start in range(0, len(data), 77):
        capture.write(data[start : start + 77])
    capture.close()

    assert path.read_bytes() == data


def test_tail_is_the_last_twenty_lines_without_trailing_blank_ones():
    capture = StreamCapture(None, cap_bytes=0)

    capture.write("".join(f"line {n}\n" for n in range(1, 31)).encode())
    capture.write(b"\n\n")

    assert capture.tail() == "\n".join(f"line {n}" for n in range(11, 31))


def test_tail_keeps_at_most_its_byte_limit_and_drops_a_cut_first_line():
    capture = StreamCapture(None, cap_bytes=0)

    capture.write(b"a" * 5000 + b"\n" + b"b" * 100 + b"\n")
    capture.write(b"c" * 10 + b"\n")

    assert capture.tail() == "b" * 100 + "\n" + "c" * 10


def test_tail_replaces_invalid_utf8():
    capture = StreamCapture(None, cap_bytes=0)

    capture.write("café \xff".encode("latin-1") + " ok ✓\n".encode())

    assert capture.tail() == "caf\ufffd \ufffd ok ✓"


def test_tail_of_a_silent_stream_is_none():
    assert StreamCapture(None, cap_bytes=0).tail() is None


def test_a_single_line_longer_than_the_tail_keeps_its_end():
    capture = StreamCapture(None, cap_bytes=0)

    capture.write(b"x" * (TAIL_BYTES * 3))

    assert capture.tail() == "x" * TAIL_BYTES


def test_passthrough_copies_every_byte_even_past_the_cap(tmp_path):
    read_end, write_end = os.pipe()
    capture = StreamCapture(tmp_path / "out.log", cap_bytes=3, passthrough_fd=write_end)

    capture.write(b"\x00\xffabc")
    capture.close()
    os.close(write_end)

    with os.fdopen(read_end, "rb") as passed:
        assert passed.read() == b"\x00\xffabc"


def test_broken_passthrough_is_logged_and_the_log_file_still_written(tmp_path, caplog):
    read_end, write_end = os.pipe()
    os.close(read_end)
    capture = StreamCapture(tmp_path / "out.log", cap_bytes=100, passthrough_fd=write_end)

    with caplog.at_level(logging.WARNING):
        capture.write(b"one\n")
        capture.write(b"two\n")
    capture.close()
    os.close(write_end)

    assert (tmp_path / "out.log").read_bytes() == b"one\ntwo\n"
    assert "passthrough to fd" in caplog.text


def test_unopenable_log_file_is_logged_and_the_tail_still_kept(tmp_path, caplog):
    (tmp_path / "file").write_text("")
    capture = StreamCapture(tmp_path / "file" / "out.log", cap_bytes=100)

    with caplog.at_level(logging.WARNING):
        capture.write(b"kept\n")
    capture.close()

    assert capture.tail() == "kept"
    assert "cannot open log file" in caplog.text


def test_silent_stream_leaves_no_file(tmp_path):
    capture = StreamCapture(tmp_path / "logs" / "out.log", cap_bytes=100)

    capture.write(b"")
    capture.close()

    assert not (tmp_path / "logs").exists()


def test_cap_of_zero_writes_only_the_truncation_note(tmp_path):
    capture = StreamCapture(tmp_path / "out.log", cap_bytes=0)

    capture.write(b"abc")
    capture.close()

    assert (tmp_path / "out.log").read_bytes() == (
        b"[runwatch] output truncated: 3 more bytes not written (cap 0 bytes)\n"
    )


def test_writes_after_close_are_ignored(tmp_path):
    capture = StreamCapture(tmp_path / "out.log", cap_bytes=100)
    capture.write(b"a")
    capture.close()

    capture.write(b"b")
    capture.close()

    assert (tmp_path / "out.log").read_bytes() == b"a"
