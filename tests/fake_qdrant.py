"""A Qdrant server stand-in: a real HTTP server on 127.0.0.1 that speaks Qdrant's REST API for
the calls semsearch makes, so that several `semsearch serve` and `semsearch worker` processes
can share one store as they would share a Qdrant server (none can run here).

Each request body is parsed with qdrant-client's own REST models and carried out by
qdrant-client's local mode (the pure-Python engine behind ``QDRANT_URL=:memory:``); answers
are Qdrant's envelope, ``{"result": ..., "status": "ok", "time": ...}``, and its error shape,
``{"status": {"error": ...}}``. Every request is recorded (method, path, query, body) so that a
test can check what reached the wire, cluster parameters included.

What it does not do: clustering (one local engine answers for every "node"), gRPC, and the
calls the product never makes.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel
from qdrant_client import QdrantClient, models

from tests.loopback import LoopbackServer

VERSION = "1.19.0"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


class QdrantError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Route = Callable[["FakeQdrant", str, dict[str, str], Any], Any]
_ROUTES: list[tuple[str, re.Pattern[str], Route]] = []


def route(method: str, pattern: str) -> Callable[[Route], Route]:
    def register(handler: Route) -> Route:
        _ROUTES.append((method, re.compile(f"^{pattern}$"), handler))
        return handler

    return register


class FakeQdrant(LoopbackServer):
    """Start it, point ``QDRANT_URL`` at ``url``; ``requests`` lists what arrived."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.engine = QdrantClient(location=":memory:")
        self.lock = threading.Lock()  # local mode is not thread-safe
        # A test sets ``stall_when``: the first request it matches is carried out, then its
        # answer is held back (``stalled`` set) until ``release`` is set, as a server that
        # stops answering mid-write, or a client killed while it waits.
        self.stall_when: Callable[[Recorded], bool] | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        super().__init__(name="fake-qdrant")

    def recorded(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def collection(self, name: str) -> str:
        if not self.engine.collection_exists(name):
            raise QdrantError(404, f"Not found: Collection `{name}` doesn't exist!")
        return name

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                started = time.perf_counter()
                parts = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                recorded = Recorded(self.command, parts.path, query, body)
                fake.requests.append(recorded)
                if parts.path == "/":  # the version check: Qdrant answers it unwrapped
                    self._send(200, {"title": "qdrant - vector search engine", "version": VERSION})
                    return
                try:
                    if fake.api_key and self.headers.get("api-key") != fake.api_key:
                        raise QdrantError(401, "Must provide an API key or a bearer token")
                    result = fake.dispatch(self.command, parts.path, query, body)
                except QdrantError as error:
                    self._send(error.status, {"status": {"error": str(error)}, "time": 0.0})
                    return
                elapsed = time.perf_counter() - started
                if fake.stall_when is not None and fake.stall_when(recorded):
                    fake.stall_when = None
                    fake.stalled.set()
                    fake.release.wait(timeout=300)
                # A client killed while it waited has closed its end.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(200, {"result": _jsonable(result), "status": "ok", "time": elapsed})

            def _send(self, status: int, document: dict[str, Any]) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

        return Handler

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        for wanted, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if match and wanted == method:
                with self.lock, warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # local mode's "no effect" notes
                    return handler(self, *match.groups(), query, body)  # type: ignore[call-arg]
        raise QdrantError(404, f"{method} {path} is not a route this stand-in serves")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _selected(request: Any, *, payload: bool) -> dict[str, Any]:
    """``with_payload`` and ``with_vectors`` as Qdrant defaults them when a request leaves them
    out (payloads by default for retrieve and scroll, not for queries; never vectors)."""
    return {
        "with_payload": payload if request.with_payload is None else request.with_payload,
        "with_vectors": False if request.with_vector is None else request.with_vector,
    }


@route("GET", "/collections/([^/]+)/exists")
def _exists(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    return {"exists": fake.engine.collection_exists(name)}


@route("PUT", "/collections/([^/]+)")
def _create(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.CreateCollection.model_validate(body)
    if fake.engine.collection_exists(name):
        raise QdrantError(409, f"Wrong input: Collection `{name}` already exists!")
    fake.engine.create_collection(
        name,
        vectors_config=request.vectors,
        sparse_vectors_config=request.sparse_vectors,
    )
    return True


@route("GET", "/collections/([^/]+)")
def _info(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    return fake.engine.get_collection(fake.collection(name))


@route("PUT", "/collections/([^/]+)/index")
def _index(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.CreateFieldIndex.model_validate(body)
    return fake.engine.create_payload_index(
        fake.collection(name), request.field_name, request.field_schema
    )


@route("PUT", "/collections/([^/]+)/points")
def _upsert(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.PointsList.model_validate(body)
    return fake.engine.upsert(fake.collection(name), points=request.points)


@route("POST", "/collections/([^/]+)/points/delete")
def _delete(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    selector = models.FilterSelector.model_validate(body)
    return fake.engine.delete(fake.collection(name), points_selector=selector)


@route("POST", "/collections/([^/]+)/points/payload")
def _set_payload(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.SetPayload.model_validate(body)
    return fake.engine.set_payload(
        fake.collection(name), payload=request.payload, points=request.filter or request.points
    )


@route("POST", "/collections/([^/]+)/points")
def _retrieve(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.PointRequest.model_validate(body)
    return fake.engine.retrieve(
        fake.collection(name),
        ids=request.ids,
        **_selected(request, payload=True),
    )


@route("POST", "/collections/([^/]+)/points/scroll")
def _scroll(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.ScrollRequest.model_validate(body)
    points, offset = fake.engine.scroll(
        fake.collection(name),
        scroll_filter=request.filter,
        limit=request.limit or 10,
        offset=request.offset,
        **_selected(request, payload=True),
    )
    return models.ScrollResult(points=points, next_page_offset=offset)


@route("POST", "/collections/([^/]+)/points/count")
def _count(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.CountRequest.model_validate(body or {})
    return fake.engine.count(fake.collection(name), count_filter=request.filter, exact=True)


@route("POST", "/collections/([^/]+)/points/query")
def _query(fake: FakeQdrant, name: str, query: dict[str, str], body: Any) -> Any:
    request = models.QueryRequest.model_validate(body)
    return fake.engine.query_points(
        fake.collection(name),
        query=request.query,
        using=request.using,
        query_filter=request.filter,
        limit=request.limit or 10,
        offset=request.offset,
        **_selected(request, payload=False),
    )
