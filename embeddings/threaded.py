"""Serving an ASGI app with uvicorn in a background thread, on a loopback port.

For the tests and the benchmarks: the embeddings server, the fake endpoints and the app itself.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    lifespan: Literal["auto", "on", "off"] = "off",
    start_timeout_s: float = 30.0,
    **options: Any,
) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread; yields its base URL, then stops it.

    The socket is bound here (port 0 picks a free one) and handed to uvicorn, so there is no
    race between choosing a port and listening on it. Used by the tests and the benchmarks;
    ``lifespan="on"`` for the semsearch app, whose lifespan opens its services; ``options`` go
    to ``uvicorn.Config`` (the app's servers pass ``web.http_server.uvicorn_options()``).
    """
    import uvicorn

    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP, and without it every small response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level=log_level, lifespan=lifespan, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
