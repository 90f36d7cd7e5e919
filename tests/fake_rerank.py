"""A loopback fake of a reranking server: text-embeddings-inference (TEI) serving a cross-encoder,
and a Cohere/Jina-style ``/v1/rerank``, speaking their exact wire formats over real HTTP.

No cross-encoder's weights can be installed here, so this stands in for the model's server: the
reranker code under test runs unchanged, over real sockets, against it. Routes:

- ``POST /rerank`` (and ``POST /``, as an Inference Endpoint's root answers for a cross-encoder):
  TEI's ``{"query", "texts", "truncate", "raw_scores", "return_text"}`` → ``[{"index",
  "score"}]`` sorted by score, highest first (``router/src/http/server.rs``, ``rerank``). Empty
  ``texts`` is 400 ``{"error": "`texts` cannot be empty", "error_type": "Empty"}``; more than
  ``max_client_batch_size`` texts is TEI's ``batch size N > maximum allowed batch size M``
  (``Validation``, status ``batch_limit_status``: 422 since TEI 1.9, 413 before); a server whose
  ``model_type`` is not ``reranker`` answers 424 ``model is not a re-ranker model``
  (``Backend``).
- ``POST /v1/rerank``: Cohere's and Jina's ``{"model", "query", "documents", "top_n"}`` →
  ``{"results": [{"index", "relevance_score"}], ...}``.
- ``GET /info``: TEI's info, with ``model_type: {"reranker": {...}}``; 404 when ``info`` is off.

Scores are deterministic (:meth:`FakeRerankServer.score`: the share of the query's words in the
text), so a test knows the order a working reranker must produce. Scripting: ``fail_next(status,
body)`` answers the next POST so; ``delay_s`` holds every POST that long; ``answer`` replaces
the next successful answer's body (a malformed one); ``token``, when set, must be the bearer.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

_WORDS = re.compile(r"\w+")


@dataclass
class RerankCall:
    path: str
    json: Any
    headers: dict[str, str]


class FakeRerankServer(LoopbackServer):
    def __init__(self, *, token: str = "", model_id: str = "BAAI/bge-reranker-base") -> None:
        self.token = token
        self.model_id = model_id
        self.model_type = "reranker"
        self.max_client_batch_size = 32
        self.batch_limit_status = 422
        self.info = True
        self.delay_s = 0.0
        self.requests: list[RerankCall] = []
        self.info_requests = 0
        self._scripted: deque[tuple[int, object]] = deque()
        self._answers: deque[object] = deque()
        self._lock = threading.Lock()
        super().__init__(name="fake-rerank")

    # -- scripting --------------------------------------------------------------------------

    def fail_next(self, status: int, body: object = None, times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._scripted.append((status, body if body is not None else {"error": "boom"}))

    def answer_next(self, body: object) -> None:
        with self._lock:
            self._answers.append(body)

    @staticmethod
    def score(query: str, text: str) -> float:
        """The share of the query's distinct words that the text holds (0..1)."""
        wanted = {w.lower() for w in _WORDS.findall(query)}
        have = {w.lower() for w in _WORDS.findall(text)}
        return round(len(wanted & have) / len(wanted), 6) if wanted else 0.0

    def info_body(self) -> dict[str, object]:
        kind: dict[str, object] = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
        return {
            "model_id": self.model_id,
            "model_sha": "0123abcd",
            "model_dtype": "float16",
            "served_model_name": self.model_id,
            "model_type": {self.model_type: kind if self.model_type != "embedding" else {}},
            "max_concurrent_requests": 512,
            "max_input_length": 512,
            "max_batch_tokens": 16384,
            "max_batch_requests": None,
            "max_client_batch_size": self.max_client_batch_size,
            "auto_truncate": False,
            "tokenization_workers": 4,
            "version": "1.9.3",
            "sha": None,
            "docker_label": None,
        }

    # -- the server -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, each answer would wait
                # for the client's delayed ACK (about 40 ms), which a real TEI does not.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/info":
                    fake.info_requests += 1
                    if fake.info:
                        self._send(200, fake.info_body())
                        return
                self._send(404, {"error": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(RerankCall(self.path, body, headers))
                    scripted = fake._scripted.popleft() if fake._scripted else None
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if fake.token and headers.get("authorization") != f"Bearer {fake.token}":
                    self._send(401, {"error": "Authorization header is incorrect"})
                    return
                if scripted is not None:
                    self._send(*scripted)
                    return
                if self.path == "/v1/rerank":
                    self._cohere(body)
                elif self.path in ("/rerank", "/"):
                    self._tei(body)
                else:
                    self._send(404, {"error": "Not Found"})

            def _tei(self, body: Any) -> None:
                if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
                    self._send(422, {"error": "Failed to deserialize the JSON body"})
                    return
                texts = body["texts"]
                if not texts:
                    self._send(400, {"error": "`texts` cannot be empty", "error_type": "Empty"})
                    return
                if fake.model_type != "reranker":
                    self._send(
                        424, {"error": "model is not a re-ranker model", "error_type": "Backend"}
                    )
                    return
                if len(texts) > fake.max_client_batch_size:
                    message = (
                        f"batch size {len(texts)} > maximum allowed batch size "
                        f"{fake.max_client_batch_size}"
                    )
                    self._send(
                        fake.batch_limit_status, {"error": message, "error_type": "Validation"}
                    )
                    return
                ranks = [
                    {"index": i, "score": fake.score(body["query"], text)}
                    for i, text in enumerate(texts)
                ]
                ranks.sort(key=lambda r: -r["score"])
                self._send(200, fake._answer_or(ranks))

            def _cohere(self, body: Any) -> None:
                documents = body.get("documents") if isinstance(body, dict) else None
                if not isinstance(documents, list) or not body.get("model"):
                    self._send(400, {"message": "invalid request: model and documents required"})
                    return
                results = [
                    {"index": i, "relevance_score": fake.score(body["query"], text)}
                    for i, text in enumerate(documents)
                ]
                results.sort(key=lambda r: -r["relevance_score"])
                top_n = body.get("top_n") or len(results)
                answer = {"id": "fake", "results": results[:top_n], "meta": {"api_version": {}}}
                self._send(200, fake._answer_or(answer))

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                # The client may have given up waiting (a timeout under test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler

    def _answer_or(self, body: object) -> object:
        with self._lock:
            return self._answers.popleft() if self._answers else body

    def texts_sent(self) -> list[list[str]]:
        """The texts (or documents) of each POST, in order."""
        out = []
        for call in self.requests:
            body = call.json if isinstance(call.json, dict) else {}
            out.append(list(body.get("texts") or body.get("documents") or []))
        return out
