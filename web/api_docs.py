"""The OpenAPI page ``/docs`` (Swagger UI), its script and styles served by the app itself.

Why not FastAPI's own page: it loads Swagger UI from a CDN, which runs another party's script
on this origin, beside the session cookie, and leaves the page blank without a network. The
package ``fastapi-offline`` ships Swagger UI's build; its folder is served under
``/static/api-docs/``, so the assets are open without a login and cached like the app's other
static files (``web.login``, ``web.security_headers``).

There is no ``/redoc``: ReDoc's bundle (the package ships it too) always shows Redocly's logo
from Redocly's CDN, and one UI is enough.

Each page sets its own Content-Security-Policy (``web.security_headers`` keeps a route's own):
the app's default plus the sha256 of the page's inline script (Swagger's initialiser names the
OpenAPI URL under the request's root path, so it is hashed from the HTML generated for each
request rather than written down here) and ``data:`` images (Swagger's icons in its CSS).
Inline styles are not needed: Swagger UI sets styles through the DOM, which CSP allows.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from web.guard import root_prefix
from web.security_headers import CONTENT_SECURITY_POLICY

#: Where Swagger UI's files are served; under /static/, see above.
ASSETS_PATH = "/static/api-docs"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
#: An inline script: a ``<script>`` tag without attributes (those with ``src`` load a file).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install_api_docs(app: FastAPI) -> None:
    """Adds the assets and the two pages to an app created with ``docs_url=None`` and
    ``redoc_url=None``. Call it before ``/static`` is mounted: the first mount that matches
    a path serves it, and ``/static`` would answer 404 for ``/static/api-docs/…``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api-docs")
    app.add_api_route(DOCS_PATH, swagger_page, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_PATH, oauth2_redirect_page, include_in_schema=False)


def swagger_page(request: Request) -> HTMLResponse:
    """FastAPI's Swagger UI page, its assets from ``ASSETS_PATH``."""
    root = root_prefix(request.scope)
    app: FastAPI = request.app
    page = get_swagger_ui_html(
        openapi_url=root + (app.openapi_url or ""),
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )
    return _with_policy(page)


def oauth2_redirect_page() -> HTMLResponse:
    """Where an OAuth2 login of Swagger UI returns to, as FastAPI serves it."""
    return _with_policy(get_swagger_ui_oauth2_redirect_html())


def content_security_policy(html: str) -> str:
    """The app's policy for one of these pages, its inline scripts allowed by their hashes."""
    hashes = "".join(f" 'sha256-{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(html))
    return f"{CONTENT_SECURITY_POLICY}; script-src 'self'{hashes}; img-src 'self' data:"


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = content_security_policy(bytes(page.body).decode())
    return page


def _sha256(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
