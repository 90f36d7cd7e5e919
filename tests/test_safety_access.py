"""Who can reach the API: the key on every /api route, and what `semsearch serve` says on start.

The route walk goes through ``app.routes``, so a router added later without the key's
dependency is still checked: the guard (``web.guard``) must refuse it.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.apphelpers import assert_error_shape
from tests.processes import SEMSEARCH, ServerProcess, child_env, free_port
from web.app import create_app
from web.exposure import exposure_warnings, is_loopback
from web.guard import OPEN_API_PATHS
from web.settings import Settings

KEY = "access-test-key-7f3a"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, local_provider: object
) -> Iterator[TestClient]:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path_factory.mktemp("access") / "data", SEMSEARCH_API_KEY=KEY
    )
    with TestClient(create_app(settings, embedder=local_provider)) as test_client:  # type: ignore[arg-type]
        yield test_client


def api_operations(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every /api route the app has, path parameters filled with ``x``."""
    operations = []
    # FastAPI 0.16x keeps included routers as branches; this walks down to every route.
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/api"):
            path = re.sub(r"\{[^}]+\}", "x", route.path or "")
            operations += [(method, path) for method in sorted(route.methods or ())]
    return operations


@pytest.mark.slow
def test_every_api_route_asks_for_the_key(client: TestClient) -> None:
    operations = api_operations(client)
    assert len(operations) >= 14, operations  # the walk really found the routes
    for method, path in operations:
        if path in OPEN_API_PATHS:
            continue
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            refused = client.request(method, path, headers=headers)
            assert refused.status_code == 401, (method, path, headers, refused.text)
            assert refused.headers["www-authenticate"] == "Bearer"
            error = assert_error_shape(refused.json(), 401)
            assert error["code"] == "unauthorized" and "SEMSEARCH_API_KEY" in error["message"]
        allowed = client.request(method, path, headers=AUTH)
        assert allowed.status_code != 401, (method, path, allowed.text)
        assert allowed.status_code < 500, (method, path, allowed.text)


@pytest.mark.slow
def test_health_stays_open_but_tells_only_a_caller_with_the_key(client: TestClient) -> None:
    anonymous = client.get("/api/health")
    assert anonymous.status_code == 200
    assert {k: v for k, v in anonymous.json().items() if v is not None} == {"status": "ok"}
    full = client.get("/api/health", headers=AUTH).json()
    assert full["status"] == "ok" and full["engine"] == "edge" and full["documents"] == 0


@pytest.mark.slow
def test_the_openapi_document_declares_the_key_on_every_protected_operation(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api") and path not in OPEN_API_PATHS:
                assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("myhost.example", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    words = " ".join(line for _, line in exposure_warnings(host, 8000, has_key=False))
    assert "open to anyone" in words
    assert ("not a loopback address" in words) is not loopback
    assert "open to anyone" not in str(exposure_warnings(host, 8000, has_key=True))


# --- a real `semsearch serve` -----------------------------------------------------------------


@pytest.mark.slow
def test_serve_on_loopback_without_a_key_says_it_is_open(tmp_path: Path) -> None:
    server = ServerProcess(child_env(tmp_path / "data"))
    try:
        server.wait_ready()
    finally:
        output = server.stop()
    assert "SEMSEARCH_API_KEY is not set" in output and "open to anyone" in output, output
    assert "only this machine" in output
    assert "CRITICAL" not in output


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`semsearch serve` writing to a file: a long access-log line then never fills a pipe."""
    port = free_port()
    command = [str(SEMSEARCH), "serve", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=60)


@pytest.mark.slow
def test_serve_with_a_key_says_so_and_never_prints_the_key(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(child_env(tmp_path / "data", SEMSEARCH_API_KEY=KEY), log) as url:
        # A long GET query, all of it percent-encoded: 60 KB of URL, where uvicorn's default
        # takes 16 KB. `serve` raises the head limit so that what the OpenAPI document allows
        # fits (the fuzz sends such URLs; httpx itself stops at 64 KB).
        long_query = {"q": "é" * 10_000}
        answered = httpx.get(f"{url}/api/search", params=long_query, headers=AUTH, timeout=60)
        assert answered.status_code == 200, answered.text
        assert answered.json()["query"] == "é" * 2000  # cut, as documented
    output = log.read_text()
    assert "API key set" in output and "open to anyone" not in output, output
    assert KEY not in output


@pytest.mark.slow
def test_serve_on_a_network_address_without_a_key_warns_loudly(tmp_path: Path) -> None:
    """192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes, then the bind
    fails and the command exits; nothing is ever exposed."""
    command = [str(SEMSEARCH), "serve", "--host", "192.0.2.1", "--port", str(free_port())]
    done = subprocess.run(
        command,
        env=child_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    critical = [line for line in output.splitlines() if line.startswith("CRITICAL")]
    assert any("open to anyone" in line for line in critical), output
    assert any("192.0.2.1 is not a loopback address" in line for line in critical), output
    assert any("SEMSEARCH_API_KEY" in line and "127.0.0.1" in line for line in critical)


@pytest.mark.slow
def test_the_key_is_asked_for_behind_a_proxy_prefix(tmp_path: Path, local_provider: object) -> None:
    """Served under ``--root-path /search`` the routes are at ``/search/api/…``: still guarded."""
    settings = Settings(SEMSEARCH_DATA_DIR=tmp_path / "data", SEMSEARCH_API_KEY=KEY)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with TestClient(app, root_path="/search") as prefixed:
        refused = prefixed.get("/search/api/documents")
        assert refused.status_code == 401, refused.text
        assert prefixed.get("/search/api/documents", headers=AUTH).status_code == 200
