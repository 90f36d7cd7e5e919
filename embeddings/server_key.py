"""The optional bearer key of ``semsearch embeddings serve``.

A served provider spends its owner's resources for whoever reaches it: the local model's CPU, or,
when it proxies a remote provider, the owner's ``HF_TOKEN``. With a key set, every route but the
probes (``GET /health``, ``/ping``) answers 401 unless the request carries
``Authorization: Bearer <key>``, as TEI's ``--api-key`` does; clients send the key the way the
``endpoint`` provider sends its token (``HF_TOKEN`` on the client).
"""

from __future__ import annotations

import hmac
import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health", "/ping"})


class BearerKey:
    """Pure-ASGI: the key is checked before any body is read."""

    def __init__(self, app: ASGIApp, *, key: str) -> None:
        self.app = app
        self._expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] in ("GET", "HEAD") and scope["path"] in OPEN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("authorization", "").encode()
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": "a valid 'Authorization: Bearer <key>' is required",
                "error_type": "Unauthorized",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
