"""Upload limits are enforced while the body streams in, against a real uvicorn on 127.0.0.1.

The client is a raw socket, so that a test controls exactly how much of a body has been sent
when the answer comes: the evidence that the server did not read it all is that it answered
(413, the app's JSON error shape) while most of the body was still unsent.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from embeddings.threaded import serve_in_thread
from tests.apphelpers import assert_error_shape, wait_for_job
from web.app import create_app
from web.routers.documents import MAX_FILES_PER_REQUEST
from web.settings import Settings

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
KEY = "limits-test-key"
BOUNDARY = "safetyb0undary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[str]:
    """1 MiB per file and per request: an upload request may carry 2 MiB (1 MiB of files plus
    the 1 MiB multipart allowance)."""
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("limits") / "data",
        SEMSEARCH_MAX_UPLOAD_MB=1,
        SEMSEARCH_MAX_REQUEST_MB=1,
        SEMSEARCH_API_KEY=KEY,
    )
    assert settings.max_request_bytes == 2 * MIB
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on") as url:
        yield url


def part(index: int, size: int = 40) -> bytes:
    """One file part of the multipart body: ``note-INDEX.txt`` of ``size`` bytes of text."""
    content = (f"note {index} about zebras " * (size // 20 + 1)).encode()[:size]
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="note-{index}.txt"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        + content
        + b"\r\n"
    )


class Exchange:
    """A raw HTTP/1.1 request whose body is sent chunk by chunk until the server answers."""

    def __init__(self, url: str, headers: dict[str, str], chunks: Iterable[bytes]) -> None:
        address = urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small send buffer: "sent" then counts what really left, give or take the server's
        # receive buffer (a few MiB on loopback), not what waits in this side's kernel.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        self.sock.settimeout(30)
        self.sock.connect((address.hostname, address.port))
        self.chunked = "content-length" not in {name.lower() for name in headers}
        framing = {"Transfer-Encoding": "chunked"} if self.chunked else {}
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **framing}.items())
        self.sock.sendall(f"POST /api/documents HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        self.chunks = iter(chunks)
        self.sent = 0
        self.exhausted = False

    def run(self) -> tuple[int, dict[str, Any]]:
        """Send until the server has something to say (or the body ends); return its answer."""
        with self.sock:
            while not self._answer_waiting():
                chunk = next(self.chunks, None)
                if chunk is None:
                    self.exhausted = True
                    if self.chunked:
                        self.sock.sendall(b"0\r\n\r\n")
                    break
                framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked else chunk
                try:
                    self.sock.sendall(framed)
                except (BrokenPipeError, ConnectionResetError):
                    break  # the server answered and closed; the answer is waiting
                self.sent += len(chunk)
            return self._read_response()

    def _answer_waiting(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def _read_response(self) -> tuple[int, dict[str, Any]]:
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw) < self._expected_length(raw):
            data = self.sock.recv(65536)
            if not data:
                break
            raw += data
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)

    @staticmethod
    def _expected_length(raw: bytes) -> int:
        head, _, _ = raw.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(head) + 4 + int(value)
        return 0


def multipart_headers(**extra: str) -> dict[str, str]:
    return {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Authorization": f"Bearer {KEY}",
        **extra,
    }


def test_a_content_length_over_the_limit_is_refused_before_any_body_is_sent(server: str) -> None:
    # Nothing at all is sent after the headers.
    exchange = Exchange(server, multipart_headers(**{"Content-Length": str(10 * 1024 * MIB)}), [])
    status, body = exchange.run()
    error = assert_error_shape(body, 413)
    assert status == 413 and error["code"] == "request_too_large"
    assert exchange.sent == 0


def test_a_streamed_body_over_the_limit_is_refused_while_most_is_unsent(server: str) -> None:
    """100 MiB of one file, chunked (no Content-Length to judge by): the answer comes once the
    body passes 2 MiB, with over 80 % of it never sent (the slack is the kernel's buffers)."""
    total = 100 * MIB
    chunk = b"z" * (64 * 1024)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"'
        "\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    body = [head, *[chunk] * (total // len(chunk))]
    exchange = Exchange(server, multipart_headers(), body)
    status, answer = exchange.run()
    error = assert_error_shape(answer, 413)
    assert status == 413 and error["code"] == "request_too_large"
    assert not exchange.exhausted
    assert 2 * MIB <= exchange.sent < total // 5, exchange.sent


def test_one_file_too_many_is_refused_as_it_arrives(server: str) -> None:
    """40,000 tiny files (6 MiB, under the size limit): refused with the app's own 413
    ``too_many_files`` (not the multipart parser's 400) soon after file 1,001 arrives, with
    most of the body unsent."""
    count = 40_000
    batches = (
        b"".join(part(i) for i in range(start, start + 100)) for start in range(0, count, 100)
    )
    exchange = Exchange(server, multipart_headers(), batches)
    status, answer = exchange.run()
    error = assert_error_shape(answer, 413)
    assert status == 413 and error["code"] == "too_many_files"
    assert str(MAX_FILES_PER_REQUEST) in error["message"]
    assert not exchange.exhausted
    whole = sum(len(part(i)) for i in range(count))
    assert exchange.sent < whole // 4, (exchange.sent, whole)


def test_an_upload_without_the_key_is_refused_before_its_body_is_read(server: str) -> None:
    headers = multipart_headers(**{"Content-Length": str(MIB)})
    del headers["Authorization"]
    exchange = Exchange(server, headers, [])  # the headers only
    status, answer = exchange.run()
    assert status == 401 and assert_error_shape(answer, 401)["code"] == "unauthorized"
    assert exchange.sent == 0


def test_uploads_within_the_limits_still_work(server: str) -> None:
    """A full 1 MiB file, and exactly 1,000 files, are accepted; a file over 1 MiB in a request
    under the request limit is refused by name (the per-file limit), as before."""
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server, headers=auth, timeout=120) as http:
        full = b"Zebras graze on the savanna in large herds. " * (MIB // 45)
        assert len(full) <= MIB
        accepted = http.post("/api/documents", files=[("files", ("herd.txt", full))])
        assert accepted.status_code == 202, accepted.text
        (job,) = accepted.json()["jobs"]

        class _Client:  # wait_for_job takes anything with .get(path)
            get = staticmethod(http.get)

        assert wait_for_job(_Client(), job["id"])["status"] == "done"  # type: ignore[arg-type]

        # Streamed in chunks through the raw client: a thousand files pass the file counter.
        closing = f"--{BOUNDARY}--\r\n".encode()
        exchange = Exchange(server, multipart_headers(), [*map(part, range(1000)), closing])
        status, answer = exchange.run()
        assert status == 202, answer
        assert len(answer["jobs"]) == MAX_FILES_PER_REQUEST

        over = http.post(
            "/api/documents", files=[("files", ("big.txt", full + b"x" * (MIB + MIB // 2)))]
        )
        error = assert_error_shape(over.json(), 413)
        assert error["code"] == "request_too_large"  # 2.5 MiB: over the request limit

        too_big = http.post("/api/documents", files=[("files", ("big.txt", full + b"x" * 50_000))])
        error = assert_error_shape(too_big.json(), 413)
        assert error["code"] == "file_rejected" and "big.txt" in error["message"]
