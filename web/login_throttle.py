"""Login failures back off per client, so the pages' login form cannot be used to guess the key.

Each wrong key from one client address (the socket's peer; behind a proxy, start uvicorn with
``--proxy-headers`` so it is the user's) counts; from the ``FREE_FAILURES``-th on, the next
attempt must wait ``2 ** (failures - FREE_FAILURES)`` seconds, at most ``MAX_WAIT_S``, and an
attempt during the wait is answered 429 with ``Retry-After`` without the key being compared. A
right key clears the count. At most ``MAX_CLIENTS`` addresses are remembered (the oldest
dropped first), so the table cannot grow without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

FREE_FAILURES = 5
MAX_WAIT_S = 15 * 60
MAX_CLIENTS = 10_000


@dataclass
class _Failures:
    count: int
    until: float  # monotonic time before which an attempt is refused


class LoginThrottle:
    """One per app (``web.app``); safe to share between request threads."""

    def __init__(self) -> None:
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> int:
        """Seconds this client must still wait before its next attempt; 0 when it may try."""
        with self._lock:
            failures = self._clients.get(client)
            if failures is None:
                return 0
            return max(0, int(failures.until - time.monotonic() + 0.999))

    def failed(self, client: str) -> None:
        with self._lock:
            failures = self._clients.pop(client, None) or _Failures(0, 0.0)
            failures.count += 1
            if failures.count >= FREE_FAILURES:
                delay = min(MAX_WAIT_S, 2 ** (failures.count - FREE_FAILURES))
                failures.until = time.monotonic() + delay
            self._clients[client] = failures
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)
