"""`semsearch embeddings serve` with a key, and its body limit while the body streams in.

A real uvicorn on 127.0.0.1 with the product's options, the session's model behind it, reached
by the ``endpoint`` provider (as an app replica reaches it) and by raw sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from embeddings.errors import EmbeddingError
from embeddings.local import LocalProvider
from embeddings.remote import EndpointProvider
from embeddings.server import create_embeddings_app
from embeddings.settings import EmbeddingSettings
from embeddings.threaded import serve_in_thread
from tests.raw_http import send_until_answered
from web.exposure import embeddings_server_warnings
from web.http_server import uvicorn_options

pytestmark = pytest.mark.slow

KEY = "embeddings-serve-test-key"
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def keyed(local_provider: LocalProvider) -> Iterator[str]:
    app = create_embeddings_app(local_provider, payload_limit=LIMIT, api_key=KEY)
    with serve_in_thread(app, **uvicorn_options()) as url:
        yield url


def test_every_route_but_the_probes_asks_for_the_key(keyed: str) -> None:
    assert httpx.get(f"{keyed}/health").status_code == 200
    refused = httpx.post(f"{keyed}/embed", json={"inputs": "hello"})
    assert refused.status_code == 401
    assert refused.json()["error_type"] == "Unauthorized"
    assert httpx.get(f"{keyed}/info").status_code == 401
    wrong = httpx.post(
        f"{keyed}/embed", json={"inputs": "hello"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    good = httpx.post(
        f"{keyed}/embed", json={"inputs": "hello"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert good.status_code == 200 and len(good.json()[0]) == 384


def test_the_endpoint_provider_reaches_it_with_the_key_as_its_token(keyed: str) -> None:
    settings = EmbeddingSettings(provider="endpoint", endpoint=f"{keyed}/embed")
    without = EndpointProvider(settings)
    try:
        with pytest.raises(EmbeddingError):
            without.embed_documents(["a text"])
    finally:
        without.close()
    keyed_settings = EmbeddingSettings(
        provider="endpoint",
        endpoint=f"{keyed}/embed",
        token=SecretStr(KEY),
    )
    provider = EndpointProvider(keyed_settings)
    try:
        assert len(provider.embed_documents(["a text", "another"])) == 2
    finally:
        provider.close()


def test_a_body_over_the_limit_is_refused_while_it_streams(keyed: str) -> None:
    """Chunked, with no length to judge by: answered 413 after the limit, not after the body."""
    head = (
        "POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + b'2\r\n{"\r\n'
    piece = b'"' + b"a" * 8190 + b'"'
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # Up to 64 times the limit, and no last chunk: only the limit can end this request.
    answer, sent = send_until_answered(keyed, head, [chunk] * 64 * (LIMIT // len(piece)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * LIMIT  # answered long before the whole body was sent


def test_a_declared_length_over_the_limit_is_refused_before_the_body(keyed: str) -> None:
    response = httpx.post(
        f"{keyed}/embed",
        content=b"{" + b" " * (2 * LIMIT) + b"}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 413


def test_it_warns_when_anyone_can_spend_its_resources() -> None:
    assert embeddings_server_warnings("127.0.0.1", 8080, has_key=True, remote=True)[0][0] == (
        logging.INFO
    )
    (local,) = embeddings_server_warnings("127.0.0.1", 8080, has_key=False, remote=False)
    assert local[0] == logging.WARNING and "CPU" in local[1]
    exposed = embeddings_server_warnings("0.0.0.0", 8080, has_key=False, remote=True)
    assert {level for level, _ in exposed} == {logging.CRITICAL}
    assert "HF_TOKEN" in exposed[0][1] and "--api-key" in exposed[1][1]
