"""``semsearch embeddings serve``: the TEI-compatible server, run for real with uvicorn.

The server wraps the session's ``local_provider`` (the model is never loaded twice) and is
reached over loopback HTTP, both through ``EndpointProvider`` (the code path an app replica uses)
and with raw httpx (the exact wire format). What the server received is observed by
``RequestLog``, an ASGI middleware of this module placed in front of the app: it records each
request's path, its texts and the status answered, independently of the app's own logic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from embeddings.local import LocalProvider
from embeddings.remote import EndpointProvider
from embeddings.server import create_embeddings_app
from embeddings.server_tokens import find_tokenizer, token_counter
from embeddings.settings import EmbeddingSettings
from embeddings.threaded import serve_in_thread
from tests.processes import free_port

pytestmark = pytest.mark.slow

LIMIT = 32
SENTENCES = [
    "Oil prices rose after the cartel agreed to cut production.",
    "The central bank left interest rates unchanged on Thursday.",
    "Wheat exports fell sharply because of the drought.",
    "The company reported record quarterly earnings and raised its dividend.",
    "Shares of the chip maker slid after a weak sales forecast.",
    "A trace-based compiler records hot loops and compiles them to machine code.",
    "Qdrant stores dense and sparse vectors with a payload for each point.",
    "The museum reopened its doors after a long renovation.",
]
TEXTS = [f"{SENTENCES[i % len(SENTENCES)]} Item {i}." for i in range(100)]


@dataclass
class Seen:
    path: str
    texts: list[str]
    status: int = 0


@dataclass
class RequestLog:
    """ASGI middleware recording every POST's texts (``inputs`` or ``input``) and status."""

    app: Any
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        entry = Seen(scope["path"], [])
        self.seen.append(entry)
        body: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    payload = json.loads(b"".join(body) or b"null")
                    texts = payload.get("inputs", payload.get("input")) if payload else None
                    if isinstance(texts, str | list):
                        entry.texts = [texts] if isinstance(texts, str) else texts
            return message

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.app(scope, recording_receive, recording_send)

    def accepted(self) -> list[Seen]:
        return [s for s in self.seen if s.status == 200]


@pytest.fixture(scope="module")
def served(local_provider: LocalProvider) -> Iterator[tuple[str, RequestLog]]:
    tokenizer = find_tokenizer(local_provider.model_source)
    assert tokenizer is not None
    app = create_embeddings_app(
        local_provider,
        max_client_batch_size=LIMIT,
        max_input_length=local_provider.max_seq_length,
        count_tokens=token_counter(tokenizer),
    )
    log = RequestLog(app)
    with serve_in_thread(log) as url:
        yield url, log


@pytest.fixture
def server(served: tuple[str, RequestLog]) -> tuple[str, RequestLog]:
    served[1].seen.clear()
    return served


@contextmanager
def endpoint(url: str, **overrides: Any) -> Iterator[EndpointProvider]:
    provider = EndpointProvider(EmbeddingSettings(provider="endpoint", endpoint=url, **overrides))
    try:
        yield provider
    finally:
        provider.close()


def min_cosine(a: list[list[float]], b: list[list[float]]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    assert x.shape == y.shape
    cos = (x * y).sum(axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return float(cos.min())


def assert_same(got: list[list[float]], local: list[list[float]]) -> None:
    assert min_cosine(got, local) > 0.999


def test_endpoint_provider_gets_the_local_vectors(
    server: tuple[str, RequestLog], local_provider: LocalProvider
) -> None:
    url, _ = server
    with endpoint(f"{url}/embed", model="") as provider:
        texts = TEXTS[:40]
        assert_same(provider.embed_documents(texts), local_provider.embed_documents(texts))
        query = "why did oil prices rise"
        assert_same([provider.embed_query(query)], [local_provider.embed_query(query)])
        assert provider.dimension == 384


def test_raw_embed_answers_teis_shapes(
    server: tuple[str, RequestLog], local_provider: LocalProvider
) -> None:
    url, _ = server
    single = httpx.post(f"{url}/embed", json={"inputs": TEXTS[0]})
    assert single.status_code == 200
    assert single.headers["content-type"] == "application/json"
    [vector] = single.json()
    assert len(vector) == 384 and abs(np.linalg.norm(vector) - 1) < 1e-5
    assert int(single.headers["x-compute-tokens"]) > 5
    batch = httpx.post(f"{url}/embed", json={"inputs": TEXTS[:3], "normalize": True})
    assert batch.status_code == 200
    assert min_cosine(batch.json(), local_provider.embed_documents(TEXTS[:3])) > 0.999
    assert httpx.get(f"{url}/health").status_code == 200


def test_info_reports_teis_fields(server: tuple[str, RequestLog]) -> None:
    url, _ = server
    info = httpx.get(f"{url}/info").json()
    assert info["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["max_client_batch_size"] == LIMIT
    assert info["max_input_length"] == 256
    assert info["max_batch_tokens"] == 16384
    assert info["auto_truncate"] is False
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    for name in ("model_dtype", "max_concurrent_requests", "version", "tokenization_workers"):
        assert info[name], name


def test_openai_route(server: tuple[str, RequestLog], local_provider: LocalProvider) -> None:
    url, log = server
    with endpoint(f"{url}/v1/embeddings", model="") as provider:
        texts = TEXTS[:5]
        assert_same(provider.embed_documents(texts), local_provider.embed_documents(texts))
        assert [s.path for s in log.accepted()] == ["/v1/embeddings"]
        body = httpx.post(f"{url}/v1/embeddings", json={"input": texts[:2], "model": "x"}).json()
        assert body["object"] == "list" and body["model"] == local_provider.model_id
        assert [(d["object"], d["index"]) for d in body["data"]] == [
            ("embedding", 0),
            ("embedding", 1),
        ]
        assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 10


def test_over_the_batch_limit_gets_teis_exact_error(server: tuple[str, RequestLog]) -> None:
    url, _ = server
    embed = httpx.post(f"{url}/embed", json={"inputs": TEXTS[: LIMIT + 1]})
    assert embed.status_code == 422  # TEI >= 1.9 (413 before)
    assert embed.json() == {
        "error": "batch size 33 > maximum allowed batch size 32",
        "error_type": "Validation",
    }
    openai = httpx.post(f"{url}/v1/embeddings", json={"input": TEXTS[: LIMIT + 1]})
    assert openai.status_code == 422
    assert openai.json() == {
        "message": "batch size 33 > maximum allowed batch size 32",
        "code": 422,
        "type": "Validation",
    }


def test_empty_and_too_long_inputs_are_refused_as_tei_does(server: tuple[str, RequestLog]) -> None:
    url, _ = server
    empty = httpx.post(f"{url}/embed", json={"inputs": []})
    assert (empty.status_code, empty.json()) == (
        400,
        {"error": "`inputs` cannot be empty", "error_type": "Empty"},
    )
    assert httpx.post(f"{url}/embed", json={"inputs": ["ok", ""]}).status_code == 400
    long_text = "word " * 300  # 302 tokens with [CLS] and [SEP]
    refused = httpx.post(f"{url}/embed", json={"inputs": long_text})
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "Input validation error: `inputs` must have less than 256 tokens. Given: 302",
        "error_type": "Validation",
    }
    cut = httpx.post(f"{url}/embed", json={"inputs": long_text, "truncate": True})
    assert cut.status_code == 200 and len(cut.json()) == 1
    shape = httpx.post(f"{url}/embed", json={"inputs": 3})
    assert shape.status_code == 422


def test_endpoint_provider_with_batch_64_stays_within_the_servers_32(
    server: tuple[str, RequestLog], local_provider: LocalProvider
) -> None:
    url, log = server
    with endpoint(f"{url}/embed", model="", batch_size=64) as provider:
        vectors = provider.embed_documents(TEXTS)
        assert min_cosine(vectors, local_provider.embed_documents(TEXTS)) > 0.999
        accepted = log.accepted()
        assert accepted and max(len(s.texts) for s in accepted) <= LIMIT
        assert {t for s in accepted for t in s.texts} >= set(TEXTS)
        # Any request over the limit was refused whole, with TEI's 422, and never embedded.
        for refused in (s for s in log.seen if s.status != 200):
            assert refused.status == 422 and len(refused.texts) > LIMIT


def test_cli_serves_the_configured_provider(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEMSEARCH_DATA_DIR": str(tmp_path)}
    for name in ("HF_TOKEN", "EMBEDDINGS_ENDPOINT", "EMBEDDINGS_PROVIDER", "EMBEDDINGS_MODEL"):
        env.pop(name, None)
    semsearch = Path(sys.executable).parent / "semsearch"
    command = [str(semsearch), "embeddings", "serve", "--port", str(port), "--max-batch-size", "8"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "semsearch embeddings serve did not come up"
            time.sleep(0.5)
        vectors = httpx.post(f"{url}/embed", json={"inputs": ["hello", "world"]}).json()
        assert len(vectors) == 2 and len(vectors[0]) == 384
        assert httpx.get(f"{url}/info").json()["max_client_batch_size"] == 8
        refused = httpx.post(f"{url}/embed", json={"inputs": ["x"] * 9})
        assert refused.json()["error"] == "batch size 9 > maximum allowed batch size 8"
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"EMBEDDINGS_ENDPOINT={url}/embed" in output
