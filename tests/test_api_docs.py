"""``/docs`` is served from the app alone (``web.api_docs``), over a real loopback server.

FastAPI's own page loads Swagger UI from a CDN; this one must name only same-origin URLs, each
of which answers with the right type, and carry a policy that admits exactly its inline script.
The pages use no service, so the app runs without its lifespan (no model, no store). The
browser side is ``tests/browser/test_api_docs.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from embeddings.threaded import serve_in_thread
from web.app import create_app
from web.settings import Settings

KEY = "api-docs-key-51f0"
_ASSET = re.compile(r'(?:src|href)="([^"]*)"')
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def serve(data: Path, *, api_key: str = "", root_path: str = "") -> Iterator[str]:
    settings = Settings(SEMSEARCH_DATA_DIR=data, SEMSEARCH_API_KEY=api_key)
    with serve_in_thread(create_app(settings), root_path=root_path) as url:
        yield url


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with an API key: /docs must still open to a visitor who has not logged in."""
    yield from serve(tmp_path_factory.mktemp("docs-keyed"), api_key=KEY)


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Behind a proxy prefix (``semsearch serve --root-path /search``)."""
    yield from serve(tmp_path_factory.mktemp("docs-prefixed"), root_path="/search")


def sha256_source(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def test_docs_names_only_its_own_assets_and_each_answers_with_its_type(keyed: str) -> None:
    page = httpx.get(f"{keyed}/docs", follow_redirects=False)
    assert page.status_code == 200, page.headers
    assert "://" not in page.text  # no absolute URL at all, so no other host
    assets = _ASSET.findall(page.text)
    assert {a.rsplit(".", 1)[-1] for a in assets} == {"js", "css", "png"}, assets
    for asset in assets:
        assert asset.startswith("/static/api-docs/") and not asset.startswith("//"), asset
        answer = httpx.get(keyed + asset, follow_redirects=False)  # no session: still open
        assert answer.status_code == 200, asset
        expected = TYPES[Path(asset).suffix]
        assert answer.headers["content-type"].split(";")[0] == expected, asset
        assert "no-store" not in answer.headers.get("cache-control", "")  # cached as /static
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_docs_has_a_policy_admitting_exactly_its_inline_script(keyed: str) -> None:
    page = httpx.get(f"{keyed}/docs")
    policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["img-src"] == "'self' data:"
    (script,) = _INLINE_SCRIPT.findall(page.text)
    assert "SwaggerUIBundle(" in script and "url: '/openapi.json'" in script
    assert directives["script-src"] == "'self' " + sha256_source(script)
    assert "unsafe" not in policy
    assert page.headers["cache-control"] == "no-store"


def test_the_oauth2_redirect_page_is_there_with_its_script_hashed(keyed: str) -> None:
    page = httpx.get(f"{keyed}/docs/oauth2-redirect", follow_redirects=False)
    assert page.status_code == 200
    (script,) = _INLINE_SCRIPT.findall(page.text)
    assert sha256_source(script) in page.headers["content-security-policy"]


def test_the_openapi_document_stays_open_and_the_api_guarded(keyed: str) -> None:
    """As before: the document is the API's shape only, the API itself wants the key."""
    document = httpx.get(f"{keyed}/openapi.json", follow_redirects=False)
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert httpx.get(f"{keyed}/api/documents").status_code == 401


def test_there_is_no_redoc_page(tmp_path: Path) -> None:
    for url in serve(tmp_path):
        assert httpx.get(f"{url}/redoc").status_code == 404
        assert httpx.get(f"{url}/docs").status_code == 200


def test_behind_a_proxy_prefix_every_url_and_the_hash_follow_it(prefixed: str) -> None:
    """The proxy strips ``/search``: the browser's ``/search/docs`` arrives as ``/docs``."""
    page = httpx.get(f"{prefixed}/docs")
    assert page.status_code == 200
    assets = _ASSET.findall(page.text)
    assert assets and all(a.startswith("/search/static/api-docs/") for a in assets), assets
    for asset in assets:
        answer = httpx.get(prefixed + asset.removeprefix("/search"))
        assert answer.status_code == 200, asset
        assert "no-store" not in answer.headers.get("cache-control", ""), asset  # still /static
    (script,) = _INLINE_SCRIPT.findall(page.text)
    assert "url: '/search/openapi.json'" in script
    assert "'/search/docs/oauth2-redirect'" in script
    assert sha256_source(script) in page.headers["content-security-policy"]
    assert httpx.get(f"{prefixed}/openapi.json").status_code == 200
