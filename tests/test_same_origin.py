"""``web.same_origin``: cross-origin writes and unknown Host headers are refused first.

Driven through a real ASGI stack (Starlette's TestClient over the middleware and a small app);
the browser's side of it, a page of another port submitting forms, is in
tests/browser/test_cross_site.py.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.apphelpers import assert_error_shape
from web.same_origin import SameOriginGuard, default_allowed_hosts, host_name
from web.settings import Settings


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.method)


def client(allowed_hosts: list[str], host: str = "127.0.0.1:8000") -> TestClient:
    app = Starlette(routes=[Route("/api/documents", echo, methods=["GET", "POST", "DELETE"])])
    guarded = SameOriginGuard(app, allowed_hosts=allowed_hosts)
    return TestClient(guarded, base_url=f"http://{host}")  # type: ignore[arg-type]


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_write_another_site_started_is_refused(site: str) -> None:
    http = client([])
    for method in ("POST", "DELETE"):
        refused = http.request(method, "/api/documents", headers={"Sec-Fetch-Site": site})
        assert refused.status_code == 403
        assert assert_error_shape(refused.json(), 403)["code"] == "cross_origin_refused"
    read = http.get("/api/documents", headers={"Sec-Fetch-Site": site})
    assert read.status_code == 200  # reads are the browser's to protect (no CORS is granted)


def test_own_pages_the_user_and_clients_that_are_not_browsers_may_write() -> None:
    http = client([])
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        assert http.post("/api/documents", headers=headers).text == "POST", headers


def test_without_sec_fetch_site_the_origin_decides() -> None:
    http = client([])
    assert http.post("/api/documents", headers={"Origin": "http://127.0.0.1:8000"}).text == "POST"
    for origin in ("http://127.0.0.1:3000", "https://127.0.0.1:8000", "http://evil.test", "null"):
        refused = http.post("/api/documents", headers={"Origin": origin})
        assert refused.status_code == 403, origin


def test_only_the_hosts_the_app_serves_are_answered() -> None:
    allowed = default_allowed_hosts("127.0.0.1")
    assert client(allowed, "localhost:8000").get("/api/documents").status_code == 200
    assert client(allowed, "[::1]:8000").get("/api/documents").status_code == 200
    rebound = client(allowed, "attacker.example:8000").get("/api/documents")
    assert rebound.status_code == 421
    body = assert_error_shape(rebound.json(), 421)
    assert "SEMSEARCH_ALLOWED_HOSTS" in body["message"]
    assert client(["*"], "anything.test").get("/api/documents").status_code == 200
    assert client([], "anything.test").get("/api/documents").status_code == 200


def test_the_default_hosts_follow_the_bound_address() -> None:
    assert default_allowed_hosts("127.0.0.1") == ["localhost", "127.0.0.1", "::1"]
    assert default_allowed_hosts("0.0.0.0") == ["localhost", "127.0.0.1", "::1"]
    assert default_allowed_hosts("192.168.1.20")[-1] == "192.168.1.20"
    assert host_name("Example.ORG:8000") == "example.org"
    assert host_name("[::1]:8000") == "::1"
    settings = Settings(SEMSEARCH_ALLOWED_HOSTS=" search.example.org, localhost ,")
    assert settings.allowed_host_names == ["search.example.org", "localhost"]
