"""The runner's side of a worker's progress pipe: it takes everything a pipe holds at once (it reads
in batches, so a worker must never wait on a pipe the runner could have emptied), bounded, and tells a
closed pipe from an empty one."""

from __future__ import annotations

import os
import threading

from harness.run.worker import read_available


def test_what_the_pipe_holds_is_taken_in_one_call_beyond_one_read() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        data = b"x" * 40_000 + b"\n" + b"y" * 20_000 + b"\n"  # more than one READ_SIZE chunk
        os.write(write_fd, data)
        assert read_available(read_fd, 1 << 20) == (data, False)
        assert read_available(read_fd, 1 << 20) == (b"", False)  # empty, still open
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_writer_blocked_on_a_full_pipe_is_freed_by_one_call() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    sent = b"z" * (200 * 1024)  # three times the pipe's 64 KiB
    writer = threading.Thread(target=lambda: (os.write(write_fd, sent), os.close(write_fd)))
    writer.start()
    got = bytearray()
    try:
        while len(got) < len(sent):
            os.set_blocking(read_fd, True)
            first = os.read(read_fd, 1)  # wait for the writer without a sleep
            os.set_blocking(read_fd, False)
            chunk, closed = read_available(read_fd, 1 << 20)
            got += first + chunk
            if closed:
                break
        writer.join(10)
        assert not writer.is_alive()
        assert bytes(got) == sent
        assert read_available(read_fd, 1 << 20) == (b"", True)  # the writer closed it
    finally:
        os.close(read_fd)


def test_one_call_takes_no_more_than_its_limit() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    try:
        os.write(write_fd, b"a" * 50_000)
        chunk, closed = read_available(read_fd, 30_000)
        assert (len(chunk), closed) == (30_000, False)
        assert read_available(read_fd, 1 << 20) == (b"a" * 20_000, False)
    finally:
        os.close(read_fd)
        os.close(write_fd)
