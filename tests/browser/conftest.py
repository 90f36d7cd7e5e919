"""The real app in a real Chromium: one uvicorn server and one browser per test module.

Chromium is Debian's (`/usr/bin/chromium`), launched with the flags of `../shared/design.md`.
Where it is missing the suite skips with the reason, except where ``CI=true``: there the
Makefile installs it, so a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from embeddings.threaded import serve_in_thread
from tests.browser.helpers import desktop_context
from web.app import create_app
from web.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's matchers wait as long as a step may (tests/browser/helpers.desktop_context).
expect.set_options(timeout=20_000)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (`apt-get install -y chromium`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so the browser suite must run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, local_provider: object) -> Iterator[str]:
    """The whole app (real Qdrant Edge, the session's loaded model) on a free loopback port."""
    _require_chromium()  # no point in starting a server for a browser that is not there
    data = tmp_path_factory.mktemp("browser-data")
    settings = Settings(SEMSEARCH_DATA_DIR=data, SEMSEARCH_MAX_UPLOAD_MB=10)
    app = create_app(settings, embedder=local_provider)  # type: ignore[arg-type]
    with serve_in_thread(app, lifespan="on", start_timeout_s=120) as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh desktop-sized page whose relative URLs go to the server."""
    context = desktop_context(browser, server)
    opened = context.new_page()
    yield opened
    context.close()
