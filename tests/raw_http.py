"""HTTP/1.1 by hand over a socket, for the limits a client library would not let a test break.

A server that refuses a request part-way answers and closes while the client is still sending:
the next send then raises ``BrokenPipeError`` or ``ConnectionResetError``. That ends the
sending, not the test; what the server answered is read all the same.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

# How long to wait for an answer after each piece: time for the server to refuse mid-way.
POLL_S = 0.05
# The longest a send or a read may wait for the server (past it: TimeoutError, a failure).
TIMEOUT_S = 30.0


def send_until_answered(
    url: str, head: bytes, pieces: Iterable[bytes] = (), tail: bytes = b""
) -> tuple[bytes, int]:
    """Send ``head``, each of ``pieces``, then ``tail`` to the server of ``url``; stop sending
    as soon as it answers or closes, and read its answer until it is whole or the server
    closes.

    Returns (everything it answered, how many bytes of ``pieces`` were sent)."""
    address = urlsplit(url)
    assert address.hostname and address.port
    sent = 0
    answer = b""
    with socket.create_connection((address.hostname, address.port), timeout=TIMEOUT_S) as sock:
        try:
            sock.sendall(head)
            for piece in pieces:
                sock.sendall(piece)
                sent += len(piece)
                answer = _poll(sock)
                if answer:
                    break
            else:
                sock.sendall(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while we were still sending: read what it said
        answer = _read_answer(sock, answer)
    return answer, sent


def _poll(sock: socket.socket) -> bytes:
    """What the server has sent within ``POLL_S``, if anything."""
    sock.settimeout(POLL_S)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""
    finally:
        sock.settimeout(TIMEOUT_S)


def _read_answer(sock: socket.socket, answer: bytes) -> bytes:
    """Read on until the server closes, or until the response it began is whole (a server may
    keep the connection open after it: uvicorn does, for its keep-alive timeout)."""
    while not _whole(answer):
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    return answer


def _whole(answer: bytes) -> bool:
    """Whether ``answer`` holds a response head and all the body its Content-Length gives."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    match = re.search(rb"^content-length:\s*(\d+)\s*$", head, re.IGNORECASE | re.MULTILINE)
    return match is not None and len(body) >= int(match.group(1))
