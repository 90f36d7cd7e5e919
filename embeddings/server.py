"""``semsearch embeddings serve``: text-embeddings-inference's HTTP API over any provider.

Why: one GPU box can then embed for many app replicas (each pointing ``EMBEDDINGS_ENDPOINT`` at
it), and the ``endpoint`` provider can be tested against a real server rather than a fake one.

The wire format follows TEI's router (``router/src/http/server.rs``, ``types.rs``, ``lib.rs``):

* ``POST /embed`` (also ``/`` and ``/invocations``) ``{"inputs": str | [str], "normalize",
  "truncate", "prompt_name"}`` → ``[[float]]``; errors are ``{"error", "error_type"}`` with
  TEI's statuses: an empty batch or text is 400 (``Empty``); a batch over
  ``max_client_batch_size`` ("batch size N > maximum allowed batch size M"), an over-long text
  when not truncating, or an unknown prompt is 422 (``Validation``, 413 before TEI 1.9: commit
  d026d1e, "Fix HTTP error code for validation"); too many requests in flight
  is 429 (``Overloaded``); a provider failure is 424 (``Backend``); a body that is not JSON is
  400, JSON of the wrong shape 422, and a missing JSON content type 415, as axum answers them.
* ``POST /v1/embeddings`` (also ``/embeddings``), OpenAI's shape; its errors are TEI's flat
  ``{"message", "code", "type"}`` (not OpenAI's nested ``{"error": {...}}``), as TEI does.
* ``POST /rerank`` ``{"query", "texts", "truncate", "raw_scores", "return_text"}`` →
  ``[{"index", "score"}]`` sorted by score, when a reranker is given (``RERANK_PROVIDER=local``);
  without one it answers 424 ``model is not a re-ranker model``, as TEI serving an embedding
  model does. ``raw_scores`` is not honoured: scores always come with the model's activation.
* ``GET /info``, and ``GET /health`` (also ``/`` and ``/ping``): 200 with an empty body.

Where a provider cannot do what TEI does, the difference is stated rather than faked: vectors are
always unit length (the provider protocol returns normalised vectors), so ``normalize: false``
changes nothing; ``prompt_name`` knows ``query`` (the provider's ``embed_query``) and
``document``; token counts (the length check and ``usage``) need a ``count_tokens`` function, and
are skipped (``usage`` reads 0) without one. Providers are synchronous, so every embedding call
runs in the thread pool and the event loop keeps answering ``/health`` and ``/info``.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Literal, TypeVar

import anyio.to_thread
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from embeddings.base import EmbeddingProvider, Vector
from embeddings.errors import EmbeddingError
from embeddings.rerank import Reranker
from embeddings.server_key import BearerKey
from embeddings.server_tokens import TokenCounter

log = logging.getLogger(__name__)

ErrorType = Literal["Empty", "Validation", "Overloaded", "Backend", "Tokenizer", "Unhealthy"]
#: TEI's ``impl From<&ErrorType> for StatusCode``.
STATUS = {
    "Empty": 400,
    "Validation": 422,
    "Overloaded": 429,
    "Backend": 424,
    "Tokenizer": 422,
    "Unhealthy": 503,
}
_M = TypeVar("_M", bound=BaseModel)
#: TEI refuses (or, when truncating, cuts) a text longer than this many characters per token.
MAX_CHAR_MULTIPLIER = 250


class _TEIRefusal(Exception):
    """An answer of this HTTP server in TEI's error shape, raised and caught in this module;
    ``status`` comes from the type unless given. Not a domain error: the statuses are TEI's wire
    format, which this server speaks."""

    def __init__(self, message: str, error_type: ErrorType, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status or STATUS[error_type]


class EmbedRequest(BaseModel):
    """TEI's ``EmbedRequest``; unknown fields are ignored, as serde does."""

    inputs: str | list[str]
    truncate: bool | None = None
    normalize: bool = True
    prompt_name: str | None = None
    truncation_direction: Literal["Left", "Right", "left", "right"] = "Right"


class RerankRequest(BaseModel):
    """TEI's ``RerankRequest``."""

    query: str
    texts: list[str]
    truncate: bool | None = None
    raw_scores: bool = False
    return_text: bool = False


class OpenAIRequest(BaseModel):
    """TEI's ``OpenAICompatRequest``."""

    input: str | list[str]
    model: str | None = None
    user: str | None = None
    encoding_format: Literal["float", "base64"] = "float"


def create_embeddings_app(
    provider: EmbeddingProvider,
    *,
    max_client_batch_size: int = 32,
    max_input_length: int = 256,
    max_batch_tokens: int = 16384,
    auto_truncate: bool = False,
    max_concurrent_requests: int = 512,
    payload_limit: int = 2_000_000,
    count_tokens: TokenCounter | None = None,
    model_dtype: str = "float32",
    pooling: str = "mean",
    api_key: str = "",
    reranker: Reranker | None = None,
) -> FastAPI:
    """A FastAPI app answering TEI's embedding routes with ``provider``'s vectors.

    The limits are reported by ``/info`` and enforced as TEI enforces them. ``max_batch_tokens``
    is only reported: TEI uses it to pack its own forward passes, which the provider does here.
    ``api_key``: when set, every route but the probes asks for it (``embeddings.server_key``).
    ``reranker``: answers ``POST /rerank`` (texts are checked as for ``/embed``).
    """
    app = FastAPI(title="semsearch embeddings (text-embeddings-inference API)")
    if api_key:
        app.add_middleware(BearerKey, key=api_key)
    state = _ServerState(max_concurrent_requests)
    info = {
        "model_id": provider.model_id,
        "model_sha": None,
        "model_dtype": model_dtype,
        "model_type": {"embedding": {"pooling": pooling}},
        "max_concurrent_requests": max_concurrent_requests,
        "max_input_length": max_input_length,
        "max_batch_tokens": max_batch_tokens,
        "max_batch_requests": None,
        "max_client_batch_size": max_client_batch_size,
        "auto_truncate": auto_truncate,
        "tokenization_workers": 1,
        "version": _version(),
        "sha": None,
        "docker_label": None,
    }

    def check_texts(texts: list[str], truncate: bool) -> tuple[list[str], int]:
        """TEI's checks, in its order; returns the texts to embed and their token count."""
        if not texts:
            raise _TEIRefusal("`inputs` cannot be empty", "Empty")
        if len(texts) > max_client_batch_size:
            raise _TEIRefusal(
                f"batch size {len(texts)} > maximum allowed batch size {max_client_batch_size}",
                "Validation",
            )
        char_limit = max_input_length * MAX_CHAR_MULTIPLIER
        checked: list[str] = []
        for text in texts:
            if not text:
                raise _TEIRefusal("Input validation error: `inputs` cannot be empty", "Empty")
            if len(text) > char_limit:
                if not truncate:
                    raise _TEIRefusal(
                        f"Input validation error: `inputs` must have less than {char_limit} "
                        f"characters. Given: {len(text)}",
                        "Validation",
                    )
                text = text[:char_limit]
            checked.append(text)
        if count_tokens is None:
            return checked, 0
        counts = count_tokens(checked)
        for count in counts:
            if count > max_input_length and not truncate:
                raise _TEIRefusal(
                    f"Input validation error: `inputs` must have less than {max_input_length} "
                    f"tokens. Given: {count}",
                    "Validation",
                )
        return checked, sum(min(count, max_input_length) for count in counts)

    async def embed_texts(
        texts: list[str], truncate: bool, prompt_name: str | None
    ) -> tuple[list[Vector], dict[str, str]]:
        started = time.perf_counter()
        with state.slot():
            # Tokenizing to check lengths is CPU work too: off the event loop with the rest.
            checked, tokens = await anyio.to_thread.run_sync(check_texts, texts, truncate)
            embed = _embedder(provider, prompt_name)
            try:
                vectors = await anyio.to_thread.run_sync(embed, checked)
            except EmbeddingError as exc:
                raise _TEIRefusal(f"Backend error: {exc.message}", "Backend") from exc
            except Exception as exc:  # any provider failure is the backend's, as in TEI
                log.exception("embeddings server: the provider failed")
                raise _TEIRefusal(f"Backend error: {type(exc).__name__}: {exc}", "Backend") from exc
        took = str(round((time.perf_counter() - started) * 1000))
        headers = {
            "x-compute-characters": str(sum(len(t) for t in checked)),
            "x-compute-tokens": str(tokens),
            "x-compute-time": took,
            "x-total-time": took,
        }
        return vectors, headers

    async def embed(request: Request) -> Response:
        try:
            req = await _parse(request, EmbedRequest, payload_limit)
            texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
            truncate = auto_truncate if req.truncate is None else req.truncate
            vectors, headers = await embed_texts(texts, truncate, req.prompt_name)
        except _TEIRefusal as exc:
            return _json({"error": exc.message, "error_type": exc.error_type}, exc.status)
        except _Rejected as exc:
            return exc.response
        return _json(vectors, 200, headers)

    async def openai_embed(request: Request) -> Response:
        try:
            req = await _parse(request, OpenAIRequest, payload_limit)
            texts = [req.input] if isinstance(req.input, str) else req.input
            vectors, headers = await embed_texts(texts, auto_truncate, None)
        except _TEIRefusal as exc:
            body = {"message": exc.message, "code": exc.status, "type": exc.error_type}
            return _json(body, exc.status)
        except _Rejected as exc:
            return exc.response
        tokens = int(headers["x-compute-tokens"])
        data = [
            {"object": "embedding", "embedding": _encode(v, req.encoding_format), "index": i}
            for i, v in enumerate(vectors)
        ]
        return _json(
            {
                "object": "list",
                "data": data,
                "model": provider.model_id,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            200,
            headers,
        )

    async def rerank(request: Request) -> Response:
        try:
            req = await _parse(request, RerankRequest, payload_limit)
            if not req.texts:
                raise _TEIRefusal("`texts` cannot be empty", "Empty")
            if reranker is None:
                raise _TEIRefusal("model is not a re-ranker model", "Backend")
            truncate = auto_truncate if req.truncate is None else req.truncate
            with state.slot():
                checked, _ = await anyio.to_thread.run_sync(check_texts, req.texts, truncate)
                try:
                    scores = await anyio.to_thread.run_sync(reranker.rerank, req.query, checked)
                except Exception as exc:  # any reranker failure is the backend's, as in TEI
                    log.exception("embeddings server: the reranker failed")
                    raise _TEIRefusal(f"Backend error: {exc}", "Backend") from exc
        except _TEIRefusal as exc:
            return _json({"error": exc.message, "error_type": exc.error_type}, exc.status)
        except _Rejected as exc:
            return exc.response
        ranks = [
            {"index": i, "score": score} | ({"text": req.texts[i]} if req.return_text else {})
            for i, score in sorted(enumerate(scores), key=lambda pair: -pair[1])
        ]
        return _json(ranks, 200)

    async def get_info() -> Response:
        return _json(info, 200)

    async def health() -> Response:
        return Response(status_code=200)

    for path in ("/embed", "/", "/invocations"):
        app.add_api_route(path, embed, methods=["POST"], include_in_schema=path == "/embed")
    for path in ("/v1/embeddings", "/embeddings"):
        app.add_api_route(
            path, openai_embed, methods=["POST"], include_in_schema=path == "/v1/embeddings"
        )
    app.add_api_route("/rerank", rerank, methods=["POST"])
    app.add_api_route("/info", get_info, methods=["GET"])
    for path in ("/health", "/", "/ping"):
        app.add_api_route(path, health, methods=["GET"], include_in_schema=path == "/health")
    app.state.info = info
    return app


class _ServerState:
    """Requests in flight, bounded like TEI's ``max_concurrent_requests`` (then 429)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        # Only the event loop thread touches the counter, so no lock is needed.
        if self.in_flight >= self.limit:
            raise _TEIRefusal("Model is overloaded", "Overloaded")
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1


class _Rejected(Exception):
    """The body was refused before it reached the handler (as axum's extractors do)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _parse(request: Request, model: type[_M], payload_limit: int) -> _M:
    """The request body as ``model``, refused with axum's statuses and messages otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")):
        raise _Rejected(_text("Expected request with `Content-Type: application/json`", 415))
    too_large = _Rejected(_text("Failed to buffer the request body: length limit exceeded", 413))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > payload_limit:
        raise too_large  # answered before a byte of the body is read
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():  # a body without a length stops at the limit too
        received += len(chunk)
        if received > payload_limit:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _Rejected(_text(f"Failed to parse the request body as JSON: {exc}", 400)) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "body"
        message = f"Failed to deserialize the JSON body into the target type: {where}: "
        raise _Rejected(_text(message + first["msg"], 422)) from None


def _embedder(
    provider: EmbeddingProvider, prompt_name: str | None
) -> Callable[[list[str]], list[Vector]]:
    if prompt_name is None or prompt_name == "document":
        return lambda texts: provider.embed_documents(texts)
    if prompt_name == "query":
        return lambda texts: [provider.embed_query(text) for text in texts]
    raise _TEIRefusal(
        f"Input validation error: `default-prompt-name` is set to `{prompt_name}` but it was "
        'not found in the Sentence Transformers prompts. Available prompts: ["query", '
        '"document"]',
        "Validation",
    )


def _encode(vector: Vector, encoding_format: str) -> Vector | str:
    """OpenAI's ``base64`` is the little-endian float32 bytes, as TEI sends them."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


def _json(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"))
    return Response(content, status, headers, media_type="application/json")


def _text(message: str, status: int) -> Response:
    return Response(message, status, media_type="text/plain; charset=utf-8")


def _version() -> str:
    try:
        return metadata.version("semsearch")
    except metadata.PackageNotFoundError:
        return "0.0.0"
