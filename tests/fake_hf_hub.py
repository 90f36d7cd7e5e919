"""A real HTTP server on 127.0.0.1 standing in for three Hugging Face services at once:

- the Hub's model API: ``GET /api/models/{id}?expand[]=inferenceProviderMapping`` answers
  ``{"_id", "id", "inferenceProviderMapping": ...}`` from ``mappings`` (given in either shape
  the Hub uses: a dict by provider, ``{"together": {"status", "providerId", "task",
  "isModelAuthor"}}``, or a list of ``{"provider", "providerId", "status", "task"}``); an unknown
  model gets 404 ``{"error": "Repository not found"}``, as huggingface_hub sees it;
- the router's provider routes, under ``/router`` (so ``HF_ROUTER_URL = {url}/router``):
  ``POST /router/{provider}/v1/embeddings`` (``/router/deepinfra/v1/openai/embeddings``) with
  ``{"input": [...], "model": providerId}`` answers OpenAI's ``{"object": "list", "data":
  [{"object": "embedding", "index", "embedding"}], "model"}``; a model id the provider does not
  serve gets 400 ``{"error": "Model not supported by provider X"}`` (huggingface.js#2225);
  ``POST /router/hf-inference/models/{id}/pipeline/feature-extraction`` answers ``[n][dim]``;
- the Inference Endpoints API: ``GET /v2/endpoint/{namespace}`` answers ``{"items": [...]}``
  from ``endpoints`` (items shaped as huggingface_hub's test fixtures), 401 ``{"error":
  "Unauthorized"}`` for a namespace it does not know (huggingface_hub treats 401 as "no access").

Every request must carry ``Authorization: Bearer {token}`` (else 401), and is recorded in
``requests`` with its route, headers and body, so a test can assert on what was sent.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_hf import FakeHuggingFace
from tests.fake_hf_wire import RecordedRequest
from tests.loopback import LoopbackServer

_MODEL_INFO = re.compile(r"^/api/models/(?P<model>.+?)/?$")
_OPENAI = re.compile(r"^/router/(?P<provider>[^/]+)/v1(?:/openai)?/embeddings$")
_HF_INFERENCE = re.compile(
    r"^/router/hf-inference/models/(?P<model>.+)/pipeline/feature-extraction$"
)
_ENDPOINTS = re.compile(r"^/v2/endpoint/(?P<namespace>[^/]+)$")


def endpoint_item(
    name: str, url: str | None, repository: str, state: str = "running"
) -> dict[str, Any]:
    """An item of the Endpoints API's list, as huggingface_hub's ``MOCK_RUNNING`` fixture."""
    status: dict[str, Any] = {
        "createdAt": "2026-10-26T12:41:53.263Z",
        "updatedAt": "2026-10-26T12:41:53.263Z",
        "state": state,
        "message": "Endpoint is ready" if state == "running" else state,
        "readyReplica": 1 if state == "running" else 0,
        "targetReplica": 1,
    }
    if url is not None:
        status["url"] = url
    return {
        "name": name,
        "type": "protected",
        "accountId": None,
        "provider": {"vendor": "aws", "region": "us-east-1"},
        "healthRoute": "/health",
        "compute": {"accelerator": "cpu", "instanceType": "intel-icl", "instanceSize": "x2"},
        "model": {
            "repository": repository,
            "revision": "11c5a3d5",
            "task": "sentence-embeddings",
            "framework": "pytorch",
            "image": {"huggingface": {}},
        },
        "status": status,
    }


class FakeHub(LoopbackServer):
    """``mappings``: model id → its ``inferenceProviderMapping`` (dict or list shape).
    ``served``: provider → the provider model ids it embeds. ``endpoints``: namespace → items.
    """

    def __init__(
        self,
        *,
        token: str = "hf_test",
        mappings: dict[str, Any] | None = None,
        served: dict[str, set[str]] | None = None,
        endpoints: dict[str, list[dict[str, Any]]] | None = None,
        dimension: int = 384,
    ) -> None:
        self.token = token
        self.mappings = dict(mappings or {})
        self.served = {provider: set(ids) for provider, ids in (served or {}).items()}
        self.endpoints = dict(endpoints or {})
        self.dimension = dimension
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        super().__init__(name="fake-hf-hub")

    @property
    def router_url(self) -> str:
        return f"{self.url}/router"

    @property
    def endpoints_api_url(self) -> str:
        return f"{self.url}/v2"

    def routes(self, method: str | None = None) -> list[str]:
        """The paths asked for, in order (query strings kept)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    # -- answering --------------------------------------------------------------------------

    def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Any:
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        parts = urlsplit(path)
        route = unquote(parts.path)
        if method == "GET" and (match := _MODEL_INFO.match(route)):
            return self._model_info(match.group("model"), parse_qs(parts.query))
        if method == "GET" and (match := _ENDPOINTS.match(route)):
            items = self.endpoints.get(match.group("namespace"))
            if items is None:
                return 401, {"error": "Unauthorized"}
            return 200, {"items": items}
        if method == "POST" and (match := _HF_INFERENCE.match(route)):
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if match.group("model") not in self.served.get("hf-inference", set()):
                return 404, "Not Found"
            return 200, [self._vector(t) for t in inputs or []]
        if method == "POST" and (match := _OPENAI.match(route)):
            return self._openai(match.group("provider"), route, body)
        return 404, {"error": "Not Found"}

    def _model_info(self, model: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if model not in self.mappings:
            return 404, {"error": "Repository not found"}
        answer: dict[str, Any] = {"_id": "6650e0c2", "id": model}
        if "inferenceProviderMapping" in query.get("expand[]", []):
            answer["inferenceProviderMapping"] = self.mappings[model]
        return 200, answer

    def _openai(self, provider: str, route: str, body: Any) -> tuple[int, Any]:
        wants_openai_prefix = provider == "deepinfra"
        if route.endswith("/v1/openai/embeddings") != wants_openai_prefix:
            return 404, {"error": "Not Found"}
        model = body.get("model") if isinstance(body, dict) else None
        inputs = body.get("input") if isinstance(body, dict) else None
        if model not in self.served.get(provider, set()):
            return 400, {"error": f"Model not supported by provider {provider}"}
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return 422, {"error": "input must be a list of strings"}
        data = [
            {"object": "embedding", "index": i, "embedding": self._vector(text)}
            for i, text in enumerate(inputs)
        ]
        return 200, {"object": "list", "data": data, "model": model}

    def _vector(self, text: str) -> list[float]:
        return FakeHuggingFace.vector_for(text, self.dimension)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = fake._respond(self.command, self.path, headers, raw)
                payload = (
                    answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return Handler
