"""A real HTTP server on 127.0.0.1 that speaks Hugging Face's embedding wire formats.

It stands in for the HF cloud only: the provider code under test runs unchanged, over real
sockets, against it. Routes (all ``POST``, JSON bodies):

- ``/hf-inference/models/{model}/pipeline/feature-extraction``: the HF router, body
  ``{"inputs": [...], "normalize": ..., "truncate": ...}``, answer ``[n][dim]``;
- ``/embed``: a TEI server, same body and answer;
- ``/v1/embeddings``: OpenAI style, body ``{"input": [...]}``, answer
  ``{"data": [{"embedding": [...], "index": i}], ...}``.

Use::

    with FakeHuggingFace(token="hf_test") as hf:
        settings = EmbeddingSettings(hf_inference_base_url=hf.base_url, token=SecretStr("hf_test"))
        ...
        hf.fail_next(503, {"error": "Model x is currently loading", "estimated_time": 0.2})
        assert hf.requests[-1].json == {...}

Vectors are deterministic (:meth:`FakeHuggingFace.vector_for`), so a test can check which text
got which vector. Attributes ``dimension``, ``token_level``, ``flat_single`` and
``max_batch_size`` may be changed while the server runs (e.g. a wrong dimension mid-stream).
Every response carries an ``x-request-id`` header (``fake-1``, ``fake-2``, ...).

Optional behaviours, each off by default and settable while the server runs:

- ``info``: a TEI ``/info`` body (:meth:`FakeHuggingFace.tei_info` builds a realistic one).
  ``GET /info`` answers it, or 404 when it is None (an Inference Endpoint without TEI). Those
  GETs are recorded in ``info_requests``, not ``requests``, and never consume a scripted answer.
  With ``info`` set, ``max_client_batch_size`` is enforced with TEI's 413 message and
  ``auto_truncate`` is the default for ``truncate``.
- ``max_input_tokens``: a text of more "tokens" (words + 2) than this is refused with TEI's
  ``Input validation error: `inputs` must have less than N tokens. Given: M`` (status
  ``token_limit_status``, 413 as TEI sends it) unless the body says ``"truncate": true``; the
  OpenAI route has no such field and answers TEI's OpenAI error shape.
- ``known_models`` / ``model_tasks``: on the router, a model outside ``known_models`` gets a
  plain-text 404 ``Not Found``; one whose task in ``model_tasks`` is not feature-extraction gets
  a 400 ``Model 'x' doesn't support task 'feature-extraction'. Supported tasks: 'y'``.
- ``paused``: every POST answers 400 ``{"error": "Bad Request: Invalid state"}``, as a paused
  Inference Endpoint does; :meth:`FakeHuggingFace.scale_to_zero` queues the 503s of one that is
  starting from zero.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_hf_wire import (
    DEFAULT_ERRORS,
    EMBEDDING_TASKS,
    NOT_FOUND_TEXT,
    PAUSED_BODY,
    SCALED_TO_ZERO_TEXT,
    RecordedRequest,
)
from tests.loopback import LoopbackServer

_HF_ROUTE = re.compile(r"^/hf-inference/models/(?P<model>.+)/pipeline/feature-extraction/?$")


@dataclass
class _Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeHuggingFace(LoopbackServer):
    """The fake server; a context manager that starts and stops it.

    ``token``: when given, requests must carry ``Authorization: Bearer <token>`` or get 401.
    ``dimension``: size of the vectors (default 384, as all-MiniLM-L6-v2).
    ``token_level``: answer ``[n][tokens][dim]`` whose per-text mean is ``vector_for(text)``.
    ``flat_single``: answer a bare ``[dim]`` when exactly one text was sent.
    ``max_batch_size``: answer 413 to requests with more texts than this.
    ``latency_s``: wait this long before answering (settable while running); ``max_in_flight``
    then tells how many requests the server held at the same time, at most.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        dimension: int = 384,
        token_level: bool = False,
        flat_single: bool = False,
        max_batch_size: int | None = None,
        info: dict[str, Any] | None = None,
        max_input_tokens: int | None = None,
        token_limit_status: int = 413,
        known_models: set[str] | None = None,
        model_tasks: dict[str, str] | None = None,
        paused: bool = False,
    ) -> None:
        self.token = token
        self.dimension = dimension
        self.token_level = token_level
        self.flat_single = flat_single
        self.max_batch_size = max_batch_size
        self.info = info
        self.max_input_tokens = max_input_tokens
        self.token_limit_status = token_limit_status
        self.known_models = known_models
        self.model_tasks = dict(model_tasks or {})
        self.paused = paused
        self.latency_s = 0.0
        #: (marker, status, body): refuse every embedding request holding a text with ``marker``.
        self.refuse_texts_with: tuple[str, int, Any] | None = None
        self.max_in_flight = 0
        self._in_flight = 0
        self.requests: list[RecordedRequest] = []
        self.info_requests: list[RecordedRequest] = []
        self._scripted: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._counter = 0
        super().__init__(name="fake-hf")

    @property
    def base_url(self) -> str:
        """What ``HF_INFERENCE_BASE_URL`` should be set to: ``{url}/hf-inference``."""
        return f"{self.url}/hf-inference"

    # -- scripting --------------------------------------------------------------------------

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request (any route) with ``status`` and ``body`` instead.

        Calls queue up, one response each. ``body`` is sent as JSON (a ``str`` or ``bytes`` is
        sent as-is); when omitted, an HF-style ``{"error": ...}`` for the status is used.
        A status of 200 with ``{"error": ...}`` scripts the "error in a success" case.
        """
        if body is None:
            body = DEFAULT_ERRORS.get(status, {"error": f"HTTP {status}"})
        with self._lock:
            self._scripted.append(_Scripted(status, body, dict(headers or {})))

    def scale_to_zero(self, answers: int = 2) -> None:
        """The next ``answers`` requests get the 503 of an endpoint starting from zero."""
        for _ in range(answers):
            self.fail_next(503, SCALED_TO_ZERO_TEXT)

    @staticmethod
    def tei_info(
        *,
        max_client_batch_size: int = 32,
        max_batch_tokens: int = 16384,
        max_input_length: int = 512,
        auto_truncate: bool = False,
        model_id: str = "sentence-transformers/all-MiniLM-L6-v2",
    ) -> dict[str, Any]:
        """A ``/info`` body shaped like TEI's (``router/src/lib.rs``, ``struct Info``)."""
        return {
            "model_id": model_id,
            "model_sha": None,
            "model_dtype": "float32",
            "model_type": {"embedding": {"pooling": "mean"}},
            "max_concurrent_requests": 512,
            "max_input_length": max_input_length,
            "max_batch_tokens": max_batch_tokens,
            "max_batch_requests": None,
            "max_client_batch_size": max_client_batch_size,
            "auto_truncate": auto_truncate,
            "tokenization_workers": 4,
            "version": "1.8.0",
            "sha": None,
            "docker_label": None,
        }

    @staticmethod
    def count_tokens(text: str) -> int:
        """The fake tokenizer: one token per whitespace-separated word, plus [CLS] and [SEP]."""
        return len(text.split()) + 2

    @staticmethod
    def vector_for(text: str, dimension: int = 384) -> list[float]:
        """The unit vector the server returns for ``text``: derived from sha256, deterministic."""
        values: list[float] = []
        counter = 0
        while len(values) < dimension:
            digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
            values.extend((b - 127.5) / 127.5 for b in digest)
            counter += 1
        values = values[:dimension]
        norm = math.sqrt(sum(v * v for v in values))
        return [v / norm for v in values]

    # -- answering --------------------------------------------------------------------------

    def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Scripted:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        route = path.split("?", 1)[0]
        authorized = self.token is None or headers.get("authorization") == f"Bearer {self.token}"
        if method == "GET" and route == "/info":
            with self._lock:
                self.info_requests.append(RecordedRequest(method, path, headers, body))
            if not authorized:
                return _Scripted(401, DEFAULT_ERRORS[401])
            return _Scripted(200, self.info) if self.info else _Scripted(404, NOT_FOUND_TEXT)
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted is not None:
            return scripted
        refusal = self.refuse_texts_with
        if refusal and any(refusal[0] in text for text in self.requests[-1].inputs):
            return _Scripted(refusal[1], refusal[2])
        if self.paused and method == "POST":
            return _Scripted(400, PAUSED_BODY)
        if not authorized:
            return _Scripted(401, DEFAULT_ERRORS[401])
        if method != "POST":
            return _Scripted(405, {"error": f"{method} not allowed"})
        if route == "/v1/embeddings":
            return self._embed(body, key="input", openai=True)
        if route == "/embed":
            return self._embed(body, key="inputs", openai=False)
        if match := _HF_ROUTE.match(route):
            return self._router_model(match.group("model")) or self._embed(
                body, key="inputs", openai=False
            )
        return _Scripted(404, {"error": "Not Found"})

    def _router_model(self, model: str) -> _Scripted | None:
        """The router's answer for a model it does not serve for feature-extraction, if so."""
        task = self.model_tasks.get(model)
        if task is not None and task not in EMBEDDING_TASKS:
            message = (
                f"Model '{model}' doesn't support task 'feature-extraction'. "
                f"Supported tasks: '{task}'"
            )
            return _Scripted(400, {"error": message})
        if task is None and self.known_models is not None and model not in self.known_models:
            return _Scripted(404, NOT_FOUND_TEXT)
        return None

    def _too_long(self, body: Any, inputs: list[str], openai: bool) -> _Scripted | None:
        """TEI's refusal of a text over ``max_input_tokens`` when not asked to truncate."""
        if self.max_input_tokens is None:
            return None
        auto = bool(self.info and self.info.get("auto_truncate"))
        truncate = auto if openai else body.get("truncate", auto) is True
        if truncate:
            return None
        for text in inputs:
            given = self.count_tokens(text)
            if given > self.max_input_tokens:
                message = (
                    "Input validation error: `inputs` must have less than "
                    f"{self.max_input_tokens} tokens. Given: {given}"
                )
                if openai:
                    error = {"message": message, "code": self.token_limit_status}
                    return _Scripted(self.token_limit_status, {**error, "type": "Validation"})
                return _Scripted(
                    self.token_limit_status, {"error": message, "error_type": "Validation"}
                )
        return None

    def _embed(self, body: Any, *, key: str, openai: bool) -> _Scripted:
        inputs = body.get(key) if isinstance(body, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(t, str) for t in inputs)
        ):
            message = f"Failed to deserialize the JSON body: `{key}` must be a string or strings"
            return _Scripted(422, {"error": message, "error_type": "Validation"})
        if self.max_batch_size is not None and len(inputs) > self.max_batch_size:
            return _Scripted(413, DEFAULT_ERRORS[413])
        limit = self.info.get("max_client_batch_size") if self.info else None
        if isinstance(limit, int) and len(inputs) > limit:
            message = f"batch size {len(inputs)} > maximum allowed batch size {limit}"
            return _Scripted(413, {"error": message, "error_type": "Validation"})
        if refused := self._too_long(body, inputs, openai):
            return refused
        vectors = [self.vector_for(t, self.dimension) for t in inputs]
        if openai:
            data = [
                {"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)
            ]
            data.reverse()  # clients must sort by index, not trust the order
            return _Scripted(200, {"object": "list", "data": data, "model": "fake"})
        if self.token_level:
            return _Scripted(200, [_tokens(t, v) for t, v in zip(inputs, vectors, strict=True)])
        if self.flat_single and len(vectors) == 1:
            return _Scripted(200, vectors[0])
        return _Scripted(200, vectors)

    def _next_request_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"fake-{self._counter}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake._in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
                try:
                    answer = fake._respond(self.command, self.path, headers, raw)
                    time.sleep(fake.latency_s)  # after recording: a timed-out request still counts
                finally:
                    with fake._lock:
                        fake._in_flight -= 1
                payload = (
                    answer.body
                    if isinstance(answer.body, bytes)
                    else answer.body.encode()
                    if isinstance(answer.body, str)
                    else json.dumps(answer.body).encode()
                )
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-request-id", fake._next_request_id())
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return Handler


def _tokens(text: str, vector: list[float]) -> list[list[float]]:
    """Token vectors for ``text`` (a ragged count per text) whose mean is exactly ``vector``."""
    count = 2 + len(text) % 3
    offsets = [j - (count - 1) / 2 for j in range(count)]  # sum to zero
    return [[x + 0.01 * off * ((k % 7) - 3) for k, x in enumerate(vector)] for off in offsets]
