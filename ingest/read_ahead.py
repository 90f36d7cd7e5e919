"""Bounded read-ahead: the next files are loaded and chunked while the current ones embed.

Files are read in worker processes (``ingest.isolation``): the thread that asks for a file only
waits on a pipe while another process parses it. Asked for one file at a time, as the runner
did, the model waited while each file was parsed and the reader while each slice was embedded.
``read_ahead`` runs the per-file work (the runner's check, load and chunk) for the next files on
a small thread pool while its caller goes on with the files it was handed, and hands the
results back in input order.

How far ahead is bounded, so that a folder of large files holds a bounded amount in memory: at
most ``max_files`` files and ``max_bytes`` of their bytes are taken from the input beyond the
one the caller waits for (one more file is always taken, however large). The default of 256
files is one embedding slice of one-chunk files (``ingest.runner.EMBED_SLICE``), so that the
next slice can be ready when the model finishes one; fewer would leave the model waiting on a
corpus of short documents.

What it keeps of reading one file at a time:

- each result once, in input order; only the caller's thread iterates the input (a generator
  is not thread-safe), and never further than the bounds;
- an exception of ``work`` for a file is raised when the caller reaches that file, as it would
  have been without read-ahead, and ends the iteration there; no file is started after one
  raised, since none after it will be asked for;
- an exception while taking the next item from the input (a spooled upload that cannot be read
  back) is raised at that item's position, so the files before it still come back;
- when the caller stops (it closes the iterator, or it raised), files not yet started are
  dropped and those being worked on are waited for: nothing of a run outlives it.

``workers=0`` starts no thread: each file is worked on when the caller asks for it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Files taken ahead of the one the caller waits for: one slice of one-chunk files.
READ_AHEAD_FILES = 256
# Bytes of those files (the input's, not what reading them makes); one file more is always taken.
READ_AHEAD_BYTES = 32 * 1024 * 1024


class _Skipped(Exception):
    """A file not started because an earlier one raised: the caller never reaches it."""


def read_ahead(
    items: Iterable[T],
    work: Callable[[int, T], R],
    *,
    workers: int,
    size: Callable[[T], int] = lambda _: 0,
    max_files: int = READ_AHEAD_FILES,
    max_bytes: int = READ_AHEAD_BYTES,
) -> Generator[R, None, None]:
    """``work(index, item)`` for each item, in input order, up to ``max_files`` items (and
    ``max_bytes`` of ``size``) ahead on ``workers`` threads; none with ``workers=0``."""
    if workers < 1:
        for index, item in enumerate(items):
            yield work(index, item)
        return
    yield from _ahead(items, work, workers, size, max(1, max_files), max_bytes)


def _ahead(
    items: Iterable[T],
    work: Callable[[int, T], R],
    workers: int,
    size: Callable[[T], int],
    max_files: int,
    max_bytes: int,
) -> Generator[R, None, None]:
    source = enumerate(items)
    # Per item taken and not yet handed back: its result to come, or what taking it raised.
    pending: deque[tuple[Future[R] | Exception, int]] = deque()
    held = 0  # the bytes of the items in ``pending``
    exhausted = False
    stopped = threading.Event()  # an item raised, or the caller stopped: start nothing more

    def guarded(index: int, item: T) -> R:
        if stopped.is_set():
            raise _Skipped
        try:
            return work(index, item)
        except BaseException:
            stopped.set()
            raise

    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="semsearch-read-ahead")
    try:
        while True:
            while not exhausted and len(pending) <= max_files and (not pending or held < max_bytes):
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                except Exception as error:  # raised where the caller reaches it, not before
                    pending.append((error, 0))
                    exhausted = True
                    break
                item_size = size(item)
                pending.append((executor.submit(guarded, index, item), item_size))
                held += item_size
            if not pending:
                return
            head, head_size = pending.popleft()
            held -= head_size
            if isinstance(head, Exception):
                raise head
            yield head.result()
    finally:
        stopped.set()
        executor.shutdown(wait=True, cancel_futures=True)
