"""Server-Sent Events for a long answer: events in order, a comment while nothing comes, and
the work stopped when the client goes away.

``stream_events`` runs ``produce`` on a thread of its own and yields what it emits, as SSE
text. ``produce`` gets ``emit(event, data)`` and ``stopped()``: when the client disconnects,
Starlette closes the iterator, ``stopped()`` turns true, and ``produce`` should return at its
next piece (its own read timeout bounds the wait). While ``produce`` emits nothing for
``ping_s`` seconds a ``: ping`` comment goes out, so that proxies do not close an idle
connection while a model thinks; SSE clients ignore comments.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

PING_S = 10.0
Emit = Callable[[str, Any], None]
_END = object()


def sse(event: str, data: Any) -> str:
    """One event: its name and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream_events(
    produce: Callable[[Emit, Callable[[], bool]], None],
    *,
    on_crash: Callable[[BaseException], str],
    ping_s: float = PING_S,
) -> Iterator[str]:
    """The events ``produce`` emits, as they come; ``on_crash`` words an exception that
    escaped it as a last event."""
    pieces: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def run() -> None:
        try:
            produce(lambda event, data: pieces.put(sse(event, data)), stop.is_set)
        except BaseException as error:  # reported in the stream: the status is already sent
            pieces.put(on_crash(error))
        finally:
            pieces.put(_END)

    worker = threading.Thread(target=run, name="answer-stream", daemon=True)
    worker.start()
    try:
        while True:
            try:
                piece = pieces.get(timeout=ping_s)
            except queue.Empty:
                yield ": ping\n\n"
                continue
            if piece is _END:
                return
            assert isinstance(piece, str)
            yield piece
    finally:
        stop.set()
