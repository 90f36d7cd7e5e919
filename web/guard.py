"""A pure-ASGI guard in front of every route: the API key, and request-size limits while streaming.

Why here and not in the routes: FastAPI reads (and spools) a request's whole multipart body
before the route's dependencies run, so a route can only refuse a 5 GB upload, or one of
10,000 files, or one without the API key, after it has been received in full. This middleware
sees each chunk as it arrives and answers at once:

- ``/api/*`` without ``Authorization: Bearer <SEMSEARCH_API_KEY>`` (when set): 401, before any
  of the body is read. ``/api/health`` stays open; it shows details only to a caller with the
  key (``web.routers.status``).
- A ``Content-Length`` over the limit: 413 before reading anything.
- A body that streams past the limit (chunked, or a lying ``Content-Length``): 413 as soon as
  the byte that crosses it arrives; the rest is never read.
- A multipart upload with more than ``max_files`` files: 413 ``too_many_files`` as soon as the
  headers of the file one too many arrive (counted with python-multipart, as Starlette counts).

Every refusal has the app's one JSON error shape (``web.errors``) and ``Connection: close``, so
the server drops the connection instead of draining the unread body.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import error_body

#: Routes that take files: their bodies may be as large as ``Limits.upload_request_bytes``.
#: Methods that change nothing: no CSRF token and no same-origin check for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UPLOAD_PATHS = frozenset({"/api/documents", "/api/documents/preview", "/upload"})
#: /api routes that answer without the key (they reveal nothing without it).
OPEN_API_PATHS = frozenset({"/api/health"})
#: Any other route's body (a JSON search, a small form) is refused above this.
SMALL_BODY_BYTES = 1024 * 1024
#: Room for the multipart framing (part headers, boundaries) and the form's text fields.
MULTIPART_ALLOWANCE_BYTES = 1024 * 1024

#: The largest request line and headers the server takes (uvicorn's h11 default is 16 KiB): a
#: GET search with every filter the OpenAPI document allows fits (``web.routers.search``).
#: ``web.http_server`` enforces it with httptools (and passes it to h11, for ``--http h11``).
MAX_REQUEST_HEAD_BYTES = 2 * 1024 * 1024

#: Set by ``web.login.LoginGate`` on an /api request from a logged-in page (a valid session
#: cookie, and the CSRF header on unsafe methods), so the key checks here and in ``web.deps``
#: let it through without the page's JavaScript ever holding the key. The value is random per
#: process and the gate strips the header from every incoming request: no client can forge it.
SESSION_PROOF_HEADER = "x-semsearch-session-proof"
SESSION_PROOF = secrets.token_urlsafe(32)

API_KEY_MESSAGE = "this API needs the SEMSEARCH_API_KEY key: send 'Authorization: Bearer <key>'"


@dataclass(frozen=True)
class Limits:
    """What the guard enforces; built from the settings by ``web.app``."""

    api_key: str
    upload_request_bytes: int
    max_files: int
    small_body_bytes: int = SMALL_BODY_BYTES


def has_api_key(headers: Headers, expected: str) -> bool:
    """True when no key is configured, the request carries it as a Bearer token, or the login
    gate vouched for the request's session (``SESSION_PROOF_HEADER``)."""
    if not expected:
        return True
    proof = headers.get(SESSION_PROOF_HEADER, "")
    if proof and secrets.compare_digest(proof.encode(), SESSION_PROOF.encode()):
        return True
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode(), expected.encode()
    )


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class _Refused(Exception):
    """The body broke a limit; carries the answer to give."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _FileCounter:
    """Counts the file parts of a multipart body as it streams (a part whose
    Content-Disposition has a ``filename``, which is what Starlette counts as a file)."""

    def __init__(self, boundary: bytes, max_files: int) -> None:
        self.files = 0
        self.max_files = max_files
        self._name = bytearray()
        self._value = bytearray()
        self._disposition = b""
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_header_field": self._on_field,
                "on_header_value": self._on_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        if bytes(self._name).lower() == b"content-disposition":
            self._disposition = bytes(self._value)
        self._name.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._disposition = b""
        if b"filename" in options:
            self.files += 1
            if self.files > self.max_files:
                raise _Refused(413, "too_many_files", f"at most {self.max_files} files per request")

    def feed(self, chunk: bytes) -> None:
        self._parser.write(chunk)


def _file_counter(headers: Headers, max_files: int) -> _FileCounter | None:
    content_type, options = parse_options_header(headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        return None  # not multipart: the route's own parsing refuses it
    return _FileCounter(boundary, max_files)


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


async def answer_error(send: Send, status: int, code: str, message: str, **headers: str) -> None:
    """The app's JSON error, sent from middleware that has not read the body, so it closes the
    connection (``Connection: close``) rather than leave unread bytes on it."""
    body = json.dumps(error_body(status, code, message)).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((name.encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def route_path(scope: Scope) -> str:
    """The path the routes see: behind a proxy prefix (``--root-path /search``) the scope's
    path may start with the root path, and ``/search/api/…`` must be guarded as ``/api/…``."""
    path: str = scope["path"]
    root = root_prefix(scope)
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def root_prefix(scope: Scope) -> str:
    """The proxy prefix the app is served under (``--root-path``), without its last slash: what
    links and redirects put in front of a route path."""
    return str(scope.get("root_path", "")).rstrip("/")


def is_static_path(path: str) -> bool:
    """``/static/…`` (a route path): the app's assets, open without a login and cached."""
    return path.startswith("/static/")


def _too_large(limit: int, upload: bool = True) -> _Refused:
    advice = (
        "upload fewer or smaller files per request (SEMSEARCH_MAX_UPLOAD_MB, "
        "SEMSEARCH_MAX_REQUEST_MB)"
        if upload
        else "only uploads may be larger"
    )
    return _Refused(413, "request_too_large", f"the request body is over {limit:,} bytes; {advice}")


class RequestGuard:
    """The middleware; ``web.app`` adds it outermost but for Starlette's error middleware."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = route_path(scope)
        if (
            is_api_path(path)
            and path not in OPEN_API_PATHS
            and not has_api_key(headers, self.limits.api_key)
        ):
            await answer_error(
                send, 401, "unauthorized", API_KEY_MESSAGE, **{"www-authenticate": "Bearer"}
            )
            return
        upload = path in UPLOAD_PATHS
        limit = self.limits.upload_request_bytes if upload else self.limits.small_body_bytes
        length = _content_length(headers)
        if length is not None and length > limit:
            refusal = _too_large(limit, upload)
            await answer_error(send, refusal.status, refusal.code, refusal.message)
            return
        counter = _file_counter(headers, self.limits.max_files) if upload else None
        await _GuardedCall(self.app, limit, counter, upload)(scope, receive, send)


class _GuardedCall:
    """One request: counts the bytes (and files) the app receives; on a refusal answers itself
    and tells the app the client has gone, dropping whatever the app then tries to send."""

    def __init__(
        self, app: ASGIApp, limit: int, counter: _FileCounter | None, upload: bool
    ) -> None:
        self.app = app
        self.limit = limit
        self.counter = counter
        self.upload = upload
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def guarded_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            try:
                self._check(message.get("body", b""))
            except _Refused as refusal:
                self.refused = True
                if not self.started:
                    self.started = True
                    await answer_error(send, refusal.status, refusal.code, refusal.message)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return  # the refusal has been sent; the app's answer to "disconnect" is dropped
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)

    def _check(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            raise _too_large(self.limit, self.upload)
        if self.counter is not None and chunk:
            try:
                self.counter.feed(chunk)
            except _Refused:
                raise
            except Exception:
                # A malformed body: stop counting and let the route's parser say what is wrong.
                self.counter = None
