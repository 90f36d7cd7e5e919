"""The pages' login when SEMSEARCH_API_KEY is set: a signed session cookie and CSRF tokens.

Why stateless and stdlib only: the app has no user table and no session store, and one shared
key is the only credential. Typing the key into ``/login`` earns a cookie
``<session id>.<issued>.<HMAC-SHA256>`` signed with a key derived from SEMSEARCH_API_KEY, so
sessions survive a restart and all end when the key changes. The cookie is HttpOnly,
SameSite=Strict, ``Path=/``, and Secure when the request came over https (the scheme, or
``X-Forwarded-Proto: https`` from a proxy): on plain-http loopback a Secure cookie would never
be sent back, so it is left off there. Logging out clears the cookie; a copied cookie stays
valid until it expires (``SESSION_SECONDS``), as there is no server-side list to revoke it from.

CSRF: each session has a token (an HMAC of its id with a different purpose), rendered into every
POST form (``csrf_field()``, ``web.templating``) and sent by the pages' JavaScript as
``X-CSRF-Token`` (from ``<meta name="csrf-token">``). The login form itself is protected by a
double-submit token (a cookie and a hidden field that must match).

``LoginGate`` enforces it before any route runs: pages redirect to ``/login?next=…``; ``/api``
takes the Bearer key (scripts) or a session (the pages' JavaScript; the CSRF header on unsafe
methods), and vouches for a session to the key checks with ``web.guard.SESSION_PROOF_HEADER``.
Without a key nothing here changes anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from http.cookies import SimpleCookie
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from web.deps import LoginThrottleDep, SettingsDep
from web.guard import (
    SAFE_METHODS,
    SESSION_PROOF,
    SESSION_PROOF_HEADER,
    answer_error,
    is_api_path,
    is_static_path,
    root_prefix,
    route_path,
)
from web.templating import CSRF_SCOPE_KEY, templates

SESSION_COOKIE = "semsearch_session"
LOGIN_COOKIE = "semsearch_login"
CSRF_HEADER = "x-csrf-token"
#: How long a login lasts: a working day, then the key is asked for again.
SESSION_SECONDS = 12 * 3600
#: How long a login form may stay open before it must be reloaded.
LOGIN_FORM_SECONDS = 3600
#: Pages reachable without a session: the login itself, the assets, the API's documentation.
OPEN_PATHS = frozenset(
    {"/login", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/favicon.ico"}
)
CSRF_MESSAGE = "missing or wrong CSRF token: reload the page and try again"


class SessionSigner:
    """Issues and checks session cookies and their CSRF tokens for one API key."""

    def __init__(self, api_key: str) -> None:
        # Derived, so the key itself never signs anything a browser holds.
        self._key = hmac.new(api_key.encode(), b"semsearch session v1", hashlib.sha256).digest()

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        """A new session's cookie value."""
        session_id = secrets.token_urlsafe(18)  # letters, digits, - and _: never a dot
        issued = str(int(time.time() if now is None else now))
        return f"{session_id}.{issued}.{self._mac('session', session_id, issued)}"

    def verify(self, value: str, now: float | None = None) -> str | None:
        """The session id of a genuine, unexpired cookie value; None for anything else."""
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        session_id, issued, mac = parts
        if not hmac.compare_digest(mac.encode(), self._mac("session", session_id, issued).encode()):
            return None
        age = (time.time() if now is None else now) - int(issued)
        return session_id if -60 <= age <= SESSION_SECONDS else None

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf", session_id)


def safe_next(value: str) -> str:
    """Where to go after logging in: only a path of this site, never another site (``//host``,
    ``https://…``, ``/\\host``), so ``/login?next=`` is no open redirect."""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    return value


def is_https(scope: Scope, headers: Headers) -> bool:
    """True when the browser reached us over https, directly or through a proxy that says so."""
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def _cookie(headers: Headers, name: str) -> str:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session
        return ""
    morsel = cookies.get(name)
    return morsel.value if morsel is not None else ""


class LoginGate:
    """Pure-ASGI middleware in front of ``web.guard.RequestGuard``: reads no body, so the guard's
    streaming limits still apply to everything it lets through."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.signer = SessionSigner(api_key) if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.signer is None:
            await self.app(scope, receive, send)
            return
        proof_name = SESSION_PROOF_HEADER.encode()
        raw = [(k, v) for k, v in scope["headers"] if k.lower() != proof_name]  # never forged
        scope = {**scope, "headers": raw}
        headers = Headers(scope=scope)
        path = route_path(scope)
        session_id = self.signer.verify(_cookie(headers, SESSION_COOKIE))
        token = self.signer.csrf_token(session_id) if session_id else ""
        if token:
            scope[CSRF_SCOPE_KEY] = token
        if is_api_path(path):
            if token:
                given = headers.get(CSRF_HEADER, "")
                if scope["method"] in SAFE_METHODS or hmac.compare_digest(
                    given.encode(), token.encode()
                ):
                    # Headers(scope=…) above replaced scope["headers"] with a copy: extend it.
                    scope["headers"] = [*scope["headers"], (proof_name, SESSION_PROOF.encode())]
                elif "authorization" not in headers:
                    await answer_error(send, 403, "csrf_failed", CSRF_MESSAGE)
                    return
            # Neither: web.guard answers 401 unless the Bearer key is there.
        elif not token and path not in OPEN_PATHS and not is_static_path(path):
            await _to_login(scope, send, path)
            return
        await self.app(scope, receive, send)


async def _to_login(scope: Scope, send: Send, path: str) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    wanted = path + ("?" + query if query else "")
    location = f"{root_prefix(scope)}/login?{urlencode({'next': wanted})}".encode()
    headers = [(b"location", location), (b"content-length", b"0"), (b"cache-control", b"no-store")]
    if scope["method"] not in SAFE_METHODS:
        headers.append((b"connection", b"close"))  # its body is never read
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def require_csrf(
    request: Request, settings: SettingsDep, csrf_token: Annotated[str, Form()] = ""
) -> None:
    """Every page POST route depends on this: with a key set, the form's ``csrf_token`` (or the
    ``X-CSRF-Token`` header) must be the session's token. Without a key it checks nothing."""
    if not settings.api_key.get_secret_value():
        return
    expected = str(request.scope.get(CSRF_SCOPE_KEY, ""))
    given = csrf_token or request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail=CSRF_MESSAGE)


router = APIRouter(include_in_schema=False)


def _set_cookie(response: Response, request: Request, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        secure=is_https(request.scope, request.headers),
        httponly=True,
        samesite="strict",
    )


def _login_page(
    request: Request, next_path: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The form, with a double-submit token in a cookie and in the form. An existing token is
    kept: any other request that lands here (a favicon, a second tab) must not overwrite the
    cookie of a form already on screen."""
    existing = _cookie(request.headers, LOGIN_COOKIE)
    form_token = existing if 24 <= len(existing) <= 64 else secrets.token_urlsafe(24)
    context = {"page": "login", "next": next_path, "login_token": form_token, "error": error}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status_code)
    _set_cookie(response, request, LOGIN_COOKIE, form_token, LOGIN_FORM_SECONDS)
    response.headers["cache-control"] = "no-store"
    return response


def _go(request: Request, target: str) -> RedirectResponse:
    return RedirectResponse(root_prefix(request.scope) + safe_next(target), status_code=303)


@router.get("/login", response_model=None)
def login_page(
    request: Request, settings: SettingsDep, next: str = "/"
) -> HTMLResponse | RedirectResponse:
    """Without a key, or already logged in, there is nothing to ask: go on to ``next``."""
    if not settings.api_key.get_secret_value() or CSRF_SCOPE_KEY in request.scope:
        return _go(request, next)
    return _login_page(request, safe_next(next))


@router.post("/login", response_model=None)
def login(
    request: Request,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
    key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    login_token: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """Right key: a session cookie and back to the page asked for. Wrong key, or a form not
    loaded from here (no matching login cookie): the form again with why, and no session."""
    expected = settings.api_key.get_secret_value()
    if not expected:
        return _go(request, next)
    cookie = _cookie(request.headers, LOGIN_COOKIE)
    if not cookie or not hmac.compare_digest(cookie.encode(), login_token.encode()):
        return _login_page(request, safe_next(next), "The login form expired; try again.", 403)
    client = request.client.host if request.client else "unknown"
    wait = throttle.wait(client)
    if wait:
        page = _login_page(
            request, safe_next(next), f"Too many wrong keys: try again in {wait} s.", 429
        )
        page.headers["Retry-After"] = str(wait)
        return page
    if not hmac.compare_digest(key.encode(), expected.encode()):
        throttle.failed(client)
        return _login_page(request, safe_next(next), "That is not the key.", 401)
    throttle.succeeded(client)
    response = _go(request, next)
    _set_cookie(response, request, SESSION_COOKIE, SessionSigner(expected).issue(), SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> RedirectResponse:
    """Clears the session cookie (the gate already asked for a session, this for its token)."""
    response = RedirectResponse(root_prefix(request.scope) + "/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=is_https(request.scope, request.headers),
        httponly=True,
        samesite="strict",
    )
    return response
