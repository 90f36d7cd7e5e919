"""The pages' login with SEMSEARCH_API_KEY set (``web.login``), through the real app.

One app (real store, the session's model) per module; each test gets its own ``TestClient`` on
it, so each starts with an empty cookie jar, as a new browser would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.apphelpers import assert_error_shape, wait_for_job
from web.app import create_app
from web.login import SESSION_COOKIE, SESSION_SECONDS, SessionSigner
from web.settings import Settings

KEY = "login-test-key-4b1d9e"
PAGES = ["/", "/upload", "/documents", "/clusters", "/settings", "/similar?point=x"]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[FastAPI]:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("login") / "data", SEMSEARCH_API_KEY=KEY
    )
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with TestClient(app):  # runs the lifespan: the services stay open for the module
        yield app


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    """A client with its own, empty cookie jar that does not follow redirects."""
    return TestClient(app, follow_redirects=False)


def login_form(client: TestClient, next_path: str = "/") -> str:
    """GET /login; the form's double-submit token."""
    page = client.get("/login", params={"next": next_path})
    assert page.status_code == 200, page.text
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: TestClient, next_path: str = "/", key: str = KEY) -> Any:
    """POST /login from a freshly loaded form; the response (httpx or httpx2, per Starlette)."""
    token = login_form(client, next_path)
    return client.post("/login", data={"key": key, "next": next_path, "login_token": token})


def session_cookie_header(response: Any) -> str:
    headers = response.headers.get_list("set-cookie")
    found = [h for h in headers if h.startswith(SESSION_COOKIE + "=")]
    assert len(found) == 1, headers
    return str(found[0])


def csrf_of(client: TestClient, path: str = "/settings") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found, page.text
    return found.group(1)


def test_every_page_redirects_to_the_login(browser: TestClient) -> None:
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == 303, path
        location = response.headers["location"]
        assert location.startswith("/login?next="), location
    assert browser.get("/upload").headers["location"] == "/login?next=%2Fupload"
    # A form post without a session never reaches its route.
    assert browser.post("/settings/check").status_code == 303
    for open_path in ("/login", "/static/style.css", "/api/health", "/docs", "/openapi.json"):
        assert browser.get(open_path).status_code == 200, open_path
    assert browser.get("/api/documents").status_code == 401


def test_a_wrong_key_shows_the_form_again_without_a_session(browser: TestClient) -> None:
    response = log_in(browser, "/upload", key="not-" + KEY)
    assert response.status_code == 401
    assert "That is not the key." in response.text
    assert 'name="key"' in response.text
    assert KEY not in response.text
    cookies = response.headers.get_list("set-cookie")
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in cookies), cookies
    assert browser.get("/upload").status_code == 303


def test_a_login_post_from_elsewhere_is_refused(browser: TestClient) -> None:
    """No login cookie matching the form's token (a form on another site): no session."""
    response = browser.post("/login", data={"key": KEY, "next": "/", "login_token": "forged"})
    assert response.status_code == 403
    assert SESSION_COOKIE + "=" not in " ".join(response.headers.get_list("set-cookie"))
    assert browser.get("/").status_code == 303


def test_the_right_key_sets_a_strict_httponly_cookie_and_goes_on(browser: TestClient) -> None:
    response = log_in(browser, "/documents?name=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/documents?name=x"
    cookie = session_cookie_header(response).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert f"max-age={SESSION_SECONDS}" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert KEY not in session_cookie_header(response)
    page = browser.get("/documents")
    assert page.status_code == 200
    assert 'action="/logout"' in page.text


def test_over_https_the_cookies_are_secure(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False, base_url="https://testserver")
    response = log_in(client)
    assert response.status_code == 303
    assert "; secure" in session_cookie_header(response).lower()
    # Behind a TLS proxy the app sees http, and the proxy's X-Forwarded-Proto says https.
    proxied = TestClient(app, follow_redirects=False, headers={"X-Forwarded-Proto": "https"})
    form = proxied.get("/login").headers["set-cookie"].lower()
    assert form.startswith("semsearch_login=") and "; secure" in form


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_never_leaves_the_site(browser: TestClient, target: str) -> None:
    response = log_in(browser, target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_page_forms_need_the_csrf_token(browser: TestClient) -> None:
    log_in(browser)
    token = csrf_of(browser)
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = browser.post("/settings/check", data=data)
        assert refused.status_code == 403
        assert_error_shape(refused.json(), 403)
        gone = browser.post("/documents/nope/delete", data={"confirm": "yes", **data})
        assert gone.status_code == 403
    upload = [("files", ("form-notes.txt", b"Notes sent by the upload form without script."))]
    assert browser.post("/upload", files=upload).status_code == 403
    sent = browser.post("/upload", files=upload, data={"csrf_token": token})
    assert sent.status_code == 202, sent.text
    checked = browser.post("/settings/check", data={"csrf_token": token})
    assert checked.status_code == 200
    assert 'id="check-result"' in checked.text
    # Every POST form of the pages carries it.
    upload_page = browser.get("/upload").text
    assert upload_page.count(f'name="csrf_token" value="{token}"') == 2  # upload + logout
    # Another session's token is no good.
    other = TestClient(browser.app, follow_redirects=False)
    log_in(other)
    assert csrf_of(other) != token
    assert other.post("/settings/check", data={"csrf_token": token}).status_code == 403


def test_the_pages_javascript_reaches_the_api_with_the_session(browser: TestClient) -> None:
    log_in(browser)
    token = csrf_of(browser, "/upload")
    files = [("files", ("login-notes.txt", b"Notes about the login page and its cookie."))]
    refused = browser.post("/api/documents", files=files)
    assert refused.status_code == 403
    assert assert_error_shape(refused.json(), 403)["code"] == "csrf_failed"
    wrong = browser.post("/api/documents", files=files, headers={"X-CSRF-Token": "f" * 64})
    assert wrong.status_code == 403
    accepted = browser.post("/api/documents", files=files, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(browser, accepted.json()["jobs"][0]["id"])  # GET: the cookie suffices
    assert job["status"] == "done", job
    # Scripts still use the Bearer key, without any cookie.
    script = TestClient(browser.app, headers={"Authorization": f"Bearer {KEY}"})
    assert script.get(f"/api/jobs/{job['id']}").status_code == 200


def test_a_forged_proof_header_is_not_a_session(browser: TestClient) -> None:
    from web.guard import SESSION_PROOF_HEADER

    response = browser.get("/api/documents", headers={SESSION_PROOF_HEADER: "anything"})
    assert response.status_code == 401


def test_logout_clears_the_session(browser: TestClient) -> None:
    log_in(browser)
    token = csrf_of(browser)
    assert browser.post("/logout").status_code == 403  # the logout form carries the token too
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    cleared = SimpleCookie(session_cookie_header(response))[SESSION_COOKIE]
    assert cleared.value in ("", '""') and cleared["max-age"] == "0"
    assert browser.get("/").status_code == 303


def _with_cookie(app: FastAPI, value: str) -> TestClient:
    return TestClient(app, follow_redirects=False, cookies={SESSION_COOKIE: value})


def test_forged_and_expired_cookies_are_refused(app: FastAPI) -> None:
    genuine = SessionSigner(KEY).issue()
    assert _with_cookie(app, genuine).get("/").status_code == 200  # the control
    session_id, issued, mac = genuine.split(".")
    forged = [
        f"{session_id}.{issued}.{'0' * len(mac)}",
        f"{session_id}x.{issued}.{mac}",
        f"{session_id}.{int(issued) + 3600}.{mac}",
        SessionSigner("another-key").issue(),
        SessionSigner(KEY).issue(now=time.time() - SESSION_SECONDS - 60),
        "garbage",
    ]
    for value in forged:
        client = _with_cookie(app, value)
        assert client.get("/").status_code == 303, value
        assert client.get("/api/documents").status_code == 401, value


def test_without_a_key_nothing_asks_for_a_login(
    local_provider: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("open") / "data")
    open_app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with TestClient(open_app, follow_redirects=False) as client:
        for path in PAGES[:5]:
            page = client.get(path)
            assert page.status_code == 200, path
            assert "csrf" not in page.text and "/logout" not in page.text, path
        assert client.get("/login").headers["location"] == "/"
        assert client.post("/settings/check").status_code == 200
        assert client.get("/api/documents").status_code == 200
