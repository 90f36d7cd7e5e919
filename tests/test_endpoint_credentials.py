"""An endpoint URL that carries its credentials (``https://user:password@host/...``) is never
shown with the password: not on /settings, its API, the health route, or the connection check.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inference.redact import redact_url, redact_urls_in
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.slow

SECRET = "s3cret-endpoint-password"
ENDPOINT = f"http://reader:{SECRET}@127.0.0.1:9/embed"


def test_redaction_keeps_everything_but_the_password() -> None:
    assert redact_url(ENDPOINT) == "http://reader:***@127.0.0.1:9/embed"
    assert redact_url("https://host.example/embed") == "https://host.example/embed"
    assert redact_url("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert redact_urls_in(f"cannot reach {ENDPOINT} (refused)", ENDPOINT) == (
        "cannot reach http://reader:***@127.0.0.1:9/embed (refused)"
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        SEMSEARCH_DATA_DIR=tmp_path / "data",
        EMBEDDINGS_ENDPOINT=ENDPOINT,
        EMBEDDINGS_MODEL="",
        EMBEDDINGS_CACHE="off",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_no_page_or_route_shows_the_password(client: TestClient) -> None:
    config = client.get("/api/settings/embeddings").json()
    assert config["endpoint"] == "http://reader:***@127.0.0.1:9/embed"
    for response in (
        client.get("/api/settings/embeddings"),
        client.get("/api/health"),
        client.get("/settings"),
        client.post("/api/embeddings/check"),
    ):
        assert SECRET not in response.text, response.request.url
