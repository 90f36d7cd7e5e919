"""The request-head limit holds with the HTTP implementation `semsearch serve` really uses.

uvicorn picks httptools, which ignores the h11 setting the server used to rely on: a request
with 64 MiB of headers was read whole. Against a real uvicorn on 127.0.0.1 with the product's
own options (``web.http_server.uvicorn_options``), a head over the limit is answered 431 before
the client has sent it all, and one under it is served.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from embeddings.threaded import serve_in_thread
from tests.raw_http import send_until_answered
from web.app import create_app
from web.guard import MAX_REQUEST_HEAD_BYTES
from web.http_server import HeadLimitedHttpTools, uvicorn_options
from web.settings import Settings

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[str]:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("head") / "data")
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on", **uvicorn_options()) as url:
        yield url


def exchange(url: str, header_bytes: int) -> tuple[bytes, int]:
    """Send ``GET /api/health`` with one header of ``header_bytes`` bytes, 64 KiB at a time,
    stopping when the server answers or closes; returns (what it answered, bytes sent)."""
    piece = b"a" * (64 * 1024)
    pieces = (piece[: header_bytes - at] for at in range(0, header_bytes, len(piece)))
    return send_until_answered(
        url,
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ",
        pieces,
        b"\r\nConnection: close\r\n\r\n",
    )


def test_the_server_runs_the_head_limited_protocol() -> None:
    assert uvicorn_options()["http"] is HeadLimitedHttpTools
    assert HeadLimitedHttpTools.max_head_bytes == MAX_REQUEST_HEAD_BYTES == 2 * MIB


def test_a_head_over_the_limit_is_refused_with_431_before_it_is_all_sent(server: str) -> None:
    answer, sent = exchange(server, 64 * MIB)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:200]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["status"] == 431
    assert body["error"]["code"] == "request_header_fields_too_large"
    assert sent < 16 * MIB  # refused long before the 64 MiB were sent


def test_a_head_under_the_limit_is_served(server: str) -> None:
    answer, sent = exchange(server, MIB)
    assert sent == MIB
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b'"status":"ok"' in answer


def test_a_request_the_parser_cannot_read_gets_the_json_error_shape(server: str) -> None:
    """uvicorn answers a malformed request itself, in plain text; the app's protocol answers in
    the one JSON shape, as the OpenAPI document says every error is."""
    answer, _ = send_until_answered(
        server, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n"
    )
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert b"content-type: application/json" in rest.partition(b"\r\n\r\n")[0]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"]["status"] == 400 and body["error"]["code"] == "bad_request"
