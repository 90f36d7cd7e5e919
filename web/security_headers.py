"""Headers every response carries, so a page of semsearch cannot be framed, injected or cached.

- ``Content-Security-Policy: default-src 'self'; frame-ancestors 'none'``: the pages run only the
  app's own scripts and styles (they have no inline ones), and no other site can frame them to
  trick a click. A route that sets its own policy keeps it (an uploaded HTML original is served
  sandboxed, ``web.routers.documents``), and the other originals get none: a PDF must open in
  the browser's own viewer. The OpenAPI page (``/docs``) sets a policy of its own that also
  admits its inline script by its hash and ``data:`` images (``web.api_docs``).
- ``Cache-Control: no-store``: documents, snippets and results are the user's; neither a
  shared cache nor the browser's back-forward cache keeps them (the static assets keep their
  own caching).
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.guard import is_static_path, route_path

CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'"
_ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the headers above to each response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)  # behind --root-path, /search/static/… is /static/…
        static = is_static_path(path)
        policed = not _is_original(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                if policed:
                    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_original(path: str) -> bool:
    """``/api/documents/{id}/file``: an uploaded file, served with headers of its own."""
    return path.startswith("/api/documents/") and path.endswith("/file")
