"""No writes from other sites, no DNS rebinding: the checks a request passes before anything else.

Without an API key (the default) any web page the user opens could POST an upload to
``http://127.0.0.1:8000`` (a multipart form needs no CORS preflight) or submit the delete
form, and a page on a rebinding domain could read everything. ``SameOriginGuard``, a pure-ASGI
middleware that every request meets before the login and the routes (only the
security headers wrap it), refuses both, key or no key:

- **Unsafe methods from another origin.** A browser says where a request comes from: a
  ``Sec-Fetch-Site`` header (every current browser) other than ``same-origin`` or ``none`` (the
  user typed the URL) is refused, and so is ``same-site``, since a page on another port of
  ``localhost`` is same-site; without that header, an ``Origin`` other than the request's own.
  Clients that send neither (the CLI, curl, scripts) are not browsers and pass.
- **A Host the app does not serve.** DNS rebinding points an attacker's name at 127.0.0.1, so
  the browser sends that name as ``Host``; only the names in ``SEMSEARCH_ALLOWED_HOSTS`` pass
  (`semsearch serve` defaults them to the localhost names and the address it binds).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from web.guard import SAFE_METHODS, answer_error

#: ``Sec-Fetch-Site`` values of a request the app's own pages (or the user) made.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


REFUSAL_DESCRIPTION = "a write sent from a page of another site (Sec-Fetch-Site or Origin)"


def default_allowed_hosts(bound: str) -> list[str]:
    """The localhost names, and the address `semsearch serve` binds (unless it is a wildcard,
    which no browser sends as a Host)."""
    hosts = list(LOCAL_HOSTS)
    name = bound.strip().strip("[]").lower()
    if name and name not in ("0.0.0.0", "::") and name not in hosts:
        hosts.append(name)
    return hosts


def host_name(host_header: str) -> str:
    """``example.org:8000`` → ``example.org``; ``[::1]:8000`` → ``::1``; lower-cased."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


class SameOriginGuard:
    """Refuses cross-origin writes (403) and unknown Host headers (421) with the app's JSON
    error. ``allowed_hosts`` empty or holding ``*``: every Host passes (the origin check still
    runs)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        hosts = {host_name(h) for h in allowed_hosts if h.strip()}
        self.allowed_hosts: frozenset[str] | None = (
            None if not hosts or ANY_HOST in hosts else frozenset(hosts)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            await answer_error(
                send,
                421,
                "unknown_host",
                f"this server does not answer for the host {host!r}: add it to "
                "SEMSEARCH_ALLOWED_HOSTS if it is how users reach semsearch",
            )
            return
        if scope["method"] not in SAFE_METHODS and _from_another_origin(scope, headers, host):
            await answer_error(
                send,
                403,
                "cross_origin_refused",
                "a page of another site cannot change anything here: writes are taken only "
                "from semsearch's own pages and from clients that are not browsers",
            )
            return
        await self.app(scope, receive, send)


def declare_refusals(app: FastAPI) -> None:
    """Say in the API's documentation that every write may get this guard's 403 (a request
    whose ``Sec-Fetch-Site`` or ``Origin`` is another site's). Reads are never refused by it,
    so they do not declare it; the guard is middleware, so no route declares it itself."""
    make_schema = app.openapi
    refusal = {
        "description": REFUSAL_DESCRIPTION,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }

    def schema_with_refusals() -> dict[str, Any]:
        schema = make_schema()
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for method, operation in operations.items():
                if method.upper() not in SAFE_METHODS:
                    operation.setdefault("responses", {}).setdefault("403", refusal)
        return schema

    app.openapi = schema_with_refusals  # type: ignore[method-assign]


def navigated_from_another_site(headers: Headers) -> bool:
    """A browser's navigation that another site started (a link or a redirect there): a GET
    the guard lets through, but that should not spend anything on the user's behalf (the search
    page's ``ask=1`` calls a paid model). Only ``Sec-Fetch-Site`` can tell: a navigation sends
    no ``Origin``."""
    site = headers.get("sec-fetch-site")
    return site is not None and site.lower() not in OWN_FETCH_SITES


def _from_another_origin(scope: Scope, headers: Headers, host: str) -> bool:
    if "sec-fetch-site" in headers:
        return navigated_from_another_site(headers)
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser, or a browser too old to say: nothing to go on
    own = f"{scope.get('scheme', 'http')}://{host}".lower()
    return origin.strip().lower() != own
